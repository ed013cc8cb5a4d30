"""The Au-TiO2 interface fit with real LAMMPS: the pair sums LAMMPS gives through the real include file
(classical_au_tio2.in) against numpy's, the lj/cut energy against the include file's own binding energy
(total - slab - particle), and `python -m models.fit_interface` end to end on synthetic labels of a known LJ."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import write

from beamheat.cli import run
from beamheat.lammps_plugin import inputs_dir
from helpers import one_line_error
from models import interface_lj as lj
from synthetic_binding import KNOWN, UFF, direct_sums, labelled, lj_binding, tio2_frames

POTENTIAL = inputs_dir() / "potentials" / "classical_au_tio2.in"
TYPES = {"Au": 1, "O": 2, "Ti": 3}


@pytest.fixture(scope="module")
def frames():
    return tio2_frames()


def test_lammps_pair_sums_and_binding(frames):
    from beamheat.lammps_run import single_point

    li = lj.LammpsInterface(POTENTIAL, TYPES, kspace_accuracy=1e-8)  # PPPM's own error below the check's 1e-5 eV
    for system in ("Au6_anatase101", "Au6_rutile101"):
        scans = [a for a in frames if a.info["system"] == system and a.info["kind"] == "scan"
                 and a.info["copy"] == 0]
        p, s = (next(a for a in frames if a.info["system"] == system and a.info["kind"] == k
                     and a.info["copy"] == 0) for k in ("particle", "support"))
        e_particle = single_point(p, "pair_style eam", "pair_coeff 1 1 Au_u3.eam", ["Au"])["energy_eV"]
        e_support = li.energies(s, [UFF])[0]["pe_eV"]
        for a in scans[1::4]:
            s12, s6 = li.pair_sums(a)
            ref12, ref6 = direct_sums(a)
            for x in ("O", "Ti"):
                assert s12[x] == pytest.approx(ref12[x], rel=1e-8)
                assert s6[x] == pytest.approx(ref6[x], rel=1e-8)
            (r,) = li.energies(a, [UFF])
            # the include file's own binding energy is its lj/cut energy (PPPM sees the same slab in both)
            assert r["pe_eV"] - e_particle - e_support == pytest.approx(r["lj_eV"], abs=1e-5)
            assert r["lj_eV"] == pytest.approx(lj_binding(a, UFF), rel=1e-8)


def test_fit_cli_recovers_a_known_lj(frames, tmp_path, capsys):
    labels = tmp_path / "labels.extxyz"
    write(labels, labelled([a for a in frames if a.info["copy"] == 0]))
    out = tmp_path / "fit"
    assert run(__import__("models.fit_interface", fromlist=["main"]).main, [str(labels), "--out", str(out)]) == 0
    res = json.loads((out / "fit.json").read_text())
    for x in KNOWN:
        assert res["fitted"][x][0] == pytest.approx(KNOWN[x][0], rel=1e-3)
        assert res["fitted"][x][1] == pytest.approx(KNOWN[x][1], rel=1e-4)
        assert res["file_params"][x] == list(UFF[x])
    assert res["n_points"] == res["n_fitted"] == 16 and res["rmse_eV"] < 1e-5 < res["rmse_file_eV"]
    for row in res["points"]:
        assert row["E_b_fitted_eV"] == pytest.approx(row["E_b_dft_eV"], abs=1e-4)
    assert {(w["system"], w["copy"]) for w in res["wells"]} == {("Au6_anatase101", 0), ("Au6_rutile101", 0)}
    assert all(w["dft_over_file"] > 5 for w in res["wells"])  # UFF binds far less than this LJ
    md = (out / "fit.md").read_text()
    assert md.count("| Au6_anatase101 | 0 | ") == 8 + 1 and "| Au-O |" in md
    assert (out / "binding.png").stat().st_size > 1000
    # the written pair_coeff lines, in LAMMPS with the real include file, give the labels' binding energies
    fitted = lj.read_pair_coeffs(out / "pair_coeff.in", TYPES)
    scan = next(a for a in frames if a.info["kind"] == "scan" and a.info["gap_A"] == 2.5)
    (r,) = lj.LammpsInterface(POTENTIAL, TYPES).energies(scan, [fitted])
    assert r["lj_eV"] == pytest.approx(lj_binding(scan), abs=1e-3)
    assert "Au-O: eps 0.045" in capsys.readouterr().out
    # nothing overwritten without --force; a file with one body missing is refused in one line
    before = (out / "fit.json").read_text()
    assert run(__import__("models.fit_interface", fromlist=["main"]).main, [str(labels), "--out", str(out)]) != 0
    one_line_error(capsys.readouterr().err)
    assert (out / "fit.json").read_text() == before
    partial = tmp_path / "partial.extxyz"
    write(partial, labelled([a for a in frames if a.info["copy"] == 0], drop=("particle",)))
    assert run(__import__("models.fit_interface", fromlist=["main"]).main,
               [str(partial), "--out", str(tmp_path / "f2")]) != 0
    err = capsys.readouterr().err
    one_line_error(err)
    assert "no particle alone labelled" in err and not (tmp_path / "f2" / "fit.json").exists()


def test_fit_cli_refuses_too_few_points(frames, tmp_path, capsys):
    few = [a for a in frames if a.info["copy"] == 0 and a.info["system"] == "Au6_anatase101"
           and (a.info["kind"] != "scan" or a.info["gap_A"] in (2.2, 2.5, 3.2, 3.8))]
    labels = tmp_path / "few.extxyz"
    write(labels, labelled(few))
    main = __import__("models.fit_interface", fromlist=["main"]).main
    assert run(main, [str(labels), "--out", str(tmp_path / "fit")]) != 0
    err = capsys.readouterr().err
    one_line_error(err)
    assert "4 binding energies for 4 parameters; the fit needs at least 8" in err
    assert not (tmp_path / "fit").exists()
    assert run(main, [str(labels), "--out", str(tmp_path / "fit"), "--fit", "eps"]) == 0
    res = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert res["n_points"] == 4 and res["fit"] == "eps"
    assert np.isclose(res["fitted"]["O"][1], UFF["O"][1]) and np.isclose(res["fitted"]["Ti"][1], UFF["Ti"][1])
