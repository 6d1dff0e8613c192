# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's own names: served by the agents of sites with names: true, for
the zone only, pushed to the users who can reach them."""

from meshcase import agent, assert_error, build, inventory, key, site

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import user_plan


def _names(**network):
    inv = inventory()
    inv['network'].update(network)
    site(inv, 'hq')['names'] = True
    return inv


def _records(result, site_name='hq'):
    return dict(agent(result, site_name)['names']['records'])


def test_sites_users_and_single_address_resources_have_names():
    result = build(_names())
    leases = result['lease_state']['leases']
    records = _records(result)
    assert records['hq.corp.mesh'] == leases['agent/hq']
    assert records['shop.corp.mesh'] == leases['agent/shop']
    assert records['alice.corp.mesh'] == leases['user/alice']
    assert records['web.hq.corp.mesh'] == '10.1.0.10'
    assert records['nas.branch.corp.mesh'] == '10.2.0.20'
    # A network (a LAN) has no single address: no name.
    assert not [name for name in records if name.startswith('lan.')]
    names = agent(result, 'hq')['names']
    assert names['zone'] == 'corp.mesh' and names['address'] == leases['agent/hq']
    assert 'names' not in agent(result, 'branch')


def test_the_serving_agent_is_pushed_for_the_zone_to_users_who_reach_it_only():
    result = build(_names())
    hq = result['lease_state']['leases']['agent/hq']
    alice = user_plan(result['plan'], 'alice')     # admins: every site, the agent included
    assert alice['dns'] == [hq] and alice['dns_domains'] == ['corp.mesh']
    bob = user_plan(result['plan'], 'bob')         # hq:web only: hq's resolver is not his to ask
    assert bob['dns'] == [] and bob['dns_domains'] == []
    assert any('dns server %s' % hq in w and 'bob' in w and 'grant hq:agent:udp/53,tcp/53' in w
               for w in result['report']['warnings'])


def test_expired_users_and_names_that_are_not_labels_are_left_out():
    inv = _names()
    inv['users'][3]['expires'] = '2026-01-01'          # dave
    inv['users'].append({'name': 'eve.smith', 'groups': [], 'public_key': key(24)})
    result = build(inv)
    records = _records(result)
    assert 'dave.corp.mesh' not in records and not [n for n in records if n.startswith('eve')]
    assert any('has no name for user eve.smith' in w for w in result['report']['warnings'])


def test_a_name_two_members_want_goes_to_the_site_with_a_warning():
    inv = _names()
    inv['users'].append({'name': 'Shop', 'groups': [], 'public_key': key(25)})
    result = build(inv)
    assert _records(result)['shop.corp.mesh'] == result['lease_state']['leases']['agent/shop']
    assert any('one name for two members' in w and 'user Shop (site shop has it)' in w
               for w in result['report']['warnings'])


def test_the_zone_follows_the_network_or_its_domain():
    assert 'hq.example.mesh' in _records(build(_names(domain='Example.Mesh')))
    assert_error(_names(domain='bad_zone'), 'meshconnect_network', 'domain', 'is not a DNS name')
    # The zone is written into dnsmasq's configuration: nothing that could add a line or an option gets there.
    for hostile in ('corp.mesh\nserver=8.8.8.8', 'corp.mesh\n', 'corp.mesh/#', 'a,b.mesh', 'corp mesh'):
        assert_error(_names(domain=hostile), 'meshconnect_network', 'is not a DNS name')
    assert_error(_names(name='corp_2'), 'meshconnect_network', 'makes no DNS zone', 'set meshconnect_network.domain')
    # Without names: true anywhere, a network name that makes no zone is fine.
    inv = inventory()
    inv['network']['name'] = 'corp_2'
    build(inv)


def test_a_dns_entry_that_claims_the_zone_is_refused():
    inv = _names(dns=[{'address': '10.1.0.53', 'domains': ['corp.mesh']}])
    assert_error(inv, 'meshconnect_network', 'dns server 10.1.0.53 is given the domain corp.mesh')
