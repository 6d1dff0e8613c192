#!/usr/bin/env bash
# The collections a build with no Galaxy server installs, as artifacts in DIR: this checkout's
# (`ansible-galaxy collection build`) and ansible.posix, repacked from the copy the ansible package on PyPI
# bundles (scripts/repack-collection.py). Used by scripts/ee-build.sh and Molecule's pull test.
#
#   scripts/collection-tarballs.sh DIR
set -euo pipefail
out=${1:?usage: scripts/collection-tarballs.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$here/.venv/bin}
mkdir -p "$out"
"$bin/ansible-galaxy" collection build --force --output-path "$out" "$here" >/dev/null
purelib=$("$bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$bin/python" "$here/scripts/repack-collection.py" "$purelib/ansible_collections/ansible/posix" "$out" >/dev/null
