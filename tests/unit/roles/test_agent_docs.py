# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent role's README, defaults and argument specs describe the same variables with the same defaults."""

import os
import re

import yaml

from meshcase import REPO

ROLE = os.path.join(REPO, 'roles', 'agent')


def _load(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return handle.read()


def _spec_options():
    specs = yaml.safe_load(_load('meta', 'argument_specs.yml'))['argument_specs']
    options = {}
    for entry_point in specs.values():
        options.update(entry_point.get('options', {}))
    return options


def test_the_readme_names_exactly_the_variables_of_the_argument_specs():
    readme = set(re.findall(r'`(agent_[a-z0-9_]+)`', _load('README.md')))
    assert readme == set(_spec_options())


def test_every_default_is_in_the_argument_specs_with_the_same_value():
    defaults = yaml.safe_load(_load('defaults', 'main.yml'))
    options = _spec_options()
    assert set(defaults) <= set(options), sorted(set(defaults) - set(options))
    for name, value in defaults.items():
        templated = isinstance(value, str) and '{{' in value    # computed at run time, documented in words
        if 'default' in options[name] and not templated:
            assert options[name]['default'] == value, name
    required = [name for name, option in options.items() if option.get('required')]
    assert not set(required) & set(defaults), 'a required variable with a default is never required'
