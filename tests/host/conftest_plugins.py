# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plugin tests' setup (collection importable, ``meshrun.COLLECTIONS_ROOT``), for the host tests."""

import importlib.util
import os
import sys

_PLUGINS_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'plugins',
                                 'conftest.py')
_spec = importlib.util.spec_from_file_location('_meshconnect_plugins_conftest', _PLUGINS_CONFTEST)
_module = importlib.util.module_from_spec(_spec)
sys.modules['_meshconnect_plugins_conftest'] = _module
_spec.loader.exec_module(_module)
