"""models.explore without a launcher: serial MPI world, one-line errors and help."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import ROOT
from loop_config import EXPLORE_YAML


def test_mpi_world_is_none_without_a_launcher(monkeypatch):
    from models.loop import mpi_world

    for k in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(k, raising=False)
    assert mpi_world() is None


def test_explore_cli_errors(tmp_path):
    cfg = tmp_path / "loop.yaml"
    cfg.write_text(EXPLORE_YAML.format(halt_sigma=1.0))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "models.explore", str(cfg), "--models", str(tmp_path / "nope.pth"),
                        "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert p.returncode != 0 and p.stderr.strip().startswith("error:") and len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run([sys.executable, "-m", "models.explore", "--help"], cwd=ROOT, capture_output=True, text=True,
                       check=False, env=env)
    assert p.returncode == 0 and "mpirun" in p.stdout and "eV/Å" in p.stdout
