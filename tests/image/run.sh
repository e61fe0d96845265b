#!/usr/bin/env bash
# make image-test: builds the worker image from the repo's Dockerfile without any image registry
# and runs it against the rig (tests/image/test_image.py). Facts: RIG.md, "Building and running the
# image here".
#   1. base: Debian 12 by debootstrap, stripped like debian:bookworm-slim (tests/image/base.sh),
#      cached in the storage below until its recipe changes;
#   2. build: `buildah bud --isolation chroot --pull-never` of ./Dockerfile on that base, layers
#      cached (the librdkafka layer is rebuilt only when scripts/librdkafka.sh changes);
#   3. run: podman with runc (crun cannot start containers in this sandbox) and explicit
#      ulimits, the image's own user (uid 10001), a read-only root, the config and secrets
#      mounted read-only, host network to reach the rig on 127.0.0.1;
#   4. report: the image size against the base's.
# Storage (images, layer cache): .cache/image/storage, one run at a time (flock). Per-run state
# in .cache/image/run, removed at exit; containers and build containers are removed at exit
# whatever happened.
# Usage: tests/image/run.sh [--build-only | pytest args]. Needs root, buildah, podman, runc,
# debootstrap (make deps), bin/producer (make all) and the venv (make deps). --build-only stops
# after step 2 (make image-build: make test builds the image while the unit tests run).
set -euo pipefail
build_only=
if [ "${1:-}" = "--build-only" ]; then
  build_only=1
  shift
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
for t in buildah podman runc debootstrap; do
  command -v "$t" >/dev/null || { echo "image-test: $t not found (make deps)" >&2; exit 1; }
done

mkdir -p "$ROOT/.cache/image"
# The real path: podman records its storage path and refuses another spelling of it (a worktree
# whose .cache is a symlink to another checkout's).
CACHE=$(realpath "$ROOT/.cache/image")
exec 9>"$CACHE/lock"
flock 9
# Per-run state (podman's runroot and tmpdir): a fixed path, emptied at the start and removed at exit. A run killed hard may have left overlay mounts
# under the storage: unmounted first.
RUNROOT="$CACHE/run"
grep -o " $CACHE/storage/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
rm -rf "$RUNROOT"
mkdir -p "$RUNROOT"
# podman's own database (containers, not images) records the storage paths and refuses others
# (a moved checkout): no container outlives a run, so it starts empty.
rm -f "$CACHE/storage/libpod/bolt_state.db"
# Global options shared by buildah and podman (podman's --runtime/--cgroup-manager/... are added
# below): a private storage, overlay on the ext4 disk (vfs copies the image for every container).
STORE=(--root "$CACHE/storage" --runroot "$RUNROOT/run" --storage-driver overlay)
PODMAN=(podman "${STORE[@]}" --tmpdir "$RUNROOT/libpod" --runtime runc --cgroup-manager cgroupfs
  --events-backend file)
BUILDAH=(buildah "${STORE[@]}")
bud_pid=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$bud_pid" ] || { kill "$bud_pid" 2>/dev/null && wait "$bud_pid" 2>/dev/null; } || true
  # Containers of this storage only (it is private to this script): the test's, if one survived.
  "${PODMAN[@]}" rm --all --force --time 0 >/dev/null 2>&1 || true
  "${BUILDAH[@]}" rm --all >/dev/null 2>&1 || true
  # Untagged images are the layer cache (the build stage's steps): only those older than a week
  # go, so the storage does not grow for ever (the librdkafka layer is then rebuilt once).
  "${PODMAN[@]}" image prune --force --filter until=168h >/dev/null 2>&1 || true
  rm -rf "$RUNROOT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
base=$(bash tests/image/base.sh "${STORE[@]}")
t1=$(date +%s)
# Older bases (another recipe) are not needed any more.
for old in $("${PODMAN[@]}" images --format '{{.Repository}}:{{.Tag}}' localhost/bookworm-slim); do
  [ "$old" = "$base" ] || "${PODMAN[@]}" rmi "$old" >/dev/null 2>&1 || true
done

IMAGE=localhost/ordersink-worker:test
bud=("${BUILDAH[@]}" bud --isolation chroot --pull-never --layers --jobs 2
  --build-arg "DEBIAN_IMAGE=$base" --build-arg "VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)"
  -t "$IMAGE")
# Behind a TLS-intercepting proxy (this sandbox) the build's curl needs the host's CA bundle.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  bud+=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg CURL_CA_BUNDLE=/run/host-ca.crt)
fi
echo "image-test: building $IMAGE on $base"
"${bud[@]}" . >"$RUNROOT/build.log" 2>&1 &
bud_pid=$!
if ! wait "$bud_pid"; then
  bud_pid=
  tail -60 "$RUNROOT/build.log" >&2
  echo "image-test: build failed" >&2
  exit 1
fi
bud_pid=
grep -E '^librdkafka: ' "$RUNROOT/build.log" || echo "librdkafka: layer cached"
t2=$(date +%s)

if [ -n "$build_only" ]; then
  echo "image-test: built (base $((t1 - t0)) s, build $((t2 - t1)) s)"
  exit 0
fi

size() { "${PODMAN[@]}" image inspect --format '{{.Size}}' "$1"; }
base_size=$(size "$base")
image_size=$(size "$IMAGE")
echo "image-test: base $base $((base_size / 1000)) kB, image $((image_size / 1000)) kB," \
  "+$(((image_size - base_size) / 1000)) kB (issue 14's goal: under +15000 kB)"

export ORDERSINK_IMAGE="$IMAGE" ORDERSINK_IMAGE_BASE="$base"
ORDERSINK_IMAGE_PODMAN="$(printf '%q ' "${PODMAN[@]}")"
export ORDERSINK_IMAGE_PODMAN
"$ROOT/.cache/venv/bin/pytest" -v tests/image "$@"
t3=$(date +%s)
echo "image-test: base $((t1 - t0)) s, build $((t2 - t1)) s, run $((t3 - t2)) s, total $((t3 - t0)) s"
