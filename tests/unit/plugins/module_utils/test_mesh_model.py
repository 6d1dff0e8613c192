# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input: every mistake fails the compile, names the item and says how to fix it."""

import datetime

import pytest

from meshcase import agents, assert_error, build, errors_of, inventory, key, reach, site, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan


def test_base_inventory_is_valid():
    # The fixtures below each add exactly one mistake to this inventory.
    result = build(inventory())
    assert result['plan']['agents']


# ----------------------------------------------------------------------
# references


def test_link_names_unknown_site():
    inv = inventory(links=[{'name': 'l1', 'sites': {'hq': [], 'nowhere': []}}])
    assert_error(inv, "link 'l1'", "unknown site 'nowhere'")


def test_link_names_unknown_resource():
    inv = inventory(links=[{'name': 'l1', 'sites': {'hq': ['printer'], 'branch': []}}])
    assert_error(inv, "link 'l1'", "'printer'", "'hq'")


def test_policy_allow_names_unknown_site():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['nowhere:lan']}])
    assert_error(inv, "policy 'p1'", "unknown site 'nowhere'")


def test_policy_allow_names_unknown_resource():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['hq:printer']}])
    assert_error(inv, "policy 'p1'", "unknown resource 'printer'", "'hq'")


def test_policy_except_names_unknown_resource():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['hq'], 'except': ['hq:printer']}])
    assert_error(inv, "policy 'p1'", 'except', "unknown resource 'printer'")


def test_policy_names_unknown_user():
    inv = inventory(policies=[{'name': 'p1', 'users': ['mallory'], 'allow': ['hq:web']}])
    assert_error(inv, "policy 'p1'", "unknown user 'mallory'")


def test_policy_names_unknown_group():
    inv = inventory(policies=[{'name': 'p1', 'groups': ['admns'], 'allow': ['hq:web']}])
    assert_error(inv, "policy 'p1'", "unknown group 'admns'", 'admins')


def test_policy_test_names_unknown_user():
    inv = inventory(policy_tests=[{'user': 'mallory', 'allow': ['hq:web']}])
    assert_error(inv, 'policy test #1', "unknown user 'mallory'")


def test_policy_test_names_unknown_site():
    inv = inventory(policy_tests=[{'user': 'alice', 'deny': ['nowhere:lan']}])
    assert_error(inv, "policy test #1 (user 'alice')", "unknown site 'nowhere'")


def test_policy_test_names_unknown_resource():
    inv = inventory(policy_tests=[{'user': 'alice', 'allow': ['hq:printer:tcp/631']}])
    assert_error(inv, "policy test #1 (user 'alice')", "unknown resource 'printer'")


def test_grant_resource_without_site():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['*:web']}])
    assert_error(inv, "policy 'p1'", "'*:web'", 'a resource needs a site')


def test_link_cannot_expose_agent():
    inv = inventory(links=[{'name': 'l1', 'sites': {'hq': ['agent'], 'branch': []}}])
    assert_error(inv, "link 'l1'", "exposes 'agent'")


# ----------------------------------------------------------------------
# duplicates


def test_duplicate_site_names():
    inv = inventory()
    inv['sites']['gw-hq2'] = {'name': 'hq', 'endpoint': '203.0.113.9'}
    assert_error(inv, "site 'hq'", 'gw-hq', 'gw-hq2')


def test_duplicate_user_names():
    inv = inventory()
    inv['users'].append({'name': 'alice', 'groups': ['dev'], 'public_key': key(9)})
    assert_error(inv, "user 'alice'", 'more than once')


def test_duplicate_policy_names():
    inv = inventory()
    inv['policies'].append({'name': 'dev-web', 'users': ['alice'], 'allow': ['hq:web']})
    assert_error(inv, "policy 'dev-web'", 'more than once')


def test_duplicate_link_names():
    inv = inventory()
    inv['links'].append({'name': 'hq-branch', 'sites': {'hq': [], 'branch': []}})
    assert_error(inv, "link 'hq-branch'", 'more than once')


def test_duplicate_resource_names_within_a_site():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'db', 'address': '10.1.0.6'})
    assert_error(inv, "site 'hq' resource 'db'", 'more than once')


def test_same_resource_name_in_two_sites_is_fine():
    # lan exists in hq, branch and shop of the base inventory.
    result = build(inventory())
    names = [r['name'] for p in result['plan']['agents'].values() for r in p['resources']]
    assert names.count('lan') == 3


