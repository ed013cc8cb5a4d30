"""Benchmark: pair_style nequip in LAMMPS vs the paper's ASE route, and the plugin's overhead over the bare model.

    python -m bench.bench_pair_nequip [--arch tiny|paper] [--rounds 7] [--steps 10] [--threads 2] [--json OUT]
                                      [--device cpu|cuda|cuda:N|auto]

System: Au octahedron (19 atoms) on a 10x10x5 B2 CuPd slab, 1019 atoms, p p f. Model (r_max 5 A, l_max 1) trained
for one epoch on the EMT demo data (the weights do not change the cost): `paper` is the paper's architecture
(4 interaction layers, 32 features; Table 1/2), `tiny` the test architecture (2 layers, 8 features). All three measurements use the same compiled file and run interleaved in
`rounds` rounds in one process, so machine noise hits them alike; medians are reported.

  lammps   LAMMPS + plugin, velocity Verlet, `run STEPS` (neighbour lists rebuilt as LAMMPS decides)
  ase      ase.md.VelocityVerlet + nequip's ASE calculator (the paper's route), STEPS steps
  bare     model forward + forces alone on the same graph (nequip's neighbour list), STEPS calls, from Python

Speed-up = ase step time / lammps step time; overhead = lammps step time / bare forward time. The plugin also
times its own model calls (`pair nequip: ... model ... ms/call` in the LAMMPS log); overhead_in_plugin = lammps
step time / that, i.e. everything LAMMPS and the plugin add around the identical model call.

`--device` (default cpu) runs all three on that device: `pair_style nequip device DEV`, the ASE calculator on DEV,
and the bare model loaded onto DEV with the graph's tensors moved there (its time includes reading the forces back
to the host, as the other two routes must). `auto` is CUDA where torch sees a GPU, else the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.lib.systems import ARCH, build_model, system


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_pair_nequip", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    p.add_argument("--steps", type=int, default=10, help="MD steps / forward calls per round (default 10)")
    p.add_argument("--threads", type=int, default=2, help="torch/OpenMP threads (default 2)")
    p.add_argument("--arch", choices=sorted(ARCH), default="paper", help="model architecture (default paper)")
    p.add_argument("--model", help="compiled model to use instead of training one")
    p.add_argument("--json", help="write results here")
    p.add_argument("--device", default="cpu",
                   help="cpu (default), cuda, cuda:N, or auto (CUDA where torch sees a GPU); all three routes")
    a = p.parse_args(argv)

    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import numpy as np
    import torch
    from ase.md.verlet import VelocityVerlet
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase import units as ase_units

    torch.set_num_threads(a.threads)
    device = a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    from beamheat.lammps_run import _lammps, setup_system
    from beamheat.graph import nequip_graph
    from nequip.integrations.ase import NequIPCalculator

    tmp = Path(tempfile.mkdtemp(prefix="bench_nequip_"))
    model = Path(a.model) if a.model else build_model(tmp, a.arch)
    extra = {"r_max": "", "type_names": ""}
    bare = torch.jit.freeze(torch.jit.load(str(model), map_location=device, _extra_files=extra).eval())
    r_max = float(extra["r_max"])
    type_names = extra["type_names"].decode().split()
    atoms = system()
    n = len(atoms)
    print(f"system: {n} atoms ({atoms.get_chemical_formula()}), model {model.name}, r_max {r_max} A, "
          f"{a.threads} threads, {a.rounds} rounds x {a.steps} steps, device {device}", flush=True)

    # --- LAMMPS
    lammps_log = tmp / "log.lammps"
    lmp = _lammps(str(lammps_log))
    setup_system(lmp, atoms, type_names)
    lmp.commands_list([
        f"pair_style nequip device {device}", f"pair_coeff * * {model} {' '.join(type_names)}",
        "velocity all create 300 12345 mom yes rot yes", "timestep 0.002", "fix nve all nve",
        "thermo 1000", "run 3",
    ])

    # --- ASE route
    ase_atoms = atoms.copy()
    ase_atoms.calc = NequIPCalculator.from_compiled_model(str(model), device=device,
                                                         chemical_species_to_atom_type_map=True)
    MaxwellBoltzmannDistribution(ase_atoms, temperature_K=300, rng=np.random.default_rng(1))
    dyn = VelocityVerlet(ase_atoms, timestep=2.0 * ase_units.fs)
    dyn.run(2)

    # --- bare model on the same graph
    inp = nequip_graph(atoms, type_names, r_max, device=device)
    for _ in range(3):
        bare(dict(inp))
    n_edges = int(inp["edge_index"].shape[1])

    times = {"lammps": [], "ase": [], "bare": []}
    plugin_model_ms = []
    for r in range(a.rounds):
        t0 = time.perf_counter()
        lmp.command(f"run {a.steps} pre no post no")
        times["lammps"].append((time.perf_counter() - t0) / a.steps)
        lmp.command("print 'flush'")  # finish() has written this run's model time; read it back
        line = [ln for ln in lammps_log.read_text().splitlines() if ln.startswith("pair nequip:") and "calls" in ln]
        plugin_model_ms.append(float(line[-1].split("(")[1].split(" ms/call")[0]))
        t0 = time.perf_counter()
        dyn.run(a.steps)
        times["ase"].append((time.perf_counter() - t0) / a.steps)
        t0 = time.perf_counter()
        for _ in range(a.steps):
            bare(dict(inp))["forces"].sum().item()
        times["bare"].append((time.perf_counter() - t0) / a.steps)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1] * 1e3:.1f} ms" for k, v in times.items()), flush=True)
    lmp.close()

    med = {k: statistics.median(v) for k, v in times.items()}
    med_plugin_model = statistics.median(plugin_model_ms) / 1e3
    result = {
        "n_atoms": n, "n_edges": n_edges, "threads": a.threads, "rounds": a.rounds, "steps_per_round": a.steps,
        "model": str(model), "torch": torch.__version__, "device": device,
        "median_step_ms": {k: v * 1e3 for k, v in med.items()},
        "steps_per_s": {k: 1.0 / v for k, v in med.items()},
        "speedup_lammps_vs_ase": med["ase"] / med["lammps"],
        "arch": a.arch if not a.model else "given",
        "overhead_lammps_vs_bare_model": med["lammps"] / med["bare"],
        "plugin_model_call_ms": med_plugin_model * 1e3,
        "overhead_in_plugin": med["lammps"] / med_plugin_model,
        "per_round_ms": {k: [t * 1e3 for t in v] for k, v in times.items()},
    }
    print(f"\nmedian step: LAMMPS {med['lammps'] * 1e3:.1f} ms ({1 / med['lammps']:.2f} steps/s), "
          f"ASE {med['ase'] * 1e3:.1f} ms ({1 / med['ase']:.2f} steps/s), bare model {med['bare'] * 1e3:.1f} ms")
    print(f"speed-up LAMMPS vs ASE route: {result['speedup_lammps_vs_ase']:.2f}x (goal >= 1.5)")
    print(f"plugin overhead LAMMPS step / bare model (Python call): {result['overhead_lammps_vs_bare_model']:.3f} "
          f"(goal <= 1.10)")
    print(f"plugin overhead LAMMPS step / model call inside the plugin ({med_plugin_model * 1e3:.1f} ms): "
          f"{result['overhead_in_plugin']:.3f}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
