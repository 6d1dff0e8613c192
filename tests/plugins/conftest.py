# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plugin tests: the collection importable as in tests/unit, plus ansible-playbook runs.

The path setup is the one of ``tests/unit/conftest.py``, loaded under its own
module name (pytest imports every ``conftest.py`` as ``conftest``); the
collections root it finds is also what ``ansible-playbook`` gets as
``ANSIBLE_COLLECTIONS_PATH``.
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_UNIT_CONFTEST = os.path.join(os.path.dirname(HERE), 'unit', 'conftest.py')
_MODULE = '_meshconnect_unit_paths'


def _unit_paths():
    module = sys.modules.get(_MODULE)
    if module is None:
        spec = importlib.util.spec_from_file_location(_MODULE, _UNIT_CONFTEST)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_MODULE] = module
        spec.loader.exec_module(module)    # puts the collections root on sys.path
    return module


_paths = _unit_paths()
if HERE in sys.path:
    sys.path.remove(HERE)
sys.path.insert(0, HERE)

import meshrun  # noqa: E402

meshrun.COLLECTIONS_ROOT = _paths._collections_root()


def pytest_unconfigure(config):
    _paths.pytest_unconfigure(config)
