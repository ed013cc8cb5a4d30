"""One particle on two supports (analysis.supports, `analysis.heating compare`): dT goes as 1/k, so the supports'
dT ratio is the inverse of their k ratio at every dose rate and beam energy; each curve keeps its own k's interval;
a k flagged unreliable is refused unless allowed; bad arguments are one line. Synthetic fit_k results."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from analysis.heating import delta_T_K, main as heating_main
from analysis.supports import compare_supports
from beamheat.cli import run

GEO = {"S_nm2": 4.0, "A_nm2": 1.1, "t_nm": 2.0}


def _k(tmp_path, name, k, lo, hi, reliable=True):
    path = tmp_path / f"k_{name}.json"
    path.write_text(json.dumps({"k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": (hi - lo) / 2,
                                "k_interval_eV_per_nm2_ps_K": [lo, hi], "reliable": reliable}))
    return path


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps(GEO))
    return {"geometry": tmp_path / "g.json",
            "k": {"hbn": _k(tmp_path, "hbn", 3.7e-4, 3.3e-4, 4.1e-4),
                  "anatase101": _k(tmp_path, "anatase101", 5.1e-4, 4.0e-4, 6.2e-4)}}


def test_dT_ratio_is_the_inverse_k_ratio(inputs):
    r = compare_supports(inputs["k"], geometry=inputs["geometry"], lambda_300_nm=104.0, mean_loss_eV=43.6,
                         dose_rates=[1e2, 1e4], beam_keV=(80.0, 300.0))
    hbn, ana = r.supports
    assert r.dT_ratio_to_first == pytest.approx({"hbn": 1.0, "anatase101": 3.7 / 5.1})
    assert r.dT_ratio_to_first_paper == pytest.approx({"hbn": 1.0, "anatase101": 3.7e-4 / 5.1e-4})
    np.testing.assert_allclose(np.array(ana.dT_K) / np.array(hbn.dT_K), 3.7 / 5.1, rtol=1e-12)
    np.testing.assert_allclose(np.array(ana.dT_at_dose_rate_K) / np.array(hbn.dT_at_dose_rate_K), 3.7 / 5.1,
                               rtol=1e-12)
    # eq. 5 itself at 1e4 e-/(A^2 s), 300 keV
    assert hbn.dT_K[1] == pytest.approx(delta_T_K(4.0, 1.1, 2.0, 1e4, 43.6, 3.7e-4, 104.0))
    # a shorter lambda at 80 keV heats more (more inelastic events per electron)
    assert hbn.dT_at_dose_rate_K[0] > hbn.dT_at_dose_rate_K[1]
    # each support's interval is its own k's: relative widths differ (anatase's k is known less well)
    rel = [np.diff(c.dT_interval_K[1])[0] / c.dT_K[1] for c in (hbn, ana)]
    assert all(lo < t < hi for c in (hbn, ana) for t, (lo, hi) in zip(c.dT_K, c.dT_interval_K))
    assert rel[1] > 1.5 * rel[0]


def test_cli_writes_figure_csv_json_and_prints_the_ratio(inputs, tmp_path, capsys):
    out = tmp_path / "cmp" / "supports"
    args = ["compare", "--k-json", f"hbn={inputs['k']['hbn']}", f"anatase101={inputs['k']['anatase101']}",
            "--geometry", str(inputs["geometry"]), "--out", str(out)]
    assert run(heating_main, args) == 0
    printed = capsys.readouterr().out
    assert "anatase101: k = 0.00051" in printed and "ΔT / ΔT(hbn) = 0.725 (from the paper's k: 0.725)" in printed
    for ext in (".png", ".pdf", ".csv", ".json"):
        assert out.with_name(out.name + ext).stat().st_size > 0
    rows = list(csv.DictReader(out.with_name("supports.csv").open()))
    assert {r["support"] for r in rows} == {"hbn", "anatase101"}
    j = json.loads(out.with_name("supports.json").read_text())
    assert [s["support"] for s in j["supports"]] == ["hbn", "anatase101"]
    assert run(heating_main, args) == 1  # not overwritten without --force
    assert "--force" in capsys.readouterr().err


def test_unreliable_k_and_bad_arguments_are_one_line(inputs, tmp_path, capsys):
    bad = _k(tmp_path, "rutile101", 1e-4, 0.0, 5e-4, reliable=False)
    base = ["compare", "--geometry", str(inputs["geometry"]), "--out", str(tmp_path / "x")]
    for k_args, expect in (([f"hbn={inputs['k']['hbn']}", f"rutile101={bad}"], "marked unreliable"),
                           ([str(inputs["k"]["hbn"])], "give SUPPORT=FILE"),
                           ([f"hbn={tmp_path / 'missing.json'}"], "missing.json"),
                           ([f"hbn={inputs['k']['hbn']}", f"hbn={inputs['k']['hbn']}"], "given twice")):
        assert run(heating_main, base + ["--k-json", *k_args]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and expect in err, err
    assert run(heating_main, base + ["--k-json", f"hbn={inputs['k']['hbn']}", f"rutile101={bad}",
                                     "--allow-unreliable"]) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "[NOT reliable]" in captured.out
