"""Build a metal nanoparticle on a support for the heat-transfer MD: LAMMPS data, extxyz and geometry.json.

    python -m beamheat.build --support hbn --diameter-nm 2.0 --height-ratio 0.6 --out runs/au_hbn

Particle: an FCC crystal with [111] along z (the beam), carved by the {111} and {100} planes of the Wulff shape
(distance ratio gamma_100/gamma_111, 1.15 for Au) except the bottom (111) plane, then cut by a (111) plane at the
layer that gives the requested height/width ratio: a small ratio is a flat, wetting particle with a large contact
facet (S/A near 1), a large ratio a tall particle on a small facet (S/A > 3). Its bottom (111) plane lies parallel
to the support, `--gap-A` above the support's top atoms.
Supports: anatase TiO2(101), rutile TiO2(101) and (110), hBN (1 or more AA'-stacked layers). Periodic in x and y,
sized to the particle width plus `--margin-A` on each side; vacuum along z. TiO2 slabs are cut
stoichiometric, with bridging (2-fold) O on both faces and no Ti below 5-fold; optional random O vacancies in the
outermost O plane of the top and bottom faces (`--o-vacancies`, `--o-vacancy-faces`, with `--seed`).
Types: the particle element is type 1, then the support elements by atomic number (hBN: B 2, N 3; TiO2: O 2, Ti 3); the data file
names them in a comment and in its Masses section. geometry.json holds counts, the type map, the group
definitions, and V, S, A, t, S/A from beamheat.geometry.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import surface
from ase.data import atomic_numbers
from ase.io import write
from ase.lattice.cubic import FaceCenteredCubic
from ase.spacegroup import crystal

from .cli import ArgumentParser, HelpFormatter, UserError, run
from .geometry import particle_geometry

SUPPORTS = ("hbn", "anatase101", "rutile101", "rutile110")
SUPPORT_ELEMENTS = {"hbn": ("B", "N"), "anatase101": ("O", "Ti"), "rutile101": ("O", "Ti"), "rutile110": ("O", "Ti")}
O_VACANCY_FACES = ("top", "both")
# equilibrium-ish NP-support separations (Å) between the particle's bottom layer and the support's top atoms
DEFAULT_GAP_A = {"hbn": 3.2, "anatase101": 2.4, "rutile101": 2.4, "rutile110": 2.4}
WULFF_SLACK = 1.1          # build(): a height/width up to 10 % above the whole Wulff shape's gets the whole shape
MAX_ATOMS = 200_000        # build() refuses larger systems unless forced: minutes to build, hours per MD step


# ------------------------------------------------------------------------------------------------ particle
def particle(element: str = "Au", diameter_nm: float = 2.0, height_ratio: float = 0.7, gamma_100_111: float = 1.15,
             lattice_A: float | None = None) -> Atoms:
    """FCC particle, (111) planes along z, bottom (111) facet at z = 0, centred on x = y = 0."""
    if lattice_A is None:
        from .geometry import reference_state

        lattice_A = reference_state(element)["a"]
    a = lattice_A
    R = 10.0 * diameter_nm / 2.0  # distance of the (111) facets from the centre, Å
    reps = int(np.ceil(2.5 * R * gamma_100_111 / a)) + 2
    block = FaceCenteredCubic(element, directions=[[1, -1, 0], [1, 1, -2], [1, 1, 1]], size=(reps, reps, reps),
                              latticeconstant=a, pbc=False)
    pos = block.positions
    centre = pos[np.argmin(np.linalg.norm(pos - pos.mean(axis=0), axis=1))]
    pos = pos - centre
    rot = np.array(block.cell / np.linalg.norm(block.cell, axis=1)[:, None])  # rows: lab x, y, z in crystal axes
    keep = np.ones(len(pos), bool)
    for n in [np.array(v, float) for v in np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).T.reshape(-1, 3)]:
        n_cryst = n / np.linalg.norm(n)
        n_lab = rot @ n_cryst
        if np.allclose(n_lab, [0, 0, -1], atol=1e-6):
            continue  # the bottom facet: replaced by the cut below
        keep &= pos @ n_lab <= R + 1e-6
    for n in np.vstack([np.eye(3), -np.eye(3)]):
        keep &= pos @ (rot @ n) <= R * gamma_100_111 + 1e-6
    pos = pos[keep]
    # cut at the (111) layer closest to the requested height/width ratio
    layers = np.unique(np.round(pos[:, 2], 3))
    d111 = a / np.sqrt(3)
    best, best_err, tallest = None, np.inf, 0.0
    for z_cut in layers:
        sel = pos[pos[:, 2] >= z_cut - 1e-3]
        if len(sel) < 4:
            continue
        height = np.ptp(sel[:, 2]) + d111
        width = 2 * np.sqrt(np.max(np.sum(sel[:, :2] ** 2, axis=1))) + a / np.sqrt(2)
        tallest = max(tallest, height / width)
        err = abs(np.log(height / width / height_ratio))
        if err < best_err:
            best, best_err = z_cut, err

    pos = pos[pos[:, 2] >= best - 1e-3]
    pos[:, 2] -= pos[:, 2].min()
    pos[:, :2] -= pos[:, :2].mean(axis=0)
    out = Atoms(element * len(pos), positions=pos)
    out.info["wulff_height_ratio"] = float(tallest)  # the uncut shape's: no cut makes a taller particle
    return out


# ------------------------------------------------------------------------------------------------ supports
def _tio2_bulk(phase: str) -> Atoms:
    if phase == "anatase":
        return crystal(["Ti", "O"], basis=[(0, 0, 0), (0, 0, 0.2081)], spacegroup=141,
                       cellpar=[3.785, 3.785, 9.514, 90, 90, 90])
    return crystal(["Ti", "O"], basis=[(0, 0, 0), (0.3053, 0.3053, 0)], spacegroup=136,
                   cellpar=[4.594, 4.594, 2.959, 90, 90, 90])


def _orthogonal_in_plane(slab: Atoms) -> Atoms:
    c = slab.cell
    if abs(np.dot(c[0], c[1])) > 1e-6 * np.linalg.norm(c[0]) * np.linalg.norm(c[1]):
        raise UserError("support surface cell is not rectangular")
    return slab


TI_O_BOND_A = 2.4          # Ti-O neighbour cutoff for terminations (bulk Ti-O bonds are 1.93-1.98 Å)
MIN_TI_O_A = 1.8          # closer atoms in a cut TiO2 slab mean a misplaced atom (bulk Ti-O >= 1.93 Å, O-O >= 2.4 Å)


def _ti_o_coordination(slab: Atoms) -> tuple[np.ndarray, float]:
    """Per atom, the number of unlike (Ti-O) neighbours within TI_O_BOND_A, periodic in x, y only; and the
    shortest interatomic distance (Å)."""
    from ase.neighborlist import neighbor_list

    probe = slab.copy()
    probe.pbc = (True, True, False)
    i, j, d = neighbor_list("ijd", probe, TI_O_BOND_A)
    sym = np.array(slab.get_chemical_symbols())
    unlike = sym[i] != sym[j]
    return np.bincount(i[unlike], minlength=len(slab)), float(d.min()) if len(d) else np.inf


def stoichiometric_slab(thick: Atoms, thickness_A: float) -> Atoms | None:
    """The thinnest part of THICK (a slab several times thicker than wanted, periodic in x, y), cut between two
    atomic planes, that is at least thickness_A thick, stoichiometric TiO2 and cleanly terminated on both faces:
    every Ti at least 5-fold and every O at least 2-fold coordinated (ase.build.surface alone leaves singly
    bonded O on top and 3- or 4-fold Ti at the bottom of the (101) and (110) slabs). None if no cut gives one."""
    z = thick.positions[:, 2]
    planes = np.unique(np.round(z, 2))
    gaps = (planes[1:] + planes[:-1]) / 2
    sym = np.array(thick.get_chemical_symbols())
    for lo in gaps[: len(gaps) // 2]:
        for hi in gaps[gaps >= lo + thickness_A]:
            keep = (z > lo) & (z < hi)
            if 2 * (sym[keep] == "Ti").sum() != (sym[keep] == "O").sum():
                continue
            part = thick[keep]
            cn, d_min = _ti_o_coordination(part)
            psym = sym[keep]
            if d_min >= MIN_TI_O_A and (cn[psym == "Ti"] >= 5).all() and (cn[psym == "O"] >= 2).all():
                return part
    return None


def support(kind: str, min_xy_A: tuple[float, float], layers: int = 1, thickness_A: float = 8.0) -> Atoms:
    """Support slab, top atoms at the largest z, bottom at z >= 0, periodic in x, y."""
    if kind == "hbn":
        a, c = 2.504, 3.33
        # orthogonal 2-atom-per-row cell: a1 = a x, a2 = sqrt(3) a y
        cell = Atoms("BNBN", scaled_positions=[[0, 0, 0], [0.5, 1 / 6, 0], [0.5, 0.5, 0], [0, 2 / 3, 0]],
                     cell=[a, np.sqrt(3) * a, c], pbc=True)
        sheet = cell.repeat((int(np.ceil(min_xy_A[0] / a)), int(np.ceil(min_xy_A[1] / (np.sqrt(3) * a))), 1))
        slab = sheet.copy()
        for k in range(1, layers):  # AA' stacking: B over N
            layer = sheet.copy()
            sym = ["N" if s == "B" else "B" for s in layer.get_chemical_symbols()]
            layer.set_chemical_symbols(sym)
            layer.positions[:, 2] += k * c
            slab += layer
        slab.cell[2, 2] = layers * c
    else:
        phase, hkl = ("anatase", (1, 0, 1)) if kind == "anatase101" else \
            ("rutile", (1, 0, 1) if kind == "rutile101" else (1, 1, 0))
        bulk = _tio2_bulk(phase)
        # cut from a slab three times as thick, so that both faces can be chosen among the bulk's planes
        n_layers = 1
        while np.ptp(surface(bulk, hkl, n_layers, vacuum=None).positions[:, 2]) < 3 * thickness_A + 10.0:
            n_layers += 1
        thick = _orthogonal_in_plane(surface(bulk, hkl, n_layers, vacuum=None, periodic=True))
        slab = stoichiometric_slab(thick, thickness_A)
        if slab is None:
            raise UserError(f"--support {kind}: no cut of the {hkl} slab gives clean, stoichiometric faces")
        lx, ly = np.linalg.norm(slab.cell[0]), np.linalg.norm(slab.cell[1])
        slab = slab.repeat((int(np.ceil(min_xy_A[0] / lx)), int(np.ceil(min_xy_A[1] / ly)), 1))
    slab.positions[:, 2] -= slab.positions[:, 2].min()
    slab.pbc = (True, True, False)
    return slab


support_slab = support  # the name build() uses, where `support` is its option


O_PLANE_TOL_A = 0.3        # O atoms this close in z to the outermost O belong to the surface's bridging-O plane


def remove_surface_oxygens(slab: Atoms, fraction: float, seed: int, faces: str = "both") -> tuple[Atoms, int]:
    """SLAB without round(fraction * n) of the n O atoms of its outermost O plane on each face in FACES ("top" or
    "both"), chosen at random (numpy default_rng(seed)); the authors remove 5 % on top and bottom. Returns the
    slab and the number removed."""
    rng = np.random.default_rng(seed)
    z = slab.positions[:, 2]
    is_o = np.array(slab.get_chemical_symbols()) == "O"
    planes = [is_o & (z > z[is_o].max() - O_PLANE_TOL_A)]
    if faces == "both":
        planes.append(is_o & (z < z[is_o].min() + O_PLANE_TOL_A))
    drop = []
    for plane in planes:
        idx = np.nonzero(plane)[0]
        n = int(round(fraction * len(idx)))
        drop.extend(rng.choice(idx, n, replace=False).tolist() if n else [])
    keep = np.setdiff1d(np.arange(len(slab)), drop)
    return slab[keep], len(drop)


# ------------------------------------------------------------------------------------------------ assembly
def assemble(np_atoms: Atoms, slab: Atoms, gap_A: float, vacuum_A: float) -> Atoms:
    """Particle centred over the support, bottom layer gap_A above its top atoms; vacuum_A above the particle and
    below the support (room for thermal motion inside a fixed z boundary)."""
    np_atoms = np_atoms.copy()
    slab = slab.copy()
    slab.positions[:, 2] += vacuum_A
    centre = (slab.cell[0] + slab.cell[1])[:2] / 2
    np_atoms.positions[:, :2] += centre - np_atoms.positions[:, :2].mean(axis=0)
    np_atoms.positions[:, 2] += slab.positions[:, 2].max() + gap_A - np_atoms.positions[:, 2].min()
    system = slab + np_atoms
    system.cell[2] = [0, 0, np_atoms.positions[:, 2].max() + vacuum_A]  # z from 0: vacuum, support, particle
    system.pbc = (True, True, False)
    # particle first: type 1 and atom IDs 1..N_np, then the support
    order = np.r_[np.arange(len(slab), len(system)), np.arange(len(slab))]
    return system[order]


def rigid_gap(system: Atoms, particle: np.ndarray, gap_A: float, shift_xy_A=(0.0, 0.0)) -> Atoms:
    """A copy with the particle (boolean mask) moved rigidly: its lowest atom gap_A above the support's highest,
    and shifted laterally by shift_xy_A. The particle's and the support's own geometries are untouched, so energy
    differences between such copies are the particle-support interaction alone (adhesion scans)."""
    a = system.copy()
    z = a.positions[:, 2]
    a.positions[particle, 2] += gap_A - (z[particle].min() - z[~particle].max())
    a.positions[particle, :2] += np.asarray(shift_xy_A, float)
    return a


def type_map(system: Atoms, np_element: str) -> dict[str, int]:
    elements = [np_element] + sorted(set(system.get_chemical_symbols()) - {np_element},
                                     key=lambda e: atomic_numbers[e])
    return {e: i + 1 for i, e in enumerate(elements)}


OUTPUT_FILES = ("system.data", "system.extxyz", "geometry.json")
MIN_DISTANCE_A = 1.0        # closer atoms are an error of the construction (B-N is 1.45 Å, Ti-O 1.95 Å)
MIN_IMAGE_GAP_A = 6.0       # particle to its periodic image: beyond a NequIP cutoff (5 Å) and an EAM one


def check_structure(system: Atoms, n_np: int) -> dict:
    """Refuse a structure no MD should start from: atoms closer than MIN_DISTANCE_A (periodic images included),
    or a particle that meets its own periodic image (the cell too small for its width). Returns the numbers."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", system, MIN_IMAGE_GAP_A)
    close = d < MIN_DISTANCE_A
    if close.any():
        k = int(np.argmin(d))
        sym = system.get_chemical_symbols()
        raise UserError(f"atoms {i[k]} ({sym[i[k]]}) and {j[k]} ({sym[j[k]]}) would be {d[k]:.2f} Å apart "
                        f"(< {MIN_DISTANCE_A} Å): increase --gap-A or --margin-A")
    # the particle's own periodic images: the particle in a cell with only the particle in it
    np_only = system[:n_np]
    dd, S = neighbor_list("dS", np_only, MIN_IMAGE_GAP_A)
    img = np.any(S != 0, axis=1)
    if img.any():
        gap = float(dd[img].min())
        raise UserError(f"the particle comes {gap:.2f} Å from its periodic image (cell {system.cell[0, 0]:.1f} x "
                        f"{system.cell[1, 1]:.1f} Å; need >= {MIN_IMAGE_GAP_A} Å): increase --margin-A")
    return {"min_distance_A": float(d.min()) if len(d) else None}


