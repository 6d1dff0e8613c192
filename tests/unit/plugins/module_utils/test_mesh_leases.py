# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay leases: once given, an address never moves."""

import json

import pytest

from meshcase import assert_error, build, errors_of, inventory, key

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import report_text


def _without(*names, **kwargs):
    """The base inventory without the users ``names`` (and the policies that
    would then name nobody)."""
    inv = inventory()
    inv['users'] = [u for u in inv['users'] if u['name'] not in names]
    groups = set(g for u in inv['users'] for g in u['groups'])
    inv['policies'] = [p for p in inv['policies'] if set(p.get('groups', [])) <= groups]
    inv['users'].extend(kwargs.get('add', []))
    return inv


def _leases(result):
    return result['lease_state']['leases']


def _changes(result):
    return [(c['action'], c['member'], c['address']) for c in result['report']['lease_changes']]


def test_first_run_leases_agents_then_users_from_the_lowest_address():
    result = build(inventory())
    assert _leases(result) == {
        'agent/branch': '100.64.0.1', 'agent/hq': '100.64.0.2', 'agent/shop': '100.64.0.3',
        'user/alice': '100.64.0.4', 'user/bob': '100.64.0.5', 'user/carol': '100.64.0.6',
        'user/dave': '100.64.0.7',
    }
    assert [a for a, _m, _ip in _changes(result)] == ['leased'] * 7
    assert result['lease_state'] == {'version': 1, 'network': 'corp', 'cidr': '100.64.0.0/24',
                                     'leases': _leases(result)}
    # Plans use the leased addresses.
    assert result['plan']['users']['bob']['address'] == '100.64.0.5'
    hq = [p for p in result['plan']['agents'].values() if p['site'] == 'hq'][0]
    assert hq['address'] == '100.64.0.2'


def test_second_run_with_the_state_changes_nothing():
    first = build(inventory())
    second = build(inventory(), lease_state=first['lease_state'])
    assert _leases(second) == _leases(first)
    assert _changes(second) == []
    assert second['lease_state'] == first['lease_state']


def test_adding_members_never_moves_existing_leases():
    first = build(inventory())
    inv = inventory()
    # New names that sort before every existing one.
    inv['users'].insert(0, {'name': 'aaron', 'groups': ['dev'], 'public_key': key(20)})
    inv['sites']['gw-aa'] = {'name': 'aa', 'endpoint': '203.0.113.50'}
    second = build(inv, lease_state=first['lease_state'])
    for member, address in _leases(first).items():
        assert _leases(second)[member] == address
    assert _leases(second)['agent/aa'] == '100.64.0.8'
    assert _leases(second)['user/aaron'] == '100.64.0.9'
    assert _changes(second) == [('leased', 'agent/aa', '100.64.0.8'), ('leased', 'user/aaron', '100.64.0.9')]


def test_removing_a_member_releases_its_address():
    first = build(inventory())
    inv = _without('bob')
    second = build(inv, lease_state=first['lease_state'])
    assert 'user/bob' not in _leases(second)
    assert 'user/bob' not in second['lease_state']['leases']
    assert _changes(second) == [('released', 'user/bob', '100.64.0.5')]
    for member, address in _leases(second).items():
        assert _leases(first)[member] == address


def test_a_new_member_never_takes_a_released_address_while_a_fresh_one_is_left():
    first = build(inventory())
    second = build(_without('bob', 'alice'), lease_state=first['lease_state'])
    # alice (.4) and bob (.5) left, in member order: the document keeps them, oldest first.
    assert second['lease_state']['released'] == [{'address': '100.64.0.4', 'member': 'user/alice'},
                                                 {'address': '100.64.0.5', 'member': 'user/bob'}]
    inv = _without('alice', 'bob', add=[{'name': 'zoe', 'groups': [], 'public_key': key(30)}])
    third = build(inv, lease_state=second['lease_state'])
    # Agents, logs and names may still know .4 and .5 as alice's and bob's: zoe gets an address never leased.
    assert _leases(third)['user/zoe'] == '100.64.0.8'
    assert third['lease_state']['released'] == second['lease_state']['released']


def test_a_member_that_comes_back_gets_its_own_released_address():
    first = build(inventory())
    second = build(_without('carol'), lease_state=first['lease_state'])
    third = build(_without('alice'), lease_state=second['lease_state'])
    assert _leases(third)['user/carol'] == '100.64.0.6'
    assert ('released', 'user/alice', '100.64.0.4') in _changes(third)
    assert ('leased', 'user/carol', '100.64.0.6') in _changes(third)
    assert third['lease_state']['released'] == [{'address': '100.64.0.4', 'member': 'user/alice'}]


def _fill(count):
    return [{'name': 'u%03d' % i, 'groups': [], 'public_key': key(100 + i)} for i in range(count)]


def test_when_only_released_addresses_are_left_the_least_recently_released_goes_first_and_says_whose():
    small = {'name': 'corp', 'cidr': '100.64.0.0/28'}        # 14 usable: 3 agents and 11 users
    first = build(inventory(network=small, users=_fill(11), policies=[]))
    second = build(inventory(network=small, users=_fill(11)[1:], policies=[]), lease_state=first['lease_state'])
    third = build(inventory(network=small, users=_fill(11)[2:], policies=[]), lease_state=second['lease_state'])
    assert [e['member'] for e in third['lease_state']['released']] == ['user/u000', 'user/u001']
    newcomer = [{'name': 'zed', 'groups': [], 'public_key': key(99)}]
    fourth = build(inventory(network=small, users=_fill(11)[2:] + newcomer, policies=[]),
                   lease_state=third['lease_state'])
    was = _leases(first)['user/u000']
    assert _leases(fourth)['user/zed'] == was
    assert fourth['report']['lease_changes'] == [{'action': 'leased', 'member': 'user/zed', 'address': was,
                                                  'was': 'user/u000'}]
    assert [e['member'] for e in fourth['lease_state']['released']] == ['user/u001']
    assert 'lease leased: user/zed %s (it changes hands: user/u000 held it before)' % was in \
        report_text(fourth['report'])


