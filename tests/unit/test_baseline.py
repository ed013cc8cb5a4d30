"""models.baseline's training targets: labels minus the baseline (Δ-learning), also when the frames given are
targets already (a split of a training set), so a baseline is never taken off twice. The baseline's LAMMPS single
points are replaced by fixed values here (tests/integration/test_loop.py runs them)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

import models.baseline as mb


@pytest.fixture
def label():
    a = Atoms("AuBN", positions=[[0, 0, 3], [0, 0, 0], [1.45, 0, 0]], cell=[10, 10, 10], pbc=True)
    a.calc = SinglePointCalculator(a, energy=-7.0, forces=np.arange(9.0).reshape(3, 3))
    return a


def _baseline(energy, forces):
    def values(frames, baseline, type_names, comm=None):
        return [(energy, np.asarray(forces, float)) for _ in frames]
    return values


def test_targets_are_the_labels_minus_the_baseline(monkeypatch, label):
    monkeypatch.setattr(mb, "baseline_values", _baseline(-1.5, np.ones((3, 3))))
    (t,) = mb.residual_frames([label], "b.in", ["Au", "B", "N"])
    assert t.get_potential_energy() == pytest.approx(-5.5)
    np.testing.assert_allclose(t.get_forces(), np.arange(9.0).reshape(3, 3) - 1)
    assert t.info["baseline_energy_eV"] == -1.5 and (t.arrays["baseline_forces"] == 1).all()


def test_targets_of_targets_take_the_baseline_off_once(monkeypatch, label):
    monkeypatch.setattr(mb, "baseline_values", _baseline(-1.5, np.ones((3, 3))))
    (once,) = mb.residual_frames([label], "b.in", ["Au", "B", "N"])
    (twice,) = mb.residual_frames([once], "b.in", ["Au", "B", "N"])
    assert twice.get_potential_energy() == pytest.approx(once.get_potential_energy())
    np.testing.assert_allclose(twice.get_forces(), once.get_forces())
    # another baseline on the same targets: the labels minus that one
    monkeypatch.setattr(mb, "baseline_values", _baseline(0.25, -np.ones((3, 3))))
    (other,) = mb.residual_frames([once], "c.in", ["Au", "B", "N"])
    assert other.get_potential_energy() == pytest.approx(-7.25)
    np.testing.assert_allclose(other.get_forces(), np.arange(9.0).reshape(3, 3) + 1)
