#!/usr/bin/env bash
# Build (once, then cached) the lab base images meshconnect/lab-base:CODENAME,
# one per Debian release: systemd as PID 1 and python3, and deliberately
# *without* WireGuard or nftables: the agent role must install those itself.
#
#   scripts/lab-image.sh                    # every release the tests use
#   scripts/lab-image.sh bullseye           # only these
#   MESHCONNECT_LAB_RELEASES="bookworm trixie" scripts/lab-image.sh
#
# With a reachable registry an image starts from debian:CODENAME; without one
# (the usual case here) it is built offline-from-registries with debootstrap
# (minbase) from the Debian archive and imported with `docker import`. Both
# paths run the same customisation script. Each image is labelled with a
# digest of its recipe (release, packages, customisation, image settings), so
# that a changed recipe rebuilds and an unchanged one is reused. Images that
# need building are built in parallel; the root file systems live on a tmpfs
# (/dev/shm) when it has room, as dpkg's many small writes dominate the time.
set -euo pipefail

# Debian 12 and 13: what the Molecule scenarios run their agents on (bullseye builds too, on request).
RELEASES=${*:-${MESHCONNECT_LAB_RELEASES:-bookworm trixie}}
REPO=${MESHCONNECT_LAB_REPO:-meshconnect/lab-base}  # another name builds afresh beside the images in use
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${MESHCONNECT_BUILD_DIR:-$HERE/../build}/lab-image
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iputils-ping,procps,ca-certificates,netbase,kmod"
# What docker import and the Dockerfile set on the image (part of the recipe).
IMAGE_ENV="container=docker"
IMAGE_CMD='["/sbin/init"]'

log() { printf '[lab-image] %s\n' "$*" >&2; }

recipe_of() {  # the digest of everything that goes into the image of release $1
  { printf '%s\n' "$1" "$PACKAGES" "$IMAGE_ENV" "$IMAGE_CMD"; cat "$HERE/lab-image-customize.sh"; } \
    | sha256sum | cut -c1-16
}

# Where the root file systems are unpacked: a tmpfs when it has 1.5 GB free (each takes about 300 MB).
rootfs_base() {
  local shm_free
  shm_free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  if [ -n "${MESHCONNECT_ROOTFS_DIR:-}" ]; then
    echo "$MESHCONNECT_ROOTFS_DIR"
  elif [ "${shm_free:-0}" -gt 1500000 ]; then
    echo /dev/shm/meshconnect-lab-image
  else
    echo "$WORK"
  fi
}

build_one() {  # build meshconnect/lab-base:$1 with recipe $2; output to $WORK/$1/build.log
  local release=$1 recipe=$2 image="$REPO:$1" dir="$WORK/$1" rootfs
  mkdir -p "$dir"
  if timeout 20 docker pull -q "debian:$release" >/dev/null 2>&1; then
    log "building $image from debian:$release"
    cp "$HERE/lab-image-customize.sh" "$dir/customize.sh"
    cat >"$dir/Dockerfile" <<DOCKERFILE
FROM debian:$release
COPY customize.sh /tmp/customize.sh
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo "$PACKAGES" | tr , ' ') \
 && bash /tmp/customize.sh $release && rm /tmp/customize.sh
ENV $IMAGE_ENV
STOPSIGNAL SIGRTMIN+3
CMD $IMAGE_CMD
LABEL org.meshconnect.recipe=$recipe
DOCKERFILE
    docker build -q -t "$image" "$dir" >/dev/null
  else
    log "no registry reachable: building $image with debootstrap from $MIRROR"
    rootfs="$(rootfs_base)/$release"
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    # The path is fixed now, on purpose.
    # shellcheck disable=SC2064
    trap "rm -rf '$rootfs'" EXIT  # this subshell's: a failed build leaves no half file system in memory
    debootstrap --variant=minbase --include="$PACKAGES" "$release" "$rootfs" "$MIRROR" >"$dir/debootstrap.log" 2>&1 \
      || { tail -20 "$dir/debootstrap.log" >&2; return 1; }
    cp "$HERE/lab-image-customize.sh" "$rootfs/tmp/customize.sh"
    chroot "$rootfs" /bin/bash /tmp/customize.sh "$release"
    rm -f "$rootfs/tmp/customize.sh"
    tar -C "$rootfs" --numeric-owner -c . | docker import \
      -c "ENV $IMAGE_ENV" \
      -c "CMD $IMAGE_CMD" \
      -c "LABEL org.meshconnect.recipe=$recipe" \
      - "$image" >/dev/null
  fi
}

mkdir -p "$WORK"
declare -A pids
for release in $RELEASES; do
  recipe=$(recipe_of "$release")
  current=$(docker image inspect -f '{{ index .Config.Labels "org.meshconnect.recipe" }}' \
              "$REPO:$release" 2>/dev/null || true)
  if [ "$current" = "$recipe" ]; then
    log "$REPO:$release is up to date (recipe $recipe)"
    continue
  fi
  mkdir -p "$WORK/$release"
  log "building $REPO:$release (recipe $recipe; log in $WORK/$release/build.log)"
  ( start=$SECONDS; build_one "$release" "$recipe"; echo $((SECONDS - start)) >"$WORK/$release/seconds" ) \
    >"$WORK/$release/build.log" 2>&1 &
  pids[$release]=$!
done

failed=""
for release in "${!pids[@]}"; do
  if wait "${pids[$release]}"; then
    log "built $REPO:$release in $(cat "$WORK/$release/seconds") s"
  else
    sed 's/^/  /' "$WORK/$release/build.log" >&2
    failed="$failed $release"
  fi
done
rmdir /dev/shm/meshconnect-lab-image 2>/dev/null || true
if [ -n "$failed" ]; then
  log "failed to build:$failed (logs in $WORK/<release>/)"
  exit 1
fi
