"""One DFT calculation for dft.label: GPAW (plane waves or LCAO) plus Grimme's D3 when asked, energy, forces and,
for bulk cells, stress; its SCF state checkpointed so that a killed run resumes it; a wall-time limit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from beamheat.cli import UserError

# a fully periodic cell with an empty slab wider than this (Å) holds a slab or a molecule in vacuum: its stress is
# not a property of a material, and GPAW's plane-wave stress costs several force evaluations, so it is not computed
BULK_MAX_GAP_A = 5.0


def widest_gap_A(atoms) -> float:
    """The widest empty slab of a periodic cell, Å: along each cell vector, the largest spacing of consecutive
    atoms' fractional coordinates (wrapped), times the spacing of the cell's lattice planes; the largest of the
    three."""
    cell = np.asarray(atoms.cell)
    planes = abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    f = np.sort(atoms.get_scaled_positions(wrap=True), axis=0)
    gaps = np.diff(np.vstack([f, f[:1] + 1.0]), axis=0).max(axis=0)
    return float((gaps * planes).max())


def check_configuration(atoms, settings: dict) -> str | None:
    """A clear reason why this configuration cannot be computed, or None."""
    from ase.data import chemical_symbols

    if len(atoms) == 0:
        return "no atoms"
    bad = sorted({s for s, z in zip(atoms.get_chemical_symbols(), atoms.numbers) if z <= 0 or z > 86})
    if bad:
        return f"unknown element(s) {', '.join(bad)}: no PAW setup"
    cell = np.asarray(atoms.cell)
    for d in range(3):
        if atoms.pbc[d] and np.linalg.norm(cell[d]) < 1e-6:
            return f"periodic along {'xyz'[d]} but the cell vector {'abc'[d]} is missing"
    if len(atoms) > 1:
        from ase.geometry import get_distances

        periodic = bool(atoms.pbc.any())
        _, dist = get_distances(atoms.positions, cell=atoms.cell if periodic else None,
                                pbc=atoms.pbc if periodic else None)
        dist[np.diag_indices_from(dist)] = np.inf
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        if dist[i, j] < settings["min_distance_A"]:
            return (f"overlapping atoms: {i} ({chemical_symbols[atoms.numbers[i]]}) and {j} "
                    f"({chemical_symbols[atoms.numbers[j]]}) are {dist[i, j]:.3f} A apart")
    return None


def d3_calculator(xc: str):
    """Grimme D3 with Becke-Johnson damping, two-body terms only (no ATM three-body term), as the original dftd3
    program computes it by default and LAMMPS's `pair_style dispersion/d3 bj` does."""
    try:
        from dftd3.ase import DFTD3
    except ImportError:
        raise UserError("--d3 needs the dftd3 package (pip install dftd3)") from None
    return DFTD3(method=xc, damping="d3bj", params_tweaks={"method": xc.lower(), "atm": False})


def make_calculator(atoms, settings: dict, communicator, txt, restart=None):
    """GPAW for SETTINGS (or read from the checkpoint RESTART, a .gpw file written mid-SCF), plus D3 when asked:
    (calculator, the GPAW part, the D3 part or None)."""
    from gpaw import GPAW, PW

    if restart is not None:
        calc = GPAW(str(restart), txt=txt, communicator=communicator)
        return _with_d3(calc, settings)
    if settings["mode"] == "pw":
        mode = dict(mode=PW(float(atoms.info.get("ecut_eV", settings["ecut_eV"]))))
    else:
        mode = dict(mode="lcao", basis=settings["basis"])
    kwargs = dict(**mode, xc=settings["xc"], kpts=tuple(settings["kpts"]), txt=txt,
                  occupations={"name": "fermi-dirac", "width": settings["smearing_width_eV"]},
                  maxiter=settings["maxiter"], communicator=communicator)
    if atoms.info.get("charge"):
        kwargs["charge"] = float(atoms.info["charge"])
    if atoms.info.get("magmom"):
        kwargs["spinpol"] = True
        moms = np.zeros(len(atoms))
        moms[:] = float(atoms.info["magmom"]) / len(atoms)
        atoms.set_initial_magnetic_moments(moms)
    return _with_d3(GPAW(**kwargs), settings)


def _with_d3(calc, settings: dict):
    if not settings["d3"]:
        return calc, calc, None
    from ase.calculators.mixing import SumCalculator

    d3 = d3_calculator(settings["xc"])
    return SumCalculator([calc, d3]), calc, d3


