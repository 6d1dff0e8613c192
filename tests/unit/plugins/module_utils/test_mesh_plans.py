# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent and user plans: peers, AllowedIPs, routes, endpoints, local resources."""

from meshcase import agent, build, firewall_access, firewall_boxes, inventory, key, peer, reach, site, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import nft_elements
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import EVERYTHING, PortSet, parse_ip
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import is_whole, user_plans


def _with_build_server(**extra):
    """Base inventory plus a side-loaded server linked agent-to-agent with hq."""
    inv = inventory()
    inv['sites']['build01'] = dict({'name': 'build', 'router': False, 'endpoint': '198.51.100.30'}, **extra)
    inv['links'].append({'name': 'monitoring', 'sites': ['build', 'hq']})
    return inv


def _resources(plan):
    return dict((r['name'], r) for r in plan['resources'])


# ----------------------------------------------------------------------
# links


def test_agents_only_link_gives_only_overlay_addresses():
    result = build(_with_build_server())
    leases = result['lease_state']['leases']
    build_plan = agent(result, 'build')
    assert [p['name'] for p in build_plan['peers'] if p['name'].startswith('site:')] == ['site:hq']
    assert peer(build_plan, 'site:hq')['allowed_ips'] == [leases['agent/hq'] + '/32']
    assert peer(build_plan, 'site:hq')['links'] == ['monitoring']
    assert build_plan['routes'] == []
    assert peer(agent(result, 'hq'), 'site:build')['allowed_ips'] == [leases['agent/build'] + '/32']
    assert reach(result)['site:build:agent'] == {'hq:agent': 'all'}
    assert reach(result)['site:hq:agent']['build:agent'] == 'all'


def test_exposed_resources_are_in_the_peers_allowed_ips_and_routes():
    result = build(inventory())
    leases = result['lease_state']['leases']
    hq = agent(result, 'hq')
    assert peer(hq, 'site:shop')['allowed_ips'] == ['10.3.0.0/24', leases['agent/shop'] + '/32']
    assert peer(hq, 'site:branch')['allowed_ips'] == ['10.2.0.20/32', leases['agent/branch'] + '/32']
    assert hq['routes'] == ['10.2.0.20/32', '10.3.0.0/24']
    shop = agent(result, 'shop')
    assert peer(shop, 'site:hq')['allowed_ips'] == ['10.1.0.10/32', leases['agent/hq'] + '/32']
    assert shop['routes'] == ['10.1.0.10/32']
    branch = agent(result, 'branch')
    assert branch['routes'] == ['10.1.0.0/24']
    # Sites that share no link are not peers.
    assert peer(shop, 'site:branch') is None and peer(branch, 'site:shop') is None


def test_two_links_between_the_same_sites_merge_into_one_peer():
    inv = inventory()
    inv['links'].append({'name': 'hq-branch-db', 'sites': {'hq': ['db'], 'branch': ['lan']}})
    result = build(inv)
    hq = agent(result, 'hq')
    assert [p['name'] for p in hq['peers']].count('site:branch') == 1
    assert peer(hq, 'site:branch')['links'] == ['hq-branch', 'hq-branch-db']
    assert peer(hq, 'site:branch')['allowed_ips'] == ['10.2.0.0/24', result['lease_state']['leases']['agent/branch'] + '/32']
    assert reach(result)['site:branch:lan']['hq:db'] == 'tcp/5432'


def test_linked_sites_reach_what_is_exposed_and_nothing_else():
    result = build(inventory())
    leases = result['lease_state']['leases']
    hq_sets = firewall_boxes(agent(result, 'hq'))
    shop_agent = parse_ip(leases['agent/shop'])
    web, db = parse_ip('10.1.0.10'), parse_ip('10.1.0.5')
    hq_agent = parse_ip(leases['agent/hq'])
    assert firewall_access(hq_sets, shop_agent, web, web)[0] == PortSet([(80, 80), (443, 443)])
    assert firewall_access(hq_sets, shop_agent, db, db)[0] == PortSet()
    assert firewall_access(hq_sets, shop_agent, hq_agent, hq_agent)[0] == EVERYTHING
    # The shop LAN (exposed by shop on the same link) reaches web too, not the agent.
    shop_host = parse_ip('10.3.0.77')
    assert firewall_access(hq_sets, shop_host, web, web)[0] == PortSet([(80, 80), (443, 443)])
    assert firewall_access(hq_sets, shop_host, hq_agent, hq_agent)[0] == PortSet()
    # branch exposes only nas: other branch hosts reach nothing at hq; nas reaches hq's lan, whose
    # declared resources keep their ports (web: 80 and 443 only).
    assert firewall_access(hq_sets, parse_ip('10.2.0.21'), web, web)[0] == PortSet()
    assert firewall_access(hq_sets, parse_ip('10.2.0.20'), web, web)[0] == PortSet([(80, 80), (443, 443)])
    lan_host = parse_ip('10.1.0.77')
    assert firewall_access(hq_sets, parse_ip('10.2.0.20'), lan_host, lan_host)[0] == EVERYTHING


