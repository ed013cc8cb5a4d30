"""The labellers: emt (ASE EMT), lammps (a LAMMPS potential include file, included and run as the inputs run
it: single points through beamheat.lammps_run.single_point_file) and gpaw (dft.label's library). Each has
`label(frames, db, progress)`: it writes one row per frame into the ASE database DB (skipping frames already there)
and returns the frames' uids in order.

`label_frames` labels into a database file and returns the labelled frames. Rows use dft.label's schema (uid,
status done/failed, error, and the frames' provenance keys)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from beamheat.cli import UserError

from models.data import file_hash, frame_uid
from models.loop.manifest import content_hash

LABEL_KEYS = ("source", "frame", "generation", "reason", "max_sigma_f")  # frame info kept in the rows


class LabelError(UserError):
    """A labeller that cannot label at all (not one frame that fails)."""


class Labeller(Protocol):
    kind: str

    def label(self, frames: list, db, progress=print) -> list[str]:
        """Label FRAMES into DB (rows already there are kept); the frames' uids, in order."""


def db_value(v):
    """ASE db refuses strings that read as numbers: store those as numbers, anything else as text."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    s = str(v)
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def self_comm():
    """Under mpirun (mpi4py imported, several ranks) rank 0 labels alone: its single-point LAMMPS must run on
    MPI_COMM_SELF, not on MPI_COMM_WORLD (the other ranks are not in it: a hang). Serial: None (LAMMPS's default)."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi.COMM_SELF if mpi is not None and mpi.COMM_WORLD.size > 1 else None


def _bare(atoms):
    """A copy of ATOMS with positions and numbers only (no calculator, no per-atom arrays such as sigma_f)."""
    a = atoms.copy()
    a.calc = None
    for key in list(a.arrays):
        if key not in ("numbers", "positions"):
            del a.arrays[key]
    return a


class SinglePointLabeller:
    """A labeller that computes one frame at a time on rank 0; uids from the frame's content and the labeller's
    identity. A frame that fails (unknown element, lost atoms, non-finite forces) is stored as failed, with the
    reason, and the batch goes on."""

    kind = ""

    def identity(self) -> str:
        raise NotImplementedError

    def energy_forces(self, atoms) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def label(self, frames: list, db, progress=print) -> list[str]:
        from ase.calculators.singlepoint import SinglePointCalculator

        lid = self.identity()
        uids = ["c" + content_hash([frame_uid(f), lid]) for f in frames]  # a letter first: ASE db rejects numbers
        have = {row.uid for row in db.select(columns=["key_value_pairs"])} if len(db) else set()
        todo = [k for k, u in enumerate(uids) if u not in have]
        progress(f"  label ({self.kind}): {len(frames)} frames, {len(frames) - len(todo)} already labelled, "
                 f"{len(todo)} to compute")
        t0 = time.perf_counter()
        for n, k in enumerate(todo):
            atoms = _bare(frames[k])
            error = None
            try:
                e, f = self.energy_forces(atoms)
                if not (np.isfinite(e) and np.isfinite(f).all()):
                    error = "non-finite energy or forces"
            except Exception as ex:  # a labeller may fail on one frame: record it, go on
                error = f"{ex.__class__.__name__}: {str(ex).splitlines()[0] if str(ex) else ''}"[:300]
            out = atoms.copy()
            if error is None:
                out.calc = SinglePointCalculator(out, energy=float(e), forces=np.asarray(f))
            kvp = {"uid": uids[k], "status": "failed" if error else "done", "labeller": self.kind}
            for key in LABEL_KEYS:
                v = frames[k].info.get(key)
                if isinstance(v, (np.integer, np.floating, np.bool_)):
                    v = v.item()
                if v is not None:
                    kvp[key] = db_value(v)
            if error:
                kvp["error"] = error
            with db:  # one transaction per frame: there completely or not at all
                if db.count(uid=uids[k]) == 0:
                    db.write(out, key_value_pairs=kvp)
            if (n + 1) % 10 == 0 or n + 1 == len(todo):
                progress(f"    {n + 1}/{len(todo)} labelled ({time.perf_counter() - t0:.1f} s)")
        return uids


class EmtLabeller(SinglePointLabeller):
    """ASE's EMT."""

    kind = "emt"

    def identity(self) -> str:
        return "emt"

    def energy_forces(self, atoms):
        from ase.calculators.emt import EMT

        atoms.calc = EMT()
        return atoms.get_potential_energy(), atoms.get_forces()


SLAB_VACUUM_A = 6.0       # a frame periodic in z whose atoms leave an empty layer this wide along z is a slab
ISOLATED_VACUUM_A = 12.0  # vacuum around an isolated frame where the potential makes x and y periodic (> 10 Å cutoffs)


def z_vacuum(atoms) -> tuple[float, float, bool]:
    """The widest empty layer along z of ATOMS (periodic in z): its width (Å, along the cell's height), the
    fractional z of its middle, and whether it spans the cell's z boundary."""
    z = np.sort(atoms.get_scaled_positions(wrap=True)[:, 2])
    gaps = np.append(np.diff(z), z[0] + 1.0 - z[-1])  # the last one: across the cell's z boundary
    k = int(np.argmax(gaps))
    height = atoms.get_volume() / np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1]))
    return float(gaps[k] * height), float((z[k] + gaps[k] / 2) % 1.0), k == len(gaps) - 1


