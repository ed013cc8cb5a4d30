"""Label atomic configurations with GPAW DFT, in parallel, without ever losing a finished label.

    python -m dft.label CANDIDATES.extxyz --db labels.db [--settings dft.yaml] [--export train.extxyz]
    mpirun -np 4 python -m dft.label CANDIDATES.extxyz --db labels.db --ranks-per-calc 2

Defaults (the paper): plane waves 500 eV, PBE, Gamma point, Fermi-Dirac smearing 0.05 eV; --d3 adds Grimme D3(BJ)
dispersion (dftd3 package; two-body terms, as LAMMPS's dispersion/d3 computes them) for hBN systems, and records its
share (energy_d3, forces_d3) beside the total. --mode lcao (basis dzp) is the cheaper alternative to plane waves.
Settings come from YAML (keys as in dft.settings.DEFAULT_SETTINGS) and the command line; a frame's info may
override charge, magmom (total initial moment, switches spin polarisation on) and ecut_eV.
Results go to an ASE database (a file name gives SQLite; a postgresql:// URL works too): energy, forces, stress for
bulk cells (fully periodic, no empty slab wider than dft.calculation.BULK_MAX_GAP_A = 5 Å), the settings and their
hash, the GPAW version, wall time and a convergence flag.
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

import sys
import time
from pathlib import Path

import numpy as np

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run
from dft.calculation import CalculationTimeout, Checkpoint, check_configuration, compute, with_timeout
from dft.database import (RESERVED_KEYS, check_label_db, export, open_db, read_candidates, reuse_finished,
                          row_statuses, wait_for_rows, write_row)
from dft.settings import DEFAULT_SETTINGS, config_id, describe, load_settings, settings_hash


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

    finished = row_statuses(db)
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
                result = with_timeout(lambda: compute(atoms, settings, comm, txt, checkpoint), timeout_s)
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
    if n_groups > 1:  # the other groups may still compute: wait asleep, not in the collective
        wait_for_rows(db, [uids[k] for k in todo])
    totals = np.array([n_ok if master else 0, n_fail if master else 0], float)
    world.sum(totals)
    if world.rank == 0:
        print(f"summary: {int(totals[0])} done, {int(totals[1])} failed, {skipped} skipped "
              f"({time.perf_counter() - t_start:.1f} s); database {db_name}", flush=True)
    return {"done": int(totals[0]), "failed": int(totals[1]), "skipped": skipped, "reused": n_reused, "uids": uids}


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
