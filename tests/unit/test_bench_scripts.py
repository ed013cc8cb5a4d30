"""Every bench script starts as `python -m bench.NAME` from the repository root (its imports, bench.lib's included,
resolve without sys.path edits) and names that command in its usage. The two that other code runs by path from
another folder (tests/test_adhesion_curve.py: bench/adhesion_curve.py; bench.bench_routes: bench/route_ase.py)
start that way too.
Pure Python: no LAMMPS, no training (--help only).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")
BY_PATH_ONLY = {"route_ase"}  # bench.bench_routes runs it by path in a scratch folder, with its own usage line


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]))


def test_the_scripts_are_found():
    assert {"validate_bundled", "k_calibration", "mpi_k", "bench_mpi", "adhesion_curve"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_runs_as_a_module_from_the_root(name):
    proc = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if name not in BY_PATH_ONLY:
        assert proc.stdout.startswith(f"usage: python -m bench.{name} ")


@pytest.mark.parametrize("name", ["adhesion_curve", "route_ase"])
def test_scripts_run_by_path_start_by_path(name, tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--help"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
