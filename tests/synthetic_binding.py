"""DFT-like labels of models.candidates' Au/TiO2 frames made by a known Lennard-Jones interface, for testing the
fit of the classical reference's Au-O and Au-Ti pairs (models.interface_lj, models.fit_interface).

The bodies alone get fixed energies and no forces, and every scan frame those plus the LJ energy of its Au-O and
Au-Ti pairs within 10 Å (the reference's lj/cut cutoff) and that LJ's forces, summed here in numpy over ASE's
neighbour list, independently of LAMMPS: so the binding energy of a scan frame is exactly that LJ energy, and the
interaction force on each Au atom exactly that LJ's.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

KNOWN = {"O": (0.045, 2.45), "Ti": (0.012, 3.3)}     # eps (eV), sigma (Å): binds Au6 by about 1 eV
UFF = {"O": (0.0020977, 3.0259), "Ti": (0.0011166, 2.8812)}  # UFF, Lorentz-Berthelot: a start far from KNOWN
CUTOFF_A = 10.0
BODY_ENERGY_EV = {"particle": -17.5, "support": -250.0}
_SUMS: dict = {}
_GRADS: dict = {}


def tio2_frames():
    """Au6 scans over one-trilayer anatase (101) and rutile (101), two copies, with their bodies (40 frames)."""
    from models.candidates import candidates

    return candidates(support_kind=["anatase101", "rutile101"], diameters_nm=(0.5,), margin_A=2.0, thickness_A=2.0,
                      md_frames=0)


def direct_sums(atoms, cutoff_A=CUTOFF_A):
    """({X: sum r^-12}, {X: sum r^-6}) over Au-X pairs within cutoff_A, periodic images included."""
    key = (atoms.positions.tobytes(), atoms.numbers.tobytes(), atoms.cell.array.tobytes(), cutoff_A)
    if key not in _SUMS:
        i, j, d = neighbor_list("ijd", atoms, cutoff_A)
        sym = np.array(atoms.get_chemical_symbols())
        s12, s6 = {}, {}
        for x in ("O", "Ti"):
            m = (sym[i] == "Au") & (sym[j] == x)
            s12[x], s6[x] = float(np.sum(d[m] ** -12.0)), float(np.sum(d[m] ** -6.0))
        _SUMS[key] = (s12, s6)
    return _SUMS[key]


def direct_grads(atoms, cutoff_A=CUTOFF_A):
    """({X: -grad S12_X}, {X: -grad S6_X}) on every atom, (n, 3), over Au-X pairs within cutoff_A."""
    key = (atoms.positions.tobytes(), atoms.numbers.tobytes(), atoms.cell.array.tobytes(), cutoff_A)
    if key not in _GRADS:
        i, j, d, D = neighbor_list("ijdD", atoms, cutoff_A)  # D = r_j - r_i
        sym = np.array(atoms.get_chemical_symbols())
        g12, g6 = {}, {}
        for x in ("O", "Ti"):
            m = (sym[i] == "Au") & (sym[j] == x)
            for out, n in ((g12, 12), (g6, 6)):
                # S_n = sum r^-n; -dS_n/dr_i = -n r^-(n+2) D on the Au atom i, the opposite on j
                f = -n * (d[m] ** -(n + 2.0))[:, None] * D[m]
                g = np.zeros((len(atoms), 3))
                np.add.at(g, i[m], f)
                np.add.at(g, j[m], -f)
                out[x] = g
        _GRADS[key] = (g12, g6)
    return _GRADS[key]


def lj_forces(atoms, params=KNOWN):
    g12, g6 = direct_grads(atoms)
    return sum(4.0 * e * (s ** 12 * g12[x] - s ** 6 * g6[x]) for x, (e, s) in params.items())


def lj_binding(atoms, params=KNOWN) -> float:
    s12, s6 = direct_sums(atoms)
    return float(sum(4.0 * e * (s ** 12 * s12[x] - s ** 6 * s6[x]) for x, (e, s) in params.items()))


def labelled(frames, params=KNOWN, drop=()):
    """Copies of FRAMES with energies and forces (bodies: BODY_ENERGY_EV and none; scans: both plus the LJ of
    PARAMS, and its forces), without the kinds in DROP."""
    out = []
    for a in frames:
        kind = a.info["kind"]
        if kind in drop:
            continue
        b = a.copy()
        e, f = BODY_ENERGY_EV.get(kind), np.zeros((len(b), 3))
        if e is None:
            e, f = sum(BODY_ENERGY_EV.values()) + lj_binding(a, params), lj_forces(a, params)
        b.calc = SinglePointCalculator(b, energy=e, forces=f)
        out.append(b)
    return out
