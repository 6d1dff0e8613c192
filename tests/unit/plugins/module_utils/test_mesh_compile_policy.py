# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy semantics, policy tests, explain and the semantic diff."""

import hashlib
import json

import pytest

from meshcase import agent, agents, build, firewall_access, firewall_boxes, inventory, key, reach, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import canonical_json, snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, PortSet, parse_ip,
)


def _access(result, user, site_name, address, last=None):
    """PortSet the agent of ``site_name`` lets ``user`` reach at ``address``
    (or at every address of ``address..last``)."""
    plan = agent(result, site_name)
    src = parse_ip(result['lease_state']['leases']['user/' + user])
    lo = parse_ip(address)
    return firewall_access(firewall_boxes(plan), src, lo, parse_ip(last) if last else lo)[0]


def _policies(*policies):
    return inventory(policies=list(policies))


# ----------------------------------------------------------------------
# default deny


def test_user_in_no_policy_gets_nothing():
    result = build(inventory())
    dave = parse_ip(result['lease_state']['leases']['user/dave'])
    assert user(result, 'dave')['peers'] == []
    assert 'user:dave' not in reach(result)
    for plan in agents(result):
        assert plan['peers'] and all(p['name'] != 'user:dave' for p in plan['peers'])
        for name, boxes in firewall_boxes(plan).items():
            for box in boxes if name != 'agent' else ():
                assert not box[0][0] <= dave <= box[0][1], box
    assert any("user 'dave'" in w and 'granted nothing' in w for w in result['report']['warnings'])


def test_nothing_but_what_a_policy_names():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:web']}))
    assert reach(result)['user:bob'] == {'hq:web': 'tcp/80,tcp/443', 'hq:lan': 'partial: 10.1.0.10 tcp/80,tcp/443'}
    assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443)])
    assert _access(result, 'bob', 'hq', '10.1.0.11') == NOTHING
    assert _access(result, 'bob', 'hq', '100.64.0.2') == NOTHING     # the agent itself
    assert [p['site'] for p in user(result, 'bob')['peers']] == ['hq']
    assert user(result, 'bob')['peers'][0]['allowed_ips'] == ['10.1.0.10/32']


def test_whole_site_includes_the_agent_address():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['branch']}))
    bob = user(result, 'bob')
    assert bob['peers'][0]['allowed_ips'] == ['10.2.0.0/24', '100.64.0.1/32']
    assert reach(result)['user:bob']['branch:agent'] == 'all'


# ----------------------------------------------------------------------
# union and except


def test_policies_add_up():
    inv = inventory()
    inv['users'][1]['groups'] = ['dev', 'finance']          # bob
    result = build(inv)
    assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443)])
    assert _access(result, 'bob', 'hq', '10.1.0.5') == PortSet([(5432, 5432)])
    assert _access(result, 'bob', 'branch', '10.2.0.20') == PortSet([(445, 445)])
    assert set(reach(result)['user:bob']) == {'hq:db', 'hq:web', 'hq:lan', 'branch:nas', 'branch:lan'}


def test_except_removes_the_address_from_a_lan_that_contains_it():
    # admins-all: allow everything except hq:db (10.1.0.5 inside hq:lan 10.1.0.0/24).
    # web (10.1.0.10) keeps its declared ports inside the LAN grant.
    result = build(inventory())
    assert _access(result, 'alice', 'hq', '10.1.0.5') == NOTHING
    assert _access(result, 'alice', 'hq', '10.1.0.0', '10.1.0.4') == EVERYTHING
    assert _access(result, 'alice', 'hq', '10.1.0.6', '10.1.0.9') == EVERYTHING
    assert _access(result, 'alice', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443)])
    assert _access(result, 'alice', 'hq', '10.1.0.11', '10.1.0.255') == EVERYTHING
    assert 'hq:db' not in reach(result)['user:alice']
    assert reach(result)['user:alice']['hq:lan'] == (
        'partial: 10.1.0.0-10.1.0.4 all; 10.1.0.6-10.1.0.9 all; 10.1.0.10 tcp/80,tcp/443; 10.1.0.11-10.1.0.255 all')
    # The client still routes the whole LAN to hq; the agent's firewall drops db.
    hq_peer = [p for p in user(result, 'alice')['peers'] if p['site'] == 'hq'][0]
    assert hq_peer['allowed_ips'] == ['10.1.0.0/30', '10.1.0.4/32', '10.1.0.6/31', '10.1.0.8/29', '10.1.0.16/28',
                                      '10.1.0.32/27', '10.1.0.64/26', '10.1.0.128/25', '100.64.0.2/32']


