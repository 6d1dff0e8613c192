# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side state directory, next to the inventory.

By default ``INVENTORY_DIR/.meshconnect/NETWORK/``: hidden, because Ansible
reads every visible file of an inventory directory as inventory.

    leases.json   overlay leases (commit it; review it)
    facts.json    what agents reported last (public keys, interfaces)
    plan.json     the reachability snapshot of the last applied run
    keys/         private keys generated for users (0700, files 0600; never commit)
    bundles/      client bundles written by users.yml (0700, files 0600)

Files are written atomically and only when their content changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

DEFAULT_DIR = '.meshconnect'
LEASES = 'leases.json'
FACTS = 'facts.json'
SNAPSHOT = 'plan.json'
KEYS = 'keys'


class StateError(Exception):
    pass


def visible_to_inventory(state_dir, inventory_dir):
    """A message when Ansible would parse ``state_dir`` as part of the
    inventory directory (it skips hidden entries), else None."""
    if not os.path.isdir(inventory_dir):
        return None
    relative = os.path.relpath(state_dir, inventory_dir)
    if relative == os.curdir or relative.startswith(os.pardir):
        return None if relative != os.curdir else (
            'the state directory %s is the inventory directory; use a hidden directory such as %s'
            % (state_dir, os.path.join(inventory_dir, DEFAULT_DIR)))
    if any(part.startswith('.') for part in relative.split(os.sep)):
        return None
    return ('the state directory %s lies inside the inventory directory %s, where Ansible would read its files '
            '(private keys included) as inventory; use a hidden directory such as %s, or one outside the inventory'
            % (state_dir, inventory_dir, os.path.join(inventory_dir, DEFAULT_DIR)))


def read_json(path):
    """The document at ``path``, or None when the file does not exist."""
    try:
        with open(path, 'r') as handle:
            return json.load(handle)
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None
        raise StateError('cannot read %s: %s' % (path, exc))
    except ValueError as exc:
        raise StateError('%s is not valid JSON (%s); restore it from version control' % (path, exc))


def dumps(data):
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def write_json(path, data, mode=0o644):
    """Write ``data`` if it differs from the file; return True when written."""
    text = dumps(data)
    try:
        with open(path, 'r') as handle:
            if handle.read() == text:
                return False
    except (IOError, OSError):
        pass
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True
