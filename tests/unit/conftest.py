# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make this checkout importable as ``ansible_collections.meshconnect.mesh``.

Works three ways, in this order:

* a collections path from ``ANSIBLE_COLLECTIONS_PATH`` (``make unit`` sets it
  to ``build/collections``) whose ``meshconnect/mesh`` is this checkout;
* ``build/collections`` of this checkout, as ``make collection`` creates it;
* otherwise a temporary directory holding an
  ``ansible_collections/meshconnect/mesh`` symlink to the checkout.

Ansible itself is not needed: ``ansible_collections`` is a namespace package.
"""

import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
_TEMP_DIRS = []


def _serves_this_checkout(root):
    link = os.path.join(root, 'ansible_collections', 'meshconnect', 'mesh')
    try:
        return os.path.isdir(link) and os.path.samefile(link, REPO)
    except OSError:
        return False


def _collections_root():
    candidates = []
    for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS'):
        candidates.extend(p for p in os.environ.get(var, '').split(os.pathsep) if p)
    candidates.append(os.path.join(REPO, 'build', 'collections'))
    for root in candidates:
        root = os.path.abspath(os.path.expanduser(root))
        if _serves_this_checkout(root):
            return root
    root = tempfile.mkdtemp(prefix='meshconnect-unit-')
    _TEMP_DIRS.append(root)
    os.makedirs(os.path.join(root, 'ansible_collections', 'meshconnect'))
    os.symlink(REPO, os.path.join(root, 'ansible_collections', 'meshconnect', 'mesh'))
    return root


def _setup_path():
    root = _collections_root()
    for path in (root, HERE):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
    # Fail loudly when another copy of the collection shadows this checkout.
    from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_compile
    where = os.path.realpath(mesh_compile.__file__)
    expected = os.path.realpath(os.path.join(REPO, 'plugins', 'module_utils', 'mesh_compile.py'))
    if where != expected:
        raise RuntimeError('ansible_collections.meshconnect.mesh resolves to %s, not to this checkout (%s)'
                           % (where, REPO))


_setup_path()


def pytest_unconfigure(config):
    for root in _TEMP_DIRS:
        shutil.rmtree(root, ignore_errors=True)
