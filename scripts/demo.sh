#!/usr/bin/env bash
# The main job on the bundled defaults, end to end (about 2 minutes on 2 cores; results in runs/demo/):
#   1. a tiny NequIP model: labelled data, nequip-train, compile, LAMMPS MD through pair_style nequip;
#   2. heat transfer from a 600 K Au183 particle into monolayer hBN at 300 K (lammps_inputs/heat_transfer.in,
#      paper protocol: 15 ps separate thermalisation, 200 ps NVE) with the classical Au/hBN reference;
#   3. the interfacial conductance k from that log (analysis.fit_k, eq. 6);
#   4. the beam-induced temperature rise (analysis.heating, eq. 5) and the knock-on limit (eq. 7).
# Until the bundled default NequIP model lands, step 2 uses the classical reference.
#
#   scripts/demo.sh [NEQUIP_MD_STEPS] [NVE_PS]        (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
steps="${1:-500}"
nve_ps="${2:-200}"
root="$PWD"
out=runs/demo
mkdir -p "$out"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

echo "== 1/4 a tiny NequIP model: data (EMT labels), nequip-train, compile, LAMMPS NVE"
python -m models.demo_data "$out/frames.extxyz" --system "$out/system.data"
python -m models.train models/configs/tiny.yaml --data "$out/frames.extxyz" --out "$out/train"
python -m models.deploy "$out/train/model.ckpt" "$out/tiny.nequip.pth"
(cd "$out" && mpirun -np 1 lmp -in "$root/lammps_inputs/nequip_md.in" -log md.log \
   -var data system.data -var model tiny.nequip.pth -var elements "Au Cu Pd" -var steps "$steps" \
   | grep -E "pair nequip: loaded|Performance")

echo "== 2/4 heat transfer, Au183 on hBN, classical reference: 15 ps thermalisation + ${nve_ps} ps NVE"
geo="$root/lammps_inputs/data/au_hbn/geometry.json"
(cd "$out" && mpirun -np 1 lmp -in "$root/lammps_inputs/heat_transfer.in" -log heat_transfer.log \
   -var inputs "$root/lammps_inputs" -var data "$root/lammps_inputs/data/au_hbn/system.data" \
   -var t_nve_ps "$nve_ps" | grep -E "^beamheat:|Loop time")

echo "== 3/4 interfacial conductance k (analysis.fit_k)"
python -m analysis.fit_k "$out/heat_transfer.log" --geometry "$geo" --json "$out/k.json"

echo "== 4/4 beam heating (analysis.heating): dT = S D <E> t / (k A lambda), Au at 300 keV"
lambda_nm=$(python -m analysis.eels lambda --density 19.3 --beam-kev 300 | awk '$1 == "lambda" {print $3}')
python -m analysis.heating predict --geometry "$geo" --k-json "$out/k.json" --lambda-nm "$lambda_nm" \
   --mean-loss-ev 43.6 --dose-rate 1e2 1e4 1e6 --json "$out/heating.json"
python -m analysis.heating knockon --element Au --beam-kev 300 || true
echo "== done: $out/ holds md.log, heat_transfer.log, fit_k.png, k.json, heating.json"
