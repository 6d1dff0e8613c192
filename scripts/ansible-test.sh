#!/usr/bin/env bash
# ansible-test needs the collection at ansible_collections/NAMESPACE/NAME: copy the
# files git knows (tracked, and new ones not ignored) there and run it.
#
#   scripts/ansible-test.sh sanity [ARGS]     (make sanity)
#   scripts/ansible-test.sh units [ARGS]      (make units)
set -euo pipefail
command=${1:?usage: scripts/ansible-test.sh sanity|units [ARGS]}
shift
case "$command" in sanity|units) ;; *) echo "scripts/ansible-test.sh: unknown command $command" >&2; exit 2;; esac
if [ "$command" = sanity ] && ! command -v shellcheck >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; }
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/build/ansible-test/ansible_collections/meshconnect/mesh"
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
   [ -e "$f" ] && printf '%s\0' "$f"; done | xargs -0 cp --parents --no-dereference -t "$dest")
cd "$dest"
# A git work tree lets ansible-test list the collection's files exactly.
git init -q && git add -A >/dev/null
# ansible-test cannot bootstrap its own virtualenvs without ansible's CI file server, so
# it runs in a virtualenv of its own where --requirements installs the pinned test tools.
# MESHCONNECT_ANSIBLE_CORE picks another ansible-core than the pinned one (make compat: the oldest claimed).
core=${MESHCONNECT_ANSIBLE_CORE:-$(grep '^ansible-core==' "$root/requirements/dev.txt" | cut -d= -f3)}
venv="$root/build/sanity-venv-$core"
if [ ! -x "$venv/bin/ansible-test" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core"
fi
# ansible-test bootstraps pip in each test's virtualenv with a script from ansible's CI file
# server; put a stand-in that installs from PyPI where it looks for its cached copy.
grep -hoE "pip='[0-9.]+'" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py \
  | cut -d"'" -f2 | sort -u | while read -r version; do
  cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
  if ! cmp -s "$root/scripts/ansible-test-get-pip.py" "$cache"; then
    mkdir -p "$(dirname "$cache")"
    cp "$root/scripts/ansible-test-get-pip.py" "$cache"
  fi
done
pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec "$venv/bin/ansible-test" "$command" --local --requirements --python "$pyver" --color no "$@"
