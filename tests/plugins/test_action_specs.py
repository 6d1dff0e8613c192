# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each action plugin validates its arguments with the spec its module documents: names, types, defaults and
required options agree, so the documentation cannot drift from what the plugin accepts."""

import importlib

import pytest
import yaml

ACTIONS = ['mesh_plan', 'client_bundle', 'mesh_record', 'topology_render']


@pytest.mark.parametrize('name', ACTIONS)
def test_the_action_spec_is_the_documented_one(name):
    action = importlib.import_module('ansible_collections.meshconnect.mesh.plugins.action.%s' % name)
    module = importlib.import_module('ansible_collections.meshconnect.mesh.plugins.modules.%s' % name)
    documented = yaml.safe_load(module.DOCUMENTATION)['options']
    spec = action.ARGUMENT_SPEC
    assert sorted(spec) == sorted(documented), name
    for option, doc in documented.items():
        arg = spec[option]
        assert arg.get('type', 'str') == doc.get('type', 'str'), option
        assert arg.get('default') == doc.get('default'), option
        assert bool(arg.get('required')) == bool(doc.get('required')), option
        assert arg.get('elements') == doc.get('elements'), option
