# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit sites: users granted `internet` route everything through one site,
which masquerades it to its uplink; their site grants still go to the sites
themselves, and the internet grant never reaches the overlay, private ranges
or the mesh's resources."""

from meshcase import agent, assert_error, build, inventory, key, peer, reach, site

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import address_in, parse_ip
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import user_plan
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_probe import expected
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import diff_snapshots


def _exit(**extra):
    """hq offers internet access; admins (alice) are granted it; a public range is a resource of the branch."""
    inv = inventory()
    site(inv, 'hq').update(exit=True, **extra)
    site(inv, 'branch')['resources'].append({'name': 'cloud', 'address': '198.51.100.0/24'})
    inv['policies'].append({'name': 'admins-internet', 'groups': ['admins'], 'allow': ['internet']})
    return inv


def _lease(result, member):
    return result['lease_state']['leases'][member]


def _has(cidrs, address):
    return address_in(parse_ip(address), cidrs)


def test_a_user_granted_internet_routes_everything_through_the_exit_site_and_keeps_site_grants():
    result = build(_exit())
    alice = user_plan(result['plan'], 'alice')
    hq = [p for p in alice['peers'] if p['site'] == 'hq'][0]
    assert hq['allowed_ips'] == ['0.0.0.0/0'] and hq['exit'] is True
    # The branch is still reached at the branch: its peer is more specific than the default route.
    branch = [p for p in alice['peers'] if p['site'] == 'branch'][0]
    assert _has(branch['allowed_ips'], '10.2.0.7')
    # The exit site's agent knows her, lets her out, and masquerades her (firewall.exit_*).
    plan = agent(result, 'hq')
    assert plan['forwarding'] is True
    address = _lease(result, 'user/alice')
    assert plan['firewall']['exit_users'] == [address]
    assert 'user:alice' in [p['name'] for p in plan['peers']]


def test_the_internet_grant_never_reaches_the_overlay_private_ranges_or_the_mesh():
    result = build(_exit())
    excluded = agent(result, 'hq')['firewall']['exit_excluded']
    for address in ('100.64.0.9', '10.9.9.9', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1',
                    '224.0.0.5', '198.51.100.7'):
        assert _has(excluded, address), address
    for address in ('8.8.8.8', '198.51.101.1', '1.1.1.1'):
        assert not _has(excluded, address), address
    plan, alice = result['plan'], _lease(result, 'user/alice')
    assert expected(plan, 'user:alice', alice, '8.8.8.8', 'tcp', 443)
    assert not expected(plan, 'user:alice', alice, '10.9.9.9', 'tcp', 443)
    # The branch's public range is the branch's, under alice's site grant, not the exit's.
    assert expected(plan, 'user:alice', alice, '198.51.100.7', 'tcp', 443)
    assert reach(result)['user:alice']['branch:cloud'] == 'all'


def test_users_without_the_grant_keep_split_tunnels():
    result = build(_exit())
    for name in ('bob', 'carol'):
        plan = user_plan(result['plan'], name)
        assert all('0.0.0.0/0' not in p['allowed_ips'] and 'exit' not in p for p in plan['peers'])
        assert not expected(result['plan'], 'user:' + name, _lease(result, 'user/' + name), '8.8.8.8', 'tcp', 443)
    assert agent(result, 'branch')['firewall']['exit_users'] == []
    assert agent(result, 'branch')['firewall']['exit_excluded'] == []


def test_an_exit_site_that_also_relays_gives_one_peer():
    inv = _exit(relay=True)
    result = build(inv)
    alice = user_plan(result['plan'], 'alice')
    hq = [p for p in alice['peers'] if p['site'] == 'hq']
    assert len(hq) == 1 and hq[0]['allowed_ips'] == ['0.0.0.0/0'] and hq[0]['relays'] == ['shop']
    assert expected(result['plan'], 'user:alice', _lease(result, 'user/alice'), '10.3.0.5', 'tcp', 22)


def test_a_side_loaded_exit_forwards():
    assert agent(build(_exit(router=False)), 'hq')['forwarding'] is True


