"""Particle geometry for the heating equations: V, S, A, t = V/S and S/A (paper eq. 3-5), computed in one place.

Works on any structure: a builder output, a LAMMPS dump frame, an extxyz frame. The particle is given as atom
positions (Å) with the beam along z and the support below it.

- V: N atoms x the atomic volume of the bulk crystal (exact for a crystalline particle, and defined for any frame);
  the convex-hull volume of the atom centres is reported too.
- S: the beam cross-section, the area of the particle projected on the xy plane, i.e. the 2-D convex hull of the
  atom centres dilated by the atomic radius r (hull area + perimeter x r + pi r^2).
- A: the contact area, the same dilated hull for the atoms of the bottom layer (within half an interlayer spacing
  of the lowest atom). A_hull is the undilated convex hull of those atom centres, the convention of the paper's
  authors; k scales as 1/A, so k in their convention is k A / A_hull.
- t = V/S, the mean thickness along the beam.
The dilation r is half the (111) interlayer spacing d: a faceted particle's surface lies half a layer beyond the
atom centres of its facets, the same convention as the height (z extent of the centres + d).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers, reference_states
from scipy.spatial import ConvexHull

from .cli import UserError
from .units import A2_PER_NM2, A3_PER_NM3, A_PER_NM


# ------------------------------------------------------------------------------------------------ the record
@dataclass
class Geometry:
    """What the heating equations need of a particle on its support: one name per quantity, the same as the
    geometry.json keys the builder writes (A_nm2 is the contact area everywhere in files)."""
    n_atoms_np: int
    A_nm2: float                        # contact area A (eq. 4)
    n_atoms_support: int | None = None
    V_nm3: float | None = None          # volume V
    support: str = "unknown"
    label: str = ""
    source: str = ""                    # the geometry.json it came from ("" when given by options)
    S_nm2: float | None = None          # projected area S (eq. 3)
    t_nm: float | None = None           # mean thickness t = V/S

    # older names, kept for code written against fit_k's own record
    @property
    def area_nm2(self) -> float:
        return self.A_nm2

    @property
    def volume_nm3(self) -> float | None:
        return self.V_nm3


def _number(data: dict, key: str, where, kind=float):
    v = data.get(key)
    if v is None:
        return None
    try:
        x = kind(v)
    except (TypeError, ValueError):
        raise UserError(f"{where}: '{key}' must be a number, got {v!r}") from None
    if isinstance(v, bool) or not np.isfinite(x) or x <= 0:
        raise UserError(f"{where}: '{key}' must be a positive number, got {v!r}")
    return x


def read_geometry(path: str | Path | None, *, require=("n_atoms_np", "A_nm2"), A_nm2: float | None = None,
                  n_atoms_np: int | None = None, support: str | None = None, label: str | None = None,
                  options: dict | None = None) -> Geometry:
    """geometry.json (written by beamheat.build or beamheat.geometry) as a Geometry, values given by the caller
    replacing the file's. `path` may be None or absent when the caller gives everything required; `options` names
    the command-line option of each key for the error message (e.g. {"A_nm2": "--A-nm2"})."""
    from .io import read_json

    data: dict = {}
    p = Path(path) if path else None
    if p is not None and p.exists():
        data = read_json(p, "geometry")
        if not isinstance(data, dict):
            raise UserError(f"{p}: not a geometry JSON object")
    where = str(p) if p is not None and p.exists() else (f"{p} (absent)" if p is not None else "geometry")
    given = {"A_nm2": A_nm2, "n_atoms_np": n_atoms_np}
    merged = {k: (given[k] if given.get(k) is not None else data.get(k))
              for k in ("n_atoms_np", "A_nm2", "n_atoms_support", "V_nm3", "S_nm2", "t_nm")}
    missing = [k for k in require if merged.get(k) is None]
    if missing:
        opts = options or {}
        raise UserError(f"{where}: missing {', '.join(k + (f' ({opts[k]})' if k in opts else '') for k in missing)}"
                        f"; give the geometry.json from beamheat.build or the options")
    vals = {k: _number(merged, k, where, int if k.startswith("n_") else float) for k in merged}
    return Geometry(n_atoms_np=vals["n_atoms_np"], A_nm2=vals["A_nm2"], n_atoms_support=vals["n_atoms_support"],
                    V_nm3=vals["V_nm3"], support=support or data.get("support", "unknown"),
                    label=label or data.get("label", ""), source=str(p) if p is not None and p.exists() else "",
                    S_nm2=vals["S_nm2"], t_nm=vals["t_nm"])


# ------------------------------------------------------------------------------------------------ computing it


def reference_state(element: str) -> dict:
    """ASE's ground-state crystal of an element ({"symmetry": "fcc", "a": 4.08} for Au); one-line error otherwise."""
    if element not in atomic_numbers or atomic_numbers[element] == 0:
        raise UserError(f"unknown element {element!r}")
    ref = reference_states[atomic_numbers[element]]
    if not ref or "a" not in ref:
        raise UserError(f"{element}: no cubic reference crystal in ASE; give the lattice or atomic volume explicitly")
    return ref


