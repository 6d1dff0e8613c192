# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several devices per user: each one a peer with its own key and lease, all with the user's access;
revoked and expired devices are left out, their leases kept."""

import copy

import pytest

from meshcase import (
    agent, agents, assert_error, build, firewall_access, firewall_boxes, inventory, key, reach, site, user,
)

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_denylog import attribute
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import NOTHING, PortSet, parse_ip


def _with_devices(*devices, **user_fields):
    """The base inventory with alice's devices listed (and her other fields replaced)."""
    inv = inventory()
    alice = dict(inv['users'][0], devices=copy.deepcopy(list(devices)), **user_fields)
    del alice['public_key']
    inv['users'][0] = alice
    return inv


TWO = ({'name': 'laptop', 'public_key': key(11)}, {'name': 'phone', 'public_key': key(12)})


def _peer_names(result, site_name):
    return [p['name'] for p in agent(result, site_name)['peers']]


def _web_ports(result, name):
    src = parse_ip(result['lease_state']['leases']['user/' + name])
    return firewall_access(firewall_boxes(agent(result, 'hq')), src, parse_ip('10.1.0.10'),
                           parse_ip('10.1.0.10'))[0]


def test_every_device_is_a_peer_with_its_own_lease_and_the_users_access():
    result = build(_with_devices(*TWO))
    leases = result['lease_state']['leases']
    assert 'user/alice' not in leases
    assert leases['user/alice/laptop'] != leases['user/alice/phone']
    for site_name in ('hq', 'branch'):
        assert {'user:alice/laptop', 'user:alice/phone'} <= set(_peer_names(result, site_name))
        assert 'user:alice' not in _peer_names(result, site_name)
    matrix = reach(result)
    assert matrix['user:alice/laptop'] == matrix['user:alice/phone'] and matrix['user:alice/laptop']
    assert 'user:alice' not in matrix
    # Enforced on the agents for each device's own address.
    assert _web_ports(result, 'alice/laptop') == _web_ports(result, 'alice/phone') == PortSet([(80, 80), (443, 443)])
    assert user(result, 'alice/phone')['public_key'] == key(12)
    assert result['plan']['users']['alice/laptop']['name'] == 'alice/laptop'


def test_a_policy_naming_the_user_applies_to_every_device():
    inv = _with_devices(*TWO)
    assert 'hq:db' not in reach(build(inv))['user:alice/phone']      # admins-all excepts it
    inv['policies'].append({'name': 'alice-db', 'users': ['alice'], 'allow': ['hq:db']})
    matrix = reach(build(inv))
    assert matrix['user:alice/laptop'] == matrix['user:alice/phone']
    assert matrix['user:alice/phone']['hq:db'] == 'tcp/5432'


def test_a_policy_names_users_not_devices():
    inv = _with_devices(*TWO)
    inv['policies'].append({'name': 'phone-only', 'users': ['alice/phone'], 'allow': ['hq:db']})
    assert_error(inv, "policy 'phone-only'", "'alice/phone' is not a valid name")


def test_a_revoked_device_is_left_out_everywhere_and_keeps_its_lease():
    before = build(_with_devices(*TWO))
    revoked = _with_devices(TWO[0], dict(TWO[1], revoked=True))
    result = build(revoked, lease_state=before['lease_state'], previous=snapshot(before))
    assert result['lease_state']['leases'] == before['lease_state']['leases']
    for plan in agents(result):
        assert 'user:alice/phone' not in [p['name'] for p in plan['peers']]
    assert 'user:alice/phone' not in reach(result) and 'user:alice/laptop' in reach(result)
    phone = parse_ip(result['lease_state']['leases']['user/alice/phone'])
    for plan in agents(result):
        for name, boxes in firewall_boxes(plan).items():
            assert all(not box[0][0] <= phone <= box[0][1] for box in boxes if name != 'agent'), (name, boxes)
    assert _web_ports(result, 'alice/phone') == NOTHING
    assert result['plan']['users']['alice/phone']['revoked'] is True
    assert result['plan']['users']['alice/phone']['expired'] is True
    # The diff names the device that lost its access.
    lost = [e for e in result['report']['diff']['newly_denied'] if 'user:alice/phone' in e['from']]
    assert lost and not [e for e in result['report']['diff']['newly_denied'] if 'user:alice/laptop' in e['from']]
    answer = build(revoked, explain='alice/phone hq:web')['report']['explain']
    assert answer['verdict'] == 'denied' and answer['reasons'] == ['user alice/phone revoked']


def test_revoking_the_user_revokes_every_device():
    result = build(_with_devices(*TWO, revoked=True))
    assert not [name for name in reach(result) if name.startswith('user:alice')]
    for plan in agents(result):
        assert not [p for p in plan['peers'] if p['name'].startswith('user:alice')]


@pytest.mark.parametrize('user_expires, device_expires, ends', [
    ('2026-01-01', None, '2026-01-01'),                      # the user's end holds for every device
    (None, '2026-01-01', '2026-01-01'),
    ('2027-06-01', '2026-01-01', '2026-01-01'),              # the earlier end wins, whichever holds it
    ('2026-01-01', '2027-06-01', '2026-01-01'),
])
def test_a_device_ends_at_the_earlier_of_its_own_and_its_users_expiry(user_expires, device_expires, ends):
    fields = {'expires': user_expires} if user_expires else {}
    phone = dict(TWO[1], expires=device_expires) if device_expires else TWO[1]
    result = build(_with_devices(TWO[0], phone, **fields), today='2026-06-01')
    assert 'user:alice/phone' not in reach(result)
    assert ('user:alice/laptop' in reach(result)) == (user_expires != '2026-01-01')
    warnings = [w for w in result['report']['warnings'] if "'alice/phone'" in w]
    assert warnings and 'expired on %s' % ends in warnings[0] and 'remove the device' in warnings[0]