# ----------------------------------------------------------------------
# addresses and ports


@pytest.mark.parametrize('address, fragment', [
    ('10.1.0.1/24', "'10.1.0.1/24' has host bits set"),
    ('10.1.0.0/33', "'10.1.0.0/33' has an invalid prefix length"),
    ('10.1.0.0/', "'10.1.0.0/' has an invalid prefix length"),
    ('10.1.0/24', "'10.1.0/24' is not an IPv4 address or CIDR"),
])
def test_invalid_cidr(address, fragment):
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': address})
    assert_error(inv, "site 'hq' resource 'extra'", 'address is invalid', fragment)


def test_host_bits_error_suggests_the_network():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': '10.9.0.1/24'})
    assert_error(inv, "site 'hq' resource 'extra'", '10.9.0.0/24')


@pytest.mark.parametrize('address', ['10.1.0.300', '10.01.0.1', 'fileserver', '', None])
def test_invalid_ip(address):
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': address})
    assert_error(inv, "site 'hq' resource 'extra'", 'address')
    assert_error(inv, 'is not' if isinstance(address, str) else 'must be a string')


@pytest.mark.parametrize('spec', ['tcp/http', 'icmp/8', 'tcp:443', '443'])
def test_invalid_port_spec_in_resource(spec):
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': '10.1.0.7', 'ports': [spec]})
    assert_error(inv, "site 'hq' resource 'extra'", repr(spec), 'tcp/443')


def test_reversed_port_range_in_resource():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': '10.1.0.7', 'ports': ['tcp/9000-8000']})
    assert_error(inv, "site 'hq' resource 'extra'", 'reversed', 'tcp/8000-9000')


@pytest.mark.parametrize('spec', ['tcp/70000', 'udp/0', 'tcp/1-65536'])
def test_port_out_of_range_in_resource(spec):
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'extra', 'address': '10.1.0.7', 'ports': [spec]})
    assert_error(inv, "site 'hq' resource 'extra'", spec, 'between 1 and 65535')


def test_reversed_port_range_in_policy():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['hq:lan:tcp/443-80']}])
    assert_error(inv, "policy 'p1'", 'reversed', 'tcp/80-443')


def test_port_out_of_range_in_policy():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'allow': ['hq:lan:tcp/99999']}])
    assert_error(inv, "policy 'p1'", 'tcp/99999', 'between 1 and 65535')


def test_invalid_port_in_policy_test():
    inv = inventory(policy_tests=[{'user': 'alice', 'allow': ['hq:lan:ssh']}])
    assert_error(inv, "policy test #1 (user 'alice')", "'ssh'")


def test_resource_overlapping_the_overlay_network():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'cgnat', 'address': '100.64.0.128/25'})
    assert_error(inv, "site 'hq' resource 'cgnat'", 'overlay network corp', '100.64.0.0/24')


def test_resource_containing_the_overlay_network():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'big', 'address': '100.0.0.0/8'})
    assert_error(inv, "site 'hq' resource 'big'", 'overlaps the overlay network')


def test_invalid_endpoint():
    inv = inventory()
    site(inv, 'hq')['endpoint'] = '203.0.113.1:51820'
    assert_error(inv, "site 'hq'", 'endpoint', '203.0.113.1:51820')


def test_resource_containing_another_sites_endpoint():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'uplink', 'address': '203.0.113.0/24'})
    assert_error(inv, "site 'branch' resource 'uplink'", '203.0.113.0/24 contains 203.0.113.1',
                 "endpoint of site 'hq'")


def test_resource_containing_its_own_sites_endpoint():
    inv = inventory()
    site(inv, 'hq')['resources'].append({'name': 'public', 'address': '203.0.113.1'})
    assert_error(inv, "site 'hq' resource 'public'", "endpoint of site 'hq'")


def test_resource_next_to_an_endpoint_is_fine():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'dmz', 'address': '203.0.113.2/31'})
    assert build(inv)['plan']['agents']


def test_invalid_network_port():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/24', 'port': 70000})
    assert_error(inv, 'meshconnect_network', 'port', '70000')


def test_non_boolean_site_flag():
    inv = inventory()
    site(inv, 'hq')['router'] = 'yes'
    assert_error(inv, "site 'hq'", 'router', "'yes'")