def test_each_link_grants_on_its_own():
    # Two links between the same sites: what branch exposes on one link does
    # not reach what hq exposes on the other.
    inv = inventory()
    inv['links'] = [
        {'name': 'apps', 'sites': {'hq': ['web'], 'branch': ['lan']}},
        {'name': 'storage', 'sites': {'hq': ['lan'], 'branch': ['nas']}},
    ]
    result = build(inv)
    hq_sets = firewall_boxes(agent(result, 'hq'))
    web, other_host = parse_ip('10.1.0.10'), parse_ip('10.1.0.7')
    branch_host, nas = parse_ip('10.2.0.21'), parse_ip('10.2.0.20')
    branch_agent = parse_ip(result['lease_state']['leases']['agent/branch'])
    assert firewall_access(hq_sets, branch_host, web, web)[0] == PortSet([(80, 80), (443, 443)])
    assert firewall_access(hq_sets, branch_host, other_host, other_host)[0] == PortSet()
    assert firewall_access(hq_sets, nas, other_host, other_host)[0] == EVERYTHING
    assert firewall_access(hq_sets, nas, web, web)[0] == PortSet([(80, 80), (443, 443)])
    assert firewall_access(hq_sets, branch_agent, other_host, other_host)[0] == EVERYTHING
    assert peer(agent(result, 'hq'), 'site:branch')['links'] == ['apps', 'storage']


# ----------------------------------------------------------------------
# endpoints and keepalive


def test_keepalive_only_on_the_peers_of_an_agent_that_cannot_be_dialled():
    result = build(inventory())
    shop = agent(result, 'shop')
    assert shop['dialable'] is False and shop['endpoint'] is None
    assert [p['keepalive'] for p in shop['peers']] == [25]
    assert all(p['keepalive'] == 0 for p in agent(result, 'hq')['peers'])
    assert all(p['keepalive'] == 0 for p in agent(result, 'branch')['peers'])


def test_keepalive_follows_the_network_setting():
    inv = inventory()
    inv['network']['keepalive'] = 15
    result = build(inv)
    assert [p['keepalive'] for p in agent(result, 'shop')['peers']] == [15]
    assert all(p['keepalive'] == 15 for p in user(result, 'alice')['peers'])


def test_endpoint_only_for_peers_that_can_be_dialled():
    inv = inventory()
    inv['sites']['gw-depot'] = {'name': 'depot', 'behind_nat': True, 'port_forwarding': True,
                                'endpoint': 'depot.example.com', 'endpoint_port': 41820}
    inv['sites']['gw-kiosk'] = {'name': 'kiosk', 'behind_nat': True, 'endpoint': '198.51.100.99'}
    inv['links'].append({'name': 'hub', 'sites': ['hq', 'depot', 'kiosk']})
    result = build(inv)
    hq = agent(result, 'hq')
    assert peer(hq, 'site:shop')['endpoint'] is None
    assert peer(hq, 'site:kiosk')['endpoint'] is None            # behind NAT, no port forward
    assert peer(hq, 'site:depot')['endpoint'] == 'depot.example.com:41820'
    assert peer(hq, 'site:branch')['endpoint'] == 'branch.example.com:51820'
    assert peer(agent(result, 'shop'), 'site:hq')['endpoint'] == '203.0.113.1:51820'
    assert agent(result, 'depot')['dialable'] is True and agent(result, 'kiosk')['dialable'] is False
    assert any("site 'kiosk'" in w and 'never dialled' in w for w in result['report']['warnings'])
    # User peers never have an endpoint (users dial in).
    assert all(p['endpoint'] is None for p in hq['peers'] if p['name'].startswith('user:'))


