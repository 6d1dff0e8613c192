# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least privilege: links with a direction and ports, the agent whatever
address is used, discovery that never widens a grant, DNS only where it is
reachable, and what the firewall lets into the mesh from a site (anti-spoofing)."""

import pytest

from meshcase import agent, assert_error, build, firewall_access, firewall_boxes, inventory, key, peer, reach, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import nft_elements
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, PortSet, parse_ip,
)


def _sets(result, site_name):
    return firewall_boxes(agent(result, site_name))


def _reach(result, owner, src, dst):
    src = parse_ip(result['lease_state']['leases'][src] if '/' in src else src)
    dst = parse_ip(result['lease_state']['leases'][dst] if '/' in dst else dst)
    return firewall_access(_sets(result, owner), src, dst, dst)[0]


def _one_way():
    """hq exposes db on tcp/5432; the shop's lan opens connections to it; nothing else."""
    inv = inventory()
    inv['links'] = [{'name': 'stores', 'sites': {'hq': {'expose': ['db:tcp/5432']}, 'shop': {'connect': ['lan']}}}]
    return inv


# ----------------------------------------------------------------------
# links: direction, ports, agents


def test_one_way_link_lets_the_connector_in_and_nothing_back():
    result = build(_one_way())
    # shop's LAN reaches hq's db on its port, at hq.
    assert _reach(result, 'hq', '10.3.0.7', '10.1.0.5') == PortSet([(5432, 5432)])
    assert _reach(result, 'hq', '10.3.0.7', '10.1.0.10') == NOTHING
    # hq's db (or anything at hq) cannot open a connection into the shop.
    for src in ('10.1.0.5', '10.1.0.10', 'agent/hq'):
        assert _reach(result, 'shop', src, '10.3.0.7') == NOTHING, src
    # The agents still reach each other (the link's default: agents: all).
    assert _reach(result, 'hq', 'agent/shop', 'agent/hq') == EVERYTHING
    # Routing follows: hq routes the shop's LAN back to the shop (replies), the shop routes db to hq.
    leases = result['lease_state']['leases']
    assert peer(agent(result, 'hq'), 'site:shop')['allowed_ips'] == ['10.3.0.0/24', leases['agent/shop'] + '/32']
    assert peer(agent(result, 'shop'), 'site:hq')['allowed_ips'] == ['10.1.0.5/32', leases['agent/hq'] + '/32']
    assert reach(result)['site:shop:lan'] == {'hq:db': 'tcp/5432', 'hq:lan': 'partial: 10.1.0.5 tcp/5432'}
    assert 'site:hq:db' not in reach(result)


def test_exposure_ports_narrow_the_resource_ports():
    inv = inventory()
    inv['links'] = [{'name': 'l', 'sites': {'hq': ['web:tcp/443,tcp/22'], 'branch': ['lan']}}]
    result = build(inv)
    assert _reach(result, 'hq', '10.2.0.9', '10.1.0.10') == PortSet([(443, 443)])
    assert reach(result)['site:branch:lan']['hq:web'] == 'tcp/443'


def test_link_agents_setting():
    inv = inventory()
    inv['links'][0]['agents'] = ['tcp/22']
    inv['links'][1]['agents'] = 'none'
    result = build(inv)
    assert _reach(result, 'hq', 'agent/branch', 'agent/hq') == PortSet([(22, 22)])
    assert _reach(result, 'branch', 'agent/hq', 'agent/branch') == PortSet([(22, 22)])
    assert _reach(result, 'hq', 'agent/shop', 'agent/hq') == NOTHING
    # Exposures still work through a link whose agents reach nothing of each other.
    assert _reach(result, 'hq', '10.3.0.7', '10.1.0.10') == PortSet([(80, 80), (443, 443)])


def test_members_with_nothing_to_carry_get_no_tunnel():
    inv = inventory()
    inv['sites']['gw-branch']['endpoint'] = '198.51.100.2'
    inv['links'] = [{'name': 'star', 'agents': 'none', 'sites': {
        'hq': {'expose': ['db']}, 'branch': {'connect': ['lan']}, 'shop': {'connect': ['lan']}}}]
    result = build(inv)
    assert peer(agent(result, 'branch'), 'site:shop') is None
    assert peer(agent(result, 'shop'), 'site:branch') is None
    assert peer(agent(result, 'hq'), 'site:shop') and peer(agent(result, 'hq'), 'site:branch')


