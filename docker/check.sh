#!/usr/bin/env bash
# Build the CPU variant of docker/Dockerfile here (no Docker engine: podman/buildah with chroot isolation, a local
# Debian base made with debootstrap) and run docker/smoke.sh inside the built image. Opt-in, not part of CI
# (see docker/README.md). Run as root, niced on a shared machine:
#
#   nice -n 19 ionice -c3 bash docker/check.sh 2>&1 | tee docker/check.log
#
# Environment:
#   BEAMHEAT_SKIP_GPAW   0 (default, like the Dockerfile: GPAW built and smoke-tested) or 1 (no GPAW: ~0.45 GB less)
#   BEAMHEAT_TORCH       torch requirement for the CPU image (default torch==2.13.0+cpu)
#   BEAMHEAT_WHEELS      a local folder of wheels (e.g. the CPU torch) served to the build over http://127.0.0.1;
#                        default: pip's configured find-links folder if it holds a torch wheel
#   PIP_EXTRA_INDEX_URL  passed to the build when set (e.g. https://download.pytorch.org/whl/cpu)
#   PIP_CERT             CA bundle for pip (default: pip's configured global.cert), passed as build secret pip_cert
#   IMAGE                image name (default localhost/beamheat:cpu)
#   SKIP_BUILD=1         test an image built earlier (says so)
# Prints PASS/FAIL lines with timings; exits non-zero if the build or any smoke test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$SECONDS
IMAGE="${IMAGE:-localhost/beamheat:cpu}"
BASE_IMAGE="${BASE_IMAGE:-localhost/debian:bookworm}"
SKIP_GPAW="${BEAMHEAT_SKIP_GPAW:-0}"
TORCH="${BEAMHEAT_TORCH:-torch==2.13.0+cpu}"
fails=0
say() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; fails=$((fails + 1)); }
elapsed() { local s=$(($SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

[ "$(id -u)" = 0 ] || { echo "check.sh: run as root (podman build/buildah with chroot isolation)" >&2; exit 2; }
tools=()
command -v podman >/dev/null || tools+=(podman)
command -v buildah >/dev/null || tools+=(buildah)
command -v debootstrap >/dev/null || tools+=(debootstrap)
if ((${#tools[@]})); then
  say "installing ${tools[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tools[@]}" >/dev/null
fi
say "beamheat $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)'), docker/check.sh"
say "podman $(podman --version | awk '{print $3}'), buildah $(buildah --version | awk '{print $3}'), $(nproc) cores"

# 1. the local base image: debootstrap from this machine's own Debian mirror (no registry here)
if podman image exists "$BASE_IMAGE"; then
  say "base $BASE_IMAGE exists"
else
  t=$SECONDS
  mirror=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '$1 == "URIs:" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
  fi
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs=$(mktemp -d /var/tmp/beamheat-rootfs.XXXXXX)
  say "creating $BASE_IMAGE: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log"; fail "debootstrap (see $rootfs.log)"; exit 1; }
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" >"$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs" "$rootfs.log"
  pass "base image $BASE_IMAGE created ($(elapsed $t))"
fi

# 2. the CPU variant of the one Dockerfile
server_pid=""
cleanup() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  podman image exists "$IMAGE" || { fail "SKIP_BUILD=1 but $IMAGE does not exist"; exit 1; }
  say "SKIP_BUILD=1: testing the existing $IMAGE ($(podman image inspect --format '{{.Created}}' "$IMAGE"))"
else
  args=(--build-arg "BASE=$BASE_IMAGE" --build-arg "BEAMHEAT_TORCH=$TORCH" --build-arg "BEAMHEAT_SKIP_GPAW=$SKIP_GPAW")
  [ -z "${PIP_EXTRA_INDEX_URL:-}" ] || args+=(--build-arg "PIP_EXTRA_INDEX_URL=$PIP_EXTRA_INDEX_URL")
  # this machine's CA bundle, if pip is configured with one (TLS-intercepting proxy): a build secret, not in the image
  cert="${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}"
  if [ -n "$cert" ] && [ -s "$cert" ]; then
    args+=(--secret "id=pip_cert,src=$cert")
    say "pip's CA bundle $cert goes to the build as secret pip_cert"
  fi
  wheels="${BEAMHEAT_WHEELS:-}"
  if [ -z "$wheels" ]; then
    for d in $(pip config get global.find-links 2>/dev/null) ${PIP_FIND_LINKS:-}; do
      d="${d#file://}"
      if compgen -G "$d/torch-*.whl" >/dev/null; then wheels="$d"; break; fi
    done
  fi
  if [ -n "$wheels" ]; then
    # pip inside the build reaches the host's loopback (chroot isolation shares the host network)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server --bind 127.0.0.1 --directory "$wheels" "$port" >/dev/null 2>&1 &
    server_pid=$!
    sleep 1
    args+=(--build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/")
    say "serving local wheels $wheels at http://127.0.0.1:$port/ to the build"
  fi
  t=$SECONDS
  say "podman build (CPU variant, torch $TORCH, BEAMHEAT_SKIP_GPAW=$SKIP_GPAW)"
  say "  podman build --isolation chroot --pull=never -f docker/Dockerfile -t $IMAGE ${args[*]} ."
  old_id=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  buildlog=/var/tmp/beamheat-build.log
  set +e
  podman build --isolation chroot --pull=never -f docker/Dockerfile -t "$IMAGE" "${args[@]}" . 2>&1 | tee "$buildlog" \
    | grep -E --line-buffered '^(STEP|COMMIT|setup:)|rror'
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc == 0)); then
    pass "image $IMAGE built ($(elapsed $t)), $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1/1e9}')"
    # the image this build replaced (now untagged): removed, so repeated checks do not pile up GBs
    if [ -n "$old_id" ] && [ "$old_id" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
      podman rmi "$old_id" >/dev/null 2>&1 && say "removed the previous $IMAGE (${old_id:0:12})" || true
    fi
  else
    tail -30 "$buildlog"; fail "podman build, rc $rc ($(elapsed $t); full log $buildlog)"; exit 1
  fi
  cleanup; server_pid=""
fi

# 3. smoke tests inside the image (podman run cannot set rlimits here; buildah run with chroot isolation can)
t=$SECONDS
ctr=$(buildah from --pull-never "$IMAGE")
trap 'cleanup; buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --chown beamheat "$ctr" docker/smoke.sh /tmp/smoke.sh >/dev/null
say "smoke tests in $IMAGE (buildah run --isolation chroot, user beamheat, through the image's entry point)"
set +e
buildah run --isolation chroot --user beamheat --workingdir /work "$ctr" -- \
  /opt/beamheat/docker/entrypoint.sh bash /tmp/smoke.sh
rc=$?
set -e
((rc == 0)) || fails=$((fails + 1))
say "smoke tests finished ($(elapsed $t), rc $rc)"

if ((fails)); then say "FAIL docker/check.sh: $fails failure(s), total $(elapsed $t_start)"; exit 1; fi
say "PASS docker/check.sh: all checks passed, total $(elapsed $t_start)"