class Checkpoint:
    """A calculation's SCF state, kept so that a killed run resumes it rather than starting again: every EVERY SCF
    iterations the density and wave functions go to PATH (GPAW's .gpw, mode all; written to a temporary file and
    renamed) and PATH + ".json" records the iteration and the wall time spent so far. The group's rank 0 renames
    and removes the files; every rank of the group writes the .gpw (GPAW's collective write)."""

    def __init__(self, path, every: int, communicator):
        self.path, self.every, self.comm = Path(path), int(every), communicator
        self.meta = Path(str(self.path) + ".json")

    def state(self) -> dict | None:
        """{"niter", "wall_time_s"} of a complete checkpoint, or None."""
        if not (self.path.is_file() and self.meta.is_file()):
            return None
        try:
            return json.loads(self.meta.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def hook(self, calc, t0: float, before: dict | None):
        niter_before = int(before["niter"]) if before else 0
        wall_before = float(before["wall_time_s"]) if before else 0.0

        def save(ctx):
            if ctx.niter % self.every:
                return
            part = self.path.with_name(self.path.name + ".part")
            calc.write(part, mode="all")
            if self.comm.rank == 0:
                part.replace(self.path)
                tmp = self.meta.with_name(self.meta.name + ".part")
                tmp.write_text(json.dumps({"niter": niter_before + int(ctx.niter),
                                           "wall_time_s": wall_before + time.perf_counter() - t0}))
                tmp.replace(self.meta)
            self.comm.barrier()
        return save

    def remove(self):
        if self.comm.rank == 0:
            for f in (self.meta, self.path):
                f.unlink(missing_ok=True)
                f.with_name(f.name + ".part").unlink(missing_ok=True)


def compute(atoms, settings: dict, communicator, txt, checkpoint: Checkpoint | None = None) -> dict:
    """One DFT calculation: energy, forces, stress (bulk cells), convergence, wall time. With a CHECKPOINT,
    its SCF state is saved as it goes, and a checkpoint left by a killed run is resumed (then "resumed_at_iteration"
    says from which SCF iteration, and the wall time includes the killed run's)."""
    from gpaw import KohnShamConvergenceError

    atoms = atoms.copy()
    if not atoms.pbc.any() and np.linalg.matrix_rank(np.asarray(atoms.cell)) < 3:
        atoms.center(vacuum=settings["vacuum_A"])
    t0 = time.perf_counter()
    state = checkpoint.state() if checkpoint else None
    if state and txt and communicator.rank == 0 and Path(txt).is_file():  # the killed run's log, kept
        Path(txt).replace(Path(txt).with_suffix(".interrupted.txt"))
    try:
        atoms.calc, dft, d3 = make_calculator(atoms, settings, communicator, txt,
                                              restart=checkpoint.path if state else None)
    except Exception:
        if not state:
            raise
        checkpoint.remove()  # unreadable (another GPAW version, a damaged file): computed from the start
        communicator.barrier()
        state = None
        atoms.calc, dft, d3 = make_calculator(atoms, settings, communicator, txt)
    wall_before = float(state["wall_time_s"]) if state else 0.0
    if checkpoint:
        dft.hooks["scf_step"] = checkpoint.hook(dft, t0, state)
    resumed = {"resumed_at_iteration": int(state["niter"])} if state else {}
    try:
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        bulk = atoms.pbc.all() and widest_gap_A(atoms) <= BULK_MAX_GAP_A
        stress = atoms.get_stress() if bulk else None
        out = {"atoms": atoms, "energy": energy, "forces": forces, "stress": stress, "converged": True,
               "wall_time_s": wall_before + time.perf_counter() - t0, **resumed}
        if d3 is not None:  # the dispersion part alone, so that training can take it off exactly
            out["d3"] = {"energy": float(d3.get_potential_energy(atoms)), "forces": d3.get_forces(atoms)}
        return out
    except KohnShamConvergenceError as e:
        return {"atoms": atoms, "error": f"SCF did not converge in {settings['maxiter']} iterations ({e})",
                "converged": False, "wall_time_s": wall_before + time.perf_counter() - t0, **resumed}


class CalculationTimeout(Exception):
    pass


def with_timeout(fn, seconds: float | None):
    """fn() under a wall-time limit (SIGALRM, main thread): CalculationTimeout when it runs longer."""
    import signal
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread():
        return fn()

    def on_alarm(signum, frame):
        raise CalculationTimeout(f"timed out after {seconds:g} s (--timeout-s)")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
