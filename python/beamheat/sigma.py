"""The ensemble's per-atom force spread σF (paper eq. 2) summarised per frame, as the paper's Fig. 2 shows it: all
atoms, the interface atoms and the worst 10 %.

    from beamheat.sigma import interface_mask, sigma_stats
    mask = interface_mask(atoms.positions, is_np, atoms.cell, atoms.pbc)     # cross-body pairs within 5 Å
    st = sigma_stats(sigma, mask)     # per-frame 'all', 'interface', 'worst10', 'max' from sigma (n_frames, n_atoms)

Used by analysis.report (dumps of heat-transfer runs), models.rerun (an ensemble rerun of any trajectory) and the
bench scripts.
"""

from __future__ import annotations

import math

import numpy as np

INTERFACE_CUTOFF_A = 5.0   # an atom is at the interface when an atom of the other body is this close
WORST_FRACTION = 0.1       # the worst 10 %: the ceil(0.1 N) atoms with the largest σF


def worst_mean(sigma, fraction: float = WORST_FRACTION) -> np.ndarray:
    """Per frame, the mean σF of the ceil(fraction·N) atoms with the largest σF (N atoms; at least one)."""
    s = np.atleast_2d(np.asarray(sigma, float))
    n = max(1, math.ceil(fraction * s.shape[1] - 1e-9))
    return np.sort(s, axis=1)[:, -n:].mean(axis=1)


def sigma_stats(sigma, interface_mask) -> dict[str, np.ndarray]:
    """σF (n_frames, n_atoms) -> per-frame arrays: mean of all atoms ('all'), of the interface atoms ('interface';
    NaN when there are none), of the worst 10 % ('worst10') and the largest ('max')."""
    s = np.atleast_2d(np.asarray(sigma, float))
    m = np.asarray(interface_mask, bool)
    if m.shape != (s.shape[1],):
        raise ValueError(f"interface_mask has shape {m.shape}, expected ({s.shape[1]},)")
    inter = s[:, m].mean(axis=1) if m.any() else np.full(len(s), np.nan)
    return {"all": s.mean(axis=1), "interface": inter, "worst10": worst_mean(s), "max": s.max(axis=1)}


def interface_mask(positions, is_np, cell=None, pbc=(False, False, False),
                   cutoff_A: float = INTERFACE_CUTOFF_A) -> np.ndarray:
    """Atoms of one body (IS_NP true: the particle) with an atom of the other body within cutoff_A (minimum image
    where periodic)."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    pos = np.asarray(positions, float)
    is_np = np.asarray(is_np, bool)
    atoms = Atoms(positions=pos, cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc)
    i, j = neighbor_list("ij", atoms, cutoff_A)
    cross = is_np[i] != is_np[j]
    mask = np.zeros(len(pos), bool)
    mask[i[cross]] = True
    return mask
