"""The Au-TiO2 Lennard-Jones fit on synthetic data (no LAMMPS): binding energies from the labels, parameters of a
known LJ recovered, refusals; and the TiO2 candidates' frames."""

from __future__ import annotations

import numpy as np
import pytest

from beamheat.cli import UserError
from helpers import ROOT
from models import interface_lj as lj
from synthetic_binding import KNOWN, UFF, direct_grads, direct_sums, labelled, lj_forces, tio2_frames


@pytest.fixture(scope="module")
def frames():
    return tio2_frames()


def points_of(frames, params=KNOWN):
    pts = lj.binding_points(labelled(frames, params))
    for p in pts:
        p.s12, p.s6 = direct_sums(p.atoms)
        g12, g6 = direct_grads(p.atoms)
        p.g12 = {x: g[p.particle] for x, g in g12.items()}
        p.g6 = {x: g[p.particle] for x, g in g6.items()}
    return pts


def test_tio2_candidates(frames):
    kinds = [(a.info["system"], a.info["kind"], a.info["copy"]) for a in frames]
    systems = {"Au6_anatase101", "Au6_rutile101"}
    assert {s for s, _, _ in kinds} == systems
    for s in systems:
        assert kinds.count((s, "scan", 0)) == kinds.count((s, "scan", 1)) == 8
        assert {k for x, k, _ in kinds if x == s} == {"scan", "particle", "support"}
        assert len([k for k in kinds if k[0] == s]) == 20
    assert [a.info["frame"] for a in frames] == list(range(len(frames)))
    for s in systems:  # copy 0 of every system and its bodies before any copy 1, whose bodies lead its scan
        for c in (0, 1):
            at = [i for i, k in enumerate(kinds) if k[0] == s and k[2] == c]
            assert [kinds[i][1] for i in at].count("particle") == [kinds[i][1] for i in at].count("support") == 1
        at = [i for i, k in enumerate(kinds) if k[0] == s and k[2] == 1]
        assert {kinds[i][1] for i in at[:2]} == {"particle", "support"}
        assert max(i for i, k in enumerate(kinds) if k[0] == s and k[2] == 0) < \
            min(i for i, k in enumerate(kinds) if k[2] == 1)
    for a in frames:
        sym = np.array(a.get_chemical_symbols())
        if a.info["kind"] == "scan":
            au, ox = a.positions[sym == "Au"], a.positions[sym != "Au"]
            assert au[:, 2].min() - ox[:, 2].max() == pytest.approx(a.info["gap_A"], abs=0.2)  # rattled 0.05 Å
            assert (sym == "Au").sum() % 2 == 0  # even electron count: no spin polarisation
    from models.candidates import TIO2_SCAN_GAPS_A

    assert sorted({a.info["gap_A"] for a in frames if a.info["kind"] == "scan"}) == list(TIO2_SCAN_GAPS_A)


def test_binding_energy_is_total_minus_bodies(frames):
    pts = lj.binding_points(labelled(frames))
    assert len(pts) == 32
    for p in pts:
        s12, s6 = direct_sums(p.atoms)
        assert p.E_b_dft_eV == pytest.approx(sum(lj.lj_energy(s12[x], s6[x], *KNOWN[x]) for x in KNOWN), abs=1e-9)
        assert p.E_b_dft_eV < 0 or p.gap_A < 2.5
    gaps = [p.gap_A for p in pts if (p.system, p.copy) == ("Au6_anatase101", 0)]
    assert gaps == sorted(gaps)


@pytest.mark.parametrize("free", ["eps-sigma", "eps"])
def test_known_lj_is_recovered(frames, free):
    truth = KNOWN if free == "eps-sigma" else {x: (KNOWN[x][0], UFF[x][1]) for x in KNOWN}
    pts = points_of(frames, truth)
    r = lj.fit(pts, UFF, free)
    assert r["success"], r["message"]
    for x in truth:
        assert r["params"][x][0] == pytest.approx(truth[x][0], rel=1e-4)
        assert r["params"][x][1] == pytest.approx(truth[x][1], rel=1e-5)
    assert r["rmse_eV"] < 1e-6
    assert r["n_parameters"] == (4 if free == "eps-sigma" else 2)
    # the start is far off: UFF binds these frames far less
    assert np.sqrt(np.mean((lj.predict(pts, UFF) - [p.E_b_dft_eV for p in pts]) ** 2)) > 100 * r["rmse_eV"]


def test_noisy_labels_fit_within_noise(frames):
    pts = points_of(frames)
    rng = np.random.default_rng(3)
    for p in pts:
        p.E_b_dft_eV += rng.normal(0.0, 0.005)
    r = lj.fit(pts, UFF, "eps-sigma")
    assert 0.002 < r["rmse_eV"] < 0.008
    well_fit = lj.predict(pts, r["params"]).min()
    assert well_fit == pytest.approx(lj.predict(pts, KNOWN).min(), rel=0.05)