def test_plain_form_keeps_the_seed_behaviour():
    result = build(inventory())
    # hq-branch: hq [lan], branch [nas]: each side's exposures and agent reach the other's exposures.
    assert _reach(result, 'hq', '10.2.0.20', '10.1.0.77') == EVERYTHING
    assert _reach(result, 'hq', 'agent/branch', '10.1.0.77') == EVERYTHING
    assert _reach(result, 'branch', '10.1.0.77', '10.2.0.20') == PortSet([(445, 445)], [(137, 138)])
    assert _reach(result, 'branch', 'agent/hq', 'agent/branch') == EVERYTHING
    # What is not exposed does not open connections either.
    assert _reach(result, 'hq', '10.2.0.21', '10.1.0.77') == NOTHING


@pytest.mark.parametrize('member, fragments', [
    ({'expose': ['agent']}, ("exposes 'agent'", 'agents:')),
    ({'expose': ['*']}, ("exposes '*'",)),
    ({'expose': ['db:tcp/99999']}, ('ports must be between',)),
    ({'expose': ['nope']}, ("unknown resource 'nope'",)),
    ({'connect': ['lan:tcp/22']}, ("connect entry 'lan:tcp/22' is not a resource name",)),
    ({'connect': 'lan'}, ('connect must be a list',)),
    ({'exposes': ['db']}, ("unknown key 'exposes'",)),
    ('db', ('must be a list of resources, or a mapping with expose and connect',)),
])
def test_bad_link_members_are_named_with_a_fix(member, fragments):
    inv = inventory()
    inv['links'] = [{'name': 'bad', 'sites': {'hq': member, 'branch': ['lan']}}]
    assert_error(inv, "link 'bad'", *fragments)


@pytest.mark.parametrize('agents', ['some', 5, [], ['tcp/0']])
def test_bad_agents_setting(agents):
    inv = inventory()
    inv['links'][0]['agents'] = agents
    assert_error(inv, "link 'hq-branch'", 'agents')


def test_a_link_nobody_connects_through_warns():
    inv = inventory()
    inv['links'] = [{'name': 'idle', 'sites': {'hq': {'expose': ['db']}, 'branch': {'expose': ['nas']}}}]
    warnings = build(inv)['report']['warnings']
    assert any("link 'idle'" in w and 'no other member opens connections' in w for w in warnings)


# ----------------------------------------------------------------------
# site-to-site policy tests and explain


def test_site_policy_tests():
    inv = _one_way()
    inv['policy_tests'] = [
        {'site': 'shop', 'allow': ['hq:db:tcp/5432'], 'deny': ['hq:web', 'hq:db:tcp/22']},
        {'site': 'shop:lan', 'allow': ['hq:db']},
        {'site': 'hq', 'deny': ['shop:lan']},
        {'site': 'hq:db', 'deny': ['shop']},
        {'site': 'shop', 'allow': ['hq:web']},      # fails
    ]
    tests = build(inv)['report']['tests']
    failed = [(t['from'], t['flow']) for t in tests if not t['passed']]
    assert failed == [('site:shop', 'hq:web')]
    assert [t['from'] for t in tests][:3] == ['site:shop'] * 3


@pytest.mark.parametrize('entry, fragments', [
    ({'site': 'nowhere', 'deny': ['hq']}, ("unknown site 'nowhere'",)),
    ({'site': 'hq:printer', 'deny': ['shop']}, ("unknown resource 'printer'",)),
    ({'user': 'bob', 'site': 'hq', 'deny': ['shop']}, ('either user or site',)),
    ({'deny': ['shop']}, ('either user or site',)),
])
def test_bad_site_policy_tests(entry, fragments):
    assert_error(inventory(policy_tests=[entry]), 'policy test #1', *fragments)