def test_except_with_ports_removes_only_those_ports():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:lan'], 'except': ['hq:lan:tcp/22,udp/53']}))
    expected = EVERYTHING.subtract(PortSet([(22, 22)], [(53, 53)]))
    assert _access(result, 'bob', 'hq', '10.1.0.11', '10.1.0.255') == expected
    assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443)])
    assert reach(result)['user:bob']['hq:web'] == 'tcp/80,tcp/443'


def test_except_with_ports_on_one_host_of_a_lan():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:lan'], 'except': ['hq:db:tcp/5432']}))
    # db serves only tcp/5432 (its declared ports hold inside the LAN grant), and that is excepted.
    assert _access(result, 'bob', 'hq', '10.1.0.5') == NOTHING
    assert _access(result, 'bob', 'hq', '10.1.0.6') == EVERYTHING
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:lan'], 'except': ['hq:lan:tcp/22']}))
    assert _access(result, 'bob', 'hq', '10.1.0.5') == PortSet([(5432, 5432)])
    assert _access(result, 'bob', 'hq', '10.1.0.6') == EVERYTHING.subtract(PortSet([(22, 22)]))


def test_declared_ports_hold_inside_any_broader_grant():
    # "A resource with ports only ever allows those": a whole-site grant, a LAN grant and a
    # link exposure of the LAN all stop at db's and web's declared ports.
    for allow in (['hq'], ['*'], ['hq:lan'], ['hq:*']):
        result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': allow}))
        assert _access(result, 'bob', 'hq', '10.1.0.5') == PortSet([(5432, 5432)]), allow
        assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443)]), allow
        assert _access(result, 'bob', 'hq', '10.1.0.11') == EVERYTHING, allow
    # Two resources on one address: each grants its own ports, a broader grant their union.
    inv = _policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:lan']},
                    {'name': 'q', 'users': ['carol'], 'allow': ['hq:admin']})
    inv['sites']['gw-hq']['resources'].append({'name': 'admin', 'address': '10.1.0.10', 'ports': ['tcp/8443']})
    result = build(inv)
    assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(80, 80), (443, 443), (8443, 8443)])
    assert _access(result, 'carol', 'hq', '10.1.0.10') == PortSet([(8443, 8443)])


def test_except_applies_within_its_own_policy_only():
    inv = inventory()
    inv['users'][0]['groups'] = ['admins', 'finance']        # alice
    result = build(inv)
    # admins-all excepts hq:db, finance-db grants it: the union wins.
    assert _access(result, 'alice', 'hq', '10.1.0.5') == PortSet([(5432, 5432)])
    assert reach(result)['user:alice']['hq:db'] == 'tcp/5432'


def test_except_of_a_whole_site():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['*'], 'except': ['hq']}))
    assert [p['site'] for p in user(result, 'bob')['peers']] == ['branch']
    assert not any(k.startswith('hq:') for k in reach(result)['user:bob'])


# ----------------------------------------------------------------------
# ports


def test_port_narrowing_is_intersected_with_the_resource_ports():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:web:tcp/443,tcp/22,udp/443']}))
    assert _access(result, 'bob', 'hq', '10.1.0.10') == PortSet([(443, 443)])
    assert reach(result)['user:bob']['hq:web'] == 'tcp/443'


