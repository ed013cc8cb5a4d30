"""Helpers shared by the tests, importable as `from helpers import ...` (pytest puts tests/ on sys.path).

Fixtures stay in conftest.py; plain functions and constants live here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from beamheat.lammps_command import lmp_command

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"  # the shared helpers, conftest.py and data/; the tiers are its subfolders
TYPE_NAMES = ["Au", "Cu", "Pd"]


def auto_device(local_rank: int = 0) -> str:
    """What `pair_style nequip device auto` must choose for a rank on this machine: GPU (local rank mod GPUs) when
    torch sees one, else the CPU. Tests run unchanged on CPU and GPU machines."""
    import torch

    gpus = torch.cuda.device_count()
    return f"cuda:{local_rank % gpus}" if gpus else "cpu"


def ase_reference(atoms, model_path: Path) -> dict:
    """Energy, per-atom energies, forces and stress from nequip's own ASE calculator."""
    from nequip.integrations.ase import NequIPCalculator

    calc = NequIPCalculator.from_compiled_model(str(model_path), device="cpu",
                                                chemical_species_to_atom_type_map=True)
    atoms = atoms.copy()
    atoms.calc = calc
    out = {
        "energy_eV": atoms.get_potential_energy(),
        "energies_eV": atoms.get_potential_energies(),
        "forces_eV_per_A": atoms.get_forces(),
    }
    if atoms.pbc.all():
        from ase.stress import voigt_6_to_full_3x3_stress

        out["stress_eV_per_A3"] = voigt_6_to_full_3x3_stress(atoms.get_stress())
    return out


def run_lmp(input_text: str, cwd: Path, nprocs: int = 1, timeout: int = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `lmp` (through mpirun) on an input script, as a user would; no `plugin load` line."""
    (cwd / "in.test").write_text(input_text)
    return run_lmp_file(cwd / "in.test", cwd, {}, nprocs, timeout, log="log.test", env=env)


def rattled(atoms, scale=0.08, seed=1):
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).normal(scale=scale, size=atoms.positions.shape)
    return atoms


def run_lmp_file(input_file: Path, cwd: Path, variables: dict, nprocs: int = 1, timeout: int = 600,
                 log: str = "log.lammps", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an input file from lammps_inputs/ with -var overrides, as `mpirun -np N lmp -in FILE -var ...`."""
    cmd = lmp_command(input_file, variables, nprocs, log=log)
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def tree_state(folder: Path) -> dict[str, str]:
    """Every file and directory under `folder` with a hash of its content: equal before and after a refused command
    means nothing was changed, created or left behind."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def one_line_error(stderr: str) -> str:
    """The single `error: ...` line of a refused command (asserts there is exactly one line and no traceback)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    assert not lines[0].startswith("error: unexpected "), f"not caught by the validation layer: {lines[0]}"
    return lines[0]


def train_model(model_dir: Path, dataset: Path, name: str, overrides=(), config: str = "tiny.yaml") -> Path:
    """Train a NequIP config of models/configs (default the tiny one) on DATASET into MODEL_DIR/NAME once (kept if
    there); the checkpoint path."""
    from models.train import train

    ckpt = model_dir / name / "model.ckpt"
    if not ckpt.exists():
        train(ROOT / "models/configs" / config, dataset, model_dir / name, list(overrides))
    return ckpt


def deploy_model(ckpt: Path, out: Path, fmt: str = "torchscript") -> Path:
    """Compile CKPT to OUT with models.deploy once (kept if there)."""
    if not out.exists():
        # a fresh interpreter per compile: nequip sets process-wide state (default dtype, workflow state)
        subprocess.run([sys.executable, "-m", "models.deploy", str(ckpt), str(out), "--format", fmt],
                       check=True, cwd=ROOT, capture_output=True)
    return out


def run_build(out: Path, *args) -> subprocess.CompletedProcess:
    """`python -m beamheat.build --out OUT ARGS...` from the repository root."""
    return subprocess.run([sys.executable, "-m", "beamheat.build", "--out", str(out), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def write_data(path, atoms, specorder=("Au", "Cu", "Pd")):
    """ATOMS as a LAMMPS data file (atom_style atomic, masses) with types numbered in SPECORDER."""
    from ase.io import write

    write(path, atoms, format="lammps-data", specorder=list(specorder), masses=True, atom_style="atomic")


def header(data="au.data", extra=""):
    """The first lines of a metal-units input reading DATA."""
    return f"""units metal
atom_style atomic
{extra}
read_data {data}
"""


def error_line(proc) -> str:
    """The LAMMPS ERROR line; asserts the run failed cleanly (exit code, not a signal) with exactly one."""
    text = proc.stdout + proc.stderr
    assert proc.returncode > 0, f"expected a clean failure, got return code {proc.returncode}:\n{text[-2000:]}"
    assert "Segmentation fault" not in text and "core dumped" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("ERROR")]
    assert lines, f"no ERROR line in output:\n{text[-2000:]}"
    return lines[0]


def dft_label(*args, nprocs=1, timeout=300):
    """`python -m dft.label ARGS...` from the repository root, under `mpirun -np NPROCS` when NPROCS > 1."""
    venv = os.path.dirname(sys.executable)
    cmd = [sys.executable, "-m", "dft.label", *map(str, args)]
    if nprocs > 1:
        cmd = [os.path.join(venv, "mpirun"), "-np", str(nprocs)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def h2_molecule(d):
    """An H2 molecule with bond length D (Å), no cell."""
    from ase import Atoms

    return Atoms("H2", positions=[[0, 0, 0], [d, 0, 0]])


def thermo_rows(log: str) -> np.ndarray:
    """The numeric rows of every thermo block (after a `Step ...` header) of a LAMMPS log text."""
    rows, cols = [], None
    for line in log.splitlines():
        w = line.split()
        if w[:1] == ["Step"]:
            cols = w
            continue
        if cols and len(w) == len(cols):
            try:
                rows.append([float(x) for x in w])
                continue
            except ValueError:
                pass
        cols = None
    return np.array(rows)