def test_explain_one_way_link():
    answer = build(_one_way(), explain='hq:db shop:lan')['report']['explain']
    assert answer['verdict'] == 'denied'
    assert "link 'stores': shop exposes nothing" in answer['reasons']
    answer = build(_one_way(), explain='shop hq:db:tcp/5432')['report']['explain']
    assert answer['verdict'] == 'allowed'
    assert answer['reasons'][0] == "link 'stores': shop (lan) may open connections to db:tcp/5432 exposed by hq"


# ----------------------------------------------------------------------
# the agent is the agent, whatever address is used


def _facts_hq():
    return {'gw-hq': {'public_key': key(100), 'interfaces': [
        {'name': 'eth0', 'address': '203.0.113.1', 'prefix': 24, 'default_route': True},
        {'name': 'eth1', 'address': '10.1.0.1', 'prefix': 24},
    ]}}


def test_a_lan_grant_does_not_grant_the_agent():
    inv = inventory(policies=[{'name': 'p', 'users': ['bob'], 'allow': ['hq'], 'except': ['hq:agent']}])
    result = build(inv, facts=_facts_hq())
    hq = agent(result, 'hq')
    assert hq['local_addresses'] == ['10.1.0.1', '203.0.113.1']
    # bob reaches the LAN, but neither the agent's overlay address nor its LAN address 10.1.0.1:
    # traffic to any address of the agent is looked up in the agent's own sets.
    assert _reach(result, 'hq', 'user/bob', '10.1.0.77') == EVERYTHING
    assert _reach(result, 'hq', 'user/bob', 'agent/hq') == NOTHING
    bob = result['lease_state']['leases']['user/bob']
    assert all(not g['agent_ports'] and not g['agent_other'] and not g['agent_ping']
               for g in hq['firewall']['groups'] if bob in g['sources'])


def test_agent_grant_with_ports_is_looked_up_without_a_destination():
    inv = inventory(policies=[{'name': 'p', 'users': ['bob'], 'allow': ['hq:agent:tcp/22']}])
    result = build(inv)
    groups = agent(result, 'hq')['firewall']['groups']
    bob = result['lease_state']['leases']['user/bob']
    assert [(g['sources'], g['agent_ports'], g['agent_other'], g['agent_ping']) for g in groups
            if bob in g['sources']] == [([bob], [['tcp', 22, 22]], False, True)]
    assert all(not g['ports'] or bob not in g['sources'] for g in groups)


def test_a_side_loaded_agents_own_addresses_are_the_agent():
    inv = inventory(policies=[{'name': 'p', 'users': ['bob'], 'allow': ['build:local-eth1:tcp/80']}])
    inv['sites']['build01'] = {'name': 'build', 'router': False, 'endpoint': '198.51.100.30'}
    facts = {'build01': {'public_key': key(101), 'interfaces': [
        {'name': 'eth0', 'address': '198.51.100.30', 'prefix': 24, 'default_route': True},
        {'name': 'eth1', 'address': '10.9.0.5', 'prefix': 24}]}}
    result = build(inv, facts=facts)
    build_plan = agent(result, 'build')
    assert [r['cidr'] for r in build_plan['resources'] if r['kind'] == 'local'] == ['10.9.0.5/32']
    assert _reach(result, 'build', 'user/bob', '10.9.0.5') == PortSet([(80, 80)])
    assert [g['agent_ports'] for g in build_plan['firewall']['groups']] == [[['tcp', 80, 80]]]
    assert nft_elements(build_plan['firewall']['groups'], 'agent_ports') == [result['lease_state']['leases']['user/bob'] + ' . tcp . 80']
    assert all(not g['ports'] for g in build_plan['firewall']['groups'])


# ----------------------------------------------------------------------
# discovery never widens a grant silently


def _discovered(interfaces, **site):
    inv = inventory(policies=[{'name': 'p', 'users': ['bob'], 'allow': ['hq']}])
    inv['sites']['gw-hq'].update(site)
    return build(inv, facts={'gw-hq': {'public_key': key(100), 'interfaces': interfaces}})


def _locals(result):
    return dict((r['name'], r['cidr']) for r in agent(result, 'hq')['resources'] if r['kind'] == 'local')