def test_port_narrowing_outside_the_resource_ports_grants_nothing():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:web:tcp/22']},
                             {'name': 'q', 'users': ['carol'], 'allow': ['hq:db']}))
    assert user(result, 'bob')['peers'] == []
    assert 'user:bob' not in reach(result)
    assert any("user 'bob'" in w and 'granted nothing' in w for w in result['report']['warnings'])


def test_port_narrowing_of_a_lan_with_every_port():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:lan:tcp/22,tcp/8000-8100']}))
    assert _access(result, 'bob', 'hq', '10.1.0.11', '10.1.0.255') == PortSet([(22, 22), (8000, 8100)])
    # db and web serve none of those ports: nothing there.
    assert _access(result, 'bob', 'hq', '10.1.0.5') == NOTHING
    assert reach(result)['user:bob']['hq:lan'] == 'partial: tcp/22,tcp/8000-8100 except 10.1.0.5, 10.1.0.10'


def test_ping_follows_port_access():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:web']}))
    plan = agent(result, 'hq')
    src = parse_ip(result['lease_state']['leases']['user/bob'])
    web = parse_ip('10.1.0.10')
    assert firewall_access(firewall_boxes(plan), src, web, web)[1] is True
    inv = _policies({'name': 'p', 'users': ['bob'], 'allow': ['hq:web']})
    inv['network']['allow_ping'] = False
    result = build(inv)
    plan = agent(result, 'hq')
    assert firewall_access(firewall_boxes(plan), src, web, web)[1] is False


# ----------------------------------------------------------------------
# dialability


def test_grants_at_a_site_users_cannot_dial_are_dropped_with_a_warning():
    result = build(_policies({'name': 'p', 'users': ['bob'], 'allow': ['shop:lan', 'hq:web']}))
    assert [p['site'] for p in user(result, 'bob')['peers']] == ['hq']
    assert not any(k.startswith('shop:') for k in reach(result)['user:bob'])
    assert all(p['name'] != 'user:bob' for p in agent(result, 'shop')['peers'])
    assert agent(result, 'shop')['firewall']['groups'] and all(
        '100.64.0.5' not in g['sources'] for g in agent(result, 'shop')['firewall']['groups'])
    assert any("site 'shop'" in w and 'policies p ' in w for w in result['report']['warnings'])


# ----------------------------------------------------------------------
# policy tests


def _tests(result):
    return dict(((t['from'].split(':', 1)[1], t['expect'], t['flow']), t) for t in result['report']['tests'])


def test_policy_tests_pass_and_fail():
    inv = inventory(policy_tests=[
        {'user': 'bob', 'allow': ['hq:web:tcp/443', 'hq:db:tcp/5432', 'branch'], 'deny': ['hq:db', 'hq:web']},
        {'user': 'alice', 'allow': ['hq:lan', 'shop'], 'deny': ['hq:db:tcp/5432', 'hq:lan:tcp/22']},
    ])
    tests = _tests(build(inv))
    assert len(tests) == 9
    ok = tests[('bob', 'allow', 'hq:web:tcp/443')]
    assert ok['passed'] is True and ok['test'] == 1
    bad = tests[('bob', 'allow', 'hq:db:tcp/5432')]
    assert bad['passed'] is False and bad['detail'] == 'hq:db:tcp/5432 is not allowed (hq:db has no access)'
    assert tests[('bob', 'allow', 'branch')]['passed'] is True
    assert tests[('bob', 'deny', 'hq:db')]['passed'] is True
    bad = tests[('bob', 'deny', 'hq:web')]
    assert bad['passed'] is False and bad['detail'] == 'hq:web is allowed (hq:web has tcp/80,tcp/443)'
    alice = 2
    assert tests[('alice', 'allow', 'hq:lan')]['passed'] is True
    assert tests[('alice', 'allow', 'hq:lan')]['test'] == alice
    shop = tests[('alice', 'allow', 'shop')]
    assert shop['passed'] is False and 'nothing at the site is reachable' in shop['detail']
    assert tests[('alice', 'deny', 'hq:db:tcp/5432')]['passed'] is True
    bad = tests[('alice', 'deny', 'hq:lan:tcp/22')]
    assert bad['passed'] is False and '10.1.0.0-10.1.0.4 all' in bad['detail']