def test_a_damaged_released_list_fails_the_plan_and_names_it():
    first = build(inventory())
    for bad in ({}, [{'address': '100.64.0.9'}], [{'address': 9, 'member': 'user/x'}],
                [{'address': '100.64.0.9', 'member': 'nobody'}], [{'address': 'x', 'member': 'user/x'}]):
        state = dict(first['lease_state'], released=bad)
        assert_error(inventory(), "network 'corp'", 'lease', lease_state=state)


def test_leases_survive_a_json_round_trip():
    first = build(inventory())
    state = json.loads(json.dumps(first['lease_state']))
    assert _changes(build(inventory(), lease_state=state)) == []


def doc(leases, **changes):
    """A complete lease document for the base inventory's network."""
    document = {'version': 1, 'network': 'corp', 'cidr': '100.64.0.0/24', 'leases': leases}
    document.update(changes)
    return document


def test_hand_written_lease_is_kept():
    state = doc({'user/alice': '100.64.0.200'})
    result = build(inventory(), lease_state=state)
    assert _leases(result)['user/alice'] == '100.64.0.200'
    assert _leases(result)['user/bob'] == '100.64.0.4'


def test_lease_outside_a_changed_cidr_is_an_error():
    first = build(inventory())
    inv = inventory(network={'name': 'corp', 'cidr': '100.65.0.0/24'})
    errors = assert_error(inv, "network 'corp' (100.65.0.0/24)", 'agent/hq', '100.64.0.2',
                          'outside the overlay network', lease_state=first['lease_state'])
    assert errors
    # Every member with a stale lease is named.
    assert len(errors_of(inv, lease_state=first['lease_state'])) == 7


def test_shrinking_the_cidr_around_existing_leases_is_fine():
    first = build(inventory())
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/28'})
    second = build(inv, lease_state=first['lease_state'])
    assert _leases(second) == _leases(first)


@pytest.mark.parametrize('address', ['100.64.0.0', '100.64.0.255'])
def test_network_and_broadcast_addresses_are_not_leases(address):
    state = doc({'user/alice': address})
    assert_error(inventory(), 'user/alice', address, 'outside the overlay network', lease_state=state)


def test_stale_lease_of_a_removed_member_outside_the_cidr_is_ignored():
    state = doc({'user/gone': '10.0.0.1'})
    result = build(inventory(), lease_state=state)
    assert 'user/gone' not in _leases(result)


@pytest.mark.parametrize('state, fragment', [
    (doc(['user/alice']), 'its leases are list, not a mapping'),
    (doc({'user/alice': '100.64.0.999'}), "invalid address '100.64.0.999'"),
    (doc({'user/alice': 7}), 'is not a member and an address'),
    (doc({'user/alice': '100.64.0.9', 'user/bob': '100.64.0.9'}), 'user/alice and user/bob'),
    (doc({'user/alice': '100.64.0.9'}, version=2), 'version 2'),
    (doc({'user/alice': '100.64.0.9'}, network='other'), "another network ('other')"),
])
def test_damaged_lease_file_is_an_error(state, fragment):
    assert_error(inventory(), "network 'corp' (100.64.0.0/24)", fragment, lease_state=state)


@pytest.mark.parametrize('state', [['user/alice', '100.64.0.4'], 'leases', 42, True, 2.5])
def test_lease_file_that_is_not_a_mapping_is_an_error(state):
    assert_error(inventory(), "network 'corp' (100.64.0.0/24)", 'damaged', lease_state=state)


def _damaged_documents():
    """Every way a lease file can parse and still not be a complete one: each key missing, null, or of
    another kind, the leases empty, and entries that are not member -> address."""
    good = doc({'agent/hq': '100.64.0.1'})
    for key in sorted(good):
        broken = dict(good)
        del broken[key]
        yield 'no-%s' % key, broken
        for label, value in (('null', None), ('list', []), ('map', {}), ('text', ''), ('number', 0), ('bool', True)):
            if type(value) is type(good[key]) and value != {} and key != 'leases':
                continue
            yield '%s-%s' % (key, label), dict(good, **{key: value})
    yield 'empty', {}
    yield 'unknown-key', dict(good, extra=1)
    yield 'bad-member', dict(good, leases={'hq': '100.64.0.1'})
    yield 'number-member', dict(good, leases={'agent/hq': 1})


@pytest.mark.parametrize('label, state', list(_damaged_documents()), ids=[d[0] for d in _damaged_documents()])
def test_a_lease_file_that_parses_but_is_not_complete_stops_the_run(label, state):
    """{}, "leases": null, "leases": [] and their kind are damage, never "no leases yet"."""
    errors = assert_error(inventory(), "network 'corp' (100.64.0.0/24)", 'lease file', 'renumber',
                          'restore leases.json', lease_state=state)
    assert errors, label


def test_exhaustion_when_new_members_do_not_fit():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/29'})
    inv['users'].pop()
    first = build(inv)
    assert first['report']['summary']['leases_free'] == 0
    inv['users'].append({'name': 'zed', 'groups': [], 'public_key': key(40)})
    assert_error(inv, "network 'corp' (100.64.0.0/29)", '6 usable addresses but 7 members',
                 lease_state=first['lease_state'])


def test_lease_summary_counts():
    result = build(inventory())
    assert result['report']['summary']['leases_used'] == 7
    assert result['report']['summary']['leases_free'] == 254 - 7