def write_outputs(system: Atoms, n_np: int, types: dict[str, int], out: Path, meta: dict) -> dict:
    """system.data, system.extxyz and geometry.json in `out`, each written to a temporary file and renamed."""
    from .io import atomic_write, write_json

    specorder = sorted(types, key=types.get)
    geo = particle_geometry(system.positions[:n_np], element=specorder[0])
    geo.update({
        "n_atoms_support": len(system) - n_np,
        "n_atoms": len(system),
        "type_map": types,
        "groups": {"np": {"atom_ids": [1, n_np], "types": [types[specorder[0]]]},
                   "support": {"atom_ids": [n_np + 1, len(system)],
                               "types": [types[e] for e in specorder[1:]]}},
        "support_top_z_A": float(system.positions[n_np:, 2].max()),
        "box_A": [float(system.cell[0, 0]), float(system.cell[1, 1]), float(system.cell[2, 2])],
        "files": {"lammps_data": "system.data", "extxyz": "system.extxyz"},
        **meta,
    })
    out.mkdir(parents=True, exist_ok=True)

    def data_file(f):
        import io

        buf = io.StringIO()
        write(buf, system, format="lammps-data", specorder=specorder, masses=True, atom_style="atomic")
        text = buf.getvalue().splitlines()
        text[0] = f"beamheat.build: types {' '.join(f'{t}={e}' for e, t in sorted(types.items(), key=lambda x: x[1]))}"
        f.write("\n".join(text) + "\n")

    def extxyz_file(f):
        atoms = system.copy()
        atoms.info.update({"beamheat_n_np": n_np})
        write(f, atoms, format="extxyz")

    atomic_write(out / "system.data", data_file)
    atomic_write(out / "system.extxyz", extxyz_file)
    write_json(out / "geometry.json", geo)
    return geo


