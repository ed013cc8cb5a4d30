"""The stated uncertainty of lambda_NP and <E>_NP covers the log-ratio method's own bias.

Synthetic line scans (tests/synthetic_eels.py: Poisson plural scattering, known truth) with a realistic zero-loss
peak (a Lorentzian tail, taller on the loss side) and particle losses below the elastic threshold (Au's surface
plasmon near 2.4 eV): thin pixels read high in t/lambda and thick ones low, so H_center - H_background, and
lambda_NP, come out biased by more than the pixel scatter says. The true values must lie inside the stated
interval, the interval must stay narrow for a well-posed scan (so this test fails both ways), and an ill-posed
scan must be marked unreliable, loudly.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.eels import json_safe, main as eels_main
from beamheat.cli import run
from synthetic_eels import LineScan

pytestmark = pytest.mark.filterwarnings("ignore")

CARBON = dict(lambda_sub_nm=180.0, plasmon_sub_eV=(24.0, 20.0))  # amorphous carbon support
# a field-emission gun's ZLP tail (5 % of it in a Lorentzian, 1.5x taller on the loss side) and Au losses from 1 eV
# with 1.5 % of them in a surface-plasmon peak at 2.4 eV
REAL = dict(onset_np_eV=1.0, zlp_tail_fraction=0.05, zlp_tail_eV=0.5, zlp_tail_asymmetry=1.5,
            surface_np_eV=(2.4, 1.0, 0.015))
WIDE = np.arange(-20.0, 20.01, 0.5)

# name: (LineScan keywords, analysis mode)
SCANS = {
    # hemisphere R = 10 nm, lambda 85 nm, on 15 nm of carbon: the log-ratio method reads 86.4 nm, 20 times its
    # pixel-scatter error (0.03 nm) away from the truth
    "carbon_R10": (dict(lambda_np_nm=85.0, R_nm=10.0, t_sub_nm=15.0, x_nm=WIDE, **CARBON, **REAL), "R"),
    "carbon_R10_fit": (dict(lambda_np_nm=85.0, R_nm=10.0, t_sub_nm=15.0, x_nm=WIDE, **CARBON, **REAL), "fit"),
    "ideal_instrument": (dict(seed=3), "R"),
    "thick_support_R5": (dict(lambda_np_nm=85.0, R_nm=5.0, t_sub_nm=30.0, seed=1, **CARBON, **REAL), "R"),
    "small_R3": (dict(lambda_np_nm=60.0, R_nm=3.0, t_sub_nm=10.0, seed=2, x_nm=np.arange(-10.0, 10.01, 0.4),
                      **REAL), "fit"),
    # thick particle, SSD to 80 eV: plural losses spill beyond 110 eV
    "thick_R15_plural_beyond_upper": (dict(lambda_np_nm=100.0, R_nm=15.0, t_sub_nm=5.0, seed=4, cutoff_eV=80.0,
                                           x_nm=np.arange(-25.0, 25.01, 0.5), **CARBON, **REAL), "R"),
    "noisy_R8": (dict(lambda_np_nm=85.0, R_nm=8.0, t_sub_nm=15.0, counts=3e5, seed=5,
                      x_nm=np.arange(-16.0, 16.01, 0.5), **CARBON, **REAL), "R"),
    # a heavier, more asymmetric ZLP tail and 4 % of the Au losses at 2.4 eV
    "strong_bias": (dict(lambda_np_nm=85.0, R_nm=10.0, t_sub_nm=15.0, seed=6, x_nm=WIDE, **CARBON,
                         **dict(REAL, zlp_tail_fraction=0.02, zlp_tail_asymmetry=2.0, surface_np_eV=(2.4, 1.0, 0.04))),
                    "fit"),
}


def analyse(tmp_path, ls: LineScan, mode: str, capsys=None):
    path = tmp_path / "scan.hspy"
    ls.write_hspy(path)
    out = tmp_path / "eels.json"
    args = [str(path), "--json", str(out), "--no-plot"]
    args += ["--fit-hemisphere"] if mode == "fit" else ["--R-est-nm", str(ls.R_nm)]
    assert run(eels_main, args) == 0

    def no_nan(token):
        raise AssertionError(f"{token} in the JSON")

    return json.loads(out.read_text(), parse_constant=no_nan)


@pytest.mark.parametrize("name", list(SCANS))
def test_truth_inside_stated_interval(name, tmp_path):
    kw, mode = SCANS[name]
    ls = LineScan(**kw)
    r = analyse(tmp_path, ls, mode)
    assert r["reliable"] and r["unreliable_reasons"] == []
    for key, unit, truth in (("lambda_np", "nm", ls.lambda_np_nm), ("mean_energy_loss_np", "eV", ls.mean_loss_np_eV)):
        value, (lo, hi) = r[f"{key}_{unit}"], r[f"{key}_interval95_{unit}"]
        stat, sys_, total = r[f"{key}_stat_err_{unit}"], r[f"{key}_sys_err_{unit}"], r[f"{key}_err_{unit}"]
        assert lo <= truth <= hi, f"{key}: true {truth:.3f} outside the 95 % interval [{lo:.3f}, {hi:.3f}]"
        assert (hi - lo) / 2 < 0.15 * value, f"{key}: 95 % interval [{lo:.3f}, {hi:.3f}] absurdly wide"
        assert total == pytest.approx(np.hypot(stat, sys_)) and sys_ > 0
        assert [lo, hi] == pytest.approx([value - 2 * total, value + 2 * total])
        assert r[f"{key}_interval_{unit}"] == pytest.approx([value - total, value + total])  # 68 %, as fit_k


def test_bias_exceeds_pixel_scatter_on_carbon(tmp_path):
    """A 10 nm hemisphere on 15 nm of carbon: the bias is tens of times the pixel-scatter error, the systematic term
    carries it, and the per-pixel bias of t/lambda (carbon high, gold low) is reproduced and covered."""
    kw, _ = SCANS["carbon_R10"]
    ls = LineScan(**kw)
    r = analyse(tmp_path, ls, "R")
    lam = r["lambda_np_nm"]
    assert lam == pytest.approx(86.4, abs=0.3)  # the log-ratio reading (truth 85 nm)
    assert abs(lam - ls.lambda_np_nm) > 20 * r["lambda_np_stat_err_nm"]  # pixel scatter alone misses the bias
    assert r["lambda_np_sys_err_nm"] > abs(lam - ls.lambda_np_nm) / 2
    assert r["lambda_np_sys_terms_nm"]["elastic/inelastic split"] == max(r["lambda_np_sys_terms_nm"].values())
    H, sys_H = np.array(r["t_over_lambda"]), np.array(r["t_over_lambda_sys_err"])
    carbon, centre = slice(0, 15), int(np.argmax(ls.tau))
    assert np.mean(H[carbon] / ls.tau[carbon]) - 1 > 0.01 and H[centre] / ls.tau[centre] - 1 < 0
    noise = np.std(H[carbon], ddof=1)
    assert np.all(np.abs(H - ls.tau) <= 2 * sys_H + 4 * noise)  # per-pixel systematic covers per-pixel bias
    for key in ("lambda_np_sys_terms_nm", "mean_energy_loss_np_sys_terms_eV"):
        assert set(r[key]) >= {"elastic/inelastic split", "plural losses beyond upper-eV", "energy zero",
                               "energy scale"}


def test_plural_losses_beyond_upper_term(tmp_path):
    """With an SSD reaching 80 eV, double losses pass 110 eV: the truncation term counts for <E>, and it grows
    when --upper-eV is lowered."""
    kw, _ = SCANS["thick_R15_plural_beyond_upper"]
    ls = LineScan(**kw)
    r = analyse(tmp_path, ls, "R")
    term = r["mean_energy_loss_np_sys_terms_eV"]["plural losses beyond upper-eV"]
    assert term > 0.01 * r["mean_energy_loss_np_eV"]
    assert r["lambda_np_sys_terms_nm"]["plural losses beyond upper-eV"] == 0.0  # t/lambda does not use the window


@pytest.mark.parametrize("counts, seed, reason", [(3e4, 13, "barely above the background"),
                                                   (1e4, 11, "wider than the value")])
def test_ill_posed_scan_is_unreliable_and_loud(counts, seed, reason, tmp_path, capsys):
    """A 1 nm particle (t/lambda contrast 0.007) on 40 nm of carbon, few counts."""
    ls = LineScan(lambda_np_nm=150.0, R_nm=1.0, t_sub_nm=40.0, counts=counts, seed=seed, **CARBON, **REAL)
    capsys.readouterr()
    r = analyse(tmp_path, ls, "R")
    err = capsys.readouterr().err
    assert r["reliable"] is False
    assert any(reason in x for x in r["unreliable_reasons"]), r["unreliable_reasons"]
    warnings = [line for line in err.splitlines() if line.startswith("WARNING:")]
    assert len(warnings) == len(r["unreliable_reasons"]) and "UNRELIABLE" in warnings[0]


def test_json_has_no_nan():
    assert json_safe({"a": np.float64("nan"), "b": [np.inf, 1.0, np.int64(2)], "c": np.bool_(True),
                      "d": (np.float32(0.5),)}) == {"a": None, "b": [None, 1.0, 2], "c": True, "d": [0.5]}