def test_allow_test_with_ports_needs_every_port():
    inv = inventory(policy_tests=[{'user': 'bob', 'allow': ['hq:web:tcp/443,tcp/8443']}])
    test = build(inv)['report']['tests'][0]
    assert test['passed'] is False
    assert test['detail'] == 'hq:web:tcp/443,tcp/8443 is not allowed (hq:web has tcp/80,tcp/443)'


def test_allow_test_of_a_partly_excepted_lan_needs_every_address():
    inv = inventory(policy_tests=[{'user': 'alice', 'allow': ['hq:lan:tcp/80']}])
    inv['sites']['gw-hq']['resources'][1]['ports'] = ['tcp/5432', 'tcp/80']    # db, excepted for alice
    test = build(inv)['report']['tests'][0]
    assert test['passed'] is False
    assert 'hq:lan has partial: 10.1.0.0-10.1.0.4 all; 10.1.0.6-' in test['detail']


def test_expired_user_fails_allow_tests_and_passes_deny_tests():
    inv = inventory(policy_tests=[{'user': 'alice', 'allow': ['hq:web'], 'deny': ['hq:lan']}])
    inv['users'][0]['expires'] = '2020-01-01'
    tests = build(inv)['report']['tests']
    assert [(t['expect'], t['passed']) for t in tests] == [('allow', False), ('deny', True)]


# ----------------------------------------------------------------------
# explain


def _explain(query, inv=None):
    return build(inv or inventory(), explain=query)['report']['explain']


def test_explain_allowed_names_the_policy():
    answer = _explain('bob hq:web:tcp/443')
    assert answer['verdict'] == 'allowed'
    assert answer['reasons'][0] == "allowed by policy 'dev-web' (allow hq:web)"
    assert answer['query'] == 'bob hq:web:tcp/443'


def test_explain_allowed_with_arrow_syntax():
    assert _explain('alice -> branch:lan:tcp/445')['verdict'] == 'allowed'
    # nas keeps its declared ports inside the LAN: udp/161 is not allowed on every address.
    assert _explain('alice -> branch:lan:udp/161')['verdict'] == 'denied'


def test_explain_denied_because_of_an_except():
    answer = _explain('alice hq:db:tcp/5432')
    assert answer['verdict'] == 'denied'
    assert "policy 'admins-all' allows hq but excepts it (except hq:db)" in answer['reasons']
    # A policy that would allow it but is for someone else is named too.
    assert "policy 'finance-db' would allow it, but applies to groups finance, not to alice" in answer['reasons']


def test_explain_denied_because_no_policy_applies():
    answer = _explain('dave hq:web')
    assert answer['verdict'] == 'denied'
    assert 'no policy applies to dave (groups: none)' in answer['reasons']
    assert "policy 'dev-web' would allow it, but applies to groups dev, not to dave" in answer['reasons']


def test_explain_denied_for_a_policy_for_other_users():
    inv = inventory()
    inv['policies'].append({'name': 'bob-db', 'users': ['bob'], 'allow': ['hq:db']})
    answer = _explain('carol branch:nas', inv)
    assert answer['verdict'] == 'denied'
    answer = _explain('dave hq:db', inv)
    assert "policy 'bob-db' would allow it, but applies to users bob, not to dave" in answer['reasons']
    assert "policy 'finance-db' would allow it, but applies to groups finance, not to dave" in answer['reasons']


def test_explain_denied_by_narrower_grant():
    answer = _explain('bob branch:nas:udp/137')
    assert answer['verdict'] == 'denied'
    assert "policy 'dev-web' reaches branch only as: branch:lan partial: 10.2.0.20 tcp/445; " \
           "branch:nas tcp/445" in answer['reasons']


def test_explain_port_the_resource_does_not_serve():
    answer = _explain('bob hq:web:tcp/22')
    assert answer['verdict'] == 'denied'
    assert 'resource hq:web serves only tcp/80,tcp/443' in answer['reasons']