def test_internet_shows_in_the_matrix_diff_explain_and_policy_tests():
    inv = _exit()
    before = build(inventory())
    inv['policy_tests'] = [{'user': 'alice', 'allow': ['internet']}, {'user': 'bob', 'deny': ['internet:hq']}]
    result = build(inv, previous={'matrix': before['matrix']}, explain='alice internet')
    assert reach(result)['user:alice']['hq:internet'] == 'all'
    assert 'hq:internet' not in reach(result).get('user:bob', {})
    assert {'from': ['user:alice'], 'to': 'hq:internet', 'ports': 'all'} in result['report']['diff']['newly_allowed']
    assert all(test['passed'] for test in result['report']['tests'])
    assert result['report']['explain']['verdict'] == 'allowed'
    assert "policy 'admins-internet'" in result['report']['explain']['reasons'][0]
    assert build(inv, explain='bob internet')['report']['explain']['verdict'] == 'denied'
    inv['policy_tests'] = [{'user': 'bob', 'allow': ['internet']}]
    [test] = build(inv)['report']['tests']
    assert not test['passed'] and 'no internet access' in test['detail']
    assert diff_snapshots({'matrix': result['matrix']}, result['matrix']) == {'newly_allowed': [], 'newly_denied': []}


def test_internet_grant_mistakes_are_named_with_a_fix():
    inv = inventory()
    inv['policies'].append({'name': 'net', 'groups': ['admins'], 'allow': ['internet']})
    assert_error(inv, "policy 'net'", 'no site offers internet access')
    inv = _exit()
    site(inv, 'branch')['exit'] = True
    assert_error(inv, "policy 'admins-internet'", 'several sites offer internet access', 'internet:branch')
    inv = _exit()
    inv['policies'][-1]['allow'] = ['internet:branch']
    assert_error(inv, "policy 'admins-internet'", "'branch' does not offer internet access")
    inv = _exit()
    inv['policies'][-1]['allow'] = ['internet:hq:tcp/443']
    assert_error(inv, "policy 'admins-internet'", 'the internet has no ports')
    inv = _exit()
    inv['policies'][0]['except'] = ['hq:db', 'internet']
    assert_error(inv, "policy 'admins-all'", 'excepts internet')
    inv = _exit()
    site(inv, 'shop')['exit'] = True
    assert_error(inv, "site 'shop'", 'exit: true but cannot be dialled')
    inv = _exit()
    site(inv, 'branch')['exit'] = True
    inv['policies'][-1]['allow'] = ['internet:hq']
    inv['policies'].append({'name': 'more-internet', 'users': ['alice'], 'allow': ['internet:branch']})
    assert_error(inv, "user 'alice'", 'several exit sites')
    inv = _exit()
    site(inv, 'branch')['name'] = 'internet'
    inv['links'] = [link for link in inv['links'] if 'branch' not in str(link)]
    inv['policies'] = [p for p in inv['policies'] if 'branch' not in str(p)]
    assert_error(inv, "site 'internet'", "the name 'internet' is reserved")
    inv = _exit()
    site(inv, 'hq')['resources'].append({'name': 'internet', 'address': '10.1.0.99'})
    assert_error(inv, "resource 'internet'", 'reserved')


def test_a_user_granted_only_the_internet_has_one_peer_and_no_warning():
    # A user granted only the internet has a peer for the exit site and nothing else, and no warning.
    inv = _exit()
    inv['users'].append({'name': 'erin', 'groups': ['travel'], 'public_key': key(23)})
    inv['policies'].append({'name': 'travel', 'groups': ['travel'], 'allow': ['internet']})
    result = build(inv)
    erin = user_plan(result['plan'], 'erin')
    assert [(p['site'], p['allowed_ips']) for p in erin['peers']] == [('hq', ['0.0.0.0/0'])]
    assert not [w for w in result['report']['warnings'] if "user 'erin'" in w]
    assert peer(agent(result, 'hq'), 'user:erin') is not None


def test_the_bundle_of_an_internet_user_says_it_is_a_full_tunnel():
    from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_bundle import client_config
    from meshcase import key
    facts = dict(('gw-' + name, {'public_key': key(30 + n), 'interfaces': []})
                 for n, name in enumerate(('hq', 'branch', 'shop')))
    result = build(_exit(), facts=facts)
    plan = result['plan']
    text = client_config(user_plan(plan, 'alice'), plan['network'], None)
    assert '# Full tunnel: the internet goes through site hq;' in text
    assert '# site hq (exit: the internet)\n' in text and 'AllowedIPs = 0.0.0.0/0\n' in text
    assert '# Split tunnel:' in client_config(user_plan(plan, 'bob'), plan['network'], None)