def test_uplink_virtual_and_container_interfaces_are_skipped_and_reported():
    result = _discovered([
        {'name': 'wan0', 'address': '192.168.1.20', 'prefix': 24, 'default_route': True},     # the ISP box's network
        {'name': 'eth1', 'address': '10.1.0.1', 'prefix': 24},                               # the LAN
        {'name': 'docker0', 'address': '172.17.0.1', 'prefix': 16},
        {'name': 'br-0123456789ab', 'address': '172.18.0.1', 'prefix': 16},
        {'name': 'vx0', 'address': '10.200.0.1', 'prefix': 24, 'kind': 'vxlan'},
        {'name': 'tun0', 'address': '10.8.0.1', 'prefix': 24, 'kind': 'tun'},
        {'name': 'guest', 'address': '10.99.0.1', 'prefix': 24},
    ])
    assert _locals(result) == {'local-eth1': '10.1.0.0/24', 'local-guest': '10.99.0.0/24'}
    discovery = dict((e['interface'], e) for e in result['report']['discovery']['hq'])
    assert discovery['wan0']['resource'] is None and 'uplink' in discovery['wan0']['why']
    for name in ('docker0', 'br-0123456789ab', 'vx0', 'tun0'):
        assert discovery[name]['resource'] is None and 'virtual' in discovery[name]['why'], name
    assert discovery['guest']['resource'] == 'local-guest'
    # bob's whole-site grant reaches neither the uplink nor the bridges.
    for address in ('192.168.1.1', '172.17.0.2', '10.200.0.9'):
        assert _reach(result, 'hq', 'user/bob', address) == NOTHING, address
        assert not any(address.rsplit('.', 1)[0] in ip for p in user(result, 'bob')['peers']
                       for ip in p['allowed_ips']), address


def test_the_default_route_interface_is_kept_when_it_is_the_lan():
    # A one-armed router: the LAN holds the default route, and a declared resource lies inside it.
    result = _discovered([{'name': 'eth0', 'address': '10.1.0.2', 'prefix': 24, 'default_route': True}])
    assert _locals(result) == {'local-eth0': '10.1.0.0/24'}


def test_include_interfaces_offers_a_skipped_interface():
    result = _discovered([{'name': 'br0', 'address': '10.50.0.1', 'prefix': 24, 'kind': 'vxlan'},
                          {'name': 'wan0', 'address': '192.168.1.20', 'prefix': 24, 'default_route': True}],
                         include_interfaces=['br0'])
    assert _locals(result) == {'local-br0': '10.50.0.0/24'}


def test_bad_interface_lists_are_errors():
    inv = inventory()
    inv['sites']['gw-hq']['include_interfaces'] = ['eth0; rm -rf /', 7]
    assert_error(inv, "site 'hq'", 'include_interfaces', 'not an interface name')


# ----------------------------------------------------------------------
# DNS only where it is reachable


def test_dns_servers_go_only_to_users_who_reach_them():
    inv = inventory()
    inv['network']['dns'] = ['10.1.0.53', '10.2.0.53', '9.9.9.9']
    inv['policies'].append({'name': 'dns', 'users': ['carol'], 'allow': ['hq:lan:udp/53,tcp/53']})
    inv['policies'].append({'name': 'half', 'users': ['bob'], 'allow': ['branch:lan:udp/53']})
    result = build(inv)
    users = dict((name, user(result, name)) for name in result['plan']['users'])
    assert users['alice']['dns'] == ['10.1.0.53', '10.2.0.53']     # everything (shop cannot be dialled)
    assert users['carol']['dns'] == ['10.1.0.53']
    assert users['bob']['dns'] == []                                 # udp/53 only is not enough
    warnings = [w for w in result['report']['warnings'] if 'dns server' in w]
    assert any('9.9.9.9' in w and 'alice' in w for w in warnings)
    assert any('10.2.0.53' in w and 'bob' in w and 'carol' in w for w in warnings)
    assert all('Fix:' in w for w in warnings)


# ----------------------------------------------------------------------
# what may enter the mesh from a site


def test_local_sources_are_the_sites_own_ranges():
    result = build(inventory(), facts=_facts_hq())
    assert agent(result, 'hq')['firewall']['local_sources'] == ['10.1.0.0/24']
    assert agent(result, 'branch')['firewall']['local_sources'] == ['10.2.0.0/24']