def test_explain_site_users_cannot_dial():
    answer = _explain('alice shop:lan')
    assert answer['verdict'] == 'denied'
    assert answer['reasons'][0].startswith('site shop cannot be dialled by users')
    assert "allowed by policy 'admins-all' (allow *)" in answer['reasons']


def test_explain_expired_user():
    inv = inventory()
    inv['users'][1]['expires'] = '2026-02-01'
    answer = _explain('bob hq:web', inv)
    assert answer == {'query': 'bob hq:web', 'verdict': 'denied', 'reasons': ['user bob expired on 2026-02-01']}


def test_explain_site_to_site():
    answer = _explain('branch hq:lan')
    assert answer['verdict'] == 'allowed'
    assert answer['reasons'][0] == "link 'hq-branch': branch (agent, nas) may open connections to lan exposed by hq"
    answer = _explain('branch hq:db')
    assert answer['verdict'] == 'allowed'     # db lies inside hq:lan, which is exposed: on db's own port
    assert answer['reasons'][-1] == 'hq:db is reached as: tcp/5432'
    answer = _explain('branch:lan hq:lan')
    assert answer['verdict'] == 'denied'
    assert "link 'hq-branch': branch:lan opens no connections on it (connect: agent, nas)" in answer['reasons']
    answer = _explain('shop hq:web:tcp/22')
    assert answer['verdict'] == 'denied'
    assert 'hq:web is reached as: tcp/80,tcp/443' in answer['reasons']
    answer = _explain('shop branch:nas')
    assert answer == {'query': 'shop branch:nas', 'verdict': 'denied', 'reasons': ['no link joins shop and branch']}
    assert _explain('hq branch:agent')['verdict'] == 'allowed'
    assert _explain('hq:lan branch:agent')['verdict'] == 'denied'


@pytest.mark.parametrize('query', ['alice', 'alice hq:web extra', 'mallory hq:web', 'alice nowhere:lan',
                                   'alice hq:printer', 'alice hq:web:ssh', 'hq hq:lan'])
def test_explain_invalid_queries(query):
    answer = _explain(query)
    assert answer['verdict'] == 'invalid'
    assert answer['reasons'] and all(isinstance(r, str) and r for r in answer['reasons'])


# ----------------------------------------------------------------------
# semantic diff


def test_no_previous_snapshot_means_no_diff():
    assert build(inventory())['report']['diff'] is None


def test_unchanged_inventory_has_an_empty_diff():
    previous = snapshot(build(inventory()))
    assert build(inventory(), previous=previous)['report']['diff'] == {'newly_allowed': [], 'newly_denied': []}


def test_diff_after_changing_a_policy():
    previous = json.loads(json.dumps(snapshot(build(inventory()))))
    inv = inventory()
    inv['policies'][1]['allow'] = ['hq:web:tcp/443', 'hq:db', 'branch:nas']    # dev-web
    diff = build(inv, previous=previous)['report']['diff']
    assert {'from': ['user:bob'], 'to': 'hq:db', 'ports': 'tcp/5432'} in diff['newly_allowed']
    assert {'from': ['user:bob'], 'to': 'branch:nas', 'ports': 'udp/137-138'} in diff['newly_allowed']
    assert {'from': ['user:bob'], 'to': 'hq:web', 'ports': 'tcp/80'} in diff['newly_denied']
    # Inside a resource reached only in part, the diff is exact, address by address.
    assert {'from': ['user:bob'], 'to': 'hq:lan', 'ports': 'partial: 10.1.0.5 tcp/5432'} in diff['newly_allowed']
    assert {'from': ['user:bob'], 'to': 'hq:lan', 'ports': 'partial: 10.1.0.10 tcp/80'} in diff['newly_denied']
    # Nothing else moved.
    assert {'from': ['user:bob'], 'to': 'branch:lan', 'ports': 'partial: 10.2.0.20 udp/137-138'} in diff['newly_allowed']
    assert all(e['from'] == ['user:bob'] for e in diff['newly_allowed'] + diff['newly_denied'])
    assert len(diff['newly_allowed']) == 4 and len(diff['newly_denied']) == 2


