"""Shared fixtures: one tiny NequIP model trained and compiled once per test session.

Everything is real: EMT-labelled frames, `nequip-train`, `models.deploy`, and LAMMPS with the installed plugin.
Set BEAMHEAT_TEST_CACHE=/some/dir to keep the trained models between sessions while developing.

The tests sit in tiers, one folder each, and every test is marked with its folder's name:
  unit/         no LAMMPS, no training, no GPAW calculation: `scripts/test.sh --fast`, under two minutes;
  integration/  real LAMMPS, nequip training and GPAW on tiny cells, one MPI rank;
  mpi/          runs under mpirun on several ranks;
  gpu/          compares a GPU against the CPU (skips without one).
Fixtures here and helpers.py, loop_config.py, heat_transfer_checks.py, synthetic_*.py and data/ serve every tier
(pytest puts this folder on sys.path).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import deploy_model, train_model, write_data

TIERS = ("unit", "integration", "mpi", "gpu")


def pytest_collection_modifyitems(config, items):
    """Mark each test with its tier, the folder under tests/ it sits in (`-m unit`, `-m "not mpi"`)."""
    here = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(here).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test outside the tiers {', '.join(TIERS)} (tests/<tier>/)")
        item.add_marker(getattr(pytest.mark, tier))


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


@pytest.fixture(scope="session")
def checkpoint(model_dir, dataset) -> Path:
    return train_model(model_dir, dataset, "tiny")


@pytest.fixture(scope="session")
def model_ts(model_dir, checkpoint) -> Path:
    """nequip >= 0.7 TorchScript file, float64 model."""
    return deploy_model(checkpoint, model_dir / "tiny.nequip.pth")


@pytest.fixture(scope="session")
def model_pec(model_dir, dataset) -> Path:
    """A model with per-edge-type cutoffs (asymmetric: Cu->Au 3.6 A, Au->Cu 4.0 A)."""
    ckpt = train_model(model_dir, dataset, "tiny_pec",
                  ["per_edge_type_cutoff={Au:4.0,Cu:{Au:3.6,Cu:3.3,Pd:3.5},Pd:3.7}", "trainer.max_epochs=5"])
    return deploy_model(ckpt, model_dir / "tiny_pec.nequip.pth")


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
    return deploy_model(checkpoint, model_dir / "tiny.nequip.pt2", "aotinductor")


@pytest.fixture(scope="session")
def model_au_hbn(model_dir) -> Path:
    """Tiny Au/B/N model trained on frames labelled by the classical Au/hBN reference (in LAMMPS)."""
    from models.demo_data import write_dataset

    data = model_dir / "au_hbn_frames.extxyz"
    if not data.exists():
        write_dataset(data, n_frames=36, seed=0, reference="classical_au_hbn")
    ckpt = train_model(model_dir, data, "tiny_au_hbn",
                  ["model_type_names=[Au,B,N]", "n_train=28", "n_val=8", "trainer.max_epochs=15"])
    return deploy_model(ckpt, model_dir / "tiny_au_hbn.nequip.pth")


@pytest.fixture(scope="session")
def ensemble_models(model_dir, dataset, model_ts) -> list[Path]:
    """Three tiny models that differ only in their seed (the paper's ensembles: same hyper-parameters)."""
    out = [model_ts]
    for seed in (2, 3):
        ckpt = train_model(model_dir, dataset, f"tiny_seed{seed}", [f"seed={seed}"])
        out.append(deploy_model(ckpt, model_dir / f"tiny_seed{seed}.nequip.pth"))
    return out


@pytest.fixture()
def au_bulk(tmp_path):
    """tmp_path holding au.data: 108 atoms of fcc Au as one LAMMPS type."""
    from ase.build import bulk

    atoms = bulk("Au", "fcc", a=4.08, cubic=True).repeat((3, 3, 3))  # 108 atoms
    write_data(tmp_path / "au.data", atoms, specorder=("Au",))  # one LAMMPS type
    return tmp_path