# ----------------------------------------------------------------------
# overlapping routes


def test_two_linked_sites_expose_overlapping_resources_to_one_agent():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'overlap', 'address': '10.3.0.128/25'})
    inv['links'] = [
        {'name': 'hq-branch', 'sites': {'hq': [], 'branch': ['overlap']}},
        {'name': 'shop-hq', 'sites': {'shop': ['lan'], 'hq': []}},
    ]
    errors = assert_error(inv, "site 'hq'", 'overlapping', 'branch:overlap', 'shop:lan',
                          "via 'branch'", "via 'shop'")
    assert len(errors) == 1


def test_linked_site_exposes_a_network_overlapping_our_own():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'same', 'address': '10.1.0.0/25'})
    inv['links'] = [{'name': 'hq-branch', 'sites': {'hq': [], 'branch': ['same']}}]
    assert_error(inv, "site 'hq'", 'branch:same', 'hq:lan')


def test_one_user_granted_two_sites_with_overlapping_lans():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'clash', 'address': '10.1.0.0/28'})
    inv['policies'] = [{'name': 'p1', 'users': ['bob'], 'allow': ['hq:lan', 'branch:clash']}]
    assert_error(inv, "user 'bob'", 'overlapping', "via 'branch'", "via 'hq'")


@pytest.mark.parametrize('address, clash', [
    ('10.1.0.77', True),            # one address inside hq's LAN
    ('10.0.0.0/15', True),          # a network holding hq's LAN
    ('10.1.0.255', True),           # hq's last address
    ('10.1.1.0/24', False),         # right after hq's LAN
    ('10.0.255.0/24', False),       # right before it
])
def test_one_user_granted_sites_whose_resources_share_addresses(address, clash):
    # Whatever the sizes and the order of the two ranges, sharing one address is a clash for a client.
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'other', 'address': address})
    inv['links'] = []
    inv['policies'] = [{'name': 'p1', 'users': ['bob'], 'allow': ['hq:lan', 'branch:other']}]
    if clash:
        assert_error(inv, "user 'bob'", 'overlapping', "via 'branch'", "via 'hq'")
    else:
        build(inv)


def test_sites_joined_only_through_a_third_sites_range_do_not_clash():
    # shop's 10.1.0.0/23 overlaps hq's LAN and branch's 10.1.1.0/24, so the three share addresses in one
    # stretch; hq's LAN and branch's range do not overlap each other: granting those two together is fine
    # (the exact check runs, and finds nothing).
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'other', 'address': '10.1.1.0/24'})
    site(inv, 'shop')['resources'].append({'name': 'wide', 'address': '10.1.0.0/23'})
    inv['links'] = []
    inv['policies'] = [{'name': 'p1', 'users': ['bob'], 'allow': ['hq:lan', 'branch:other']}]
    result = build(inv)
    assert sorted(p['site'] for p in user(result, 'bob')['peers']) == ['branch', 'hq']


def test_overlapping_lans_granted_to_different_users_are_fine():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'clash', 'address': '10.1.0.0/28'})
    inv['links'] = []
    inv['policies'] = [
        {'name': 'p1', 'users': ['bob'], 'allow': ['hq:lan']},
        {'name': 'p2', 'users': ['carol'], 'allow': ['branch:clash']},
    ]
    build(inv)


# ----------------------------------------------------------------------
# links


def test_link_with_one_site():
    inv = inventory(links=[{'name': 'lonely', 'sites': {'hq': ['lan']}}])
    assert_error(inv, "link 'lonely'", 'has 1 site')


def test_link_with_one_site_written_twice():
    inv = inventory(links=[{'name': 'lonely', 'sites': ['hq', 'hq']}])
    assert_error(inv, "link 'lonely'", 'has 1 site')


def test_link_between_two_sites_neither_can_dial():
    inv = inventory()
    inv['sites']['gw-kiosk'] = {'name': 'kiosk', 'behind_nat': True, 'endpoint': 'kiosk.example.com'}
    inv['links'] = [{'name': 'stuck', 'sites': ['shop', 'kiosk']}]
    assert_error(inv, "link 'stuck'", "'kiosk'", "'shop'", 'port_forwarding')