def test_users_whose_access_changes_alike_are_one_diff_entry():
    inv = inventory()
    inv['users'].append({'name': 'erin', 'groups': ['dev'], 'public_key': key(6)})
    previous = snapshot(build(inv))
    inv['policies'][1]['allow'] = ['hq:web:tcp/443', 'hq:db']    # dev-web, for bob and erin
    diff = build(inv, previous=previous)['report']['diff']
    assert {'from': ['user:bob', 'user:erin'], 'to': 'hq:db', 'ports': 'tcp/5432'} in diff['newly_allowed']
    assert all(e['from'] == ['user:bob', 'user:erin'] for e in diff['newly_allowed'] + diff['newly_denied'])


def test_the_matrix_grows_with_distinct_access_not_users():
    inv = inventory()
    base = build(inv)['matrix']
    inv['users'].extend({'name': 'dev%d' % i, 'groups': ['dev'], 'public_key': key(100 + i)} for i in range(50))
    matrix = build(inv)['matrix']
    assert len(matrix['classes']) == len(base['classes']) and matrix['grants'] == base['grants']
    assert len(matrix['members']) == len(base['members']) + 50
    assert len(set(matrix['members'][name] for name in matrix['members'] if name.startswith('user:dev'))) == 1


def test_diff_of_a_removed_user_and_a_removed_link():
    previous = snapshot(build(inventory()))
    inv = inventory()
    inv['users'] = [u for u in inv['users'] if u['name'] != 'carol']
    inv['policies'] = [p for p in inv['policies'] if p['name'] != 'finance-db']
    inv['links'] = inv['links'][:1]
    diff = build(inv, previous=previous)['report']['diff']
    assert {'from': ['user:carol'], 'to': 'hq:db', 'ports': 'tcp/5432'} in diff['newly_denied']
    assert {'from': ['site:shop:lan'], 'to': 'hq:web', 'ports': 'tcp/80,tcp/443'} in diff['newly_denied']
    assert {'from': ['site:hq:agent'], 'to': 'shop:agent', 'ports': 'all'} in diff['newly_denied']
    assert diff['newly_allowed'] == []


def test_diff_of_a_renumbered_resource_names_old_and_new_addresses():
    previous = snapshot(build(inventory()))
    inv = inventory()
    db = [r for r in inv['sites']['gw-hq']['resources'] if r['name'] == 'db'][0]
    db['address'] = '10.1.0.6'
    diff = build(inv, previous=previous)['report']['diff']
    assert {'from': ['user:carol'], 'to': 'hq:db', 'ports': '10.1.0.6 tcp/5432'} in diff['newly_allowed']
    assert {'from': ['user:carol'], 'to': 'hq:db', 'ports': '10.1.0.5 tcp/5432'} in diff['newly_denied']
    # Inside the LAN that holds both addresses, the change is where it is.
    assert {'from': ['user:carol'], 'to': 'hq:lan', 'ports': 'partial: 10.1.0.6 tcp/5432'} in diff['newly_allowed']


def test_snapshot_records_the_digest_and_matrix():
    result = build(inventory())
    snap = snapshot(result)
    assert snap['digest'] == result['plan']['digest']
    assert snap['matrix'] == result['matrix']
    assert json.loads(json.dumps(snap)) == snap


def test_key_change_does_not_show_in_the_diff():
    previous = snapshot(build(inventory()))
    inv = inventory()
    inv['users'][0]['public_key'] = key(77)
    result = build(inv, previous=previous)
    assert result['report']['diff'] == {'newly_allowed': [], 'newly_denied': []}
    assert result['plan']['digest'] != previous['digest']


