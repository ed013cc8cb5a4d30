#!/usr/bin/env bash
# The kernel-modifier packages for the GPU machine (no network), beside ../shared/gpu/prepare_device_wheels.sh's
# wheels; bench/gpu_device_run.sh installs what it finds here.
#
#   bash bench/prepare_modifier_packages.sh            # from the project root; writes .devwheels/modifiers/ (~2 MB)
#   CUEQ=1 bash bench/prepare_modifier_packages.sh     # also cuEquivariance's CUDA 13 wheels (~75 MB, in cueq/)
#
# openequivariance 0.7.0 is an sdist only (CMake, nanobind, nvcc; its CMake downloads libtorch, which the device
# script points at the installed torch instead): its build tools nanobind and setuptools-scm come along in build/.
# cuEquivariance's wheels alone are over the 64 MiB a device call carries, so they are left out unless asked for;
# its ops are Python functions and cannot run in an `lmp` process anyway (docs/pair_style_nequip.md).
set -euo pipefail
out=.devwheels/modifiers
mkdir -p "$out/build"
plat=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
python3 -m pip download -q --no-deps --no-binary :all: -d "$out" "openequivariance==0.7.0"
python3 -m pip download -q --no-deps "${plat[@]}" -d "$out/build" nanobind setuptools-scm vcs-versioning
if [ -n "${CUEQ:-}" ]; then
  mkdir -p "$out/cueq"
  python3 -m pip download -q --no-deps "${plat[@]}" -d "$out/cueq" "cuequivariance==0.13.0" \
    "cuequivariance-torch==0.13.0" "cuequivariance-ops-torch-cu13==0.13.0" "cuequivariance-ops-cu13==0.13.0"
fi
du -sh "$out"
