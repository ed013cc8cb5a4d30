#!/usr/bin/env bash
# The plugin, ensemble and physics tests on a GPU machine, with CUDA results compared against the CPU reference
# (tests/gpu/test_pair_nequip_device.py: float64 forces within 1e-8 eV/A, float32 within 1e-4 relative).
#
#   bash scripts/test_gpu.sh [RESULTS_FILE] [pytest args...]
#
# Run after scripts/setup.sh (or in the environment the plugin was built in). Writes the machine's description
# (GPU, driver, torch, CUDA), the exact command and pytest's summary to RESULTS_FILE (default
# bench/results/gpu_tests_<hostname>.txt). Nothing here assumes a device: the same tests pass on a CPU machine,
# where the device comparisons skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || command -v python3 )}
out=${1:-bench/results/gpu_tests_$(hostname).txt}
shift || true
tests=(tests/gpu/test_pair_nequip_device.py tests/integration/test_pair_nequip_lammps.py
       tests/mpi/test_pair_nequip_lammps.py tests/integration/test_pair_nequip_physics.py tests/unit/test_ensemble.py
       tests/integration/test_ensemble.py tests/mpi/test_pair_nequip_mpi.py
       tests/integration/test_pair_nequip_graph_build.py tests/mpi/test_pair_nequip_graph_build_mpi.py
       tests/integration/test_pair_nequip_custom_ops.py)
cmd=("$PY" -m pytest -q -rs "${tests[@]}" "$@")
{
  echo "# scripts/test_gpu.sh on $(hostname), $(date -u +%Y-%m-%dT%H:%MZ)"
  "$PY" - <<'EOF'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuda available: {torch.cuda.is_available()}")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"device {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB")
EOF
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: not found"
  echo "command: ${cmd[*]}"
} | tee "$out.tmp"
set +e
"${cmd[@]}" 2>&1 | tee -a "$out.tmp"
rc=${PIPESTATUS[0]}
mv "$out.tmp" "$out"
echo "wrote $out (pytest exit $rc)"
exit "$rc"