def _damaged_snapshots(good):
    """Snapshots no run wrote: other versions, hand edits, wrong kinds."""
    yield {'matrix': None}
    yield {}
    yield 'garbage'
    yield {'matrix': {'user:bob': {'hq:web': 'tcp/80,tcp/443'}}}      # version 2: text per user
    for path, value in ((('resources', 'hq:web'), '10.1.0.300'), (('resources', 'hq:web'), 7),
                        (('members', 'user:bob'), 'no-such-class'), (('classes',), [])):
        bad = json.loads(json.dumps(good))
        target = bad['matrix']
        for key_ in path[:-1]:
            target = target[key_]
        target[path[-1]] = value
        yield bad
    for piece in (['10.1.0.10', [[443, 80]], [], False], ['10.1.0.10', [[0, 70000]], [], False],
                  ['10.1.0.10', [], [], 'yes'], ['10.1.0.10', [['80', 80]], [], False], ['10.1.0.10', [], []],
                  [None, [], [], False], ['10.1.0.10-10.1.0.9', [], [], True]):
        for rehash in (False, True):
            bad = json.loads(json.dumps(good))
            _edit_bobs_grant(bad['matrix'], 'hq:web', [piece], rehash)
            yield bad
    # Content edited by hand, IDs kept: the digests no longer match.
    bad = json.loads(json.dumps(good))
    _edit_bobs_grant(bad['matrix'], 'hq:web', [['10.1.0.10', [[22, 22]], [], False]], rehash=False)
    yield bad


def _digest(value):
    return hashlib.sha256(canonical_json(value).encode('utf-8')).hexdigest()[:16]


def _edit_bobs_grant(matrix, ref, pieces, rehash):
    """Replace bob's pieces at ``ref``; with ``rehash``, give the grant and
    bob's class the IDs their new content has, as a careful forger would."""
    class_id = matrix['members']['user:bob']
    grant_id = [g for g in matrix['classes'][class_id] if ref in matrix['grants'][g]][0]
    grant = dict(matrix['grants'][grant_id], **{ref: pieces})
    if not rehash:
        matrix['grants'][grant_id] = grant
        return
    new_grant = _digest(grant)
    matrix['grants'][new_grant] = grant
    grants = sorted(new_grant if g == grant_id else g for g in matrix['classes'][class_id])
    new_class = _digest(grants)
    matrix['classes'][new_class] = grants
    matrix['members']['user:bob'] = new_class


def test_a_damaged_snapshot_counts_everything_as_new():
    fresh = build(inventory())
    good = snapshot(fresh)
    rows = reach(fresh)
    for previous in _damaged_snapshots(good):
        diff = build(inventory(), previous=previous)['report']['diff']
        assert diff['newly_denied'] == [], previous
        allowed = set((who, e['to']) for e in diff['newly_allowed'] for who in e['from'])
        assert ('user:bob', 'hq:web') in allowed
        assert len(allowed) == sum(len(r) for r in rows.values())


def test_explain_names_ten_policies_for_others_and_counts_the_rest():
    inv = inventory()
    inv['policies'].extend({'name': 'db-%02d' % i, 'users': ['bob'], 'allow': ['hq:db']} for i in range(14))
    answer = _explain('dave hq:db', inv)
    others = [r for r in answer['reasons'] if 'would allow it, but applies to' in r]
    # In inventory order (policies are sorted by name): db-00 ... db-09 named, then the count.
    assert others == ["policy 'db-%02d' would allow it, but applies to users bob, not to dave" % i for i in range(10)]
    assert '5 more policies would allow it, but apply to others, not to dave' in answer['reasons']


def test_explain_answers_the_same_whatever_else_the_inventory_grants():
    # Policies elsewhere (at other sites, for other users) change nothing in an answer about hq.
    base = dict((q, _explain(q)) for q in ('alice hq:db:tcp/5432', 'bob hq:web', 'dave hq:web', 'carol hq:db'))
    inv = inventory()
    inv['policies'].extend({'name': 'z-%02d' % i, 'groups': ['dev'], 'allow': ['branch:nas'], 'except': ['branch:lan']}
                           for i in range(5))
    for query, answer in base.items():
        assert _explain(query, inv) == answer, query