def slab_layout(atoms):
    """(frame, is_slab): a frame not periodic in z is a slab; one periodic in z is a slab when its atoms leave an
    empty layer of SLAB_VACUUM_A along z (explored frames come back from LAMMPS periodic in z), and is then
    shifted along z, when needed, so that this layer spans the cell's z boundary (a fixed boundary there cuts
    through vacuum, not through the slab). Else it is bulk."""
    if not atoms.pbc[2]:
        return atoms, True
    width, middle, across = z_vacuum(atoms)
    if width < SLAB_VACUUM_A:
        return atoms, False
    if across:
        return atoms, True
    a = atoms.copy()
    s = a.get_scaled_positions(wrap=True)
    s[:, 2] = (s[:, 2] - middle) % 1.0
    a.set_scaled_positions(s)
    return a, True


def in_vacuum_box(atoms, vacuum_A: float = ISOLATED_VACUUM_A):
    """An isolated frame (periodic in no direction) in a box with VACUUM_A between its periodic images along x
    and y, periodic in x and y (z stays open)."""
    if atoms.pbc.any():
        raise ValueError(f"a frame periodic along {''.join('xyz'[d] for d in range(3) if atoms.pbc[d])} only: "
                         f"give it periodic x and y, or none")
    a = atoms.copy()
    a.center(vacuum=vacuum_A / 2)
    a.pbc = (True, True, False)
    return a


@dataclass
class LammpsLabeller(SinglePointLabeller):
    """Single points of a LAMMPS potential include file, included and run as the inputs run it (charges, kspace,
    boundary changes and all: beamheat.lammps_run.single_point_file) with TYPE_NAMES as its types;
    OWN_TYPE_NAMES is labeller.type_names as given (part of the labeller's identity).

    Each frame tells the file whether it is a slab through the index variable kspace_slab (yes/no, slab_layout),
    the convention of lammps_inputs/potentials (classical_au_tio2.in: PPPM with the slab correction and a fixed z
    boundary for a slab, fully periodic for bulk; files without long-range terms ignore it). An isolated frame
    that the file makes periodic (PPPM needs periodic x and y) is labelled in a vacuum box (in_vacuum_box)."""

    potential: str
    type_names: list[str]
    own_type_names: list[str] | None = None
    kind = "lammps"

    def __post_init__(self):
        self.checked = False

    def identity(self) -> str:
        return content_hash(["lammps", file_hash(self.potential), self.own_type_names])

    def check_types(self) -> None:
        """The file included once in a separate LAMMPS process with one atom of each of TYPE_NAMES: a file that
        stops at its type check (quit, which would end this process) or fails is a LabelError naming it."""
        if not self.checked:
            check_potential_types(self.potential, self.type_names)
            self.checked = True

    def label(self, frames: list, db, progress=print) -> list[str]:
        if frames:
            self.check_types()
        return super().label(frames, db, progress)

    def energy_forces(self, atoms):
        from beamheat.lammps_run import BoundaryChanged, single_point_file

        frame, slab = slab_layout(atoms)
        variables = {"kspace_slab": "yes" if slab else "no"}
        try:
            r = single_point_file(frame, self.potential, self.type_names, variables, comm=self_comm())
        except BoundaryChanged:
            r = single_point_file(in_vacuum_box(frame), self.potential, self.type_names, variables,
                                  comm=self_comm())
        return r["energy_eV"], r["forces_eV_per_A"]


