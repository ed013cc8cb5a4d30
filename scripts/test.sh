#!/usr/bin/env bash
# Run the test suite (after scripts/setup.sh): every tier, tests/unit, integration, mpi and gpu.
#   bash scripts/test.sh --fast     only tests/unit (no LAMMPS, no training: under two minutes)
# Other arguments go to pytest, e.g. `-m "not slow"` or a path.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
args=()
for a in "$@"; do
  if [ "$a" = "--fast" ]; then args+=(tests/unit); else args+=("$a"); fi
done
python -m pytest -q -ra ${args[@]+"${args[@]}"}
