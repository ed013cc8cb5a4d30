"""The MPI work distribution of `mpirun -np N python -m models.loop`: rank 0 runs the loop; the other ranks wait in
explore_worker for messages from it (ExploreRuns, LabelFrames, Stop). Exploration runs go to groups of
explore.ranks_per_run ranks (comm.Split), each running its share as LAMMPS instances on its sub-communicator; gpaw
labelling runs on every rank in dft.label's rank groups; everything else runs on rank 0. Serial (no mpirun, or -np
1): world is None and every run is an `lmp` subprocess."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from models.loop.config import LoopError
from models.loop.exploration import run_job, run_scan
from models.loop.labellers import gpaw_label, label_frames

TAG_JOBS = 11  # the MPI tag of every message below


@dataclass(frozen=True)
class ExploreRuns:
    """Run JOBS (models.loop.exploration.explore_jobs) in groups of RANKS_PER_RUN ranks; results to rank 0."""
    jobs: list[dict]
    ranks_per_run: int


@dataclass(frozen=True)
class LabelFrames:
    """Label FRAMES with the gpaw labeller LAB into the ASE database DB_PATH, every rank taking part."""
    frames: list
    lab: dict
    db_path: str


@dataclass(frozen=True)
class Stop:
    """Leave explore_worker: rank 0 is done (or failed)."""


Message = ExploreRuns | LabelFrames | Stop


def mpi_world():
    """COMM_WORLD when this process was started by an MPI launcher with more than one rank, else None (serial).
    Launched with several ranks but no mpi4py: an error, because every rank would run the whole loop."""
    size = next((os.environ[k] for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
                 if os.environ.get(k)), "1")
    try:
        if int(size) <= 1:
            return None
    except ValueError:
        return None
    try:
        from beamheat._mpi_preload import preload  # libmpi for mpi4py

        preload()
        from mpi4py import MPI
    except ImportError:
        raise LoopError(f"started by mpirun with {size} ranks, but mpi4py is not installed (pip install mpi4py with "
                        f"MPICC=the mpicc next to this python); or run without mpirun") from None
    import ase.parallel

    # ASE switches to collective file I/O (read on rank 0 and broadcast) once mpi4py is imported; here every rank
    # reads and writes its own files, so ASE must stay serial in every process
    ase.parallel.world.comm = ase.parallel.DummyMPI()
    # MPI is initialised now; the launcher's variables would make child processes (nequip-train, models.deploy,
    # lmp) try to join this MPI job (lightning and mpi4py look at them): children run serial
    for k in [k for k in os.environ if k.startswith(("PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPI_LOCAL"))]:
        del os.environ[k]
    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None


def explore_groups(jobs: list[dict], world, ranks_per_run: int, progress=print) -> list[dict]:
    """Every rank of WORLD calls this with the same jobs. Ranks form groups of RANKS_PER_RUN (comm.Split); group c
    runs jobs c, c + n_groups, ... as LAMMPS instances on its sub-communicator; results are gathered on rank 0 in
    job order (rank 0 gets the list; the others get [])."""
    n_groups = max(1, min(len(jobs), world.size // max(1, ranks_per_run)))
    color = world.rank // max(1, ranks_per_run)
    from mpi4py import MPI

    sub = world.Split(color if color < n_groups else MPI.UNDEFINED, world.rank)
    local = []
    if sub != MPI.COMM_NULL:
        for job in jobs[color::n_groups]:
            try:
                res = run_job(job, sub, progress if sub.rank == 0 else (lambda *a: None))
            except Exception as e:  # noqa: BLE001 - never leave rank 0 waiting: report the failure instead
                res = {"name": job["name"], "fatal": f"exploration run {job['name']}: {e.__class__.__name__}: {e}"}
            if sub.rank == 0:
                local.append(res)
        sub.Free()
    wait_asleep(world)  # groups finish at different times
    gathered = world.gather(local, root=0)
    if world.rank != 0:
        return []
    by_name = {r["name"]: r for part in gathered for r in part}
    return [by_name[j["name"]] for j in jobs]


def wait_asleep(world, poll_s: float = 0.2) -> None:
    """A barrier that sleeps: every rank of WORLD returns once all have called it, polling a non-blocking barrier
    every POLL_S seconds. MPICH's blocking collectives spin (sched_yield), and a rank that waits in one takes a core
    from the ranks still running."""
    req = world.Ibarrier()
    while not req.Test():
        time.sleep(poll_s)


def explore_worker(world, progress=print) -> None:
    """Ranks > 0: wait for jobs from rank 0 (exploration runs, or gpaw labelling), polling, so an idle rank does not
    spin a core while rank 0 trains, until rank 0 says stop."""
    while True:
        while not world.iprobe(source=0, tag=TAG_JOBS):
            time.sleep(0.2)
        msg = world.recv(source=0, tag=TAG_JOBS)
        if isinstance(msg, Stop):
            return
        if isinstance(msg, LabelFrames):  # gpaw: every rank takes part in dft.label's rank groups
            gpaw_label(msg.frames, msg.lab, Path(msg.db_path))
        elif isinstance(msg, ExploreRuns):
            explore_groups(msg.jobs, world, msg.ranks_per_run, progress)
        else:
            raise TypeError(f"rank {world.rank}: unknown message {msg!r} from rank 0")


def send_to_workers(world, msg: Message) -> None:
    """MSG from rank 0 to every other rank of WORLD (waiting in explore_worker)."""
    for r in range(1, world.size):
        world.send(msg, dest=r, tag=TAG_JOBS)


def stop_workers(world) -> None:
    send_to_workers(world, Stop())


def on_rank0(work) -> None:
    """Run work(world) on rank 0 (world None when serial) while the other ranks serve exploration jobs; rank 0
    always tells them to stop, so a failure on rank 0 cannot leave mpirun hanging."""
    world = mpi_world()
    if world is not None and world.rank > 0:
        explore_worker(world, progress=lambda *x: None)
        return
    try:
        work(world)
    finally:
        if world is not None:
            stop_workers(world)


def run_explore_jobs(jobs: list[dict], world=None, ranks_per_run: int = 1, progress=print) -> list[dict]:
    """Run the jobs not finished earlier: one after another as `lmp` subprocesses (serial), or, with WORLD (rank 0
    calling, the other ranks in explore_worker), concurrently on split communicators. Returns every job's result
    in job order; raises LoopError for a run that failed before its first step."""
    todo = [j for j in jobs if not j["done"]]
    for j in jobs:
        if j["done"]:
            progress(f"  explore {j['index'] + 1}/{j['n_jobs']} {j['name']}: done earlier, kept")
    new = [run_scan(j, progress) for j in todo if "scan" in j]  # quick, on rank 0
    todo = [j for j in todo if "scan" not in j]
    if world is None or world.size == 1 or not todo:
        new += [run_job(j, None, progress) for j in todo]
    else:
        progress(f"  {len(todo)} run(s) on {world.size} MPI ranks ({ranks_per_run} per run)")
        send_to_workers(world, ExploreRuns(todo, ranks_per_run))
        new += explore_groups(todo, world, ranks_per_run, progress)
    fatal = [r["fatal"] for r in new if "fatal" in r]
    if fatal:
        raise LoopError(fatal[0])
    by_name = {r["name"]: r for r in new}
    return [by_name[j["name"]] if j["name"] in by_name else json.loads((Path(j["dir"]) / "result.json").read_text())
            for j in jobs]


def label_on_ranks(frames, lab: dict, db_path: Path, type_names, *, progress=print, world=None) -> list:
    """models.loop.labellers.label_frames on rank 0; with WORLD and the gpaw labeller, the other ranks (waiting in
    explore_worker) take part too."""
    if frames and lab["kind"] == "gpaw" and world is not None and world.size > 1:
        send_to_workers(world, LabelFrames(frames, lab, str(db_path)))
    return label_frames(frames, lab, db_path, type_names, progress)
