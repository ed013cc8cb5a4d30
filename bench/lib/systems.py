"""The timing benchmarks' systems and models: an Au octahedron on a CuPd slab (models.demo_data) as an ASE Atoms or
a LAMMPS data file, and a NequIP model trained for one epoch on demo frames and compiled, in the tiny or the paper's
architecture (the speed of a step does not depend on how well the model is trained)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TYPES = ["Au", "Cu", "Pd"]  # the LAMMPS atom types of write_system's data file

ARCH = {
    "paper": ["training_module.model.num_layers=4", "training_module.model.num_features=32",
              "training_module.model.radial_mlp_width=32", "training_module.model.radial_mlp_depth=2"],
    "tiny": [],
}


def train_checkpoint(workdir: Path, arch: str, out: Path | None = None) -> Path:
    """A model of architecture ARCH[arch] trained one epoch on 24 demo frames (in workdir): its checkpoint,
    OUT/model.ckpt (default workdir/train_ARCH)."""
    from models.demo_data import write_dataset
    from models.train import train

    data = write_dataset(workdir / "frames.extxyz", n_frames=24, seed=0)
    return train(ROOT / "models/configs/tiny.yaml", data, out or workdir / f"train_{arch}",
                 ["cutoff_radius=5.0", "trainer.max_epochs=1", "n_train=18", "n_val=6", *ARCH[arch]])


def build_model(workdir: Path, arch: str) -> Path:
    """train_checkpoint's model compiled (models.deploy), in workdir."""
    ckpt = train_checkpoint(workdir, arch)
    out = workdir / f"{arch}_arch.nequip.pth"
    subprocess.run([sys.executable, "-m", "models.deploy", str(ckpt), str(out)], check=True, cwd=ROOT,
                   capture_output=True)
    return out


def system():
    """Au19 on a 10x10x5 CuPd slab (1019 atoms), positions jiggled by 0.05 A (seed 0)."""
    import numpy as np
    from models.demo_data import au_cluster_on_slab

    atoms = au_cluster_on_slab(repeat=(10, 10, 5), octahedron_length=3)
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def write_system(path: Path, repeat) -> int:
    """The Au octahedron on a CuPd slab of `repeat` cells as a LAMMPS data file (atom types TYPES, 15 A of vacuum
    above); its atom count."""
    import numpy as np
    from ase.io import write
    from models.demo_data import au_cluster_on_slab

    atoms = au_cluster_on_slab(repeat=repeat, octahedron_length=3)
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    atoms.cell[2, 2] = atoms.positions[:, 2].max() + 15.0
    write(path, atoms, format="lammps-data", specorder=TYPES, masses=True, atom_style="atomic")
    return len(atoms)


def md_input(data: str, pair: str, steps: int) -> str:
    """A timed NVE run of the data file DATA (write_system's) with the pair style PAIR: 2 steps to set up, then
    STEPS; `processors * * 1` splits a slab across ranks in x and y only."""
    return f"""units metal
atom_style atomic
boundary p p f
processors * * 1
read_data {data}
pair_style {pair}
velocity all create 300 12345 mom yes rot yes loop geom
timestep 0.002
fix nve all nve
thermo 1000
run 2
run {steps}
"""
