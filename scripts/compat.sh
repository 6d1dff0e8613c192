#!/usr/bin/env bash
# The oldest ansible-core the collection claims (meta/runtime.yml, requires_ansible) runs ansible-test sanity and
# the plugin tests (tests/plugins: every playbook, action and filter), so the claim is tested, not declared.
# The newest claimed is the pinned one (requirements/dev.txt) that every other target runs.
#
#   scripts/compat.sh            # make compat
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
oldest=$(sed -n 's/^requires_ansible: *"*>=\([0-9.]*\)"*/\1/p' "$root/meta/runtime.yml")
[ -n "$oldest" ] || { echo "compat: no requires_ansible '>=X.Y.Z' in meta/runtime.yml" >&2; exit 2; }
pinned=$(grep '^ansible-core==' "$root/requirements/dev.txt" | cut -d= -f3)
venv="$root/build/venv-core-$oldest"
if [ ! -x "$venv/bin/pytest" ]; then
  python3 -m venv "$venv"
  # The collections of the ansible package (ansible.posix) without its pin on a newer ansible-core.
  # shellcheck disable=SC2046  # one word per requirement
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$oldest" \
    $(grep -E '^(pytest|pytest-xdist|segno)==' "$root/requirements/dev.txt")
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "$(grep '^ansible==' "$root/requirements/dev.txt")"
fi
echo "compat: ansible-core $("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)') (oldest claimed; pinned: $pinned)"
(cd "$root" && PATH="$venv/bin:$PATH" "$venv/bin/pytest" -q -p no:cacheprovider -n auto tests/plugins)
MESHCONNECT_ANSIBLE_CORE=$oldest "$root/scripts/ansible-test.sh" sanity
