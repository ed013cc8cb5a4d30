"""bench.d3_lammps_vs_labeller.binding_left_out: what a shorter D3 cutoff leaves out of the particle's binding,
E_b = E(scan) - E(particle) - E(support), on synthetic frames (no LAMMPS); bench.dft_binding's teacher types."""

from __future__ import annotations

import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from bench.d3_lammps_vs_labeller import binding_left_out


def _frame(kind, energy, energy_d3, gap=None):
    a = Atoms("Au", positions=[[0, 0, 5]], cell=[10, 10, 20], pbc=[True, True, False])
    a.info.update({"system": "s", "kind": kind, "copy": 0, "frame": 0, "energy_d3": energy_d3})
    if gap is not None:
        a.info["gap_A"] = gap
    a.calc = SinglePointCalculator(a, energy=energy, forces=[[0.0, 0.0, 0.0]])
    return a


def test_binding_left_out_is_the_scan_minus_the_bodies():
    frames = [_frame("particle", -10.0, -1.0), _frame("support", -20.0, -2.0),
              _frame("scan", -31.5, -4.5, gap=3.2), _frame("scan", -30.2, -3.2, gap=6.0)]
    # the short cutoff loses 0.05 eV of the particle, 0.10 of the support, 0.25 (contact) and 0.16 (far) of the scans
    lammps = [-0.95, -1.90, -4.25, -3.04]
    rows = [{"energy_d3_lammps_eV": e} for e in lammps]
    out = binding_left_out(frames, rows)
    # E_b(D3) labeller: -1.5 and -0.2; short cutoff: -1.40 and -0.19 -> left out 0.10 and 0.01
    assert out["max_abs_dE_b_eV"] == pytest.approx(0.10)
    assert out["well_eV"] == pytest.approx(-1.5)


def test_no_scan_with_both_bodies_gives_none():
    frames = [_frame("particle", -10.0, -1.0), _frame("scan", -31.5, -4.5, gap=3.2)]
    assert binding_left_out(frames, [{"energy_d3_lammps_eV": -1.0}, {"energy_d3_lammps_eV": -4.5}]) is None


def test_the_teachers_types_follow_the_support():
    from beamheat.cli import UserError
    from bench.dft_binding import type_names_of

    def frame(symbols):
        return Atoms(symbols)

    assert type_names_of([frame("Au2"), frame("BN")], "x") == ["Au", "B", "N"]
    assert type_names_of([frame("AuTiO2")], "x") == ["Au", "O", "Ti"]
    with pytest.raises(UserError, match="x: elements Au, Cu are not Au on one of"):
        type_names_of([frame("AuCu")], "x")
