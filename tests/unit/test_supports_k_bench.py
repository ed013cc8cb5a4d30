"""bench.supports_k on synthetic fit_k outputs: the pairs' z = (k_a - k_b) / sqrt(err_a^2 + err_b^2), whether they
are separated (|z| >= 2), their ordering against the paper's, c_p over the runs, and its refusals."""

from __future__ import annotations

import json
import math

import pytest

from bench.supports_k import comparisons, main, support_record
from beamheat.cli import UserError, run
from helpers import one_line_error

K_B = 8.617333262e-5


def fake_support(root, support, k, err, cps, reliable=(True,)):
    d = root / support
    d.mkdir(parents=True)
    logs = []
    for i, _ in enumerate(cps, 1):
        (d / f"heat_transfer_{i}").mkdir()
        log = d / f"heat_transfer_{i}" / "log.lammps"
        log.write_text(f"beamheat: support {support[:3]}, elements Au O Ti, potential /x/potentials/pot_{support}.in\n")
        logs.append(log)
    runs = [{"logs": [str(x)], "t_planned_ps": 40.0, "reliable": r, "cp_eV_per_K": c, "tau_ps": 20.0 + i,
             "unreliable_reasons": None if r else ["lost contact: the bodies separated"]}
            for i, (x, c, r) in enumerate(zip(logs, cps, list(reliable) + [True] * (len(cps) - len(reliable))))]
    (d / "k.json").write_text(json.dumps({
        "support": support, "label": f"Au45/{support}", "n_runs": len(cps), "n_runs_combined": len(cps),
        "runs": runs, "k_eV_per_nm2_ps_K": k, "k_err_eV_per_nm2_ps_K": err,
        "k_interval_eV_per_nm2_ps_K": [k - err, k + err], "k_err_source": "propagated", "reliable": True,
        "n_atoms_np": 45, "A_nm2": 0.818}))
    return d


def test_pairs_are_separated_at_two_standard_errors_and_ordered_against_the_paper(tmp_path):
    a = support_record(fake_support(tmp_path, "anatase101", 8e-4, 1e-4, [3e-4, 2.8e-4, 3.2e-4]))
    r = support_record(fake_support(tmp_path, "rutile101", 6e-4, 1e-4, [2.9e-4], reliable=(False,)))
    h = support_record(fake_support(tmp_path, "hbn", 4e-5, 1e-5, [2.4e-4, 2.5e-4]))
    assert a["cp_eV_per_K_per_atom"] == pytest.approx(3e-4)
    assert a["cp_sem_eV_per_K_per_atom"] == pytest.approx(math.sqrt(2 * (0.2e-4) ** 2 / 2 / 3))
    assert a["cp_3kB_eV_per_K_per_atom"] == pytest.approx(3 * K_B, rel=1e-6)
    assert r["cp_sem_eV_per_K_per_atom"] is None and r["unreliable_runs"][0]["run"] == "heat_transfer_1"
    assert a["k_over_paper"] == pytest.approx(8e-4 / 5.1e-4) and a["potential"] == "pot_anatase101.in"
    pairs = {(c["a"], c["b"]): c for c in comparisons([h, a, r])}
    ar = pairs[("anatase101", "rutile101")]
    assert ar["z"] == pytest.approx(2e-4 / math.hypot(1e-4, 1e-4)) and not ar["separated"]
    assert ar["ordering"] == "anatase101 > rutile101" and ar["paper_ordering"] == "anatase101 < rutile101"
    assert ar["agrees_with_paper"] is None          # not separated: no verdict on the ordering
    ha = pairs[("hbn", "anatase101")]
    assert ha["separated"] and ha["agrees_with_paper"] is True and ha["paper_ratio"] == pytest.approx(3.7 / 5.1)
    r2 = support_record(fake_support(tmp_path / "b", "rutile101", 3e-4, 5e-5, [2.9e-4]))
    (c,) = comparisons([a, r2])
    assert c["separated"] and c["agrees_with_paper"] is False


def test_cli_writes_the_table_and_refuses_in_one_line(tmp_path, capsys):
    fake_support(tmp_path / "s", "anatase101", 8e-4, 1e-4, [3e-4, 2.8e-4])
    fake_support(tmp_path / "s", "rutile101", 3e-4, 5e-5, [2.9e-4, 3.1e-4])
    png = bytes(range(256)) * 4                         # analysis.heating compare's figure, copied byte for byte
    (tmp_path / "s" / "supports.png").write_bytes(png)
    res = tmp_path / "res"
    assert run(main, [str(tmp_path / "s"), "--results", str(res)]) == 0
    assert (tmp_path / "res.png").read_bytes() == png and not list(tmp_path.glob(".*part"))
    md = (tmp_path / "res.md").read_text()
    assert "![ΔT against dose rate at 300 keV and against beam energy](res.png)" in md
    assert "| anatase101 / rutile101 | 2.67 | +4.5 | yes | anatase101 > rutile101 |" in md and "**no**" in md
    assert json.loads((tmp_path / "res.json").read_text())["pairs"][0]["separated"] is True
    capsys.readouterr()
    assert run(main, [str(tmp_path / "s"), "--results", str(res)]) != 0      # no --force
    one_line_error(capsys.readouterr().err)
    (tmp_path / "s" / "rutile101" / "k.json").unlink()
    with pytest.raises(UserError, match=r"rutile101/k\.json: missing"):
        support_record(tmp_path / "s" / "rutile101")
    (tmp_path / "one").mkdir()
    fake_support(tmp_path / "one", "hbn", 4e-5, 1e-5, [2.4e-4])
    assert run(main, [str(tmp_path / "one"), "--results", str(tmp_path / "r2")]) != 0
    assert "fewer than two support folders" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert run(main, [str(tmp_path / "file"), "--results", str(tmp_path / "r3")]) != 0
    assert "file: is a file, expected a supports.sh output folder (SUPPORTS_OUT)" in capsys.readouterr().err