def test_users_only_get_peers_on_sites_they_can_dial():
    result = build(inventory())
    alice = user(result, 'alice')
    assert [p['site'] for p in alice['peers']] == ['branch', 'hq']
    assert [p['endpoint'] for p in alice['peers']] == ['branch.example.com:51820', '203.0.113.1:51820']
    assert all(p['name'] != 'user:alice' for p in agent(result, 'shop')['peers'])
    assert peer(agent(result, 'hq'), 'user:alice')['allowed_ips'] == [result['lease_state']['leases']['user/alice'] + '/32']


def test_user_plan_fields():
    inv = inventory()
    inv['network'].update({'dns': ['10.1.0.53'], 'mtu': 1380})
    inv['policies'][1]['allow'].append('hq:lan:udp/53,tcp/53')
    result = build(inv)
    bob = user(result, 'bob')
    assert bob['address'] == result['lease_state']['leases']['user/bob'] and bob['prefix'] == 32
    assert bob['dns'] == ['10.1.0.53'] and bob['mtu'] == 1380
    assert bob['public_key'] == key(2) and bob['expired'] is False
    assert bob['pending_keys'] == ['site:branch', 'site:hq']      # no agent has reported its key yet


# ----------------------------------------------------------------------
# keys


def test_reported_agent_keys_are_used_and_missing_ones_are_pending():
    inv = inventory()
    del inv['users'][1]['public_key']       # bob's key is to be made by the controller, not yet
    inv['users'][1]['generate_key'] = True
    facts = {'gw-hq': {'public_key': key(100)}, 'gw-shop': {'public_key': key(101)}}
    result = build(inv, facts=facts)
    hq = agent(result, 'hq')
    assert peer(hq, 'site:shop')['public_key'] == key(101)
    assert peer(hq, 'site:branch')['public_key'] is None
    assert hq['pending_keys'] == ['site:branch', 'user:bob']
    assert peer(agent(result, 'branch'), 'site:hq')['public_key'] == key(100)
    bob = user(result, 'bob')
    assert [p['public_key'] for p in bob['peers']] == [None, key(100)]
    assert bob['pending_keys'] == ['site:branch']


# ----------------------------------------------------------------------
# routing flags


def test_side_loaded_agent_does_not_forward_or_masquerade():
    result = build(_with_build_server(masquerade=True))
    plan = agent(result, 'build')
    assert plan['router'] is False and plan['forwarding'] is False and plan['masquerade'] is False
    assert any("site 'build'" in w and 'masquerade has no effect' in w for w in result['report']['warnings'])


def test_router_forwards_and_masquerades_only_when_asked():
    inv = inventory()
    site(inv, 'branch')['masquerade'] = True
    result = build(inv)
    assert agent(result, 'branch')['forwarding'] is True and agent(result, 'branch')['masquerade'] is True
    assert agent(result, 'hq')['forwarding'] is True and agent(result, 'hq')['masquerade'] is False


def test_agent_plan_fields():
    inv = inventory()
    inv['network'].update({'port': 51999, 'interface': 'wgmesh', 'mtu': 1400})
    result = build(inv)
    hq = agent(result, 'hq')
    assert hq['host'] == 'gw-hq'
    assert set(result['plan']['agents']) == {'gw-hq', 'gw-branch', 'gw-shop'}
    assert (hq['listen_port'], hq['interface'], hq['mtu'], hq['prefix']) == (51999, 'wgmesh', 1400, 24)
    assert hq['endpoint'] == '203.0.113.1:51999'
    assert _resources(hq)['db'] == {'name': 'db', 'cidr': '10.1.0.5/32', 'ports': 'tcp/5432', 'kind': 'declared'}
    assert _resources(hq)['agent'] == {'name': 'agent', 'cidr': hq['address'] + '/32', 'ports': 'all',
                                       'kind': 'agent'}


def test_site_name_defaults_to_the_host_name():
    inv = inventory()
    inv['sites']['edge.example'] = {'endpoint': '198.51.100.40'}
    inv['links'].append({'name': 'edge', 'sites': ['edge.example', 'hq']})
    result = build(inv)
    assert agent(result, 'edge.example')['host'] == 'edge.example'
    assert 'agent/edge.example' in result['lease_state']['leases']


# ----------------------------------------------------------------------
# local resources


