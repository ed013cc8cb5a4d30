"""models.loop.distribute.wait_asleep under `mpirun -np 2`: a rank that waits for a busy one sleeps, where MPICH's
blocking barrier spins a core."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

pytest.importorskip("mpi4py")

SCRIPT = """
import sys, time
from models.loop.distribute import mpi_world, wait_asleep
world = mpi_world()
wait = wait_asleep if sys.argv[1] == "asleep" else (lambda w: w.Barrier())
world.Barrier()
t0 = time.process_time()
if world.rank == 1:
    time.sleep(3.0)
wait(world)
if world.rank == 0:
    print(f"cpu {time.process_time() - t0:.3f}")
"""


def _rank0_cpu_s(how: str) -> float:
    cmd = [str(Path(sys.executable).parent / "mpirun"), "-np", "2", sys.executable, "-c", SCRIPT, how]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return float(p.stdout.split("cpu ")[1].split()[0])


def test_a_waiting_rank_sleeps():
    """Rank 1 sleeps 3 s: rank 0, waiting for it, uses well under a second of CPU in wait_asleep, and most of the
    3 s in MPI's own barrier (which the wait replaces in the exploration's gather)."""
    asleep, spinning = _rank0_cpu_s("asleep"), _rank0_cpu_s("barrier")
    print(f"rank 0 CPU while rank 1 sleeps 3 s: wait_asleep {asleep:.2f} s, Barrier {spinning:.2f} s")
    assert asleep < 0.5
    if spinning < 1.0:
        pytest.skip(f"MPI's own barrier used only {spinning:.2f} s of CPU here: no spinning to compare with")
