#!/usr/bin/env bash
# The main job on the bundled defaults, end to end (about 8 minutes on 2 cores; results in runs/demo/):
#   1. a tiny NequIP model: labelled data, nequip-train, compile, LAMMPS MD through pair_style nequip;
#   2. heat transfer from a 600 K Au183 particle into monolayer hBN at 300 K (lammps_inputs/heat_transfer.in:
#      relaxation, 15 ps separate thermalisation, NVE_PS of NVE), SEEDS independent runs (BEAMHEAT_JOBS at a time,
#      default: the number of cores), with the classical Au/hBN reference;
#   3. the interfacial conductance k from those logs (analysis.fit_k: energy balance per run, combined over the
#      runs with the larger of the run-to-run and the per-run errors);
#   4. the beam-induced temperature rise (analysis.heating, eq. 5) and the knock-on limit (eq. 7).
# Until the bundled default NequIP model lands, step 2 uses the classical reference.
#
#   scripts/demo.sh [NEQUIP_MD_STEPS] [NVE_PS] [SEEDS]        (after scripts/setup.sh; defaults 500 500 4)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
steps="${1:-500}"
nve_ps="${2:-500}"
seeds="${3:-4}"
jobs="${BEAMHEAT_JOBS:-$(nproc)}"
root="$PWD"
out=runs/demo
if [ -e "$out" ]; then  # never overwrite an earlier result: keep it as a numbered backup
  n=1; while [ -e "$out.$n" ]; do n=$((n + 1)); done
  mv "$out" "$out.$n"; echo "== earlier results moved to $out.$n"
fi
mkdir -p "$out"
threads="${OMP_NUM_THREADS:-2}"
export OMP_NUM_THREADS="$threads"

echo "== 1/4 a tiny NequIP model: data (EMT labels), nequip-train, compile, LAMMPS NVE"
python -m models.demo_data "$out/frames.extxyz" --system "$out/system.data"
python -m models.train models/configs/tiny.yaml --data "$out/frames.extxyz" --out "$out/train"
python -m models.deploy "$out/train/model.ckpt" "$out/tiny.nequip.pth"
(cd "$out" && mpirun -np 1 lmp -in "$root/lammps_inputs/nequip_md.in" -log md.log \
   -var data system.data -var model tiny.nequip.pth -var elements "Au Cu Pd" -var steps "$steps" \
   | grep -E "pair nequip: loaded|Performance")

echo "== 2/4 heat transfer, Au183 on hBN, classical reference: relax, 15 ps thermalisation + ${nve_ps} ps NVE, ${seeds} seeds, ${jobs} at a time"
geo="$root/lammps_inputs/data/au_hbn/geometry.json"
export OMP_NUM_THREADS=1
seq 1 "$seeds" | xargs -P "$jobs" -I{} bash -c '
  d="$0/heat_transfer_{}"; mkdir -p "$d"; cd "$d"
  mpirun -np 1 lmp -in "$1/lammps_inputs/heat_transfer.in" -log log.lammps -screen none \
    -var inputs "$1/lammps_inputs" -var data "$1/lammps_inputs/data/au_hbn/system.data" \
    -var t_nve_ps "$2" -var seed $((48213 + 1000 * {})) -var dump_ps 10 \
    || { echo "run {} failed: see $d/log.lammps" >&2; exit 1; }
  grep -E "^beamheat: (relaxed|contact)" log.lammps | sed "s/^/  seed {}: /"' "$PWD/$out" "$root" "$nve_ps"
export OMP_NUM_THREADS="$threads"

echo "== 3/4 interfacial conductance k (analysis.fit_k)"
logs=()
for i in $(seq 1 "$seeds"); do logs+=("$out/heat_transfer_$i/log.lammps"); done
python -m analysis.fit_k "${logs[@]}" --geometry "$geo" --json "$out/k.json" --table "$out/k_table"

echo "== 4/4 beam heating (analysis.heating): dT = S D <E> t / (k A lambda), Au at 300 keV"
lambda_nm=$(python -m analysis.eels lambda --density 19.3 --beam-kev 300 | awk '$1 == "lambda" {print $3}')
python -m analysis.heating predict --geometry "$geo" --k-json "$out/k.json" --lambda-nm "$lambda_nm" \
   --mean-loss-ev 43.6 --dose-rate 1e2 1e4 1e6 --json "$out/heating.json"
python -m analysis.heating knockon --element Au --beam-kev 300 || true
echo "== done: $out/ holds md.log, heat_transfer_*/ (log.lammps, fit_k.png), k.json, k_table.md, heating.json"