def test_link_between_nat_site_and_dialable_site_is_fine():
    inv = inventory()
    inv['sites']['gw-kiosk'] = {'name': 'kiosk', 'behind_nat': True, 'endpoint': 'kiosk.example.com',
                                'port_forwarding': True}
    inv['links'] = [{'name': 'ok', 'sites': ['shop', 'kiosk']}]
    build(inv)


# ----------------------------------------------------------------------
# keys


@pytest.mark.parametrize('bad', ['not-a-key', key(1)[:-1], 'A' * 42 + '==', key(1)[:-1] + '!', 42])
def test_invalid_user_public_key(bad):
    inv = inventory()
    inv['users'][0]['public_key'] = bad
    assert_error(inv, "user 'alice'", 'public_key')


def test_invalid_agent_public_key():
    facts = {'gw-hq': {'public_key': 'garbage', 'interfaces': []}}
    assert_error(inventory(), "site 'hq'", 'invalid public key', facts=facts)


def test_duplicate_user_public_keys():
    inv = inventory()
    inv['users'][1]['public_key'] = inv['users'][0]['public_key']
    assert_error(inv, "'alice'", "'bob'", 'share one public key')


def test_duplicate_agent_public_keys():
    facts = {'gw-hq': {'public_key': key(50)}, 'gw-branch': {'public_key': key(50)}}
    assert_error(inventory(), "'branch'", "'hq'", 'share one public key', facts=facts)


def test_agent_and_user_share_a_public_key():
    facts = {'gw-hq': {'public_key': key(1)}}   # alice's key
    assert_error(inventory(), "'alice'", "'hq'", 'share one public key', facts=facts)


# ----------------------------------------------------------------------
# network


def test_overlay_prefix_too_small_for_the_members():
    # 3 agents + 4 users = 7 members; a /29 has 6 usable addresses.
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/29'})
    assert_error(inv, "network 'corp'", '100.64.0.0/29', '6 usable addresses', '7 members', '3 agents',
                 '4 users')


def test_overlay_prefix_just_large_enough():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/29'})
    inv['users'].pop()
    result = build(inv)
    assert result['report']['summary']['leases_free'] == 0


@pytest.mark.parametrize('cidr', ['100.64.0.0/30', '100.64.0.0/15', '10.0.0.0/8'])
def test_overlay_prefix_outside_16_to_29(cidr):
    inv = inventory(network={'name': 'corp', 'cidr': cidr})
    assert_error(inv, 'meshconnect_network', cidr, '/16 to /29')


def test_overlay_cidr_invalid():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.1/24'})
    assert_error(inv, 'meshconnect_network', 'cidr is invalid', 'host bits')


def test_network_without_name():
    inv = inventory(network={'cidr': '100.64.0.0/24'})
    assert_error(inv, 'meshconnect_network', 'has no name')


def test_inventory_without_agents():
    inv = inventory(sites={}, links=[], policies=[])
    assert_error(inv, 'meshconnect_agents', 'no agent hosts')


# ----------------------------------------------------------------------
# typos


def test_unknown_key_in_network():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/24', 'mtu_size': 1400})
    assert_error(inv, 'meshconnect_network', "unknown key 'mtu_size'", 'mtu')


def test_unknown_key_in_site():
    inv = inventory()
    site(inv, 'hq')['routr'] = False
    assert_error(inv, "site 'hq'", "unknown key 'routr'", 'router')


def test_unknown_key_in_site_without_name():
    inv = inventory()
    inv['sites']['gw-extra'] = {'endpont': '203.0.113.7'}
    assert_error(inv, 'gw-extra', "unknown key 'endpont'", 'endpoint')


def test_unknown_key_in_resource():
    inv = inventory()
    site(inv, 'hq')['resources'][1]['port'] = ['tcp/5432']
    assert_error(inv, "site 'hq' resource 'db'", "unknown key 'port'", 'ports')


def test_unknown_key_in_link():
    inv = inventory()
    inv['links'][0]['site'] = ['hq']
    assert_error(inv, "link 'hq-branch'", "unknown key 'site'")


def test_unknown_key_in_user():
    inv = inventory()
    inv['users'][0]['group'] = ['admins']
    assert_error(inv, "user 'alice'", "unknown key 'group'", 'groups')


def test_unknown_key_in_policy():
    inv = inventory()
    inv['policies'][0]['allows'] = ['hq']
    assert_error(inv, "policy 'admins-all'", "unknown key 'allows'", 'allow')