def bulk_atomic_volume_A3(element: str) -> float:
    """Volume per atom of the element's reference crystal (ASE's reference states), Å^3."""
    ref = reference_state(element)
    a = ref["a"]
    per_cell = {"fcc": 4, "bcc": 2, "sc": 1, "diamond": 8}
    if ref["symmetry"] not in per_cell:
        raise UserError(f"{element}: no cubic reference crystal; give the atomic volume explicitly")
    return a**3 / per_cell[ref["symmetry"]]


def nearest_neighbour_distance_A(element: str) -> float:
    ref = reference_state(element)
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
        raise UserError("particle positions must be a non-empty (N,3) array")
    omega = atomic_volume_A3 or bulk_atomic_volume_A3(element)
    d_layer = layer_spacing_A or bulk_atomic_volume_A3(element) ** (1 / 3) * 4 ** (1 / 3) / np.sqrt(3)  # fcc d111
    r = radius_A or d_layer / 2
    n = len(pos)
    V = n * omega
    S = dilated_hull_area_A2(pos[:, :2], r)
    bottom = pos[pos[:, 2] < pos[:, 2].min() + 0.5 * d_layer]
    A = dilated_hull_area_A2(bottom[:, :2], r)
    A_hull = dilated_hull_area_A2(bottom[:, :2], 0.0) if len(bottom) >= 3 else 0.0
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
        "A_hull_nm2": A_hull / A2_PER_NM2,
        "t_nm": V / S / A_PER_NM,
        "S_over_A": S / A,
        "height_nm": height / A_PER_NM,
        "width_nm": width / A_PER_NM,
        "height_over_width": height / width,
        "n_atoms_contact_layer": int(len(bottom)),
        "atomic_radius_A": r,
        "atomic_volume_A3": omega,
    }


def read_structure(path: Path, frame: int = -1):
    """One frame of anything ASE reads (LAMMPS dumps and data files by suffix); one-line errors."""
    from ase.io import read

    kwargs = {"index": frame}
    if path.suffix in (".dump", ".lammpstrj"):
        kwargs = {"format": "lammps-dump-text", "index": frame}
    elif path.suffix == ".data":
        kwargs = {"format": "lammps-data", "atom_style": "atomic"}
    try:
        atoms = read(path, **kwargs)
    except Exception as e:  # ASE raises many kinds for unreadable files
        text = str(e).splitlines()[0][:120] if str(e) else ""
        raise UserError(f"{path}: cannot read frame {frame} ({e.__class__.__name__}: {text})") from None
    if isinstance(atoms, list) or len(atoms) == 0:
        raise UserError(f"{path}: no atoms in frame {frame}")
    return atoms


