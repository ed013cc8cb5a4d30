"""bench.dft_validation's measures on synthetic labelled frames (no models, no LAMMPS): binding wells
E_b = E(scan) - E(particle) - E(support) per member, excluded training frames, energies after one constant per
element, and the interface σF."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from bench.dft_validation import binding_metrics, energy_metrics, force_metrics, held_out, sigma_metrics
from models.data import frame_uid


def _frame(kind, energy, gap=None, n_au=2, n_bn=4, seed=0):
    rng = np.random.default_rng(seed)
    au = [[5 + 2.5 * i, 5, 10 + (gap or 0)] for i in range(n_au)] if kind != "support" else []
    bn = [[2.5 * i, 2.0, 10] for i in range(n_bn)] if kind != "particle" else []
    symbols = "Au" * len(au) + "BN" * (len(bn) // 2)
    a = Atoms(symbols, positions=au + bn, cell=[12, 12, 20], pbc=[True, True, False])
    a.info.update({"system": "s", "kind": kind, "copy": 0, "frame": seed})
    if gap is not None:
        a.info["gap_A"] = gap
    a.calc = SinglePointCalculator(a, energy=energy, forces=rng.normal(size=(len(a), 3)))
    return a


@pytest.fixture
def frames():
    return [_frame("particle", -10.0, seed=1), _frame("support", -20.0, seed=2),
            _frame("scan", -31.0, gap=3.0, seed=3), _frame("scan", -31.5, gap=3.5, seed=4),
            _frame("scan", -30.2, gap=5.0, seed=5)]


def _preds(frames, energies_by_member):
    """Predictions with member energies E_j = DFT + offset_j per frame and forces DFT + member noise."""
    rng = np.random.default_rng(9)
    out = []
    for k, a in enumerate(frames):
        e = np.array([a.get_potential_energy() + off[k] for off in energies_by_member])
        f = a.get_forces()[None] + rng.normal(scale=0.1, size=(len(energies_by_member), len(a), 3))
        out.append({"energies": e, "forces": f})
    return out


def test_binding_well_is_the_members_mean_minimum(frames):
    # member 0 exact, member 1 binds 0.3 eV more at 3.5 A only
    preds = _preds(frames, [[0, 0, 0, 0, 0], [0, 0, 0, -0.3, 0]])
    b = binding_metrics(frames, preds)["s (scan 0)"]
    assert b["gap_A"] == [3.0, 3.5, 5.0]
    assert b["E_b_dft_eV"] == pytest.approx([-1.0, -1.5, -0.2])
    assert b["well_dft_eV"] == pytest.approx(-1.5) and b["well_dft_gap_A"] == 3.5
    assert b["well_model_eV"] == pytest.approx(-1.65) and b["well_model_std_eV"] == pytest.approx(0.15)
    assert b["well_ratio"] == pytest.approx(1.1) and b["within_tolerance"] is True


def test_binding_outside_tolerance_is_flagged(frames):
    # both members bind the scan 0.5 eV less: well -1.0 against DFT -1.5 (ratio 0.67)
    preds = _preds(frames, [[0, 0, 0.5, 0.5, 0.5]] * 2)
    b = binding_metrics(frames, preds)["s (scan 0)"]
    assert b["well_ratio"] == pytest.approx(1.0 / 1.5) and b["within_tolerance"] is False


def test_energy_constants_per_element_absorb_reference_shifts(frames):
    # a potential with other reference energies: +1 eV per Au, -0.5 eV per B and N, plus 2 meV/atom noise-free bias
    shifts = [a.get_chemical_symbols().count("Au") * 1.0 - 0.5 * (len(a) - a.get_chemical_symbols().count("Au"))
              for a in frames]
    e = energy_metrics(frames, _preds(frames, [shifts, shifts]))
    assert e["rmse_eV_per_atom"] > 0.3
    assert e["rmse_after_element_constants_eV_per_atom"] == pytest.approx(0.0, abs=1e-9)


def test_force_and_sigma_measures(frames):
    preds = _preds(frames, [[0] * 5, [0] * 5, [0] * 5])
    forces, arrays = force_metrics(frames, preds, "Au")
    assert forces["n_atoms"] == sum(len(a) for a in frames)
    assert set(forces["rmse_by_element"]) == {"Au", "B", "N"}
    # members' noise 0.1 per component: ensemble-mean error ~0.1/sqrt(3), each member's ~0.1
    assert 0.03 < forces["rmse_all"] < 0.09 and all(0.07 < x < 0.13 for x in forces["rmse_members"])
    # interface atoms: the scans at 3.0 and 3.5 A have Au within 5 A of the sheet; the bodies alone have none
    assert forces["n_interface"] > 0 and not arrays["frame_interface"][0].any()
    s = sigma_metrics(arrays)
    assert s["n_frames_with_interface"] >= 2
    assert s["mean_sigma_interface_eV_per_A"] > 0 and s["spearman_sigma_delta"] is not None


def test_held_out_leaves_out_the_training_configurations_only(frames):
    for a in frames:
        a.info["uid"] = frame_uid(a)
    target = frames[2].copy()   # a training target: the same configuration, other energy and forces
    target.calc = SinglePointCalculator(target, energy=-5.0, forces=np.zeros((len(target), 3)))
    target.info["uid"] = frame_uid(target)
    moved = frames[3].copy()
    moved.positions[0, 0] += 1e-3
    moved.info["uid"] = frame_uid(moved)
    kept = held_out(frames, [target, moved])
    assert [a.info["frame"] for a in kept] == [1, 2, 4, 5]


def test_each_lateral_position_is_its_own_curve(frames):
    shifted = [_frame("scan", -31.2, gap=3.0, seed=6), _frame("scan", -30.9, gap=3.5, seed=7)]
    for a in shifted:
        a.info["copy"] = 1
    allf = frames + shifted
    b = binding_metrics(allf, _preds(allf, [[0] * 7, [0] * 7]))
    assert set(b) == {"s (scan 0)", "s (scan 1)"}
    assert b["s (scan 1)"]["E_b_dft_eV"] == pytest.approx([-1.2, -0.9])


def test_held_out_scans_take_their_bodies_from_the_training_labels(frames):
    from bench.dft_validation import trained_bodies

    scan1 = [_frame("scan", -31.2, gap=3.0, seed=6), _frame("scan", -30.9, gap=3.5, seed=7)]
    for a in scan1:
        a.info["copy"] = 1
    labels = frames + scan1
    kept = scan1                                   # the bodies and the copy-0 scan were trained on
    bodies = trained_bodies(labels, kept)
    assert sorted(a.info["kind"] for a in bodies) == ["particle", "support"]
    assert trained_bodies(labels, kept + bodies) == []
    assert trained_bodies(labels, [frames[0]]) == []  # no held-out scan: no binding, no bodies
    b = binding_metrics(kept + bodies, _preds(kept + bodies, [[0] * 4, [0] * 4]))
    assert set(b) == {"s (scan 1)"}
    assert b["s (scan 1)"]["E_b_dft_eV"] == pytest.approx([-1.2, -0.9])


def test_bodies_from_a_loop_training_split_get_their_labels_back(frames):
    """The loop's training splits hold labels minus the baseline (models.baseline.residual_frames): a body taken
    from one counts with its full label, so E_b is the DFT binding, not the binding minus the baseline's."""
    from bench.dft_validation import trained_bodies

    scan1 = [_frame("scan", -31.2, gap=3.0, seed=6), _frame("scan", -30.9, gap=3.5, seed=7)]
    for a in scan1:
        a.info["copy"] = 1
    residual = []
    for a, eb in zip(frames[:2], (-1.5, -4.5)):      # particle and support as a training split holds them
        r = a.copy()
        fb = np.full((len(a), 3), 0.25)
        r.info["baseline_energy_eV"] = eb
        r.arrays["baseline_forces"] = fb
        r.calc = SinglePointCalculator(r, energy=a.get_potential_energy() - eb, forces=a.get_forces() - fb)
        residual.append(r)
    bodies = trained_bodies(scan1 + residual, scan1)
    assert [a.get_potential_energy() for a in bodies] == pytest.approx([-10.0, -20.0])
    np.testing.assert_allclose(bodies[0].get_forces(), frames[0].get_forces())
    assert "baseline_energy_eV" not in bodies[0].info and "baseline_forces" not in bodies[0].arrays
    b = binding_metrics(scan1 + bodies, _preds(scan1 + bodies, [[0] * 4, [0] * 4]))
    assert b["s (scan 1)"]["E_b_dft_eV"] == pytest.approx([-1.2, -0.9])


