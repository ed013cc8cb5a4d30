"""The Au-TiO2 interface fit with real LAMMPS: the pair sums and their gradients (the lj/cut forces) LAMMPS gives
through the real include file (classical_au_tio2.in) against numpy's, the lj/cut energy against the include file's own binding energy
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
from synthetic_binding import KNOWN, UFF, direct_grads, direct_sums, labelled, lj_binding, tio2_frames

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
        e_support = li.evaluate(s, [UFF])[0]["pe_eV"]
        for a in scans[1::4]:
            s12, s6, g12, g6 = li.pair_terms(a)
            ref12, ref6 = direct_sums(a)
            grad12, grad6 = direct_grads(a)
            for x in ("O", "Ti"):
                assert s12[x] == pytest.approx(ref12[x], rel=1e-8)
                assert s6[x] == pytest.approx(ref6[x], rel=1e-8)
                # the forces' differences cancel PPPM and EAM exactly: what is left is lj/cut's gradient
                assert np.allclose(g12[x], grad12[x], rtol=1e-7, atol=1e-9 * abs(grad12[x]).max())
                assert np.allclose(g6[x], grad6[x], rtol=1e-7, atol=1e-9 * abs(grad6[x]).max())
            (r,) = li.evaluate(a, [UFF])
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
        assert res["file_params"][x] == list(lj.read_pair_coeffs(POTENTIAL, TYPES)[x])
    assert res["n_points"] == res["n_fitted"] == res["n_force_points"] == 16 and res["force_weight_A2"] == 1.0
    assert res["rmse_eV"] < 1e-5 < res["rmse_file_eV"]
    assert res["force_rmse_eV_per_A"] < 1e-4 < 0.01 < res["force_rmse_file_eV_per_A"]
    for row in res["points"]:
        assert row["E_b_fitted_eV"] == pytest.approx(row["E_b_dft_eV"], abs=1e-4)
        assert row["F_err_fitted_eV_per_A"] < 1e-4 and row["F_rms_dft_eV_per_A"] > 0
    assert {(w["system"], w["copy"]) for w in res["wells"]} == {("Au6_anatase101", 0), ("Au6_rutile101", 0)}
    assert all(w["dft_over_fitted"] == pytest.approx(1, rel=1e-3) for w in res["wells"])
    md = (out / "fit.md").read_text()
    assert md.count("| Au6_anatase101 | 0 | ") == 8 + 1 and "| Au-O |" in md
    assert (out / "binding.png").stat().st_size > 1000
    # the written pair_coeff lines, in LAMMPS with the real include file, give the labels' binding energies
    fitted = lj.read_pair_coeffs(out / "pair_coeff.in", TYPES)
    scan = next(a for a in frames if a.info["kind"] == "scan" and a.info["gap_A"] == 2.5)
    (r,) = lj.LammpsInterface(POTENTIAL, TYPES).evaluate(scan, [fitted])
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
    kept = lj.read_pair_coeffs(POTENTIAL, TYPES)  # --fit eps keeps the file's sigmas
    assert np.isclose(res["fitted"]["O"][1], kept["O"][1]) and np.isclose(res["fitted"]["Ti"][1], kept["Ti"][1])


def test_relaxed_candidates_bind_more_and_pair_with_the_scans_slab(frames):
    """The particle relaxed over the fixed slab with the fitted pairs binds at least as much as the best rigid
    frame; its labels pair with the scan's own slab alone by content, and with the relaxed particle alone."""
    from models.data import frame_uid

    copy0 = [a for a in frames if a.info["copy"] == 0 and a.info["system"] == "Au6_anatase101"]
    pts = lj.LammpsInterface(POTENTIAL, TYPES).fill(lj.binding_points(labelled(copy0)))
    rigid_best = min(p.E_b_dft_eV for p in pts)
    relaxed = lj.relaxed_candidates(pts, POTENTIAL, TYPES, KNOWN, first_frame=40)
    assert [a.info["kind"] for a in relaxed] == ["scan", "particle"]
    scan, alone = relaxed
    assert scan.info["copy"] == lj.RELAXED_COPY_OFFSET and [scan.info["frame"], alone.info["frame"]] == [40, 41]
    assert scan.info["E_b_fitted_eV"] == pytest.approx(lj_binding(scan), abs=1e-3)
    assert scan.info["E_b_fitted_eV"] < rigid_best
    slab = next(a for a in copy0 if a.info["kind"] == "support")
    sym = np.array(scan.get_chemical_symbols())
    assert frame_uid(scan[sym != "Au"]) == frame_uid(slab) and frame_uid(scan[sym == "Au"]) == frame_uid(alone)
    (p,) = lj.LammpsInterface(POTENTIAL, TYPES).fill(
        [q for q in lj.binding_points(labelled(copy0) + labelled(relaxed)) if q.copy == lj.RELAXED_COPY_OFFSET])
    assert p.E_b_dft_eV == pytest.approx(lj_binding(scan), abs=1e-9)
    assert p.gap_A == scan.info["gap_A"] < min(q.gap_A for q in pts)


def test_relaxed_candidates_take_new_copies_and_start_from_rigid_scans(frames):
    copy0 = [a for a in frames if a.info["copy"] == 0 and a.info["system"] == "Au6_anatase101"]
    li = lj.LammpsInterface(POTENTIAL, TYPES)
    first = lj.relaxed_candidates(li.fill(lj.binding_points(labelled(copy0))), POTENTIAL, TYPES, KNOWN)
    again = lj.relaxed_candidates(li.fill(lj.binding_points(labelled(copy0) + labelled(first))), POTENTIAL, TYPES,
                                  UFF, first_frame=2)
    assert [a.info["copy"] for a in first] == [10, 10] and [a.info["copy"] for a in again] == [11, 11]
    assert again[0].info["relaxed_from_frame"] in {a.info["frame"] for a in copy0 if a.info["kind"] == "scan"}