def _names_elements(path: Path) -> bool:
    """Whether a structure file says which element each atom is: a LAMMPS dump only with an element column (ASE
    otherwise names atoms by their type number), every other format ASE reads by masses or names."""
    if path.suffix not in (".dump", ".lammpstrj"):
        return True
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("ITEM: ATOMS"):
                return "element" in line.split()
    return False


def read_typed_data(path: Path, elements) -> tuple:
    """A LAMMPS data file (atom_style atomic) with the element of each type from ELEMENTS (type 1 first), periodic;
    returns (atoms, types). One-line errors for an unreadable file or more types than ELEMENTS names."""
    from ase.io import read

    try:
        atoms = read(path, format="lammps-data", atom_style="atomic")
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad input file
        raise UserError(f"{path}: cannot read as a LAMMPS data file ({e})") from None
    types = atoms.get_array("type") if "type" in atoms.arrays else atoms.numbers
    if max(types) > len(elements):
        raise UserError(f"{path}: {max(types)} atom types but {len(elements)} element names ({' '.join(elements)})")
    atoms.set_chemical_symbols([elements[t - 1] for t in types])
    atoms.pbc = True
    return atoms, types


def main(argv=None) -> int:
    """python -m beamheat.geometry FILE [--frame -1] [--np-types 1] [--element Au] [--json OUT]"""
    from . import validate as v
    from .cli import ArgumentParser, HelpFormatter
    from .io import write_json

    p = ArgumentParser(prog="python -m beamheat.geometry", formatter_class=HelpFormatter,
                       description="V, S, A, t and S/A of the particle in a structure or trajectory frame "
                                   "(extxyz, LAMMPS dump or data file, anything ASE reads); beam along z. "
                                   "Areas in nm², volumes in nm³, lengths in nm.")
    p.add_argument("file", help="structure or trajectory (LAMMPS dumps: *.dump, *.lammpstrj; data files: *.data)")
    p.add_argument("--frame", type=int, default=-1, help="frame index (default -1, the last)")
    p.add_argument("--np-types", default="1", help="LAMMPS types of the particle, comma separated (default 1)")
    p.add_argument("--element", default="Au", help="particle element, for the atomic volume (default Au); in "
                   "files with element names, it also selects the particle atoms")
    p.add_argument("--json", help="write the result here (default: print only)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    a = p.parse_args(argv)
    path = v.input_file(a.file, "FILE", "file")
    types = v.csv_numbers("--np-types", a.np_types, int)
    reference_state(a.element)
    out = v.output_file(a.json, "--json", force=a.force, inputs=[path])
    atoms = read_structure(path, a.frame)
    symbols = np.array(atoms.get_chemical_symbols())
    if "type" in atoms.arrays:
        mask = np.isin(atoms.arrays["type"], types)
    elif (symbols == a.element).any():
        mask = symbols == a.element
    else:
        n_np = atoms.info.get("beamheat_n_np")
        if n_np is None:
            raise UserError(f"{path}: no atoms of element {a.element} and no particle types; use --np-types")
        mask = np.arange(len(atoms)) < int(n_np)
    if not mask.any():
        raise UserError(f"{path}: no particle atoms selected (--np-types {a.np_types}, --element {a.element})")
    named = sorted(set(symbols[mask]) - {"X"}) if _names_elements(path) else []  # masses or element names say
    if named and named != [a.element]:
        raise UserError(f"{path}: the particle atoms are {', '.join(named)} by the file's masses or element "
                        f"names, not --element {a.element}")
    geo = particle_geometry(atoms.positions[mask], element=a.element)
    print(" ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in geo.items()
                   if k in ("n_atoms_np", "V_nm3", "S_nm2", "A_nm2", "t_nm", "S_over_A", "height_over_width")))
    if out:
        write_json(out, geo)
    return 0


if __name__ == "__main__":
    import sys

    from .cli import run

    sys.exit(run(main))
