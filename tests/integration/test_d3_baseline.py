"""The dispersion baseline of DFT-D3 labels: LAMMPS's `dispersion/d3 bj` (lammps_inputs/potentials/
baseline_d3_au_hbn.in) is the labeller's D3 (dft.label: the dftd3 package, D3(BJ) two-body), and a NequIP model
overlaid on it in LAMMPS is the model plus that D3: E = E_NequIP + E_D3, F = F_NequIP + F_D3."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import ROOT, ase_reference

pytest.importorskip("dftd3", reason="dftd3 is installed by scripts/setup.sh with GPAW")
D3_BASELINE = ROOT / "lammps_inputs" / "potentials" / "baseline_d3_au_hbn.in"
TYPES = ["Au", "B", "N"]


def _frames():
    """Au particles on periodic hBN patches (the candidates' kind of cell), rattled, and the flat sheet alone (a
    slab thinner than the D3 cutoff: LAMMPS keeps the box the frame gives)."""
    from models.candidates import interface_system

    rng = np.random.default_rng(3)
    out = []
    for d in (0.6, 0.8):
        a, _ = interface_system("Au", "hbn", d, 0.5, 3.0, 5.0, 6.5)
        a.positions += rng.normal(scale=0.05, size=a.positions.shape)
        out.append(a)
    out.append(out[0][out[0].numbers != 79])  # the sheet alone, in the same cell
    return out


def _dftd3(atoms):
    from dft.label import d3_calculator

    b = atoms.copy()
    b.calc = d3_calculator("PBE")
    return b.get_potential_energy(), b.get_forces()


def test_lammps_d3_is_the_labellers_d3():
    from models.baseline import baseline_values

    frames = _frames()
    for a, (e_lmp, f_lmp) in zip(frames, baseline_values(frames, D3_BASELINE, TYPES)):
        e, f = _dftd3(a)
        assert e < -1.0  # a real dispersion energy, not an empty sum
        assert abs(e_lmp - e) < 1e-4, (e_lmp, e)
        assert np.abs(f_lmp - f).max() < 1e-5, np.abs(f_lmp - f).max()


def test_nequip_overlaid_on_d3_is_the_model_plus_dftd3(model_au_hbn):
    from beamheat.lammps_run import baseline_commands, single_point

    style, coeffs = baseline_commands(D3_BASELINE, "nequip", f"nequip {model_au_hbn} {' '.join(TYPES)}")
    atoms = _frames()[0]
    r = single_point(atoms, style, coeffs, TYPES)
    net = ase_reference(atoms, model_au_hbn)
    e_d3, f_d3 = _dftd3(atoms)
    assert abs(r["energy_eV"] - (net["energy_eV"] + e_d3)) < 1e-4
    assert np.abs(r["forces_eV_per_A"] - (net["forces_eV_per_A"] + f_d3)).max() < 1e-5
