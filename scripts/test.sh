#!/usr/bin/env bash
# Run the test suite (after scripts/setup.sh). Extra arguments go to pytest, e.g. `-m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . .venv/bin/activate; fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
python -m pytest -q -ra "$@"
