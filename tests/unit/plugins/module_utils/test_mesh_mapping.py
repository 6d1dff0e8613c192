# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""1:1 network mapping: sites whose LANs overlap publish them under mapped prefixes of the same size. The mesh
(peers, users, routes, relays) sees only the published addresses; each agent's firewall filters its own LAN by
its real addresses (destinations are translated before the filter) and other mapped sites by their published
ones (sources are translated as they leave their site)."""

from meshcase import agent, assert_error, build, firewall_access, firewall_boxes, inventory, key, peer, site, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_graph import resource_text
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import cidr_interval, parse_ip
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_probe import expected, probe_targets
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import checked
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table, report_text

LAN = '192.168.1.0/24'


def _shops(map_one=True, map_two=True, **extra):
    """Two shops with the same LAN, linked to each other, both granted to alice (and hq as before)."""
    inv = inventory()
    for number, mapped in ((1, map_one), (2, map_two)):
        raw = {'name': 'shop%d' % number, 'endpoint': '198.51.100.%d' % number,
               'resources': [{'name': 'lan', 'address': LAN},
                             {'name': 'till', 'address': '192.168.1.50', 'ports': ['tcp/9100']}]}
        if mapped:
            raw['mappings'] = [{'prefix': LAN, 'published_as': '10.201.%d.0/24' % number}]
        inv['sites']['gw-shop%d' % number] = raw
    inv['links'].append({'name': 'shops', 'sites': {'shop1': ['lan'], 'shop2': ['lan']}})
    inv['policies'].append({'name': 'shops', 'users': ['bob'], 'allow': ['shop1:till', 'shop2']})
    for key_name, value in extra.items():
        inv[key_name] = value
    return inv


def test_overlapping_lans_without_a_mapping_are_refused_with_the_mapping_to_add():
    for mapped in ((False, False), (True, False), (False, True)):
        errors = assert_error(_shops(*mapped), 'would route', 'overlaps its own resource', 'mappings:')
        assert any("published_as" in error for error in errors)


def test_the_mesh_sees_only_published_addresses():
    result = build(_shops())
    shop1, shop2 = agent(result, 'shop1'), agent(result, 'shop2')
    leases = result['lease_state']['leases']
    assert peer(shop1, 'site:shop2')['allowed_ips'] == ['10.201.2.0/24', leases['agent/shop2'] + '/32']
    assert peer(shop2, 'site:shop1')['allowed_ips'] == ['10.201.1.0/24', leases['agent/shop1'] + '/32']
    assert shop1['routes'] == ['10.201.2.0/24'] and shop2['routes'] == ['10.201.1.0/24']
    bob = user(result, 'bob')
    bob_ips = sorted(ip for p in bob['peers'] for ip in p['allowed_ips'])
    assert '10.201.1.50/32' in bob_ips and '10.201.2.0/24' in bob_ips
    # Nobody outside the shops is given a real address of theirs.
    real = cidr_interval(LAN)
    for plan in [agent(result, name) for name in ('hq', 'branch', 'shop')] + [shop1, shop2]:
        for entry in plan['peers']:
            for text in entry['allowed_ips'] + (plan['routes'] if plan['site'] != 'hq' else []):
                lo, hi = cidr_interval(text) if '/' in text else (parse_ip(text),) * 2
                assert hi < real[0] or lo > real[1], (plan['site'], entry['name'], text)


def test_each_agent_maps_its_own_lan_and_filters_it_by_its_real_addresses():
    result = build(_shops())
    shop1, shop2 = agent(result, 'shop1'), agent(result, 'shop2')
    assert shop1['firewall']['netmap'] == [['10.201.1.0/24', LAN]]
    assert shop2['firewall']['netmap'] == [['10.201.2.0/24', LAN]]
    assert {r['name']: (r['cidr'], r.get('real')) for r in shop1['resources'] if r['kind'] != 'agent'} == {
        'lan': ('10.201.1.0/24', LAN), 'till': ('10.201.1.50/32', '192.168.1.50/32')}
    # The link: shop1's LAN hosts arrive at shop2 with their published source, to shop2's real LAN.
    sets2 = firewall_boxes(shop2)
    ports, _ping = firewall_access(sets2, parse_ip('10.201.1.7'), parse_ip('192.168.1.9'), parse_ip('192.168.1.9'))
    assert ports.tcp and ports.udp
    ports, _ping = firewall_access(sets2, parse_ip('192.168.1.7'), parse_ip('192.168.1.9'), parse_ip('192.168.1.9'))
    assert not ports.tcp, 'a real source of the other shop must not be allowed: it is never seen'
    ports, _ping = firewall_access(sets2, parse_ip('10.201.1.7'), parse_ip('10.201.2.9'), parse_ip('10.201.2.9'))
    assert not ports.tcp, 'the firewall sees translated destinations only'
    # bob: shop1's till on its port only, shop2 whole, each by its real addresses at its agent.
    bob = parse_ip(result['lease_state']['leases']['user/bob'])
    sets1 = firewall_boxes(shop1)
    till = parse_ip('192.168.1.50')
    ports, _ping = firewall_access(sets1, bob, till, till)
    assert list(ports.tcp) == [(9100, 9100)] and not ports.udp
    ports, _ping = firewall_access(sets1, bob, parse_ip('192.168.1.9'), parse_ip('192.168.1.9'))
    assert not ports.tcp
    ports, _ping = firewall_access(sets2, bob, parse_ip('192.168.1.9'), parse_ip('192.168.1.9'))
    assert ports.tcp
    # Anti-spoofing: what leaves the site is checked before its source is translated.
    assert shop1['firewall']['local_sources'] == [LAN]


def test_a_discovered_lan_inside_a_mapping_is_published_too():
    inv = _shops()
    for number in (1, 2):
        site(inv, 'shop%d' % number)['resources'] = []
    inv['links'][-1] = {'name': 'shops', 'sites': {'shop1': ['local-eth1'], 'shop2': ['local-eth1']}}
    inv['policies'][-1] = {'name': 'shops', 'users': ['bob'], 'allow': ['shop2']}
    facts = dict(('gw-shop%d' % n, {'public_key': key(110 + n), 'interfaces': [
        {'name': 'eth0', 'address': '198.51.100.%d' % n, 'prefix': 24},
        {'name': 'eth1', 'address': '192.168.1.1', 'prefix': 24}]}) for n in (1, 2))
    result = build(inv, facts=facts)
    shop1 = agent(result, 'shop1')
    assert [(r['cidr'], r['real']) for r in shop1['resources'] if r['kind'] == 'local'] == [('10.201.1.0/24', LAN)]
    assert '10.201.2.0/24' in peer(shop1, 'site:shop2')['allowed_ips']


def _published_as(text, **changes):
    inv = _shops()
    site(inv, 'shop1')['mappings'][0]['published_as'] = text
    site(inv, 'shop1').update(changes)
    return inv


def test_mappings_that_cannot_work_are_refused_naming_the_fix():
    assert_error(_published_as('10.201.0.0/23'), "site 'shop1' mapping 192.168.1.0/24", 'same size',
                 'publish it as a /24')
    inv = _shops()
    site(inv, 'shop2')['mappings'][0]['published_as'] = '10.201.1.0/24'
    assert_error(inv, "site 'shop2' mapping", 'overlaps 10.201.1.0/24', "'shop1'")
    assert_error(_published_as('100.64.0.0/24'), 'overlaps the overlay network')
    assert_error(_published_as('127.0.0.0/24'), 'overlaps 127.0.0.0/8')
    assert_error(_published_as('10.9.9.0/24', endpoint='10.9.9.1'), 'contains 10.9.9.1, the endpoint')
    assert_error(_published_as('198.51.100.0/24'), 'is not private address space')
    assert_error(_published_as('10.201.1.0/33'), 'published_as is invalid')
    inv = _shops()
    site(inv, 'shop1')['mappings'][0].update(prefix='192.168.1.0/25', published_as='10.201.1.0/25')
    assert_error(inv, "site 'shop1' resource 'lan'", 'partly inside the mapped prefix 192.168.1.0/25')
    inv = _shops()
    site(inv, 'shop1')['resources'].append({'name': 'printer', 'address': '10.201.1.9'})
    assert_error(inv, "site 'shop1' resource 'printer'", 'under which the site publishes 192.168.1.0/24')
    inv = _shops()
    site(inv, 'shop1')['mappings'].append({'prefix': '192.168.1.0/25', 'published_as': '10.202.0.0/25'})
    assert_error(inv, 'overlaps the mapping of 192.168.1.0/24')


def test_verify_expects_flows_by_published_addresses():
    result = build(_shops())
    plan = result['plan']
    bob = result['lease_state']['leases']['user/bob']
    targets = dict((t['target'], t['address']) for t in probe_targets(plan, ['tcp/22'], principal='user:bob'))
    assert targets['shop1:till'] == '10.201.1.50' and targets['shop2:till'] == '10.201.2.50'
    assert expected(plan, 'user:bob', bob, '10.201.1.50', 'tcp', 9100)
    assert not expected(plan, 'user:bob', bob, '10.201.1.50', 'tcp', 22)
    assert expected(plan, 'user:bob', bob, '10.201.2.9', 'tcp', 22)
    assert not expected(plan, 'user:bob', bob, '192.168.1.50', 'tcp', 9100)     # a real address: nobody's
    # A shop's LAN host reaches the other shop's LAN through the link; hq, not linked to them, does not.
    assert expected(plan, 'site:shop1', '192.168.1.7', '10.201.2.9', 'tcp', 8080)
    assert expected(plan, 'site:shop2', '192.168.1.7', '10.201.1.50', 'tcp', 9100)
    assert not expected(plan, 'site:hq', '10.1.0.10', '10.201.1.9', 'tcp', 8080)


def test_the_matrix_shows_the_published_and_the_real_address():
    result = build(_shops())
    matrix = result['matrix']
    assert matrix['resources']['shop2:lan'] == '10.201.2.0/24' and matrix['real']['shop2:lan'] == LAN
    assert matrix['real']['shop1:till'] == '192.168.1.50'
    assert 'hq:lan' not in matrix['real']
    assert checked(matrix) is matrix
    table = matrix_table(matrix)
    assert 'shop2:lan [10.201.2.0/24 = 192.168.1.0/24 inside]' in table
    # An unmapped mesh has no such entry: its snapshots stay as they were.
    assert 'real' not in build(inventory())['matrix']


def _auto(*numbers, **network):
    inv = _shops()
    inv['network'] = dict(inv['network'], **dict({'mapping_pool': '10.200.0.0/22'}, **network))
    for number in numbers:
        site(inv, 'shop%d' % number)['mappings'] = [{'prefix': LAN, 'published_as': 'auto'}]
    return inv


def test_auto_mappings_take_the_lowest_free_prefix_of_the_pool_and_keep_it():
    first = build(_auto(1, 2))
    assert first['lease_state']['mappings'] == {'shop1': {LAN: '10.200.0.0/24'}, 'shop2': {LAN: '10.200.1.0/24'}}
    assert [c['published_as'] for c in first['report']['mapping_changes']] == ['10.200.0.0/24', '10.200.1.0/24']
    assert agent(first, 'shop1')['firewall']['netmap'] == [['10.200.0.0/24', LAN]]
    # A new site that sorts first, mapped too, gets a new prefix: the others keep theirs.
    inv = _auto(1, 2)
    inv['sites']['gw-shop0'] = {'name': 'shop0', 'resources': [{'name': 'lan', 'address': LAN}],
                                'mappings': [{'prefix': LAN, 'published_as': 'auto'}]}
    again = build(inv, lease_state=first['lease_state'])
    assert again['lease_state']['mappings'] == {'shop0': {LAN: '10.200.2.0/24'}, 'shop1': {LAN: '10.200.0.0/24'},
                                                'shop2': {LAN: '10.200.1.0/24'}}
    assert [c['site'] for c in again['report']['mapping_changes']] == ['shop0']
    # An explicit one is never given to another.
    inv = _auto(2)
    site(inv, 'shop1')['mappings'] = [{'prefix': LAN, 'published_as': '10.200.0.0/24'}]
    assert build(inv)['lease_state']['mappings'] == {'shop2': {LAN: '10.200.1.0/24'}}


def test_auto_mappings_fail_clearly_without_room_or_a_pool():
    inv = _auto(1)
    site(inv, 'shop1')['mappings'][0]['prefix'] = '100.64.0.0/24'
    assert_error(inv, "site 'shop1' mapping 100.64.0.0/24", 'overlaps the overlay network')
    assert_error(_auto(1, 2, mapping_pool='10.200.0.0/24'), "site 'shop2' mapping 192.168.1.0/24",
                 'no free /24 left', 'widen meshconnect_network.mapping_pool')
    inv = _auto(1)
    del inv['network']['mapping_pool']
    assert_error(inv, 'has no mapping_pool', 'set meshconnect_network.mapping_pool')
    assert_error(_auto(1, mapping_pool='100.64.0.0/16'), 'mapping_pool 100.64.0.0/16 overlaps the overlay')
    assert_error(_auto(1, mapping_pool='8.8.0.0/16'), 'mapping_pool 8.8.0.0/16', 'not private address space')


def test_a_damaged_mapping_record_stops_the_compile():
    first = build(_auto(1, 2))
    state = dict(first['lease_state'], mappings={'shop1': {LAN: '10.200.0.0/23'}})
    assert_error(_auto(1, 2), 'lease file is damaged', 'not two prefixes of one size', lease_state=state)


def test_the_topology_shows_both_addresses():
    result = build(_shops())
    shop1 = agent(result, 'shop1')
    lan = [r for r in shop1['resources'] if r['name'] == 'lan'][0]
    assert resource_text(lan) == 'lan 10.201.1.0/24 = 192.168.1.0/24 inside'
    hq_lan = [r for r in agent(result, 'hq')['resources'] if r['name'] == 'lan'][0]
    assert resource_text(hq_lan) == 'lan 10.1.0.0/24'


def test_explain_names_both_addresses():
    user = build(_shops(), explain='bob shop1:till:tcp/9100')['report']['explain']
    link = build(_shops(), explain='shop1:lan shop2:lan')['report']['explain']
    assert user['verdict'] == 'allowed' and link['verdict'] == 'allowed'
    assert 'shop1:till is 10.201.1.50/32 to the mesh, 192.168.1.50/32 inside shop1 (mapped)' in user['reasons']
    assert 'shop2:lan is 10.201.2.0/24 to the mesh, 192.168.1.0/24 inside shop2 (mapped)' in link['reasons']


def test_the_diff_shows_both_addresses():
    before = build(_shops(map_one=True, map_two=True))
    inv = _shops()
    inv['policies'].append({'name': 'carol-till', 'users': ['carol'], 'allow': ['shop2:till']})
    after = build(inv, previous=snapshot(before))
    text = report_text(dict(after['report'], matrix=after['matrix']))     # as mesh_plan returns it
    assert '+ user:carol -> shop2:till [10.201.2.50 = 192.168.1.50 inside] tcp/9100' in text, text


def test_a_recorded_prefix_is_never_moved_by_a_later_change():
    first = build(_auto(1, 2))
    recorded = first['lease_state']['mappings']
    # The pool shrinks or moves: the prefixes already given stay.
    again = build(_auto(1, 2, mapping_pool='10.200.8.0/24'), lease_state=first['lease_state'])
    assert again['lease_state']['mappings'] == recorded and again['report']['mapping_changes'] == []
    # A new explicit mapping elsewhere takes shop2's recorded prefix: refused, shop2 is not renumbered.
    inv = _auto(1, 2)
    inv['sites']['gw-shop3'] = {'name': 'shop3', 'resources': [{'name': 'lan', 'address': '192.168.9.0/24'}],
                                'mappings': [{'prefix': '192.168.9.0/24', 'published_as': '10.200.1.0/24'}]}
    assert_error(inv, "site 'shop2' mapping 192.168.1.0/24", 'recorded in leases.json', 'shop3 publishes',
                 'remove its entry', lease_state=first['lease_state'])