def validate_options(*, support: str, element: str, diameter_nm: float, height_ratio: float, gamma_ratio: float,
                     margin_A: float, gap_A: float | None, vacuum_A: float, layers: int | None,
                     thickness_A: float | None, o_vacancies: float, seed: int,
                     o_vacancy_faces: str = "both") -> None:
    """Every option in its own name and unit, before anything is built."""
    from . import validate as v
    from .geometry import reference_state

    v.choice("--support", support, SUPPORTS)
    try:
        ref = reference_state(element)
    except UserError as e:
        raise UserError(f"--element {element}: {e}") from None
    if ref.get("symmetry") != "fcc":
        raise UserError(f"--element {element}: its ground state is {ref.get('symmetry')}, not fcc; the builder "
                        f"makes FCC particles only")
    v.in_range("--diameter-nm", diameter_nm, 0.3, 50.0, "nm", lo_open=True)
    v.in_range("--height-ratio", height_ratio, 0.05, 5.0, why="height / width of the particle")
    v.in_range("--gamma-ratio", gamma_ratio, 0.5, 2.0, why="gamma_100/gamma_111 of FCC metals is near 1-1.3")
    v.in_range("--margin-A", margin_A, 0.0, 500.0, "Å")
    v.in_range("--gap-A", gap_A, 1.0, 10.0, "Å", why="particle bottom layer to support top atoms")
    v.in_range("--vacuum-A", vacuum_A, 2.0, 500.0, "Å")
    if layers is not None and support != "hbn":
        raise UserError(f"--layers {layers}: applies to hBN only (use --thickness-A for TiO2)")
    if thickness_A is not None and support == "hbn":
        raise UserError(f"--thickness-A {thickness_A:g}: applies to TiO2 only (use --layers for hBN)")
    v.integer("--layers", layers, 1, 20)
    v.in_range("--thickness-A", thickness_A, 2.0, 100.0, "Å")
    v.in_range("--o-vacancies", o_vacancies, 0.0, 1.0, hi_open=True, why="a fraction of a face's bridging O atoms")
    if o_vacancies and support == "hbn":
        raise UserError("--o-vacancies applies to TiO2 supports only")
    v.choice("--o-vacancy-faces", o_vacancy_faces, O_VACANCY_FACES)
    v.integer("--seed", seed, 0)