FACTS = {
    'gw-hq': {'public_key': key(100), 'interfaces': [
        {'name': 'eth0', 'address': '203.0.113.1', 'prefix': 24},      # holds the endpoint: never routed
        {'name': 'eth1', 'address': '172.16.1.1', 'prefix': 24},
        {'name': 'eth2', 'address': '172.16.9.1', 'prefix': 24},       # ignored in the inventory
        {'name': 'mc0', 'address': '100.64.0.2', 'prefix': 24},        # the mesh interface itself
        {'name': 'docker0', 'address': '100.64.0.129', 'prefix': 25},  # overlaps the overlay
        {'name': 'bad', 'address': '172.16.300.1', 'prefix': 24},
    ]},
    'build01': {'public_key': key(101), 'interfaces': [
        {'name': 'eth0', 'address': '198.51.100.30', 'prefix': 24},    # holds its endpoint
        {'name': 'eth1', 'address': '172.20.5.17', 'prefix': 20},
    ]},
    'gw-branch': {'public_key': key(102), 'interfaces': [
        {'name': 'wan', 'address': '198.51.100.7', 'prefix': 24},      # holds build's endpoint
        {'name': 'lan2', 'address': '172.17.0.1', 'prefix': 16},
    ]},
}


def _local_inventory():
    inv = _with_build_server()
    site(inv, 'hq')['ignore_interfaces'] = ['eth2']
    inv['policies'].append({'name': 'ops', 'users': ['dave'],
                            'allow': ['hq:local-eth1:tcp/22', 'build:local-eth1', 'branch:local-lan2']})
    return inv


def test_local_resources_of_a_router_are_subnets():
    result = build(_local_inventory(), facts=FACTS)
    hq = _resources(agent(result, 'hq'))
    assert hq['local-eth1'] == {'name': 'local-eth1', 'cidr': '172.16.1.0/24', 'ports': 'all', 'kind': 'local'}
    assert not set(hq) & {'local-eth0', 'local-eth2', 'local-mc0', 'local-docker0', 'local-bad'}
    assert any("site 'hq'" in w and 'malformed' in w and "'bad'" in w for w in result['report']['warnings'])
    assert _resources(agent(result, 'branch'))['local-lan2']['cidr'] == '172.17.0.0/16'
    assert 'local-wan' not in _resources(agent(result, 'branch'))


def test_local_resources_of_a_side_loaded_agent_are_host_addresses():
    result = build(_local_inventory(), facts=FACTS)
    build_res = _resources(agent(result, 'build'))
    assert build_res['local-eth1']['cidr'] == '172.20.5.17/32'
    assert 'local-eth0' not in build_res


def test_local_resources_are_granted_like_declared_ones():
    result = build(_local_inventory(), facts=FACTS)
    assert reach(result)['user:dave'] == {
        'hq:local-eth1': 'tcp/22', 'build:local-eth1': 'all', 'branch:local-lan2': 'all'}
    dave = user(result, 'dave')
    assert [(p['site'], p['allowed_ips']) for p in dave['peers']] == [
        ('branch', ['172.17.0.0/16']), ('build', ['172.20.5.17/32']), ('hq', ['172.16.1.0/24'])]


def test_local_resources_before_the_agent_reports_are_left_out_with_a_warning():
    inv = _local_inventory()
    result = build(inv, facts={'gw-hq': FACTS['gw-hq']})
    assert 'build:local-eth1' not in reach(result)['user:dave']
    assert any('build:local-eth1' in w and 'not known until the agent reports' in w
               for w in result['report']['warnings'])
    assert 'local-eth1' not in _resources(agent(result, 'build'))


def test_local_resource_exposed_on_a_link():
    inv = _local_inventory()
    inv['links'][0]['sites']['hq'] = ['lan', 'local-eth1']
    result = build(inv, facts=FACTS)
    branch = agent(result, 'branch')
    assert '172.16.1.0/24' in peer(branch, 'site:hq')['allowed_ips']
    assert '172.16.1.0/24' in branch['routes']


# ----------------------------------------------------------------------
# firewall groups


