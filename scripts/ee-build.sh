#!/usr/bin/env bash
# Build the execution environment of ee/execution-environment.yml on this machine, offline from Galaxy and
# container registries, then run meshconnect.mesh.plan and meshconnect.mesh.users in it the way AWX does:
# ansible-runner with a private data dir, launching the image with Docker (process isolation).
#
#   scripts/ee-build.sh           # build (or rebuild) and run; prints the build time and image size
#   MESHCONNECT_EE_BUILD_ONLY=1 scripts/ee-build.sh
#
# What differs from a user's build, and why: the collections come from tarballs made here (this checkout's
# `ansible-galaxy collection build`, and ansible.posix as the ansible package on PyPI bundles it), since there
# is no Galaxy server; the base image is the lab's Debian bookworm image (scripts/lab-image.sh), since there is no
# registry. Everything else is the definition users build: the same file with `dependencies.galaxy` pointed at
# the tarballs, and this machine's certificate authorities trusted. pip and apt still reach PyPI and the
# Debian archive.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$HERE/.venv/bin}
WORK=$HERE/build/ee
TAG=${MESHCONNECT_EE_TAG:-meshconnect/ee:test}
BASE=${MESHCONNECT_EE_BASE:-meshconnect/lab-base:bookworm}
log() { printf '[ee] %s\n' "$*" >&2; }

rm -rf "$WORK" && mkdir -p "$WORK/definition/collections"
# The collections, as tarballs: this checkout, and ansible.posix from the ansible package.
BIN=$BIN "$HERE/scripts/collection-tarballs.sh" "$WORK/definition/collections"
cp "$HERE/ee/apt-get-as-dnf" "$WORK/definition/"
# This machine's own certificate authorities (a TLS-inspecting proxy's, say) go into the build's trust store,
# or pip cannot reach PyPI from inside it; a site behind such a proxy does the same with its ee definition.
mkdir -p "$WORK/definition/ca"
find "${MESHCONNECT_EE_CA_DIR:-/usr/local/share/ca-certificates}" -maxdepth 1 -name '*.crt' \
  -exec cp {} "$WORK/definition/ca/" \; 2>/dev/null || true

# The user's definition, with Galaxy replaced by the tarballs.
"$BIN/python" - "$HERE/ee/execution-environment.yml" "$WORK/definition" <<'PY'
import os
import sys

import yaml

source, dest = sys.argv[1:]
with open(source) as handle:
    definition = yaml.safe_load(handle)
tarballs = sorted(name for name in os.listdir(os.path.join(dest, 'collections')) if name.endswith('.tar.gz'))
with open(os.path.join(dest, 'requirements-offline.yml'), 'w') as handle:
    yaml.safe_dump({'collections': [{'name': '/build/collections/' + name, 'type': 'file'} for name in tarballs]},
                   handle)
definition['dependencies']['galaxy'] = 'requirements-offline.yml'
definition['additional_build_files'].append({'src': 'collections', 'dest': 'collections'})
if os.listdir(os.path.join(dest, 'ca')):
    definition['additional_build_files'].append({'src': 'ca', 'dest': 'ca'})
    definition['additional_build_steps']['prepend_base'][:0] = [
        'COPY _build/ca/ /usr/local/share/ca-certificates/', 'RUN update-ca-certificates',
        'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt']
with open(os.path.join(dest, 'execution-environment.yml'), 'w') as handle:
    yaml.safe_dump(definition, handle, sort_keys=False)
PY

log "building $TAG from $BASE (ansible-builder $("$BIN/ansible-builder" --version))"
start=$(date +%s)
if ! "$BIN/ansible-builder" build -f "$WORK/definition/execution-environment.yml" --context "$WORK/context" -t "$TAG" \
    --container-runtime docker --build-arg "EE_BASE_IMAGE=$BASE" -v 3 >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log" >&2
  log "build failed: $WORK/build.log"
  exit 1
fi
built=$(( $(date +%s) - start ))
size=$(docker image inspect -f '{{.Size}}' "$TAG")
log "built $TAG in ${built} s; image size $(( size / 1000000 )) MB"
docker run --rm "$TAG" ansible-galaxy collection list 2>/dev/null | grep -E 'meshconnect.mesh|ansible.posix' >&2
[ -n "${MESHCONNECT_EE_BUILD_ONLY:-}" ] && exit 0
"$BIN/pytest" -q -p no:cacheprovider "$HERE/tests/ee"
