"""analysis.heating takes k, lambda and <E> with the intervals their tools stated, and refuses results those tools
flagged unreliable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.heating import delta_T_K, main as heating_main
from beamheat.cli import run

GEO = {"S_nm2": 4.0, "A_nm2": 2.0, "t_nm": 2.0}


def _files(tmp_path, k: dict, eels: dict | None = None):
    (tmp_path / "g.json").write_text(json.dumps(GEO))
    (tmp_path / "k.json").write_text(json.dumps(k))
    args = ["predict", "--geometry", str(tmp_path / "g.json"), "--k-json", str(tmp_path / "k.json"),
            "--dose-rate", "1e4", "--json", str(tmp_path / "dT.json")]
    if eels is None:
        return args + ["--lambda-nm", "100", "--mean-loss-ev", "40"]
    (tmp_path / "e.json").write_text(json.dumps(eels))
    return args + ["--eels-json", str(tmp_path / "e.json")]


def _one_line_error(capsys, args) -> str:
    assert run(heating_main, args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_unreliable_k_is_refused_unless_allowed(tmp_path, capsys):
    k = {"k_eV_per_nm2_ps_K": 4.5e-5, "k_err_eV_per_nm2_ps_K": 7.9e-4, "reliable": False,
         "unreliable_reasons": ["the interval reaches zero or is wider than k: k is undetermined"]}
    args = _files(tmp_path, k)
    err = _one_line_error(capsys, args)
    assert "k.json: the interfacial conductance k is marked unreliable (the interval reaches zero" in err
    assert "--allow-unreliable" in err and not (tmp_path / "dT.json").exists()
    assert run(heating_main, args + ["--allow-unreliable"]) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "marked unreliable" in captured.err
    r = json.loads((tmp_path / "dT.json").read_text())
    assert r["reliable"] is False
    # k = 4.5e-5 +- 7.9e-4: k is zero or below with probability ~0.48, so dT has no upper bound at 68 % or 95 %
    # (null in JSON), where sampling only k > 0 made up a finite one
    (lo, hi), (lo95, hi95) = r["dT_interval_K"][0], r["dT_interval95_K"][0]
    assert hi is None and hi95 is None and 0 < lo95 <= lo < r["dT_K"][0]
    assert "unbounded (k may be zero)" in captured.out
    from beamheat.readers import as_interval

    assert as_interval([lo, None]) == [lo, float("inf")] and as_interval([None, None]) is None


def test_interval_wider_than_k_is_refused_even_without_a_flag(tmp_path, capsys):
    args = _files(tmp_path, {"k_eV_per_nm2_ps_K": 5e-4, "k_interval_eV_per_nm2_ps_K": [-1e-4, 1.1e-3]})
    assert "68 % interval -0.0001 – 0.0011 reaches zero; dT would be undetermined" in _one_line_error(capsys, args)


def test_unreliable_eels_is_refused(tmp_path, capsys):
    eels = {"lambda_np_nm": 85.0, "lambda_np_err_nm": 3.0, "mean_energy_loss_np_eV": 40.0,
            "mean_energy_loss_np_err_eV": 2.0, "reliable": False, "unreliable_reasons": ["background not located"]}
    args = _files(tmp_path, {"k_eV_per_nm2_ps_K": 5e-4, "k_err_eV_per_nm2_ps_K": 5e-5}, eels)
    assert "e.json: the EELS result (lambda, <E>) is marked unreliable (background not located)" in \
        _one_line_error(capsys, args)


def test_skewed_k_interval_gives_a_skewed_dT_interval(tmp_path):
    """dT ~ 1/k: k = 5e-4 with 68 % interval [3e-4, 6e-4] (lambda and <E> exact) puts dT's interval at about
    dT * [5/6, 5/3], not symmetric about dT."""
    k = {"k_eV_per_nm2_ps_K": 5e-4, "k_err_eV_per_nm2_ps_K": 1.5e-4, "k_interval_eV_per_nm2_ps_K": [3e-4, 6e-4],
         "reliable": True}
    assert run(heating_main, _files(tmp_path, k)) == 0
    r = json.loads((tmp_path / "dT.json").read_text())
    dT = delta_T_K(4.0, 2.0, 2.0, 1e4, 40.0, 5e-4, 100.0)
    assert r["dT_K"][0] == pytest.approx(dT, rel=1e-12)
    lo, hi = r["dT_interval_K"][0]
    assert lo == pytest.approx(dT * 5 / 6, rel=0.05) and hi == pytest.approx(dT * 5 / 3, rel=0.08)
    assert hi - dT > 2 * (dT - lo)
    lo95, hi95 = r["dT_interval95_K"][0]
    assert lo95 < lo and hi95 > hi and np.isfinite(hi95)