def check_potential_types(potential: str, type_names) -> None:
    """Include POTENTIAL in `lmp` (a child process: a file's `quit` must not end the loop) on one atom of each of
    TYPE_NAMES with their masses; LabelError with its first ERROR line when it does not get through."""
    import subprocess
    import tempfile

    from ase.data import atomic_masses, atomic_numbers
    from beamheat.lammps_command import lmp_command

    n = len(type_names)
    box = 4.0 * n + 10.0
    lines = ["units metal", "atom_style atomic", "atom_modify map array", "boundary p p p",
             f"region box block 0 {box} 0 {box} 0 {box}", f"create_box {n} box"]
    for k, name in enumerate(type_names):
        mass = atomic_masses[atomic_numbers[name]] if name in atomic_numbers else 1.0
        lines += [f"mass {k + 1} {mass}", f"create_atoms {k + 1} single {5 + 4 * k} {5 + 4 * k} {5 + 4 * k}"]
    lines.append(f"include {Path(potential).resolve()}")
    with tempfile.TemporaryDirectory(prefix="bh_types_") as tmp:
        (Path(tmp) / "in.types").write_text("\n".join(lines) + "\n")
        proc = subprocess.run(lmp_command(Path(tmp) / "in.types", None, 1, log="none"), cwd=tmp,
                              capture_output=True, text=True, timeout=300)
    err = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("ERROR")]
    if proc.returncode != 0 or err:
        raise LabelError(f"{potential}: does not accept the lammps labeller's types {' '.join(type_names)} "
                         f"(labeller.type_names, or type_names): "
                         f"{err[0] if err else f'lmp exited with {proc.returncode}'}")


def _import_gpaw_under_mpi4py() -> None:
    """GPAW checks at import that ASE's world has its size; mpi_world() gave ASE a serial world (every rank does
    its own file I/O). Under mpirun, import GPAW (its own MPI, GPAW_MPI_BACKEND=cgpaw, which the dft package
    selects) with ASE's world briefly the real one, then serial again."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.size == 1 or "gpaw.mpi" in sys.modules:
        return
    import ase.parallel

    saved = ase.parallel.world.comm
    ase.parallel.world.comm = ase.parallel.MPI4PY(mpi.COMM_WORLD)
    try:
        import dft  # noqa: F401  (selects GPAW_MPI_BACKEND before gpaw is imported)
        import gpaw.mpi  # noqa: F401
    finally:
        ase.parallel.world.comm = saved


def gpaw_label(frames, lab: dict, db_path: Path) -> list[str]:
    """dft.label's library on every rank of GPAW's world (under mpirun: all ranks, in groups of
    labeller.ranks_per_calc); rows go to DB_PATH, each calculation's GPAW text output to gpaw/UID.txt beside it
    (its SCF progress, while it runs). The frames' uids, in order."""
    from ase.db import connect

    _import_gpaw_under_mpi4py()
    from dft.label import label_configurations
    from dft.settings import DEFAULT_SETTINGS

    settings = dict(DEFAULT_SETTINGS, **(lab.get("settings") or {}))
    db = connect(str(db_path), serial=True)
    return label_configurations(frames, db, settings, ranks_per_calc=lab.get("ranks_per_calc"), info_keys=LABEL_KEYS,
                                db_name=str(db_path), reuse=lab.get("reuse") or (),
                                log_dir=str(Path(db_path).parent / "gpaw"))["uids"]


@dataclass
class GpawLabeller:
    """GPAW DFT through dft.label (labeller.settings, labeller.ranks_per_calc); under mpirun every rank takes part
    (models.loop.distribute sends the other ranks the same call)."""

    lab: dict
    kind = "gpaw"

    def label(self, frames: list, db, progress=print) -> list[str]:
        return gpaw_label(frames, self.lab, Path(db.filename))


def labeller_for(lab: dict, type_names) -> Labeller:
    """The labeller of the loop YAML's `labeller` section LAB; TYPE_NAMES: the loop's (lammps's default)."""
    if lab["kind"] == "gpaw":
        return GpawLabeller(lab)
    if lab["kind"] == "lammps":
        return LammpsLabeller(lab["potential"], lab.get("type_names") or type_names, lab.get("type_names"))
    return EmtLabeller()


def label_frames(frames, lab: dict, db_path: Path, type_names, progress=print) -> list:
    """Label FRAMES into the ASE database DB_PATH with the labeller LAB (skipping frames already there); return the
    labelled frames in input order, with their provenance keys (failed ones left out)."""
    from ase.db import connect

    db = connect(str(db_path), serial=True)
    uids = labeller_for(lab, type_names).label(frames, db, progress)
    rows = {row.uid: row for row in db.select()}
    out = []
    for u in uids:
        row = rows.get(u)
        if row is not None and row.get("status") == "done":
            a = row.toatoms()
            for key in LABEL_KEYS:
                if key in row:
                    a.info[key] = row[key]
            out.append(a)
    return out
