#!/usr/bin/env bash
# Entry point of the beamheat image. The virtual environment is already on PATH (ENV in the Dockerfile); this only
# gives an arbitrary `--user UID:GID` (bind mounts) a writable HOME for caches (matplotlib, torch inductor).
if [ -z "${HOME:-}" ] || [ "$HOME" = / ] || ! [ -w "$HOME" ]; then
  export HOME=/tmp/beamheat-home-$(id -u)
  mkdir -p "$HOME"
fi
exec "$@"
