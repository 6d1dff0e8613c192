#!/usr/bin/env bash
# Install what the host tests (tests/host) need on this machine: nftables, iproute2, iputils-ping, util-linux's
# unshare and python3-nftables (the guard's input guard), Graphviz (the topology picture) and Chromium (the HTML
# report's browser test), from the Debian archive, when missing.
set -euo pipefail

log() { printf '[host-tools] %s\n' "$*" >&2; }

need=()
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v dot >/dev/null 2>&1 || need+=(graphviz)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
/usr/bin/python3 -c 'import nftables' >/dev/null 2>&1 || need+=(python3-nftables)
if ((${#need[@]})); then
  log "installing ${need[*]} from the Debian archive"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
