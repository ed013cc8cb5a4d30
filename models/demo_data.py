"""Small labelled data set for the test and demo models (ASE EMT labels).

EMT is the only classical calculator shipped with ASE that covers three metals (Au, Cu, Pd here), so it
labels the frames for the tiny models the tests train: an Au cluster on a B2 CuPd slab, the bulk phases,
and a periodic bulk cell, all rattled so the forces are not zero. These labels are not DFT; they only give a
model real, non-trivial forces to be compared between LAMMPS and Python.

    python -m models.demo_data OUT.extxyz [--frames 60] [--seed 0] [--system SYSTEM.data]
    python -m models.demo_data OUT.extxyz --reference classical_au_hbn [--potential FILE]

`--system` also writes a LAMMPS data file of the demo MD system: an Au cluster on a larger CuPd slab
(types 1 Au, 2 Cu, 3 Pd).
`--reference classical_au_hbn` instead makes Au clusters on hBN (plus bulk Au and bare hBN frames) labelled in
LAMMPS by the classical Au/hBN reference (lammps_inputs/potentials/classical_au_hbn.in: EAM + Tersoff + UFF
Lennard-Jones), for models that run heat_transfer.in on the bundled Au/hBN system.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from beamheat.io import atomic_write
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.cluster import Octahedron
from ase.io import write

TYPE_NAMES = ("Au", "Cu", "Pd")


def cupd_slab(repeat=(3, 3, 3), vacuum_A=6.0) -> Atoms:
    """B2 CuPd slab, (001) surface, periodic in x and y."""
    cell = bulk("Cu", "sc", a=2.99)  # B2 (CsCl) CuPd: simple cubic with a two-atom basis
    b2 = Atoms("CuPd", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]], cell=cell.cell, pbc=True)
    slab = b2.repeat(repeat)
    slab.center(vacuum=vacuum_A, axis=2)
    slab.pbc = (True, True, False)
    return slab


def au_cluster_on_slab(repeat=(3, 3, 3), octahedron_length=2) -> Atoms:
    """An Au octahedron (6 atoms for length 2, 19 for 3) sitting on the CuPd slab."""
    slab = cupd_slab(repeat=repeat)
    cluster = Octahedron("Au", octahedron_length, cutoff=0)
    cluster.center()
    z_top = slab.positions[:, 2].max()
    xy = slab.cell[:2, :2].sum(axis=0) / 2
    cluster.positions += np.array([xy[0], xy[1], z_top + 2.3 - cluster.positions[:, 2].min()])
    atoms = slab + cluster
    atoms.pbc = (True, True, False)
    return atoms


def structures(n_frames: int, seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    templates = [
        lambda: au_cluster_on_slab(),
        lambda: bulk("Au", "fcc", a=4.08, cubic=True).repeat((2, 2, 2)),
        lambda: cupd_slab(repeat=(2, 2, 2)),
    ]
    frames = []
    for i in range(n_frames):
        atoms = templates[i % len(templates)]()
        strain = 1.0 + rng.uniform(-0.03, 0.03)
        atoms.set_cell(atoms.cell * strain, scale_atoms=True)
        atoms.positions += rng.normal(scale=0.12, size=atoms.positions.shape)
        frames.append(atoms)
    return frames


def label_emt(frames: list[Atoms]) -> list[Atoms]:
    out = []
    for atoms in frames:
        atoms.calc = EMT()
        e = atoms.get_potential_energy()
        f = atoms.get_forces()
        labelled = atoms.copy()
        labelled.calc = SinglePointCalculator(labelled, energy=e, forces=f)
        out.append(labelled)
    return out


AU_HBN_TYPES = ("Au", "B", "N")
def _inputs_dir() -> Path:
    from beamheat.lammps_plugin import inputs_dir

    return inputs_dir()


CLASSICAL_AU_HBN = _inputs_dir() / "potentials" / "classical_au_hbn.in"


def structures_au_hbn(n_frames: int, seed: int = 0) -> list[Atoms]:
    """Au particles on monolayer hBN (varied heights and shapes), isolated Au particles (the lifted state of
    heat_transfer.in), bulk Au and bare hBN. Au is rattled by 0.12 A, the stiff B-N lattice by 0.03 A, so that
    the forces of both are of similar size and neither dominates the loss."""
    from beamheat.build import assemble, particle, support

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_frames):
        kind = i % 6
        if kind < 4:
            p = particle("Au", diameter_nm=rng.uniform(0.9, 1.3), height_ratio=rng.uniform(0.5, 1.0))
            sheet = support("hbn", tuple(np.ptp(p.positions[:, :2], axis=0) + 7.0))
            atoms = assemble(p, sheet, gap_A=rng.uniform(2.7, 3.8), vacuum_A=6.0)
            if kind == 3:  # the particle alone, as while it is thermalised away from the support
                atoms = atoms[[s == "Au" for s in atoms.get_chemical_symbols()]]
                atoms.pbc = False
                atoms.cell = np.zeros((3, 3))
        elif kind == 4:
            atoms = bulk("Au", "fcc", a=4.08 * rng.uniform(0.98, 1.03), cubic=True).repeat((2, 2, 2))
        else:
            atoms = support("hbn", (12.0, 12.0))
            atoms.cell[2, 2] = 12.0
            atoms.positions[:, 2] += 6.0
        scale = np.where(np.array(atoms.get_chemical_symbols()) == "Au", 0.12, 0.03)[:, None]
        atoms.positions += rng.normal(size=atoms.positions.shape) * scale
        frames.append(atoms)
    return frames


def label_lammps(frames: list[Atoms], potential_file: str | Path, type_names=AU_HBN_TYPES) -> list[Atoms]:
    """Energies and forces from LAMMPS with the pair style of a potential include file."""
    from beamheat.lammps_run import potential_commands, single_point

    style, coeffs = potential_commands(potential_file)
    out = []
    for atoms in frames:
        r = single_point(atoms, style, coeffs, type_names)
        labelled = atoms.copy()
        labelled.calc = SinglePointCalculator(labelled, energy=r["energy_eV"], forces=r["forces_eV_per_A"])
        out.append(labelled)
    return out


def write_dataset(path: str | Path, n_frames: int = 60, seed: int = 0, reference: str = "emt",
                  potential_file: str | Path = CLASSICAL_AU_HBN) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if reference == "emt":
        frames = label_emt(structures(n_frames, seed))
    elif reference == "classical_au_hbn":
        frames = label_lammps(structures_au_hbn(n_frames, seed), potential_file)
    else:
        raise UserError(f"unknown reference {reference!r} (emt, classical_au_hbn)")
    atomic_write(path, lambda f: write(f, frames, format="extxyz"))  # never a half-written data set
    return path


def write_system(path: str | Path, repeat=(6, 6, 3), octahedron_length=3) -> Path:
    """LAMMPS data file (atom_style atomic, types Au Cu Pd, masses) of the demo MD system."""
    path = Path(path)
    atoms = au_cluster_on_slab(repeat=repeat, octahedron_length=octahedron_length)
    tmp = path.with_suffix(path.suffix + ".part")
    write(tmp, atoms, format="lammps-data", specorder=list(TYPE_NAMES), masses=True, atom_style="atomic")
    tmp.replace(path)
    return path


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.demo_data", description=__doc__.split("\n\n")[0],
                       formatter_class=HelpFormatter)
    p.add_argument("out", help="output extxyz file")
    p.add_argument("--frames", type=int, default=60, help="number of frames (default 60)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--system", help="also write the demo MD system (EMT reference) as a LAMMPS data file here")
    p.add_argument("--reference", choices=["emt", "classical_au_hbn"], default="emt",
                   help="what labels the frames (default emt)")
    p.add_argument("--potential", default=str(CLASSICAL_AU_HBN),
                   help="LAMMPS potential include file for --reference classical_au_hbn (default: the one installed "
                        "with beamheat)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    a = p.parse_args(argv)
    v.integer("--frames", a.frames, 1, 100000)
    v.integer("--seed", a.seed, 0)
    if a.reference == "classical_au_hbn":
        v.input_file(a.potential, "--potential", "LAMMPS potential include file")
    elif a.potential != str(CLASSICAL_AU_HBN):
        raise UserError("--potential applies to --reference classical_au_hbn only")
    if a.system and Path(a.system) == Path(a.out):
        raise UserError(f"{a.out}: OUT and --system name the same file")
    v.output_file(a.out, "OUT", force=a.force, mkdir=True)
    v.output_file(a.system, "--system", force=a.force, mkdir=True)
    path = write_dataset(a.out, a.frames, a.seed, a.reference, a.potential)
    print(f"wrote {a.frames} {a.reference}-labelled frames to {path}")
    if a.system:
        print(f"wrote demo MD system to {write_system(a.system)}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
