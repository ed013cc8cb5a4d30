"""The paper's route, as its users run it: ASE velocity Verlet with nequip's own calculator, in its own process.

    python bench/route_ase.py MODEL SYSTEM.extxyz [--warm 3] [--steps 10]

Prints one JSON line: {"route": "ase", "ms_per_step": ..., "steps": ..., "threads": ...}. Used by bench_routes.py;
OMP_NUM_THREADS sets the threads, as a user would.
"""

from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("system", help="extxyz file")
    p.add_argument("--warm", type=int, default=3, help="untimed steps first (TorchScript profiling runs)")
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    a = p.parse_args(argv)

    import numpy as np
    import torch
    from ase import units
    from ase.io import read
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from nequip.integrations.ase import NequIPCalculator

    atoms = read(a.system)
    atoms.calc = NequIPCalculator.from_compiled_model(a.model, device="cpu", chemical_species_to_atom_type_map=True)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(1))
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    dyn.run(a.warm)
    t0 = time.perf_counter()
    dyn.run(a.steps)
    dt = time.perf_counter() - t0
    print(json.dumps({"route": "ase", "ms_per_step": dt / a.steps * 1e3, "steps": a.steps,
                      "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