def test_the_bodies_of_the_scans_own_geometry_are_taken(frames):
    """E_b needs the bodies at the scan's geometry: of two supports alone, the one whose atoms are the scan's is
    taken, whatever the order; with only another geometry, E_b is computed and the mismatch reported."""
    from bench.dft_validation import SAME_GEOMETRY_A, markdown

    other = _frame("support", -19.0, seed=8)
    forces = other.get_forces()
    other.positions[-1, 2] += 0.05                 # the sheet of another lateral position: deformed
    other.calc = SinglePointCalculator(other, energy=-19.0, forces=forces)
    for allf in ([other] + frames, frames + [other]):
        b = binding_metrics(allf, _preds(allf, [[0] * 6, [0] * 6]))["s (scan 0)"]
        assert b["E_b_dft_eV"] == pytest.approx([-1.0, -1.5, -0.2])
        assert b["bodies_mismatch_A"] == pytest.approx(0.0)
    only_other = [frames[0], other] + frames[2:]
    b = binding_metrics(only_other, _preds(only_other, [[0] * 5, [0] * 5]))["s (scan 0)"]
    assert b["E_b_dft_eV"] == pytest.approx([-2.0, -2.5, -1.2])
    assert b["bodies_mismatch_A"] == pytest.approx(0.05) and b["bodies_mismatch_A"] > SAME_GEOMETRY_A
    result = {"what": "t", "machine": {}, "labels": "l", "n_frames": 5, "n_excluded": 0, "members": ["a", "b"],
              "baseline": "none", "figure": "f.png", "n_binding_bodies_from_training": 0,
              "forces": {"n_atoms": 1, "rmse_all": 0.1, "rmse_by_element": {}, "n_interface": 0,
                         "rmse_interface": None, "rmse_not_interface": None, "rmse_members": [], "rms_reference": 1},
              "energy": {"rmse_eV_per_atom": 0.0, "rmse_after_element_constants_eV_per_atom": 0.0,
                         "element_constants_eV": {}, "note": ""},
              "sigma_f": {"mean_sigma_all_eV_per_A": 0.1}, "binding": {"s (scan 0)": b}}
    assert "WARNING: the bodies alone are not this scan's geometry (atoms up to 0.050 Å apart)" in markdown(result, "c")
