"""Particle geometry for the heating equations: V, S, A, t = V/S and S/A (paper eq. 3-5), computed in one place.

Works on any structure: a builder output, a LAMMPS dump frame, an extxyz frame. The particle is given as atom
positions (Å) with the beam along z and the support below it.

- V: N atoms x the atomic volume of the bulk crystal (exact for a crystalline particle, and defined for any frame);
  the convex-hull volume of the atom centres is reported too.
- S: the beam cross-section, the area of the particle projected on the xy plane, i.e. the 2-D convex hull of the
  atom centres dilated by the atomic radius r (hull area + perimeter x r + pi r^2).
- A: the contact area, the same dilated hull for the atoms of the bottom layer (within half an interlayer spacing
  of the lowest atom).
- t = V/S, the mean thickness along the beam.
The dilation r is half the (111) interlayer spacing d: a faceted particle's surface lies half a layer beyond the
atom centres of its facets, the same convention as the height (z extent of the centres + d).
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers, reference_states
from scipy.spatial import ConvexHull

A2_PER_NM2 = 100.0
A3_PER_NM3 = 1000.0


def bulk_atomic_volume_A3(element: str) -> float:
    """Volume per atom of the element's reference crystal (ASE's reference states), Å^3."""
    ref = reference_states[atomic_numbers[element]]
    a = ref["a"]
    per_cell = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8}
    if ref["symmetry"] not in per_cell:
        raise ValueError(f"{element}: no cubic reference crystal; give the atomic volume explicitly")
    return a**3 / per_cell[ref["symmetry"]]


def nearest_neighbour_distance_A(element: str) -> float:
    ref = reference_states[atomic_numbers[element]]
    a = ref["a"]
    return {"fcc": a / np.sqrt(2), "bcc": a * np.sqrt(3) / 2, "sc": a, "diamond": a * np.sqrt(3) / 4}[ref["symmetry"]]


def dilated_hull_area_A2(xy: np.ndarray, r_A: float) -> float:
    """Area of the 2-D convex hull of points, grown by r (Minkowski sum with a disk)."""
    xy = np.asarray(xy, float)
    if len(xy) == 1:
        return float(np.pi * r_A**2)
    if len(xy) == 2 or np.linalg.matrix_rank(xy - xy.mean(axis=0)) < 2:
        length = np.ptp(xy @ (xy[-1] - xy[0]) / max(np.linalg.norm(xy[-1] - xy[0]), 1e-12))
        return float(2 * r_A * length + np.pi * r_A**2)
    hull = ConvexHull(xy)
    return float(hull.volume + hull.area * r_A + np.pi * r_A**2)  # in 2-D: volume = area, area = perimeter


def particle_geometry(positions_A: np.ndarray, element: str = "Au", layer_spacing_A: float | None = None,
                      atomic_volume_A3: float | None = None, radius_A: float | None = None) -> dict:
    """V, S, A, t, S/A of a particle from its atom positions (beam along z, support below)."""
    pos = np.asarray(positions_A, float)
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) == 0:
        raise ValueError("particle positions must be a non-empty (N,3) array")
    omega = atomic_volume_A3 or bulk_atomic_volume_A3(element)
    d_layer = layer_spacing_A or bulk_atomic_volume_A3(element) ** (1 / 3) * 4 ** (1 / 3) / np.sqrt(3)  # fcc d111
    r = radius_A or d_layer / 2
    n = len(pos)
    V = n * omega
    S = dilated_hull_area_A2(pos[:, :2], r)
    bottom = pos[pos[:, 2] < pos[:, 2].min() + 0.5 * d_layer]
    A = dilated_hull_area_A2(bottom[:, :2], r)
    try:
        v_hull = ConvexHull(pos).volume if n >= 4 else 0.0
    except Exception:  # flat (single-layer) particle
        v_hull = 0.0
    height = np.ptp(pos[:, 2]) + d_layer
    width = 2 * np.sqrt(S / np.pi)
    return {
        "n_atoms_np": n,
        "V_nm3": V / A3_PER_NM3,
        "V_hull_nm3": v_hull / A3_PER_NM3,
        "S_nm2": S / A2_PER_NM2,
        "A_nm2": A / A2_PER_NM2,
        "t_nm": V / S / 10.0,
        "S_over_A": S / A,
        "height_nm": height / 10.0,
        "width_nm": width / 10.0,
        "height_over_width": height / width,
        "n_atoms_contact_layer": int(len(bottom)),
        "atomic_radius_A": r,
        "atomic_volume_A3": omega,
    }


def main(argv=None) -> int:
    """python -m beamheat.geometry FILE [--frame -1] [--np-types 1] [--element Au] [--json OUT]"""
    import argparse
    import json
    from pathlib import Path

    from ase.io import read

    from .cli import UserError

    p = argparse.ArgumentParser(prog="python -m beamheat.geometry",
                                description="V, S, A, t and S/A of the particle in a structure or trajectory frame "
                                            "(extxyz, LAMMPS dump or data file, anything ASE reads); beam along z.")
    p.add_argument("file", help="structure or trajectory (LAMMPS dumps: *.dump, *.lammpstrj)")
    p.add_argument("--frame", type=int, default=-1, help="frame index (default -1, the last)")
    p.add_argument("--np-types", default="1", help="LAMMPS types of the particle, comma separated (default 1)")
    p.add_argument("--element", default="Au", help="particle element, for the atomic volume (default Au); in "
                   "files with element names, it also selects the particle atoms")
    p.add_argument("--json", help="write the result here")
    a = p.parse_args(argv)
    path = Path(a.file)
    if not path.exists():
        raise UserError(f"{path}: file not found")
    kwargs = {}
    if path.suffix in (".dump", ".lammpstrj"):
        kwargs = {"format": "lammps-dump-text", "index": a.frame}
    elif path.suffix == ".data":
        kwargs = {"format": "lammps-data", "atom_style": "atomic"}
    else:
        kwargs = {"index": a.frame}
    try:
        atoms = read(path, **kwargs)
    except Exception as e:  # ASE raises many kinds for unreadable files
        raise UserError(f"{path}: cannot read frame {a.frame} ({e.__class__.__name__}: {e})") from None
    symbols = np.array(atoms.get_chemical_symbols())
    if "type" in atoms.arrays:
        mask = np.isin(atoms.arrays["type"], [int(t) for t in a.np_types.split(",")])
    elif (symbols == a.element).any():
        mask = symbols == a.element
    else:
        n_np = atoms.info.get("beamheat_n_np")
        if n_np is None:
            raise UserError(f"{path}: no atoms of element {a.element} and no particle types; use --np-types")
        mask = np.arange(len(atoms)) < int(n_np)
    if not mask.any():
        raise UserError(f"{path}: no particle atoms selected (--np-types {a.np_types}, --element {a.element})")
    geo = particle_geometry(atoms.positions[mask], element=a.element)
    print(" ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in geo.items()
                   if k in ("n_atoms_np", "V_nm3", "S_nm2", "A_nm2", "t_nm", "S_over_A", "height_over_width")))
    if a.json:
        Path(a.json).write_text(json.dumps(geo, indent=2))
    return 0


if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run(main))