def test_interaction_forces_are_frame_minus_particle_alone(frames):
    pts = points_of(frames)
    for p in pts:
        au = [i for i, e in enumerate(p.atoms.get_chemical_symbols()) if e == "Au"]
        assert list(p.particle) == au and p.f_dft.shape == (len(au), 3)
        assert np.allclose(p.f_dft, lj_forces(p.atoms)[au], atol=1e-12)
        assert np.allclose(lj.predict_forces(p, KNOWN), p.f_dft, atol=1e-10)
    # the particle pulled down onto the slab at the middle gaps, pushed off at the closest
    fz = {p.gap_A: p.f_dft[:, 2].sum() for p in pts if (p.system, p.copy) == ("Au6_anatase101", 0)}
    assert fz[3.2] < 0 < fz[1.9]
    # a particle alone with the wrong atoms is refused
    from ase.calculators.singlepoint import SinglePointCalculator

    bad = labelled(frames)
    k = next(i for i, a in enumerate(bad) if a.info["kind"] == "particle")
    short = bad[k][1:]
    short.calc = SinglePointCalculator(short, energy=-15.0, forces=np.zeros((len(short), 3)))
    bad[k] = short
    with pytest.raises(UserError, match=r"l.extxyz: Au6_anatase101 copy 0: the particle alone \(frame \d+\) is not "
                                        r"the 6 Au atoms of scan frame 0"):
        lj.binding_points(bad, source="l.extxyz")


def test_forces_join_the_fit(frames):
    one_scan = [p for p in points_of(frames) if (p.system, p.copy) == ("Au6_anatase101", 0)]
    rng = np.random.default_rng(5)
    for p in one_scan:
        p.E_b_dft_eV += rng.normal(0.0, 0.02)
    energies_only = lj.fit(one_scan, UFF, "eps-sigma")
    both = lj.fit(one_scan, UFF, "eps-sigma", force_weight_A2=10.0)
    assert energies_only["n_force_points"] == both["n_force_points"] == 8 and both["n_starts"] == 1 + 4 ** 2
    # one noisy scan's energies leave the split between the pairs loose: Au-Ti's sigma wanders off
    assert abs(energies_only["params"]["Ti"][1] - KNOWN["Ti"][1]) > 0.5
    assert energies_only["rmse_eV"] < 0.02
    # the exact forces pin both pairs
    for x in KNOWN:
        assert both["params"][x][0] == pytest.approx(KNOWN[x][0], rel=0.05)
        assert both["params"][x][1] == pytest.approx(KNOWN[x][1], rel=0.01)
    assert both["force_rmse_eV_per_A"] < 2e-3 < 0.1 < energies_only["force_rmse_eV_per_A"]
    assert both["rmse_eV"] == pytest.approx(0.015, rel=0.5)
    # labels without forces: energies alone, whatever the weight
    for p in one_scan:
        p.f_dft = None
    r = lj.fit(one_scan, UFF, "eps-sigma", force_weight_A2=1.0)
    assert r["n_force_points"] == 0 and r["force_rmse_eV_per_A"] is None


def test_missing_body_is_refused(frames):
    with pytest.raises(UserError, match=r"labels.extxyz: Au6_anatase101 copy 0: scan frame 0 has no support alone"):
        lj.binding_points(labelled(frames, drop=("support",)), source="labels.extxyz")
    with pytest.raises(UserError, match="no particle and no support alone"):
        lj.binding_points(labelled(frames, drop=("particle", "support")))


def test_too_few_points_are_refused(frames):
    pts = points_of(frames)[:7]
    with pytest.raises(UserError, match=r"l.extxyz: 7 binding energies for 4 parameters; the fit needs at least 8"):
        lj.fit(pts, UFF, "eps-sigma", source="l.extxyz")
    assert lj.fit(pts[:4], UFF, "eps")["n_points"] == 4  # 2 parameters


def test_pair_coeffs_of_the_reference():
    from beamheat.lammps_plugin import inputs_dir

    types = {"Au": 1, "O": 2, "Ti": 3}
    got = lj.read_pair_coeffs(inputs_dir() / "potentials" / "classical_au_tio2.in", types)
    # the installed lines are those models.fit_interface wrote for the committed fit
    assert got == lj.read_pair_coeffs(ROOT / "bench" / "results" / "fit_au_tio2" / "pair_coeff.in", types)
    assert set(got) == {"O", "Ti"} and all(eps > 0 and sigma > 0 for eps, sigma in got.values())


def test_wells_and_table():
    from models.fit_interface import wells

    rows = [{"system": "s", "copy": 0, "gap_A": g, "E_b_dft_eV": d, "E_b_fitted_eV": f, "E_b_file_eV": u}
            for g, d, f, u in [(2.0, 0.5, 0.3, 0.2), (2.5, -1.0, -0.8, -0.05), (3.0, -0.6, -0.9, -0.04)]]
    (w,) = wells(rows)
    assert (w["dft_eV"], w["dft_gap_A"], w["fitted_eV"], w["fitted_gap_A"]) == (-1.0, 2.5, -0.9, 3.0)
    assert w["dft_over_fitted"] == pytest.approx(1.0 / 0.9)
    assert w["dft_over_file"] == pytest.approx(20.0)