def test_a_device_that_expires_later_is_in_the_agents_expiring_set():
    phone = dict(TWO[1], expires='2026-12-05T21:45:00Z')
    result = build(_with_devices(TWO[0], phone), today='2026-06-01')
    address = result['lease_state']['leases']['user/alice/phone']
    assert result['plan']['users']['alice/phone']['expires_at'] == 1796507100
    assert 'expires_at' not in result['plan']['users']['alice/laptop']
    assert [address, 1796507100] in agent(result, 'hq')['firewall']['expiring']


def test_a_policy_test_runs_as_a_user_or_as_one_device():
    inv = _with_devices(TWO[0], dict(TWO[1], revoked=True))
    inv['policy_tests'] = [{'user': 'alice', 'allow': ['hq:web']},             # her active device
                           {'user': 'alice/phone', 'deny': ['hq:web']},        # revoked: denied
                           {'user': 'alice/laptop', 'allow': ['hq:web']}]
    tests = build(inv)['report']['tests']
    assert [(t['from'], t['passed']) for t in tests] == [
        ('user:alice/laptop', True), ('user:alice/phone', True), ('user:alice/laptop', True)]
    inv['policy_tests'] = [{'user': 'alice/tablet', 'allow': ['hq:web']}]
    assert_error(inv, 'policy test #1', "unknown user 'alice/tablet'")


def test_explain_takes_a_user_or_a_device():
    result = build(_with_devices(*TWO), explain='alice hq:web:tcp/443')
    assert result['report']['explain']['verdict'] == 'allowed'
    result = build(_with_devices(*TWO), explain='alice/phone hq:db')
    assert result['report']['explain']['verdict'] == 'denied'


@pytest.mark.parametrize('change, fragments', [
    (lambda inv: inv['users'][0]['devices'].append({'name': 'laptop', 'public_key': key(13)}),
     ("device 'alice/laptop'", 'more than once')),
    (lambda inv: inv['users'][0].update(public_key=key(14)),
     ("user 'alice'", 'has devices and a public_key')),
    (lambda inv: inv['users'][0]['devices'][1].update(public_key=key(11)),
     ("'alice/laptop', 'alice/phone'", 'share one public key')),
    (lambda inv: inv['users'][0]['devices'][1].update(public_key=key(2)),     # bob's
     ("'alice/phone', 'bob'", 'share one public key')),
    (lambda inv: inv['users'][0]['devices'][1].update(public_key='not-a-key'),
     ("device 'alice/phone'", 'not a WireGuard public key')),
    (lambda inv: inv['users'][0]['devices'][1].update(revoked='yes'),
     ("user 'alice' device 'phone'", 'revoked', 'true or false')),
    (lambda inv: inv['users'][0]['devices'][1].update(name='ph/one'),
     ("user 'alice' device #2", "'ph/one' is not a valid name")),
])
def test_bad_devices_are_refused_by_name(change, fragments):
    inv = _with_devices(*TWO)
    change(inv)
    assert_error(inv, *fragments)


def test_devices_have_names_under_their_user():
    inv = _with_devices(*TWO)
    inv['network']['domain'] = 'corp.mesh'
    site(inv, 'hq')['names'] = True
    result = build(inv)
    records = dict(agent(result, 'hq')['names']['records'])
    leases = result['lease_state']['leases']
    assert records['laptop.alice.corp.mesh'] == leases['user/alice/laptop']
    assert records['phone.alice.corp.mesh'] == leases['user/alice/phone']
    assert records['bob.corp.mesh'] == leases['user/bob']
    assert 'alice.corp.mesh' not in records


def test_the_deny_log_names_the_device():
    result = build(_with_devices(*TWO))
    phone = result['lease_state']['leases']['user/alice/phone']
    rows = attribute(result['plan'], {'gw-hq': [{'src': phone, 'dst': '10.1.0.5', 'proto': 'tcp', 'port': 5432,
                                                 'time': 1}]})
    assert [(r['from'], r['to']) for r in rows] == [('user:alice/phone', 'hq:db')]


@pytest.mark.parametrize('change, fragments', [
    (lambda inv: inv['users'][1].pop('public_key'),
     ("user 'bob'", 'has no public_key', 'generate_key: true')),
    (lambda inv: inv['users'][0]['devices'][1].pop('public_key'),
     ("device 'alice/phone'", 'has no public_key')),
    (lambda inv: inv['users'][0]['devices'][1].update(generate_key=True),
     ("device 'alice/phone'", 'public_key and generate_key')),
    (lambda inv: inv['users'][0].update(generate_key=True),
     ("user 'alice'", 'has devices and a generate_key')),
])
def test_a_key_is_given_or_asked_for(change, fragments):
    inv = _with_devices(*TWO)
    change(inv)
    assert_error(inv, *fragments)


def test_a_key_the_controller_is_to_make_is_pending_and_a_revoked_device_needs_none():
    inv = _with_devices(TWO[0], {'name': 'phone', 'generate_key': True}, {'name': 'old', 'revoked': True})
    result = build(inv)
    assert 'user:alice/phone' in agent(result, 'hq')['pending_keys']
    assert 'user/alice/old' in result['lease_state']['leases']
    assert 'user:alice/old' not in reach(result)
