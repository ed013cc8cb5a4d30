#!/usr/bin/env bash
# The main job on the bundled default: label a small data set, train a tiny NequIP model, compile it, and run
# LAMMPS MD with pair_style nequip on an Au cluster on a CuPd slab. Minutes on 2 cores; results in runs/demo/.
#
#   scripts/demo.sh [STEPS]        (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
steps="${1:-500}"
out=runs/demo
mkdir -p "$out"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

echo "== 1/4 training data (EMT labels) and the MD system"
python -m models.demo_data "$out/frames.extxyz" --system "$out/system.data"
echo "== 2/4 training a tiny NequIP model (nequip-train)"
python -m models.train models/configs/tiny.yaml --data "$out/frames.extxyz" --out "$out/train"
echo "== 3/4 compiling it for LAMMPS"
python -m models.deploy "$out/train/model.ckpt" "$out/tiny.nequip.pth"
echo "== 4/4 LAMMPS NVE, $steps steps"
(cd "$out" && mpirun -np 1 lmp -in ../../lammps_inputs/nequip_md.in -log md.log \
   -var data system.data -var model tiny.nequip.pth -var elements "Au Cu Pd" -var steps "$steps" \
   | grep -E "pair nequip: loaded|^ +Step|^ +[0-9]+ |Loop time|Performance")
echo "== done: $out/md.log (thermo), $out/md.dump (trajectory), $out/tiny.nequip.pth (model)"
