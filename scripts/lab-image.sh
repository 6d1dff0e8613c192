#!/usr/bin/env bash
# Build (once, then cached) the lab base image: Debian 12 with systemd as
# PID 1 and python3, and deliberately *without* WireGuard or nftables: the
# agent role must install those itself.
#
# With a reachable registry the image starts from debian:12; without one
# (the usual case here) it is built offline-from-registries with debootstrap
# from the Debian archive and imported with `docker import`. Both paths run
# the same customisation script, and the result is tagged with a digest of
# this recipe so that a changed recipe rebuilds and an unchanged one is reused.
set -euo pipefail

IMAGE=${MESHCONNECT_LAB_IMAGE:-meshconnect/lab-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${MESHCONNECT_BUILD_DIR:-$HERE/../build}/lab-image
PACKAGES="systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iputils-ping,procps,ca-certificates,netbase,kmod"

log() { printf '[lab-image] %s\n' "$*" >&2; }

recipe=$(cat "$0" "$HERE/lab-image-customize.sh" | sha256sum | cut -c1-16)
current=$(docker image inspect -f '{{ index .Config.Labels "org.meshconnect.recipe" }}' "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$recipe" ]; then
  log "$IMAGE is up to date (recipe $recipe)"
  exit 0
fi

mkdir -p "$WORK"
if timeout 20 docker pull -q debian:12 >/dev/null 2>&1; then
  log "building $IMAGE from debian:12"
  cp "$HERE/lab-image-customize.sh" "$WORK/customize.sh"
  cat >"$WORK/Dockerfile" <<DOCKERFILE
FROM debian:12
COPY customize.sh /tmp/customize.sh
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo "$PACKAGES" | tr , ' ') \
 && bash /tmp/customize.sh && rm /tmp/customize.sh
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
LABEL org.meshconnect.recipe=$recipe
DOCKERFILE
  docker build -q -t "$IMAGE" "$WORK" >/dev/null
else
  log "no registry reachable: building $IMAGE with debootstrap from $MIRROR"
  rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  cp "$HERE/lab-image-customize.sh" "$rootfs/tmp/customize.sh"
  chroot "$rootfs" /bin/bash /tmp/customize.sh
  rm -f "$rootfs/tmp/customize.sh"
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    -c 'ENV container=docker' \
    -c 'CMD ["/sbin/init"]' \
    -c "LABEL org.meshconnect.recipe=$recipe" \
    - "$IMAGE" >/dev/null
  rm -rf "$rootfs"
fi
log "built $IMAGE (recipe $recipe)"