def test_unknown_key_in_policy_test():
    inv = inventory(policy_tests=[{'user': 'alice', 'allowed': ['hq:web']}])
    assert_error(inv, 'policy test #1', "unknown key 'allowed'")


@pytest.mark.parametrize('key, variable', [
    ('links', 'meshconnect_links'), ('users', 'meshconnect_users'),
    ('policies', 'meshconnect_policies'), ('policy_tests', 'meshconnect_policy_tests')])
def test_list_variable_that_is_not_a_list(key, variable):
    inv = inventory(**{key: {'name': 'oops'}})
    assert_error(inv, variable, 'must be a list')


def test_resource_that_is_not_a_mapping():
    inv = inventory()
    site(inv, 'hq')['resources'].append('10.1.0.9')
    assert_error(inv, "site 'hq' resource #", 'must be a mapping')


def test_link_resources_that_are_not_a_list():
    inv = inventory(links=[{'name': 'l1', 'sites': {'hq': 'web', 'branch': []}}])
    assert_error(inv, "link 'l1'", "sites: hq must be a list of resources, or a mapping with expose and connect")


@pytest.mark.parametrize('key, item', [
    ('links', 'link #1'), ('users', 'user #1'), ('policies', 'policy #1'), ('policy_tests', 'policy test #1')])
def test_list_entry_that_is_not_a_mapping(key, item):
    inv = inventory(**{key: ['oops']})
    assert_error(inv, item, 'must be a mapping')


# ----------------------------------------------------------------------
# policies that cannot mean anything


def test_policy_for_nobody():
    inv = inventory(policies=[{'name': 'p1', 'allow': ['hq:web']}])
    assert_error(inv, "policy 'p1'", 'applies to nobody')


def test_policy_allowing_nothing():
    inv = inventory(policies=[{'name': 'p1', 'users': ['alice'], 'except': ['hq:db']}])
    assert_error(inv, "policy 'p1'", 'allows nothing')


def test_invalid_expiry_date():
    inv = inventory()
    inv['users'][0]['expires'] = '30/06/2026'
    assert_error(inv, "user 'alice'", '30/06/2026', 'YYYY-MM-DD')


# ----------------------------------------------------------------------
# all at once


def test_all_errors_are_reported_together():
    inv = inventory()
    site(inv, 'hq')['resources'][0]['address'] = '10.1.0.0/33'
    inv['policies'][1]['users'] = ['mallory']
    inv['links'][0]['sites']['nowhere'] = []
    errors = errors_of(inv)
    assert any("site 'hq' resource 'lan'" in e for e in errors), errors
    assert any("policy 'dev-web'" in e and "'mallory'" in e for e in errors), errors
    assert any("link 'hq-branch'" in e and "'nowhere'" in e for e in errors), errors
    with pytest.raises(MeshError) as info:
        build(inv)
    assert str(info.value).startswith('the mesh inventory has %d errors:' % len(errors))


def test_overlap_errors_of_agents_and_users_are_reported_together():
    inv = inventory()
    site(inv, 'branch')['resources'].append({'name': 'overlap', 'address': '10.3.0.0/24'})
    site(inv, 'branch')['resources'].append({'name': 'clash', 'address': '10.1.0.0/28'})
    inv['links'] = [
        {'name': 'hq-branch', 'sites': {'hq': [], 'branch': ['overlap']}},
        {'name': 'shop-hq', 'sites': {'shop': ['lan'], 'hq': []}},
    ]
    inv['policies'] = [{'name': 'p1', 'users': ['bob'], 'allow': ['hq:lan', 'branch:clash']}]
    errors = errors_of(inv)
    assert any(e.startswith("site 'hq'") and 'branch:overlap' in e for e in errors), errors
    assert any(e.startswith("user 'bob'") for e in errors), errors


# ----------------------------------------------------------------------
# expiry is not an error


def test_expired_user_is_left_out_with_a_warning():
    inv = inventory()
    inv['users'][0]['expires'] = '2026-02-28'    # alice, the day before TODAY
    result = build(inv)
    warnings = [w for w in result['report']['warnings'] if "user 'alice'" in w]
    assert warnings and 'expired on 2026-02-28' in warnings[0]
    for plan in agents(result):
        assert all(p['name'] != 'user:alice' for p in plan['peers'])
        assert all(result['lease_state']['leases']['user/alice'] not in g['sources'] for g in plan['firewall']['groups'])
    assert user(result, 'alice')['expired'] is True
    assert user(result, 'alice')['peers'] == []
    assert 'user:alice' not in reach(result)
    assert result['report']['summary']['active_users'] == 3


