# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The same inventory always compiles to the same bytes."""

import hashlib
import random

import pytest

from meshcase import build, inventory, key

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import canonical_json
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_digest import add_by_digest

FACTS = {
    'gw-hq': {'public_key': key(101), 'interfaces': [
        {'name': 'eth0', 'address': '203.0.113.1', 'prefix': 24},
        {'name': 'eth1', 'address': '172.16.1.1', 'prefix': 24},
    ]},
    'gw-branch': {'public_key': key(102), 'interfaces': [{'name': 'eth1', 'address': '172.16.2.1', 'prefix': 24}]},
}


def _rich_inventory():
    """The base inventory with warnings of several kinds, tests and an expired user."""
    inv = inventory()
    inv['users'].append({'name': 'eve', 'groups': ['dev'], 'expires': '2025-12-31', 'public_key': key(5)})
    inv['users'].append({'name': 'frank', 'groups': ['finance'], 'expires': '2026-01-15', 'public_key': key(21)})
    inv['users'].append({'name': 'gina', 'groups': ['dev', 'admins'], 'public_key': key(22)})
    # shop has reported no facts: its local resources are unknown yet (warnings).
    inv['policies'].append({'name': 'ops-local', 'users': ['gina'], 'allow': ['hq:local-eth1', 'shop:local-eth9']})
    inv['policies'].append({'name': 'late', 'users': ['frank'], 'allow': ['branch:lan', 'shop:local-eth8']})
    inv['policies'].append({'name': 'dev-shop', 'groups': ['dev'], 'allow': ['shop:lan:tcp/22']})
    inv['policy_tests'] = [
        {'user': 'bob', 'allow': ['hq:web:tcp/443'], 'deny': ['hq:db']},
        {'user': 'carol', 'allow': ['hq:db:tcp/5432']},
    ]
    return inv


def _shuffled(inv, seed):
    rng = random.Random(seed)
    out = dict(inv)
    for name in ('users', 'policies', 'links'):
        out[name] = list(inv[name])
        rng.shuffle(out[name])
    hosts = list(inv['sites'])
    rng.shuffle(hosts)
    out['sites'] = dict((h, inv['sites'][h]) for h in hosts)
    return out


def test_same_inventory_gives_identical_bytes():
    first = build(_rich_inventory(), facts=FACTS, explain='bob hq:web:tcp/443')
    second = build(_rich_inventory(), facts=FACTS, explain='bob hq:web:tcp/443')
    assert canonical_json(first) == canonical_json(second)
    assert first['plan']['digest'] == second['plan']['digest']


def test_canonical_json_is_compact_and_sorted():
    assert canonical_json({'b': 1, 'a': [1, {'d': None, 'c': True}]}) == '{"a":[1,{"c":true,"d":null}],"b":1}'


def test_input_order_does_not_change_the_output():
    inv = _rich_inventory()
    reference = canonical_json(build(inv, facts=FACTS, explain='gina hq'))
    for seed in range(12):
        shuffled = _shuffled(inv, seed)
        assert canonical_json(build(shuffled, facts=FACTS, explain='gina hq')) == reference, seed


def test_warnings_do_not_depend_on_input_order():
    inv = _rich_inventory()
    reference = build(inv, facts=FACTS)['report']['warnings']
    assert len(reference) >= 4
    reversed_inv = dict(inv, users=inv['users'][::-1], policies=inv['policies'][::-1])
    assert build(reversed_inv, facts=FACTS)['report']['warnings'] == reference


def test_lease_state_order_does_not_change_the_output():
    first = build(_rich_inventory())
    state = dict(first['lease_state'])
    state['leases'] = dict(sorted(state['leases'].items(), reverse=True))
    second = build(_rich_inventory(), lease_state=state)
    assert canonical_json(second['plan']) == canonical_json(first['plan'])
    assert second['report']['lease_changes'] == []


def test_digest_changes_with_the_plan():
    first = build(inventory())
    inv = inventory()
    inv['policies'][1]['allow'].append('hq:db')
    second = build(inv)
    assert first['plan']['digest'] != second['plan']['digest']
    assert len(first['plan']['digest']) == 64


def test_digest_ignores_the_report():
    first = build(inventory())
    second = build(inventory(), explain='alice hq:db')
    assert first['plan']['digest'] == second['plan']['digest']
    assert first['report'] != second['report']


def test_digest_is_the_sha256_of_the_canonical_plan():
    # The compiler hashes the plan piece by piece, sharing repeated pieces;
    # the bytes hashed must be those of canonical_json(plan) all the same.
    for result in (build(inventory()), build(_rich_inventory(), facts=FACTS)):
        plan = dict(result['plan'])
        digest = plan.pop('digest')
        assert digest == hashlib.sha256(canonical_json(plan).encode('utf-8')).hexdigest()


def test_two_entries_with_one_id_stop_the_compile():
    table = {}
    first = add_by_digest(table, {'a': 1})
    assert add_by_digest(table, {'a': 1}) == first and table == {first: {'a': 1}}
    table[first] = {'a': 2}     # what a collision would look like
    with pytest.raises(ValueError, match='two different entries have the ID %s' % first):
        add_by_digest(table, {'a': 1})
