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
    from dft.calculation import d3_calculator

    b = atoms.copy()
    b.calc = d3_calculator("PBE")
    return b.get_potential_energy(), b.get_forces()


def _with_labeller_cutoffs(tmp_path):
    """The baseline file with the dftd3 package's cutoffs: 60 bohr for the pair sum, 40 bohr for the coordination
    numbers."""
    text = D3_BASELINE.read_text().replace("dispersion/d3 bj pbe 12.0 10.0", "dispersion/d3 bj pbe 31.7506 21.1671")
    assert "31.7506" in text
    out = tmp_path / "d3_labeller_cutoffs.in"
    out.write_text(text)
    return out


def test_lammps_d3_is_the_labellers_d3(tmp_path):
    """With the labeller's cutoffs, LAMMPS's D3 is the labeller's; the bundled file's shorter cutoffs leave out
    less than 1 meV/atom and 1e-3 eV/Å."""
    from models.baseline import baseline_values

    frames = _frames()
    exact = baseline_values(frames, _with_labeller_cutoffs(tmp_path), TYPES)
    short = baseline_values(frames, D3_BASELINE, TYPES)
    for a, (e_lmp, f_lmp), (e_short, f_short) in zip(frames, exact, short):
        e, f = _dftd3(a)
        assert e < -1.0  # a real dispersion energy, not an empty sum
        assert abs(e_lmp - e) < 1e-4, (e_lmp, e)
        assert np.abs(f_lmp - f).max() < 1e-5, np.abs(f_lmp - f).max()
        assert 0 < (e_short - e) / len(a) < 1e-3 and np.abs(f_short - f).max() < 1e-3


def test_nequip_overlaid_on_d3_is_the_model_plus_dftd3(model_au_hbn, tmp_path):
    """With the labeller's cutoffs: E = E_NequIP + E_D3 and F = F_NequIP + F_D3 to 1e-4 eV and 1e-5 eV/Å."""
    from beamheat.lammps_run import baseline_commands, single_point

    style, coeffs = baseline_commands(_with_labeller_cutoffs(tmp_path), "nequip",
                                      f"nequip {model_au_hbn} {' '.join(TYPES)}")
    atoms = _frames()[0]
    r = single_point(atoms, style, coeffs, TYPES)
    net = ase_reference(atoms, model_au_hbn)
    e_d3, f_d3 = _dftd3(atoms)
    assert abs(r["energy_eV"] - (net["energy_eV"] + e_d3)) < 1e-4
    assert np.abs(r["forces_eV_per_A"] - (net["forces_eV_per_A"] + f_d3)).max() < 1e-5
