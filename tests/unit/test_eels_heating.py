"""analysis.eels (t/lambda, lambda, <E> from low-loss line scans) and analysis.heating (eq. 5 and 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.eels import lambda_iakoubovskii_nm, main as eels_main
from analysis.heating import delta_T_K, knockon_max_eV, main as heating_main
from beamheat.cli import run
from synthetic_eels import LineScan

pytestmark = pytest.mark.filterwarnings("ignore")
EXSPY_DATA = Path(__import__("exspy").__file__).parent / "tests"


def eels_json(tmp_path, *args):
    out = tmp_path / "eels.json"
    assert run(eels_main, [str(a) for a in args] + ["--json", str(out), "--no-plot"]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def linescan(tmp_path_factory):
    ls = LineScan(seed=3)
    path = tmp_path_factory.mktemp("eels") / "linescan.hspy"
    ls.write_hspy(path)
    return ls, path


# ------------------------------------------------------------------------------------------- EELS, synthetic
def test_t_over_lambda_per_pixel(linescan, tmp_path):
    """t/lambda = ln(I_total/I_ZLP) recovered in every pixel (Poisson plural scattering, ZLP offsets, noise)."""
    ls, path = linescan
    r = eels_json(tmp_path, path, "--no-particle")
    H = np.array(r["t_over_lambda"])
    assert np.sqrt(np.mean((H / ls.tau - 1) ** 2)) < 0.03
    assert np.abs(H / ls.tau - 1).max() < 0.03


def test_mean_energy_loss_per_pixel(linescan, tmp_path):
    """<E> per inelastic event, = t<dE/dx>/(t/lambda), against the tau-weighted SSD means: within 2 %."""
    ls, path = linescan
    r = eels_json(tmp_path, path, "--no-particle")
    M = np.array(r["mean_energy_loss_eV"])
    assert np.sqrt(np.mean((M / ls.mean_loss_pixel_eV - 1) ** 2)) < 0.02
    raw = np.array(r["raw_J_mean_eV"])
    assert np.all(raw > M)  # plural scattering pushes the raw mean of J(E) up


def test_analyse_file_returns_a_typed_result(linescan, tmp_path):
    """analyse_file() takes values, not options; the particle's results are a ParticleResult whose keys the JSON
    holds at its top level, in the order the command line writes them."""
    from analysis.eels import EelsResult, ParticleResult, analyse_file

    ls, path = linescan
    r = analyse_file(path, R_est_nm=ls.R_nm, no_plot=True)
    assert isinstance(r, EelsResult) and isinstance(r.particle, ParticleResult) and r.particle.reliable
    assert r.particle.lambda_np_nm == pytest.approx(ls.lambda_np_nm, rel=0.03) and r.n_pixels == len(ls.x_nm)
    d = r.to_json()
    assert d["lambda_np_nm"] == r.particle.lambda_np_nm and "particle" not in d and "figures" not in d
    assert list(d) == list(eels_json(tmp_path, path, "--R-est-nm", ls.R_nm))
    pixels_only = analyse_file(path, no_plot=True)
    assert pixels_only.particle is None and pixels_only.particle_pixels == r.particle.particle_pixels
    assert "lambda_np_nm" not in pixels_only.to_json()


def test_particle_lambda_and_mean_loss_eq8_eq10(linescan, tmp_path):
    ls, path = linescan
    r = eels_json(tmp_path, path, "--R-est-nm", ls.R_nm)
    lo, hi = r["particle_pixels"]
    x_in = ls.x_nm[lo:hi]
    assert x_in.min() >= -ls.R_nm - 1 and x_in.max() <= ls.R_nm + 1  # located automatically
    assert r["lambda_np_nm"] == pytest.approx(ls.lambda_np_nm, rel=0.03)
    assert r["mean_energy_loss_np_eV"] == pytest.approx(ls.mean_loss_np_eV, rel=0.02)
    assert r["t_over_lambda_background"] == pytest.approx(ls.t_sub_nm / ls.lambda_sub_nm, rel=0.03)
    assert 0 < r["lambda_np_err_nm"] < 0.05 * r["lambda_np_nm"]
    # the *_err keys are total errors now (pixel scatter and the method's systematic terms); truth in the 95 % one
    assert r["lambda_np_stat_err_nm"] <= r["lambda_np_err_nm"] and r["reliable"] is True
    lo, hi = r["lambda_np_interval95_nm"]
    assert lo <= ls.lambda_np_nm <= hi
    lo, hi = r["mean_energy_loss_np_interval95_eV"]
    assert lo <= ls.mean_loss_np_eV <= hi


def test_hemisphere_fit_finds_radius(linescan, tmp_path):
    ls, path = linescan
    r = eels_json(tmp_path, path, "--fit-hemisphere")
    assert r["R_source"] == "hemisphere fit"
    assert r["R_nm"] == pytest.approx(ls.R_nm, rel=0.05)
    assert r["lambda_np_nm"] == pytest.approx(ls.lambda_np_nm, rel=0.05)


def test_figure_and_iakoubovskii(linescan, tmp_path):
    ls, path = linescan
    out = tmp_path / "figures" / "fig"  # a folder that does not exist yet: made for the figure
    assert run(eels_main, [str(path), "--R-est-nm", "5", "--density", "19.3", "--plot", str(out),
                           "--json", str(tmp_path / "e.json")]) == 0
    assert (tmp_path / "figures" / "fig.png").stat().st_size > 20_000 and (tmp_path / "figures" / "fig.pdf").exists()
    r = json.loads((tmp_path / "e.json").read_text())
    assert r["beam_keV"] == 300 and r["collection_mrad"] == 20
    assert r["lambda_iakoubovskii_nm"] == pytest.approx(104, rel=0.03)  # paper: Au, 300 keV
    lam = r["lambda_iakoubovskii_vs_beam_keV"]
    assert lam["80"] < lam["200"] < lam["300"]  # lambda grows with beam energy


# ------------------------------------------------------------------------------------------- EELS, real files
def test_exspy_linescan_thickness_series(tmp_path):
    """exspy's simulated line scan spans t/lambda 0.3..1.9; in its thickest pixels the plasmon is taller than the
    zero-loss peak, which a naive alignment on the maximum gets wrong."""
    r = eels_json(tmp_path, EXSPY_DATA / "signals/data/EELS_LL_linescan_simulated_thickness_variation.hspy",
                  "--no-particle")
    np.testing.assert_allclose(r["t_over_lambda"], np.arange(0.3, 2.0, 0.1), atol=5e-3)
    assert np.ptp(r["mean_energy_loss_eV"]) < 1.0  # one material: the same <E> at every thickness


def test_real_msa_spectrum(tmp_path):
    r = eels_json(tmp_path, EXSPY_DATA / "components/lowloss_spectrum.msa")
    assert r["n_pixels"] == 1 and 0.1 < r["t_over_lambda"][0] < 2 and 5 < r["mean_energy_loss_eV"][0] < 80


def one_line_error(capsys, main, args):
    assert run(main, [str(a) for a in args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_bad_files(tmp_path, capsys):
    (tmp_path / "junk.dm3").write_bytes(b"not a dm3 file at all")
    assert "junk.dm3: cannot read as a spectrum" in one_line_error(capsys, eels_main, [tmp_path / "junk.dm3"])
    assert "nope.hspy: file not found" in one_line_error(capsys, eels_main, [tmp_path / "nope.hspy"])


def test_missing_beam_metadata(tmp_path, capsys):
    LineScan(seed=1).write_hspy(tmp_path / "bare.hspy", with_metadata=False)
    err = one_line_error(capsys, eels_main, [tmp_path / "bare.hspy", "--no-particle", "--no-plot", "--density", "19.3"])
    assert "bare.hspy: metadata lacks beam energy (--beam-kev) and collection angle (--collection-mrad)" in err
    r = eels_json(tmp_path, tmp_path / "bare.hspy", "--no-particle", "--density", "19.3", "--beam-kev", "200",
                  "--collection-mrad", "10")
    assert r["beam_keV"] == 200 and r["lambda_iakoubovskii_nm"] == pytest.approx(
        lambda_iakoubovskii_nm(19.3, 200, 10))


# ------------------------------------------------------------------------------------------- heating
def test_knockon_gold_300keV():
    assert knockon_max_eV("Au", 300) == pytest.approx(4.3, abs=0.05)
    assert knockon_max_eV("Au", 80) < 3.8 < knockon_max_eV("Au", 300)


def test_knockon_cli_warns(capsys):
    assert run(heating_main, ["knockon", "--element", "Au", "--beam-kev", "300"]) == 0
    out = capsys.readouterr()
    assert "E_max(Au, 300 keV) = 4.32 eV" in out.out and "exceeds the displacement threshold 3.8 eV" in out.err


def test_delta_T_by_hand():
    """S = 4 nm^2, A = 2 nm^2, t = 2 nm, D = 1e4 e/A^2/s = 1e6 e/nm^2/s, <E> = 40 eV, lambda = 100 nm,
    k = 5e-4 eV/(nm^2 ps K) = 5e8 eV/(nm^2 s K):
    Q_in = 4 * 1e6 * 40 * 2/100 = 3.2e6 eV/s; k A = 1e9 eV/(s K); dT = 3.2e-3 K."""
    assert delta_T_K(4.0, 2.0, 2.0, 1e4, 40.0, 5e-4, 100.0) == pytest.approx(3.2e-3, rel=1e-12)
    # linear in dose and S/A, inverse in k and lambda
    assert delta_T_K(4.0, 1.0, 2.0, 2e4, 40.0, 5e-4, 50.0) == pytest.approx(3.2e-3 * 2 * 2 * 2, rel=1e-12)


def test_predict_from_json_files_with_uncertainty(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"S_nm2": 4.0, "A_nm2": 2.0, "t_nm": 2.0}))
    (tmp_path / "k.json").write_text(json.dumps({"k_eV_per_nm2_ps_K": 5e-4, "k_err_eV_per_nm2_ps_K": 5e-5}))
    (tmp_path / "e.json").write_text(json.dumps({"lambda_np_nm": 100.0, "lambda_np_err_nm": 5.0,
                                                 "mean_energy_loss_np_eV": 40.0, "mean_energy_loss_np_err_eV": 0.8}))
    out = tmp_path / "dT.json"
    assert run(heating_main, ["predict", "--geometry", str(tmp_path / "g.json"), "--k-json", str(tmp_path / "k.json"),
                              "--eels-json", str(tmp_path / "e.json"), "--dose-rate", "1e4", "1e5",
                              "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["dT_K"] == pytest.approx([3.2e-3, 3.2e-2])
    rel = np.sqrt(0.1**2 + 0.05**2 + 0.02**2)
    assert r["dT_err_K"] == pytest.approx([3.2e-3 * rel, 3.2e-2 * rel])


def test_predict_returns_a_typed_result(tmp_path):
    """predict() is callable with data alone; its inputs and result are typed, and to_json() is the JSON written.
    An error neither a file nor an option gave is ABSENT (no key), one a file lacks is None (null)."""
    from analysis.heating import HeatingInputs, HeatingPrediction, predict
    from beamheat.results import ABSENT

    (tmp_path / "k.json").write_text(json.dumps({"k_eV_per_nm2_ps_K": 5e-4}))
    r = predict([1e4], S_nm2=4.0, A_nm2=2.0, t_nm=2.0, k_json=tmp_path / "k.json", lambda_nm=100.0,
                mean_loss_eV=40.0, mean_loss_err=0.8)
    assert isinstance(r, HeatingPrediction) and isinstance(r.inputs, HeatingInputs) and r.reliable
    assert r.dT_K == pytest.approx([3.2e-3]) and r.relative_uncertainty == pytest.approx(0.02)
    x = r.inputs
    assert x.k_err is None and x.k_interval is None and x.lambda_err is ABSENT and x.E_err == 0.8
    d = r.to_json()
    assert list(d) == ["inputs", "dose_rate_e_per_A2_s", "dT_K", "dT_err_K", "relative_uncertainty",
                       "dT_interval_K", "dT_interval95_K", "S_over_A", "warnings", "reliable"]
    assert d["inputs"] == {"S_nm2": 4.0, "A_nm2": 2.0, "t_nm": 2.0, "k": 5e-4, "k_err": None, "k_interval": None,
                           "lambda_nm": 100.0, "E": 40.0, "E_err": 0.8}
    out = tmp_path / "dT.json"
    assert run(heating_main, ["predict", "--S-nm2", "4", "--A-nm2", "2", "--t-nm", "2", "--k-json",
                              str(tmp_path / "k.json"), "--lambda-nm", "100", "--mean-loss-ev", "40",
                              "--mean-loss-err", "0.8", "--dose-rate", "1e4", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == d


def test_predict_errors(tmp_path, capsys):
    err = one_line_error(capsys, heating_main, ["predict", "--S-nm2", "4", "--A-nm2", "2"])
    assert "missing --t-nm/--geometry, --k/--k-json, --lambda-nm/--eels-json, --mean-loss-ev/--eels-json" in err
    (tmp_path / "k.json").write_text("{}")
    err = one_line_error(capsys, heating_main, ["predict", "--k-json", str(tmp_path / "k.json")])
    assert "k.json: missing 'k_eV_per_nm2_ps_K'" in err


def test_curves(tmp_path):
    assert run(heating_main, ["curves", "--out", str(tmp_path / "c")]) == 0
    rows = (tmp_path / "c.csv").read_text().splitlines()
    assert rows[0] == "figure,support,beam_keV,S_over_A,dose_e_per_A2_s,dT_K" and len(rows) > 500
    assert (tmp_path / "c.png").stat().st_size > 20_000 and (tmp_path / "c.pdf").exists()
    # Fig. 3 row: V = 14 nm^3 projected as a sphere, S = pi r^2 = 7.023 nm^2, S/A = 1, anatase, 300 keV
    import csv

    row = next(r for r in csv.DictReader((tmp_path / "c.csv").open()) if r["figure"] == "3" and float(r["S_over_A"]) == 1.0)
    S = np.pi * (3 * 14.0 / (4 * np.pi)) ** (2 / 3)
    assert S == pytest.approx(7.0228, abs=1e-3)
    expect = delta_T_K(S, S, 14.0 / S, float(row["dose_e_per_A2_s"]), 43.6, 5.1e-4, lambda_iakoubovskii_nm(19.3, 300))
    assert float(row["dT_K"]) == pytest.approx(expect, rel=1e-9)


def test_position_axis_in_angstrom(tmp_path):
    """A line scan calibrated in Å: the hemisphere fit reports nm, and the plotted profile lies on the data."""
    import hyperspy.api as hs

    from analysis.eels import hemisphere_profile

    ls = LineScan(seed=2)
    ls.write_hspy(tmp_path / "a.hspy")
    s = hs.load(tmp_path / "a.hspy")
    nav = s.axes_manager.navigation_axes[0]
    nav.scale, nav.offset, nav.units = nav.scale * 10, nav.offset * 10, "Å"
    s.save(tmp_path / "a.hspy", overwrite=True)
    r = eels_json(tmp_path, tmp_path / "a.hspy", "--fit-hemisphere")
    assert r["position_nm_per_unit"] == 0.1 and r["R_nm"] == pytest.approx(ls.R_nm, rel=0.05)
    x = np.array(r["position"]) * r["position_nm_per_unit"]
    model = hemisphere_profile(x, r["fit_x0_nm"], r["R_nm"], r["fit_amplitude"], r["fit_t_over_lambda_background"])
    np.testing.assert_allclose(model, r["t_over_lambda"], atol=0.01)