def test_users_with_the_same_access_share_one_firewall_group():
    inv = inventory()
    inv['users'].append({'name': 'erin', 'groups': ['dev'], 'public_key': key(6)})
    result = build(inv)
    leases = result['lease_state']['leases']
    groups = agent(result, 'hq')['firewall']['groups']
    shared = [g for g in groups if leases['user/bob'] in g['sources']]
    assert len(shared) == 1 and shared[0]['sources'] == [leases['user/bob'], leases['user/erin']]
    assert shared[0]['ports'] == [['10.1.0.10', 'tcp', 80, 80], ['10.1.0.10', 'tcp', 443, 443]]
    # What nftables is given: one element per source and destination port.
    assert [e for e in nft_elements(groups, 'ports') if e.startswith(leases['user/erin'] + ' ')] == [
        leases['user/erin'] + ' . 10.1.0.10 . tcp . 80', leases['user/erin'] + ' . 10.1.0.10 . tcp . 443']
    assert shared[0]['other'] == [] and shared[0]['ping'] == ['10.1.0.10']


def test_users_with_equal_access_share_their_plan():
    inv = inventory()
    base = build(inv)['plan']
    inv['users'].extend({'name': 'dev%d' % i, 'groups': ['dev'], 'public_key': key(100 + i)} for i in range(50))
    result = build(inv)
    plan = result['plan']
    # Fifty more users: fifty small entries and fifty names in their class; no new class, no new site peer.
    assert plan['site_peers'] == base['site_peers'] and len(plan['classes']) == len(base['classes'])
    assert set(plan['users']['dev7']) == set(['name', 'address', 'expired', 'public_key', 'class'])
    shared = plan['users']['bob']['class']
    assert plan['users']['dev7']['class'] == shared
    assert plan['classes'][shared]['users'] == sorted(['bob'] + ['dev%d' % i for i in range(50)])
    # Each user's whole plan is still there for whoever needs it.
    dev7, bob = user(result, 'dev7'), user(result, 'bob')
    assert dev7['peers'] == bob['peers'] and dev7['dns'] == bob['dns'] and dev7['address'] != bob['address']
    assert user_plans(plan) == dict((name, user(result, name)) for name in plan['users'])


def _named(agent_entry, plan):
    """The users a lean agent entry's groups name through their classes."""
    return sorted(name for g in agent_entry['firewall']['groups'] for class_id in g.get('classes', ())
                  for name in plan['classes'][class_id]['users'])


def test_agents_name_their_users_and_the_whole_plan_has_their_peers():
    inv = inventory()
    result = build(inv)
    plan = result['plan']
    hq_host = [h for h, a in plan['agents'].items() if a['site'] == 'hq'][0]
    lean = plan['agents'][hq_host]
    assert all(p['kind'] == 'site' for p in lean['peers'])
    user_groups = [g for g in lean['firewall']['groups'] if 'classes' in g]
    named = _named(lean, plan)
    assert named and all(name in plan['users'] for name in named)
    assert all('sources' not in g and g['peer'] in plan['site_peers'] for g in user_groups)
    assert not is_whole(lean)
    whole = agent(result, 'hq')
    assert is_whole(whole)
    assert [p['name'] for p in whole['peers'] if p['kind'] == 'user'] == ['user:' + name for name in named]
    assert whole['peers'][:len(lean['peers'])] == lean['peers']
    bob = peer(whole, 'user:bob')
    assert bob['allowed_ips'] == [plan['users']['bob']['address'] + '/32']
    assert bob['public_key'] == plan['users']['bob']['public_key']
    assert all('classes' not in g and 'peer' not in g and g['sources'] for g in whole['firewall']['groups'])
    assert [plan['users']['bob']['address']] in [[s for s in g['sources'] if s == plan['users']['bob']['address']]
                                                 for g in whole['firewall']['groups']]
    # The site peer a group names is the one its users' clients have for hq.
    for group in user_groups:
        for class_id in group['classes']:
            for name in plan['classes'][class_id]['users']:
                hq_peers = [p for p in user(result, name)['peers'] if p['site'] == 'hq']
                assert [dict(p, keepalive=None) for p in hq_peers] == [
                    dict(plan['site_peers'][group['peer']], keepalive=None)]
    # Fifty more users of one team: fifty names more on the agent, nothing else.
    inv['users'].extend({'name': 'dev%d' % i, 'groups': ['dev'], 'public_key': key(100 + i)} for i in range(50))
    bigger_plan = build(inv)['plan']
    bigger = bigger_plan['agents'][hq_host]
    assert _named(bigger, bigger_plan) == sorted(named + ['dev%d' % i for i in range(50)])
    assert bigger['peers'] == lean['peers'] and len(bigger['firewall']['groups']) == len(lean['firewall']['groups'])
