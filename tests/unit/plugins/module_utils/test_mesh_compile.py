# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped example inventory compiles, and its policy tests pass."""

import datetime
import glob
import os

import pytest

from meshcase import REPO, agent, build, peer, user

yaml = pytest.importorskip('yaml')

EXAMPLE = os.path.join(REPO, 'inventories', 'example')
TODAY = datetime.date(2026, 6, 1)


def _example():
    """The inventory dict as mesh_plan assembles it from the example's variables."""
    group_vars = {}
    for path in sorted(glob.glob(os.path.join(EXAMPLE, 'group_vars', 'all', '*.yml'))):
        with open(path) as handle:
            group_vars.update(yaml.safe_load(handle) or {})
    with open(os.path.join(EXAMPLE, 'hosts.yml')) as handle:
        hosts = yaml.safe_load(handle)['all']['children']['meshconnect_agents']['hosts']
    sites = {}
    for host in hosts:
        path = os.path.join(EXAMPLE, 'host_vars', host + '.yml')
        with open(path) as handle:
            sites[host] = (yaml.safe_load(handle) or {}).get('meshconnect_site', {})
    return {
        'network': group_vars.get('meshconnect_network'),
        'sites': sites,
        'links': group_vars.get('meshconnect_links'),
        'users': group_vars.get('meshconnect_users'),
        'policies': group_vars.get('meshconnect_policies'),
        'policy_tests': group_vars.get('meshconnect_policy_tests'),
    }


def test_example_compiles_and_its_policy_tests_pass():
    result = build(_example(), today=TODAY)
    tests = result['report']['tests']
    assert tests and all(t['passed'] for t in tests), [t for t in tests if not t['passed']]
    summary = result['report']['summary']
    assert summary['active_users'] == summary['users'] - 1      # erik expired


def test_example_expired_contractor_and_unreachable_office_are_warned_about():
    warnings = build(_example(), today=TODAY)['report']['warnings']
    assert any("user 'erik'" in w and 'expired on 2026-01-31' in w for w in warnings)
    assert any("site 'lyon'" in w and 'cannot be dialled' in w for w in warnings)


def test_example_plans():
    result = build(_example(), today=TODAY)
    assert user(result, 'erik')['peers'] == []
    build01 = agent(result, 'build01')
    assert build01['forwarding'] is False and build01['masquerade'] is False
    aws = agent(result, 'aws')
    assert aws['masquerade'] is True
    assert '10.50.0.0/20' in peer(aws, 'site:dc')['allowed_ips']
    lyon = agent(result, 'lyon')
    assert all(p['keepalive'] == 25 for p in lyon['peers'])
    assert peer(agent(result, 'dc'), 'site:warehouse')['endpoint'] == 'warehouse.corp.example:41820'
    assert peer(agent(result, 'dc'), 'site:lyon')['endpoint'] is None


def test_example_explain():
    answer = build(_example(), today=TODAY, explain='alice aws:payroll-db:tcp/5432')['report']['explain']
    assert answer['verdict'] == 'denied'
    assert any('admins-everything' in r and 'excepts' in r for r in answer['reasons'])
    assert any('finance-payroll' in r and 'applies to groups finance' in r for r in answer['reasons'])
