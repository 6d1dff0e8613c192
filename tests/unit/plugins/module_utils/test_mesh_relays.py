# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Relays: sites nothing can dial are reached through a relay site, which
forwards only the pairs a grant or a link needs; the choice is sticky."""

import copy

from meshcase import agent, assert_error, build, errors_of, inventory, key, peer, reach, site

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import address_in, parse_ip
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import user_plan
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_probe import expected, relays_down
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import diff_snapshots
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table


def _relayed(**extra):
    """hq relays; the shop and a kiosk cannot be dialled; the shop's LAN opens connections to the kiosk's pos."""
    inv = inventory()
    site(inv, 'hq').update(relay=True, **extra)
    inv['sites']['gw-kiosk'] = {'name': 'kiosk', 'behind_nat': True,
                                'resources': [{'name': 'pos', 'address': '10.4.0.5', 'ports': ['tcp/443']}]}
    inv['links'].append({'name': 'shop-kiosk', 'agents': 'none',
                         'sites': {'shop': {'connect': ['lan']}, 'kiosk': {'expose': ['pos']}}})
    return inv


def _lease(result, member):
    return result['lease_state']['leases'][member]


def _peer_names(plan):
    return [p['name'] for p in plan['peers']]


def _pairs(plan):
    return [tuple(pair) for pair in plan['firewall']['relay']]


def _routes(cidrs, address):
    return address_in(parse_ip(address), cidrs)


# ----------------------------------------------------------------------
# the choice


def test_every_site_that_cannot_be_dialled_gets_a_relay_recorded_in_the_state():
    result = build(_relayed())
    assert result['lease_state']['relays'] == {'kiosk': 'hq', 'shop': 'hq'}
    assert result['report']['relay_changes'] == [{'site': 'kiosk', 'from': None, 'to': 'hq'},
                                                 {'site': 'shop', 'from': None, 'to': 'hq'}]
    assert agent(result, 'shop')['via'] == 'hq' and 'via' not in agent(result, 'hq')
    # A second run from that state changes nothing.
    again = build(_relayed(), lease_state=result['lease_state'])
    assert again['report']['relay_changes'] == [] and again['lease_state'] == result['lease_state']


def test_without_a_relay_nothing_changes():
    result = build(inventory())
    assert 'relays' not in result['lease_state'] and result['report']['relay_changes'] == []
    assert 'via' not in result['matrix']
    assert not any('relay' in plan for plan in result['plan']['agents'].values())


def test_a_new_relay_never_moves_a_site_by_accident_and_via_moves_it_on_purpose():
    first = build(_relayed())
    inv = _relayed()
    # 'branch' sorts before 'hq' and relays nothing yet: the least loaded, but the recorded choice stays.
    site(inv, 'branch')['relay'] = True
    inv['sites']['gw-cafe'] = {'name': 'cafe', 'behind_nat': True}
    second = build(inv, lease_state=first['lease_state'])
    assert second['lease_state']['relays'] == {'cafe': 'branch', 'kiosk': 'hq', 'shop': 'hq'}
    assert second['report']['relay_changes'] == [{'site': 'cafe', 'from': None, 'to': 'branch'}]
    # The operator moves the shop: one inventory edit, shown as a change.
    site(inv, 'shop')['via'] = 'branch'
    third = build(inv, lease_state=second['lease_state'])
    assert third['lease_state']['relays']['shop'] == 'branch'
    assert third['report']['relay_changes'] == [{'site': 'shop', 'from': 'hq', 'to': 'branch'}]
    assert agent(third, 'shop')['via'] == 'branch'


def test_a_relay_that_stops_relaying_hands_its_sites_over_with_a_warning():
    first = build(_relayed())
    inv = _relayed()
    site(inv, 'hq')['relay'] = False
    site(inv, 'branch')['relay'] = True
    second = build(inv, lease_state=first['lease_state'])
    assert second['lease_state']['relays'] == {'kiosk': 'branch', 'shop': 'branch'}
    assert {'site': 'shop', 'from': 'hq', 'to': 'branch'} in second['report']['relay_changes']
    assert any("site 'shop': was relayed by hq, which no longer relays" in w for w in second['report']['warnings'])


def test_relay_inventory_mistakes_are_named_with_a_fix():
    inv = _relayed()
    site(inv, 'shop')['relay'] = True
    assert_error(inv, "site 'shop'", 'relay: true but cannot be dialled')
    inv = _relayed()
    site(inv, 'shop')['via'] = 'nowhere'
    assert_error(inv, "site 'shop'", "via names unknown site 'nowhere'")
    inv = _relayed()
    site(inv, 'shop')['via'] = 'branch'
    assert_error(inv, "site 'shop'", "via names 'branch', which is not a relay")
    # Two sites that cannot be dialled and no relay: the link is still refused.
    inv = _relayed()
    site(inv, 'hq')['relay'] = False
    assert_error(inv, "link 'shop-kiosk'", 'no site relays')


def test_a_damaged_relay_record_fails_and_keeps_the_state():
    result = build(_relayed())
    for damage in (['hq'], {'shop': 7}, None):
        state = copy.deepcopy(result['lease_state'])
        state['relays'] = damage
        errors = errors_of(_relayed(), lease_state=state)
        assert any('the lease file is damaged' in e and 'relay' in e for e in errors), errors


# ----------------------------------------------------------------------
# users through a relay


def test_a_user_reaches_a_relayed_site_through_the_relay_and_its_agent_enforces_policy():
    result = build(_relayed())
    plan = result['plan']
    alice = _lease(result, 'user/alice')
    shop_agent = _lease(result, 'agent/shop')
    # alice's client has no peer for the shop: her peer for hq carries the shop's LAN and agent.
    client = user_plan(plan, 'alice')
    assert [p['name'] for p in client['peers']] == ['site:branch', 'site:hq']
    hq_peer = client['peers'][1]
    assert hq_peer['relays'] == ['kiosk', 'shop']
    assert _routes(hq_peer['allowed_ips'], '10.3.0.77') and _routes(hq_peer['allowed_ips'], shop_agent)
    assert _routes(hq_peer['allowed_ips'], '10.1.0.10')       # what hq grants her itself
    # The relay takes her packets, carries them to the shop, and forwards only her granted pairs.
    hq = agent(result, 'hq')
    assert 'user:alice' in _peer_names(hq)
    assert _routes(peer(hq, 'site:shop')['allowed_ips'], '10.3.0.77')
    assert (alice, '10.3.0.0/24') in _pairs(hq)
    assert hq['forwarding'] is True
    # The shop routes her address back through the relay, has no user peers, and enforces her grant.
    shop = agent(result, 'shop')
    assert _routes(peer(shop, 'site:hq')['allowed_ips'], alice)
    assert not [n for n in _peer_names(shop) if n.startswith('user:')]
    assert alice in shop['firewall']['users']
    assert any(alice in g['sources'] for g in shop['firewall']['groups'])
    # The plan says it expects the flow to pass, and what it does not grant to stay denied.
    assert expected(plan, 'user:alice', alice, '10.3.0.77', 'tcp', 22)
    assert reach(result)['user:alice']['shop:lan'] == 'all'
    assert expected(plan, 'user:bob', _lease(result, 'user/bob'), '10.3.0.77', 'tcp', 22) is False


def test_a_relay_forwards_only_the_pairs_grants_and_links_need():
    result = build(_relayed())
    hq = agent(result, 'hq')
    pairs = _pairs(hq)
    bob, carol = _lease(result, 'user/bob'), _lease(result, 'user/carol')
    # bob and carol are granted nothing at the shop or the kiosk: no pair of theirs.
    assert not [p for p in pairs if p[0] in (bob, carol)]
    # The link lets the shop's LAN reach the kiosk's pos, not the agents (agents: none), not the other way.
    assert ('10.3.0.0/24', '10.4.0.5') in pairs
    shop_agent, kiosk_agent = _lease(result, 'agent/shop'), _lease(result, 'agent/kiosk')
    assert (shop_agent, kiosk_agent) not in pairs and (kiosk_agent, shop_agent) not in pairs
    assert not [p for p in pairs if p[0] == '10.4.0.5']
    # Sites that relay nothing have no pairs, and never forward between tunnels.
    assert agent(result, 'branch')['firewall']['relay'] == []


def test_users_granted_nothing_at_relayed_sites_get_no_relay_path():
    result = build(_relayed())
    bob = user_plan(result['plan'], 'bob')
    assert all('relays' not in p for p in bob['peers'])
    assert not _routes(peer(agent(result, 'shop'), 'site:hq')['allowed_ips'], _lease(result, 'user/bob'))


def test_expired_users_lose_their_relayed_path():
    inv = _relayed()
    inv['users'][0]['expires'] = '2026-01-01'
    result = build(inv)
    alice = _lease(result, 'user/alice')
    assert not [p for p in _pairs(agent(result, 'hq')) if p[0] == alice]
    assert 'user:alice' not in _peer_names(agent(result, 'hq'))
    assert not _routes(peer(agent(result, 'shop'), 'site:hq')['allowed_ips'], alice)


def test_a_side_loaded_relay_forwards_between_tunnels():
    result = build(_relayed(router=False))
    assert agent(result, 'hq')['forwarding'] is True
    assert agent(result, 'hq')['router'] is False


# ----------------------------------------------------------------------
# sites through a relay


def test_two_sites_that_cannot_be_dialled_are_linked_through_the_relay():
    result = build(_relayed())
    shop, kiosk, hq = agent(result, 'shop'), agent(result, 'kiosk'), agent(result, 'hq')
    assert peer(shop, 'site:kiosk') is None and peer(kiosk, 'site:shop') is None
    assert _routes(peer(shop, 'site:hq')['allowed_ips'], '10.4.0.5')
    assert peer(shop, 'site:hq')['via_links'] == ['shop-kiosk']
    assert _routes(peer(kiosk, 'site:hq')['allowed_ips'], '10.3.0.77')
    assert _routes(peer(hq, 'site:kiosk')['allowed_ips'], '10.4.0.5')
    assert peer(kiosk, 'site:hq')['keepalive'] > 0
    assert expected(result['plan'], 'site:shop', '10.3.0.77', '10.4.0.5', 'tcp', 443)
    assert expected(result['plan'], 'site:shop', '10.3.0.77', '10.4.0.5', 'tcp', 22) is False
    assert expected(result['plan'], 'site:shop', _lease(result, 'agent/shop'), '10.4.0.5', 'tcp', 443) is False
    assert reach(result)['site:shop:lan']['kiosk:pos'] == 'tcp/443'


def test_relayed_paths_show_in_the_matrix_explain_and_the_table():
    result = build(_relayed(), explain='alice shop:lan:tcp/22')
    assert result['matrix']['via'] == {'kiosk': {'shop': 'hq', 'users': 'hq'},
                                       'shop': {'kiosk': 'hq', 'users': 'hq'}}
    assert any(r.startswith('via hq') for r in result['report']['explain']['reasons'])
    table = matrix_table(result['matrix'], 0)
    assert any('shop:lan' in line and line.endswith('all (via hq)') for line in table.splitlines())
    site_row = [line for line in table.splitlines() if 'kiosk:pos' in line and 'tcp/443' in line]
    assert site_row and all(line.endswith('(via hq)') for line in site_row)
    # A snapshot with relayed paths is read back by the next run's diff.
    unchanged = {'newly_allowed': [], 'newly_denied': []}
    assert diff_snapshots({'matrix': result['matrix']}, result['matrix']) == unchanged


# ----------------------------------------------------------------------
# one path per address


def test_a_relay_on_the_network_of_a_relayed_address_is_refused():
    # hq is on 10.9.0.0/24 (its uplink); the kiosk declares an address there: hq would route its own
    # neighbours (and maybe the kiosk's underlay) into the tunnel.
    inv = _relayed()
    inv['sites']['gw-kiosk']['resources'].append({'name': 'cam', 'address': '10.9.0.7'})
    facts = {'gw-hq': {'public_key': key(20), 'interfaces': [
        {'name': 'eth0', 'address': '10.9.0.2', 'prefix': 24, 'default_route': True},
        {'name': 'eth1', 'address': '10.1.0.1', 'prefix': 24}]}}
    assert_error(inv, "site 'hq'", '10.9.0.7', 'the agent is on 10.9.0.0/24 itself (interface eth0)', facts=facts)


def test_two_relayed_sites_with_the_same_lan_are_not_granted_to_one_user():
    inv = _relayed()
    inv['sites']['gw-kiosk']['resources'] = [{'name': 'lan', 'address': '10.3.0.0/24'}]
    inv['links'] = [link for link in inv['links'] if link['name'] != 'shop-kiosk']
    assert_error(inv, "user 'alice'", 'overlapping addresses')


# ----------------------------------------------------------------------
# a relay that is down


def test_verify_names_a_relay_that_is_down_and_what_it_cuts():
    plan = build(_relayed())['plan']
    up = {'gw-hq': {'up': True, 'handshakes': {}},
          'gw-shop': {'up': True, 'handshakes': {'site:hq': True}},
          'gw-kiosk': {'up': True, 'handshakes': {'site:hq': True}}}
    assert relays_down(plan, up) == []
    for live, cause in (
            (dict(up, **{'gw-hq': {}}), 'its host gw-hq did not answer'),
            (dict(up, **{'gw-hq': {'up': False, 'handshakes': {}}}), 'its interface is down'),
            (dict(up, **{'gw-shop': {'up': True, 'handshakes': {'site:hq': False}},
                         'gw-kiosk': {'up': True, 'handshakes': {'site:hq': False}}}),
             'no handshake with it from kiosk, shop')):
        [message] = relays_down(plan, live)
        assert message.startswith('relay hq is down (%s): it cuts access to kiosk, shop for users (alice)' % cause)
        assert 'the relayed links shop-kiosk' in message and 'meshconnect_site.via' in message
    # One relayed site still has its handshake: the relay is up, whatever the other one says.
    live = dict(up, **{'gw-kiosk': {'up': True, 'handshakes': {'site:hq': False}}})
    assert relays_down(plan, live) == []


def test_a_route_broader_than_a_network_the_agent_is_on_is_only_a_warning():
    # The kiosk's 10.9.0.0/16 holds hq's uplink 10.9.0.0/24: hq's connected route stays more specific, so
    # nothing is hijacked; the part inside the uplink is just not reached through the mesh from hq.
    inv = _relayed()
    inv['sites']['gw-kiosk']['resources'].append({'name': 'wide', 'address': '10.9.0.0/16'})
    facts = {'gw-hq': {'public_key': key(20), 'interfaces': [
        {'name': 'eth0', 'address': '10.9.0.2', 'prefix': 24, 'default_route': True},
        {'name': 'eth1', 'address': '10.1.0.1', 'prefix': 24}]}}
    result = build(inv, facts=facts)
    assert any("site 'hq': routes 10.9.0.0/16" in w and 'stays on its own network' in w
               for w in result['report']['warnings'])