def test_user_expiring_today_is_still_active():
    inv = inventory()
    inv['users'][0]['expires'] = '2026-03-01'
    result = build(inv)
    assert user(result, 'alice')['expired'] is False
    assert user(result, 'alice')['peers']


def test_an_expiry_ends_access_at_an_instant_the_agents_enforce():
    # A date ends when its day ends (UTC); an instant ends at that second. The plan carries the end, and every
    # agent that serves the user gets it for its firewall (nothing else of the plan is relative to now).
    ends = {'alice': ('2026-03-01', 1772409600), 'bob': ('2026-03-01T12:30:00Z', 1772368200),
            'carol': ('2026-03-01T13:30:00+01:00', 1772368200)}
    inv = inventory()
    for entry in inv['users']:
        if entry['name'] in ends:
            entry['expires'] = ends[entry['name']][0]
    for now, expired in ((datetime.datetime(2026, 3, 1, 12, 29, 59), set()),
                         (datetime.datetime(2026, 3, 1, 12, 30, 0), {'bob', 'carol'}),
                         (datetime.datetime(2026, 3, 2, 0, 0, 0), {'alice', 'bob', 'carol'})):
        result = build(inv, today=now)
        assert set(n for n, u in result['plan']['users'].items() if u['expired']) == expired, now
        for name, (_text, end) in ends.items():
            assert result['plan']['users'][name].get('expires_at') == (None if name in expired else end)
    result = build(inv, today=datetime.datetime(2026, 3, 1, 8, 0, 0))
    hq = agent_plan(result['plan'], [h for h, a in result['plan']['agents'].items() if a['site'] == 'hq'][0])
    leases = result['lease_state']['leases']
    assert sorted(hq['firewall']['expiring']) == sorted(
        [leases['user/' + name], end] for name, (_text, end) in ends.items())
    # An end past what nftables can hold (2262) is never reached: the agents get no element for it.
    inv['users'][3]['expires'] = '9999-12-31'
    result = build(inv, today=datetime.datetime(2026, 3, 1, 8, 0, 0))
    hq = agent_plan(result['plan'], [h for h, a in result['plan']['agents'].items() if a['site'] == 'hq'][0])
    assert leases['user/dave'] not in [address for address, _end in hq['firewall']['expiring']]
    warnings = build(inv, today=datetime.datetime(2026, 3, 1, 12, 30))['report']['warnings']
    assert any("user 'bob'" in w and 'expired on 2026-03-01T12:30:00Z' in w for w in warnings), warnings


def test_an_expiry_that_is_no_date_or_instant_is_refused_with_the_forms_it_takes():
    for bad in ('2026-03-01 12:30', '2026-03-01T25:00:00Z', 'tomorrow', '2026-3-1'):
        inv = inventory()
        inv['users'][0]['expires'] = bad
        assert_error(inv, "user 'alice'", 'YYYY-MM-DD', 'YYYY-MM-DDTHH:MM:SSZ')


# ----------------------------------------------------------------------
# values that would break generated configuration files


def test_endpoint_with_a_trailing_newline():
    inv = inventory()
    site(inv, 'hq')['endpoint'] = 'vpn.example.com\n'
    assert_error(inv, "site 'hq'", 'endpoint', 'not a host name')


def test_name_with_a_trailing_newline():
    inv = inventory()
    inv['users'][3]['name'] = 'dave\n'
    assert_error(inv, 'user #', 'name', 'is not a valid name')


def test_interface_with_a_trailing_newline():
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/24', 'interface': 'mc0\n'})
    assert_error(inv, 'meshconnect_network', 'interface', 'is not an interface name')


@pytest.mark.parametrize('interface', ['wg-mesh-interface0', 'mc 0', ''])
def test_invalid_interface(interface):
    inv = inventory(network={'name': 'corp', 'cidr': '100.64.0.0/24', 'interface': interface})
    assert_error(inv, 'meshconnect_network', 'interface %r' % interface)
