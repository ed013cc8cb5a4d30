"""Label atomic configurations with GPAW DFT, in parallel, without ever losing a finished label.

    python -m dft.label CANDIDATES.extxyz --db labels.db [--settings dft.yaml] [--export train.extxyz]
    mpirun -np 4 python -m dft.label CANDIDATES.extxyz --db labels.db --ranks-per-calc 2

Defaults (the paper): plane waves 500 eV, PBE, Gamma point, Fermi-Dirac smearing 0.05 eV; --d3 adds Grimme D3(BJ)
dispersion (dftd3 package; two-body terms, as LAMMPS's dispersion/d3 computes them) for hBN systems, and records its
share (energy_d3, forces_d3) beside the total. --mode lcao (basis dzp) is the cheaper alternative to plane waves. Settings come from YAML (keys as in DEFAULT_SETTINGS) and the command
line; a frame's info may override charge, magmom (total initial moment, switches spin polarisation on) and ecut_eV.
Results go to an ASE database (a file name gives SQLite; a postgresql:// URL works too): energy, forces, stress for
bulk cells (fully periodic, no empty slab wider than BULK_MAX_GAP_A = 5 Å), the settings and their hash, the GPAW
version, wall time and a convergence flag.
Never losing work: every configuration has an id hashed from its atoms and settings; a finished one (done or
failed) is skipped on a re-run, each result is written in one database transaction the moment it is finished, so
a killed run loses only the calculations in flight (with --log-dir, only their SCF iterations since the last
checkpoint: they resume from it) and never writes a duplicate. A calculation that fails (SCF not
converged, no PAW setup, overlapping atoms, a periodic direction without a cell vector) is recorded with its reason
and the batch goes on; --retry-failed computes those again.
Parallel: under mpirun the world is split into groups of --ranks-per-calc ranks (default: all ranks on each
calculation); configurations are dealt round-robin to the groups. GPAW's own MPI (GPAW_MPI_BACKEND=cgpaw), built
against the MPICH that LAMMPS uses (scripts/setup.sh), gives the serial energies.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("GPAW_MPI_BACKEND", "cgpaw")  # before gpaw is imported: its own MPI, also under mpirun
if getattr(sys.modules.get("gpaw"), "GPAW_MPI_BACKEND", "") is None:
    # gpaw's top level was imported already (ASE loads gpaw.ase_plugin) and read no backend: choose it before
    # gpaw.mpi is imported, which otherwise falls back to a serial world under mpirun
    sys.modules["gpaw"].GPAW_MPI_BACKEND = os.environ["GPAW_MPI_BACKEND"]

import hashlib  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from beamheat import validate as v  # noqa: E402
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run  # noqa: E402
from beamheat.hashing import stable_hash  # noqa: E402

DEFAULT_SETTINGS = {
    "ecut_eV": 500.0,         # plane-wave cutoff (mode pw)
    "mode": "pw",             # pw: plane waves at ecut_eV (the paper); lcao: atomic orbitals of `basis`
    "basis": "dzp",           # LCAO basis set (mode lcao; gpaw-data ships dzp)
    "xc": "PBE",
    "kpts": [1, 1, 1],        # Gamma point
    "smearing_width_eV": 0.05,  # Fermi-Dirac
    "d3": False,              # Grimme D3(BJ) two-body dispersion (for hBN); LAMMPS's dispersion/d3 bj is the same
    "maxiter": 333,           # SCF iterations before giving up
    "vacuum_A": 6.0,          # box around non-periodic configurations that come without a cell
    "min_distance_A": 0.5,    # closer atoms are refused as overlapping
}
OVERRIDES = ("charge", "magmom", "ecut_eV")  # per-frame keys in atoms.info
# a fully periodic cell with an empty slab wider than this (Å) holds a slab or a molecule in vacuum: its stress is
# not a property of a material, and GPAW's plane-wave stress costs several force evaluations, so it is not computed
BULK_MAX_GAP_A = 5.0
# row keys of dft.label's own, and names ASE's database keeps for itself: never copied from a frame's info
RESERVED_KEYS = ("uid", "status", "settings_hash", "gpaw_version", "converged", "wall_time_s", "error", "energy_d3",
                 "energy", "forces", "stress", "id", "natoms", "calculator", "magmom", "charge", "ctime", "mtime",
                 "user", "unique_id", "numbers", "positions", "cell", "pbc", "free_energy", "fmax", "smax", "volume",
                 "mass", "resumed_at_iteration")


def settings_hash(settings: dict) -> str:
    return stable_hash(settings)


def config_id(atoms, settings: dict) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(atoms.numbers, np.int64).tobytes())
    h.update(np.round(atoms.positions, 8).tobytes())
    h.update(np.round(np.asarray(atoms.cell), 8).tobytes())
    h.update(np.asarray(atoms.pbc, bool).tobytes())
    h.update(json.dumps({k: atoms.info.get(k) for k in OVERRIDES}, sort_keys=True).encode())
    h.update(settings_hash(settings).encode())
    return h.hexdigest()[:24]


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


def describe(settings: dict) -> str:
    """The settings in one phrase, e.g. "PBE, PW 500 eV, k (1, 1, 1), D3(BJ)"."""
    mode = f"PW {settings['ecut_eV']:g} eV" if settings["mode"] == "pw" else f"LCAO {settings['basis']}"
    return f"{settings['xc']}, {mode}, k {tuple(settings['kpts'])}{', D3(BJ)' if settings['d3'] else ''}"


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


def write_row(db, atoms, uid, status, settings, info, result=None, error=None, info_keys=("source", "frame")):
    from ase.calculators.singlepoint import SinglePointCalculator
    import gpaw

    atoms = (result or {}).get("atoms", atoms).copy()
    if result and "energy" in result:
        atoms.calc = SinglePointCalculator(atoms, energy=result["energy"], forces=result["forces"],
                                           **({"stress": result["stress"]} if result["stress"] is not None else {}))
    kvp = {"uid": uid, "status": status, "settings_hash": settings_hash(settings), "gpaw_version": gpaw.__version__,
           "converged": bool(result and result.get("converged")),
           "wall_time_s": float(result["wall_time_s"]) if result else 0.0}
    for key in info_keys:
        if key in info:
            v = info[key].item() if isinstance(info[key], np.generic) else info[key]  # extxyz gives numpy scalars
            kvp[key] = v if isinstance(v, (int, float, str)) else str(v)
    if result and "resumed_at_iteration" in result:
        kvp["resumed_at_iteration"] = result["resumed_at_iteration"]
    if error:
        kvp["error"] = error[:500]
    data = {"settings": settings}
    if result and "d3" in result:
        kvp["energy_d3"] = result["d3"]["energy"]
        data["forces_d3"] = np.asarray(result["d3"]["forces"], float)
    with db:  # one transaction: the row is there completely or not at all
        if db.count(uid=uid) == 0:
            db.write(atoms, key_value_pairs=kvp, data=data)


def reuse_finished(db, uids, sources) -> int:
    """Rows of the ASE databases SOURCES (dft.label's) that finished one of UIDS, copied into DB where it has no row
    of that uid: a uid hashes the atoms and the settings, so the copy is the label this run would compute. The
    number copied."""
    from ase.db import connect

    have = {r.uid for r in db.select(columns=["key_value_pairs"])} if len(db) else set()
    want = set(uids) - have
    n = 0
    for src in sources:
        if not want:
            break
        for row in connect(str(src), serial=True).select(status="done"):
            if row.uid in want:
                db.write(row.toatoms(), key_value_pairs=dict(row.key_value_pairs), data=dict(row.data))
                want.discard(row.uid)
                n += 1
    return n


def label_configurations(frames, db, settings: dict, comm=None, *, ranks_per_calc: int | None = None,
                         retry_failed: bool = False, log_dir: str | None = None, db_name: str = "",
                         info_keys=("source", "frame"), timeout_s: float | None = None, reuse=(),
                         checkpoint_every: int = 5) -> dict:
    """Label `frames` with GPAW into the ASE database `db` (connected with serial=True), skipping finished ones.

    Every rank of COMM (a GPAW communicator; default gpaw.mpi.world) calls this; COMM is split into groups of
    `ranks_per_calc` ranks (default: all). Each result is one database transaction. With LOG_DIR, each
    calculation's GPAW text goes there (UID.txt), and every CHECKPOINT_EVERY SCF iterations (0: never) its SCF
    state (UID.gpw, Checkpoint), which a later run resumes; removed once the label is done. `info_keys` are copied from
    each frame's info into its row. REUSE: databases whose finished rows of the same configurations and settings
    are copied (reuse_finished) instead of computed. Returns the counts {"done", "failed", "skipped", "reused"}
    (on COMM's rank 0) and the uids of the frames, in order.
    """
    if comm is None:
        from gpaw.mpi import world as comm
    world = comm
    uids = [config_id(f, settings) for f in frames]
    n_reused = 0
    if world.rank == 0:
        len(db)  # creates the SQLite schema once, before several group masters could race to do it
        n_reused = reuse_finished(db, uids, reuse) if reuse else 0
    world.barrier()

    finished = {r.uid: r.status for r in db.select(columns=["key_value_pairs"])} if len(db) else {}
    todo = [k for k, u in enumerate(uids)
            if u not in finished or (retry_failed and finished[u] == "failed")]
    if retry_failed and world.rank == 0:
        for k in todo:
            if uids[k] in finished:
                del db[db.get(uid=uids[k]).id]
    world.barrier()
    skipped = len(frames) - len(todo)
    G = ranks_per_calc or world.size
    if world.size % G:
        raise UserError(f"--ranks-per-calc {G} does not divide the {world.size} MPI ranks")
    n_groups = world.size // G
    comm = None
    for g in range(n_groups):  # every rank takes part in creating every group's communicator
        c = world.new_communicator(list(range(g * G, (g + 1) * G)))
        if world.rank // G == g:
            comm = c
    group = world.rank // G
    mine = todo[group::n_groups]
    master = comm.rank == 0
    if world.rank == 0:
        print(f"{len(frames)} configurations: {skipped} already finished"
              + (f" ({n_reused} of them copied from --reuse)" if n_reused else "") + f", {len(todo)} to compute on "
              f"{n_groups} group(s) of {G} rank(s); settings {settings_hash(settings)} ({describe(settings)})",
              flush=True)
    t_start, n_ok, n_fail = time.perf_counter(), 0, 0
    for n, k in enumerate(mine):
        atoms, uid = frames[k], uids[k]
        reason = check_configuration(atoms, settings)
        result = checkpoint = None
        if reason is None:
            txt = None
            if log_dir:
                Path(log_dir).mkdir(parents=True, exist_ok=True)
                txt = str(Path(log_dir) / f"{uid}.txt")
                if checkpoint_every > 0:
                    checkpoint = Checkpoint(Path(log_dir) / f"{uid}.gpw", checkpoint_every, comm)
            try:
                result = _with_timeout(lambda: compute(atoms, settings, comm, txt, checkpoint), timeout_s)
                reason = result.get("error")
            except CalculationTimeout as e:
                result, reason = None, str(e)
            except UserError:
                raise
            except Exception as e:  # GPAW raises many kinds (missing setups, memory, ...): record, go on
                reason = f"{e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]
        if master:
            write_row(db, atoms, uid, "failed" if reason else "done", settings, atoms.info, result, reason,
                      info_keys)
        if checkpoint and reason is None:
            comm.barrier()
            checkpoint.remove()
        n_ok += reason is None
        n_fail += reason is not None
        if master and group == 0:
            elapsed = time.perf_counter() - t_start
            eta = elapsed / (n + 1) * (len(mine) - n - 1)
            status = "done" if reason is None else f"FAILED ({reason})"
            print(f"  [{n + 1}/{len(mine)} of group 0] {atoms.get_chemical_formula()} frame {atoms.info['frame']}: "
                  f"{status}; ETA {eta:.0f} s", flush=True)
    totals = np.array([n_ok if master else 0, n_fail if master else 0], float)
    world.sum(totals)
    if world.rank == 0:
        print(f"summary: {int(totals[0])} done, {int(totals[1])} failed, {skipped} skipped "
              f"({time.perf_counter() - t_start:.1f} s); database {db_name}", flush=True)
    return {"done": int(totals[0]), "failed": int(totals[1]), "skipped": skipped, "reused": n_reused, "uids": uids}


def check_settings(s: dict, where: str = "settings") -> dict:
    """GPAW settings that cannot hang or fail cryptically: a positive cutoff and smearing, a k-point grid of three
    positive integers, a positive iteration limit. One-line error naming the key."""
    def num(key, lo, hi, unit=""):
        x = s[key]
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise UserError(f"{where}: {key} {x!r}: must be a number{' in ' + unit if unit else ''}")
        v.in_range(f"{where}: {key}", float(x), lo, hi, unit, lo_open=True)

    num("ecut_eV", 50.0, 5000.0, "eV")
    num("smearing_width_eV", 0.0, 5.0, "eV")
    num("vacuum_A", 0.0, 100.0, "Å")
    num("min_distance_A", 0.0, 5.0, "Å")
    k = s["kpts"]
    if not (isinstance(k, (list, tuple)) and len(k) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                  and 1 <= x <= 64 for x in k)):
        raise UserError(f"{where}: kpts {k!r}: must be three integers from 1 to 64")
    m = s["maxiter"]
    if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 100000:
        raise UserError(f"{where}: maxiter {m!r}: must be a whole number from 1 to 100000")
    if not isinstance(s["xc"], str) or not s["xc"].strip():
        raise UserError(f"{where}: xc {s['xc']!r}: must be a functional name such as PBE")
    try:
        from gpaw.xc import XC

        XC(s["xc"])
    except ImportError:
        pass  # no GPAW here: nothing can be computed anyway, and the label step says so
    except Exception as e:  # noqa: BLE001 - GPAW raises NameError, KeyError, ... for names it does not know
        raise UserError(f"{where}: xc {s['xc']!r}: GPAW does not know this functional "
                        f"({str(e).splitlines()[0] if str(e) else e.__class__.__name__})") from None
    if s["mode"] not in ("pw", "lcao"):
        raise UserError(f"{where}: mode {s['mode']!r}: must be pw or lcao")
    if not isinstance(s["basis"], str) or not s["basis"].strip():
        raise UserError(f"{where}: basis {s['basis']!r}: must be a basis set name such as dzp")
    if not isinstance(s["d3"], bool):
        raise UserError(f"{where}: d3 {s['d3']!r}: must be true or false")
    return s


def load_settings(settings_file: str | Path | None = None, *, ecut_ev: float | None = None, xc: str | None = None,
                  kpts: str | list | None = None, width_ev: float | None = None, maxiter: int | None = None,
                  d3: bool = False, mode: str | None = None, basis: str | None = None) -> dict:
    """DEFAULT_SETTINGS, then the YAML file, then the values given (command-line options), checked."""
    s = dict(DEFAULT_SETTINGS)
    if settings_file:
        import yaml

        p = Path(settings_file)
        if not p.exists():
            raise UserError(f"{p}: settings file not found")
        try:
            user = yaml.safe_load(p.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise UserError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(user, dict):
            raise UserError(f"{p}: expected a mapping of settings, got {type(user).__name__}")
        unknown = sorted(set(user) - set(DEFAULT_SETTINGS))
        if unknown:
            raise UserError(f"{p}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_SETTINGS)}")
        s.update(user)
        check_settings(s, str(p))
    for key, val in (("ecut_eV", ecut_ev), ("xc", xc), ("smearing_width_eV", width_ev), ("maxiter", maxiter),
                     ("mode", mode), ("basis", basis)):
        if val is not None:
            s[key] = val
    if kpts:
        s["kpts"] = v.csv_numbers("--kpts", kpts, int, count=3) if isinstance(kpts, str) else list(kpts)
    if d3:
        s["d3"] = True
    return check_settings(s, "settings")


class CalculationTimeout(Exception):
    pass


def _with_timeout(fn, seconds: float | None):
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


def read_candidates(path: Path):
    from ase.io import read

    if not path.exists():
        raise UserError(f"{path}: file not found")
    try:
        if path.suffix == ".db":
            from ase.db import connect

            frames = []
            for row in connect(str(path), serial=True).select():
                a = row.toatoms()
                a.info.update({k: v for k, v in row.key_value_pairs.items()})
                frames.append(a)
        else:
            frames = read(path, index=":")
    except Exception as e:  # ASE raises many kinds for unreadable files
        raise UserError(f"{path}: cannot read configurations ({e.__class__.__name__}: {str(e)[:100]})") from None
    for k, a in enumerate(frames):
        a.info.setdefault("source", str(path))
        a.info.setdefault("frame", k)
    return frames


def export(db, path: Path) -> int:
    from ase.io import write

    from beamheat.io import atomic_write

    frames = []
    for row in db.select(status="done"):
        a = row.toatoms(add_additional_information=False)
        a.info.update({k: v for k, v in row.key_value_pairs.items() if k != "status"})
        if "forces_d3" in row.data:  # the D3 share of the forces beside the total (energy_d3 is in info)
            a.arrays["forces_d3"] = np.asarray(row.data["forces_d3"], float)
        frames.append(a)
    if not frames:
        raise UserError(f"{path}: the database holds no finished labels; nothing exported")
    atomic_write(path, lambda f: write(f, frames, format="extxyz", parallel=False))
    return len(frames)


def check_label_db(path: Path, what: str) -> Path:
    """PATH must be an SQLite file (an ASE database): one-line error naming WHAT otherwise."""
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise UserError(f"{path}: not an SQLite database ({what})")
    return path


def open_db(name: str):
    """The ASE database (SQLite file or URL), checked to be one before anything is computed."""
    from ase.db import connect

    is_url = "://" in name
    if not is_url:
        p = Path(name)
        if p.is_dir():
            raise UserError(f"{p}: is a directory, expected a database file (--db)")
        if p.exists() and p.stat().st_size:
            check_label_db(p, "--db; give a new file name or an ASE .db")
        if not p.exists():
            v.output_file(p, "--db")
    try:
        db = connect(name, serial=True)  # not ASE's collective mode: only group masters write
        return db
    except Exception as e:  # noqa: BLE001 - ASE raises many kinds
        raise UserError(f"{name}: cannot open as an ASE database ({e.__class__.__name__}: {str(e)[:100]})") from None


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m dft.label", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("candidates", nargs="?", help="configurations: extxyz (e.g. from models.select) or ASE .db")
    p.add_argument("--db", default="labels.db", help="results database: file (SQLite) or URL (default labels.db)")
    p.add_argument("--settings", help="YAML with any of: " + ", ".join(DEFAULT_SETTINGS))
    p.add_argument("--mode", help="pw (plane waves, the paper) or lcao (atomic orbitals; cheaper) (default pw)")
    p.add_argument("--ecut-ev", type=float, help="plane-wave cutoff, eV (default 500)")
    p.add_argument("--basis", help="LCAO basis set, mode lcao (default dzp)")
    p.add_argument("--xc", help="exchange-correlation functional (default PBE)")
    p.add_argument("--kpts", help="k-point grid a,b,c (default 1,1,1)")
    p.add_argument("--width-ev", type=float, help="Fermi-Dirac smearing width, eV (default 0.05)")
    p.add_argument("--maxiter", type=int, help="SCF iteration limit (default 333)")
    p.add_argument("--d3", action="store_true", help="add D3(BJ) dispersion (hBN systems)")
    p.add_argument("--ranks-per-calc", type=int, help="MPI ranks per calculation (default: all)")
    p.add_argument("--reuse", nargs="+", metavar="DB", default=[],
                   help="label databases of earlier runs: their finished labels of the same configurations and "
                        "settings are copied, not computed again (default: none)")
    p.add_argument("--retry-failed", action="store_true", help="compute failed configurations again")
    p.add_argument("--log-dir", help="GPAW text output per configuration here (UID.txt), and its SCF checkpoints "
                   "(UID.gpw, below) (default: none)")
    p.add_argument("--checkpoint-every", type=int, default=5, metavar="N",
                   help="with --log-dir: every N SCF iterations each calculation's density and wave functions go "
                        "to UID.gpw there, from which a killed run resumes (removed once the label is done; "
                        "0.13 GB for a 70-atom Au/hBN frame at PW 500 eV); 0: never (default 5)")
    p.add_argument("--export", help="write finished labels as extxyz for nequip training (default: none)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --export file")
    p.add_argument("--timeout-s", type=float, help="wall-time limit per configuration, s: a calculation running "
                   "longer is recorded as failed with that reason and the batch goes on (default: none)")
    a = p.parse_args(argv)
    settings = load_settings(a.settings, ecut_ev=a.ecut_ev, xc=a.xc, kpts=a.kpts, width_ev=a.width_ev,
                             maxiter=a.maxiter, d3=a.d3, mode=a.mode, basis=a.basis)
    v.positive("--timeout-s", a.timeout_s, "s")
    v.integer("--ranks-per-calc", a.ranks_per_calc, 1)
    v.integer("--checkpoint-every", a.checkpoint_every, 0)
    if not a.candidates and not a.export:
        raise UserError("nothing to do: give CANDIDATES to label and/or --export")
    src = v.input_file(a.candidates, "CANDIDATES", "file") if a.candidates else None
    if a.export:
        v.output_file(a.export, "--export", force=a.force, inputs=[x for x in (src, a.db) if x], mkdir=True)
    if src is not None and Path(a.db).exists() and Path(a.db).resolve() == src.resolve():
        raise UserError(f"{a.db}: --db names the candidates file")
    reuse = [check_label_db(v.input_file(r, "--reuse", "database"), "--reuse") for r in a.reuse]
    if any(Path(a.db).exists() and r.resolve() == Path(a.db).resolve() for r in reuse):
        raise UserError(f"{a.db}: --reuse names the --db database itself")

    try:
        from gpaw.mpi import world
    except ImportError:
        raise UserError("GPAW is not installed in this Python environment: bash scripts/setup.sh installs it "
                        "(docs/install.md)") from None

    db = open_db(a.db)
    if a.candidates:
        frames = read_candidates(Path(a.candidates))
        # every scalar the candidates carry (source, frame, kind, gap_A, T_K, ...) goes into the rows and the export
        keys = tuple(dict.fromkeys(k for f in frames for k, x in f.info.items()
                                   if isinstance(x, (int, float, str, np.generic)) and k not in RESERVED_KEYS))
        counts = label_configurations(frames, db, settings, ranks_per_calc=a.ranks_per_calc,
                                      retry_failed=a.retry_failed, log_dir=a.log_dir, db_name=a.db,
                                      timeout_s=a.timeout_s, info_keys=keys, reuse=reuse,
                                      checkpoint_every=a.checkpoint_every)
        if counts["failed"] and not counts["done"]:
            first = next((r.get("error", "") for r in db.select(status="failed")), "")
            raise UserError(f"{a.db}: all {counts['failed']} configuration(s) of this run failed, e.g. "
                            f"{first.splitlines()[0] if first else 'no reason recorded'} (recorded there; "
                            f"--retry-failed computes them again)")
    if a.export and world.rank == 0:
        n_exported = export(db, Path(a.export))
        print(f"exported {n_exported} labelled configurations to {a.export}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