def estimated_atoms(element: str, diameter_nm: float, height_ratio: float, margin_A: float, layers: int = 1) -> float:
    """About how many atoms build() makes: a particle of diameter d and height h = ratio d as a cylinder of the
    bulk's atomic volume, on a support of hBN's areal density (TiO2 slabs of 8 Å hold about as many) per layer."""
    from .geometry import bulk_atomic_volume_A3

    d_A = 10.0 * diameter_nm
    n_np = np.pi / 4 * d_A**2 * min(height_ratio, 1.5) * d_A / bulk_atomic_volume_A3(element)
    n_support = (d_A + 2 * margin_A) ** 2 * 0.37 * max(layers, 1)
    return float(n_np + n_support)


def build(out: str | Path, *, support: str = "hbn", element: str = "Au", diameter_nm: float = 2.0,
          height_ratio: float = 0.7, gamma_ratio: float = 1.15, margin_A: float = 10.0, gap_A: float | None = None,
          vacuum_A: float = 15.0, layers: int | None = None, thickness_A: float | None = None,
          o_vacancies: float = 0.0, o_vacancy_faces: str = "both", seed: int = 0, label: str | None = None,
          force: bool = False) -> dict:
    """Build, check and write the system (module docstring); returns the geometry record written to
    geometry.json. Refuses (UserError) bad options, an unphysical structure, and existing outputs unless force."""
    from . import validate as v

    validate_options(support=support, element=element, diameter_nm=diameter_nm, height_ratio=height_ratio,
                     gamma_ratio=gamma_ratio, margin_A=margin_A, gap_A=gap_A, vacuum_A=vacuum_A, layers=layers,
                     thickness_A=thickness_A, o_vacancies=o_vacancies, seed=seed,
                     o_vacancy_faces=o_vacancy_faces)
    n_est = estimated_atoms(element, diameter_nm, height_ratio, margin_A, layers or 1)
    if n_est > MAX_ATOMS and not force:
        raise UserError(f"--diameter-nm {diameter_nm:g}: about {n_est:,.0f} atoms, more than the {MAX_ATOMS:,} the "
                        f"builder makes unless --force")
    out = v.output_dir(out, "--out", files=OUTPUT_FILES, force=force)
    layers_used = (layers or 1) if support == "hbn" else None
    np_atoms = particle(element, diameter_nm, height_ratio, gamma_ratio)
    tallest = np_atoms.info.pop("wulff_height_ratio")
    if height_ratio > WULFF_SLACK * tallest:
        raise UserError(f"--height-ratio {height_ratio:g}: the whole Wulff shape of this particle is "
                        f"{tallest:.2f} as tall as wide; a cut particle cannot be taller (ask for at most "
                        f"{tallest:.2f})")
    width = np.ptp(np_atoms.positions[:, :2], axis=0)
    slab = support_slab(support, tuple(width + 2 * margin_A), layers_used or 1,
                        thickness_A if thickness_A is not None else 8.0)
    n_vac = 0
    if o_vacancies:
        slab, n_vac = remove_surface_oxygens(slab, o_vacancies, seed, o_vacancy_faces)
    gap = gap_A if gap_A is not None else DEFAULT_GAP_A[support]
    system = assemble(np_atoms, slab, gap, vacuum_A)
    checks = check_structure(system, len(np_atoms))
    types = type_map(system, element)
    meta = {"support": support, "label": label or f"{element}{len(np_atoms)}/{support}",
            "element_np": element, "diameter_nm_requested": diameter_nm,
            "height_ratio_requested": height_ratio, "gap_A": gap, "o_vacancies_removed": n_vac,
            "o_vacancy_faces": o_vacancy_faces if o_vacancies else None,
            "support_layers": layers_used, "seed": seed, "min_distance_A": checks["min_distance_A"]}
    return write_outputs(system, len(np_atoms), types, out, meta)


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m beamheat.build", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("--out", required=True, help="output directory (system.data, system.extxyz, geometry.json)")
    p.add_argument("--force", action="store_true", help="overwrite those files if --out already holds them, and "
                   f"build systems beyond {MAX_ATOMS:,} atoms")
    p.add_argument("--support", default="hbn", help=f"support: {', '.join(SUPPORTS)} (default hbn)")
    p.add_argument("--layers", type=int, help="hBN layers, 1-20 (default 1; hBN only)")
    p.add_argument("--thickness-A", type=float, help="minimum TiO2 slab thickness, Å (default 8; TiO2 only)")
    p.add_argument("--element", default="Au", help="particle element, one whose ground state is FCC (default Au)")
    p.add_argument("--diameter-nm", type=float, default=2.0,
                   help="particle size: twice the distance of its (111) facets from the centre, nm, > 0.3 "
                        "(default 2.0)")
    p.add_argument("--height-ratio", type=float, default=0.7,
                   help="particle height / width; small = flat and wetting, large = tall (default 0.7)")
    p.add_argument("--gamma-ratio", type=float, default=1.15, help="surface energy ratio gamma_100/gamma_111 "
                   "setting the {100} facet distance, 0.5-2 (default 1.15, Au)")
    p.add_argument("--margin-A", type=float, default=10.0, help="support extent beyond the particle on each "
                   f"side, Å; the particle must stay {MIN_IMAGE_GAP_A:g} Å from its periodic image (default 10)")
    p.add_argument("--gap-A", type=float, help="particle bottom layer to support top atoms, Å, 1-10 "
                   "(default: 3.2 hBN, 2.4 TiO2)")
    p.add_argument("--vacuum-A", type=float, default=15.0,
                   help="vacuum above the particle and below the support, Å (default 15)")
    p.add_argument("--o-vacancies", type=float, default=0.0,
                   help="fraction (0 to < 1) of the outermost-plane (bridging) O atoms removed at random from "
                   "each face of TiO2 named by --o-vacancy-faces (default 0; the authors: 0.05)")
    p.add_argument("--o-vacancy-faces", default="both", help="faces that lose O: top or both (default both, "
                   "as the authors: 5 %% of the outermost O plane on top and at the bottom)")
    p.add_argument("--seed", type=int, default=0, help="random seed for vacancies, >= 0 (default 0)")
    p.add_argument("--label", help="system label for tables (default ElementN/support)")
    a = p.parse_args(argv)
    geo = build(a.out, support=a.support, element=a.element, diameter_nm=a.diameter_nm,
                height_ratio=a.height_ratio, gamma_ratio=a.gamma_ratio, margin_A=a.margin_A, gap_A=a.gap_A,
                vacuum_A=a.vacuum_A, layers=a.layers, thickness_A=a.thickness_A, o_vacancies=a.o_vacancies,
                o_vacancy_faces=a.o_vacancy_faces,
                seed=a.seed, label=a.label, force=a.force)
    print(f"{geo['label']}: {geo['n_atoms_np']} particle + {geo['n_atoms_support']} support atoms, "
          f"V = {geo['V_nm3']:.3g} nm³, S = {geo['S_nm2']:.3g} nm², A = {geo['A_nm2']:.3g} nm², "
          f"t = {geo['t_nm']:.3g} nm, S/A = {geo['S_over_A']:.2f}, h/w = {geo['height_over_width']:.2f}")
    print(f"wrote {Path(a.out) / 'system.data'}, system.extxyz, geometry.json (positions as cut from the crystal: "
          "heat_transfer.in and steady_state.in relax them with the potential of the run)")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))

