"""Benchmark: an ensemble of M models in pair_style nequip against M separate single-model evaluations.

    python -m bench.bench_ensemble [--models M] [--rounds 5] [--steps 10] [--threads 2] [--pair-options "..."]

Same system as bench_pair_nequip.py (1019 atoms, Au cluster on CuPd), tiny architecture (r_max 5 A). The ensemble
uses one neighbour list and one graph for all M models; the goal is
    ensemble step time / (M x single-model step time) <= 0.9.
Single and ensemble runs alternate within each round in one process; medians are reported.
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

from bench.lib.systems import build_model, system


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ensemble", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=int, default=5, help="ensemble size M (default 5)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pair-options", default="", help="extra pair_style nequip keywords for the ensemble")
    p.add_argument("--json", help="write results here")
    a = p.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import torch

    torch.set_num_threads(a.threads)
    from beamheat.lammps_run import _lammps, setup_system

    tmp = Path(tempfile.mkdtemp(prefix="bench_ens_"))
    model = build_model(tmp, "tiny")
    # an ensemble of M copies of one compiled file costs exactly what M different seeds cost
    files = [model] * a.models
    atoms = system()

    def make(pair_style, coeff_models):
        lmp = _lammps(str(tmp / f"log.{len(coeff_models)}"))
        setup_system(lmp, atoms, ["Au", "Cu", "Pd"])
        lmp.commands_list([pair_style, f"pair_coeff * * {' '.join(map(str, coeff_models))} Au Cu Pd",
                           "velocity all create 300 1 mom yes rot yes", "timestep 0.002", "fix nve all nve",
                           "thermo 1000", "run 3"])
        return lmp

    single = make("pair_style nequip", [model])
    ens = make(f"pair_style nequip {a.pair_options}", files)
    t_single, t_ens = [], []
    for r in range(a.rounds):
        for lmp, store in ((single, t_single), (ens, t_ens)):
            t0 = time.perf_counter()
            lmp.command(f"run {a.steps} pre no post no")
            store.append((time.perf_counter() - t0) / a.steps)
        print(f"round {r + 1}: single {t_single[-1] * 1e3:.1f} ms, ensemble of {a.models} {t_ens[-1] * 1e3:.1f} ms",
              flush=True)
    s, e = statistics.median(t_single), statistics.median(t_ens)
    ratio = e / (a.models * s)
    print(f"\nmedian step: single {s * 1e3:.1f} ms, ensemble of {a.models} {e * 1e3:.1f} ms; "
          f"ensemble / ({a.models} x single) = {ratio:.3f} (goal <= 0.9)")
    if a.json:
        Path(a.json).write_text(json.dumps({"models": a.models, "threads": a.threads, "pair_options": a.pair_options,
                                            "median_single_ms": s * 1e3, "median_ensemble_ms": e * 1e3,
                                            "ratio": ratio, "single_ms": [x * 1e3 for x in t_single],
                                            "ensemble_ms": [x * 1e3 for x in t_ens], "torch": torch.__version__},
                                           indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
