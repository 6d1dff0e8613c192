# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split DNS: servers of meshconnect_network.dns that resolve only some
domains, which classes get them (and their domains), and the client
configurations that use them (stock wg-quick, and the systemd-resolved
variant)."""

import json

import pytest

from meshcase import assert_error, build, errors_of, inventory, key, user

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_bundle import (
    client_config, read_manifest, wants_resolved,
)

CORP = {'address': '10.1.0.53', 'domains': ['Corp.Example', 'hq.corp.example']}
BRANCH = {'address': '10.2.0.53', 'domains': ['branch.example']}
DNS_HQ = {'name': 'dns-hq', 'users': ['carol'], 'allow': ['hq:lan:udp/53,tcp/53']}


def _split(*extra_policies, **network):
    inv = inventory()
    inv['network']['dns'] = network.get('dns', [CORP, BRANCH])
    inv['policies'].extend(extra_policies)
    return inv


def _users(result):
    return dict((name, user(result, name)) for name in result['plan']['users'])


# ----------------------------------------------------------------------
# which classes get which servers and domains


def test_per_domain_servers_come_with_their_domains_where_they_are_reachable():
    result = build(_split(DNS_HQ))
    users = _users(result)
    # alice reaches both LANs (admins: everything but hq:db); carol only hq's server; bob neither.
    assert users['alice']['dns'] == ['10.1.0.53', '10.2.0.53']
    assert users['alice']['dns_domains'] == ['branch.example', 'corp.example', 'hq.corp.example']
    assert users['carol']['dns'] == ['10.1.0.53']
    assert users['carol']['dns_domains'] == ['corp.example', 'hq.corp.example']
    assert users['bob']['dns'] == [] and users['bob']['dns_domains'] == []
    classes = result['plan']['classes']
    assert classes[result['plan']['users']['carol']['class']]['dns_domains'] == ['corp.example', 'hq.corp.example']
    assert result['plan']['network']['dns'] == ['10.1.0.53', '10.2.0.53']
    assert result['plan']['network']['dns_domains'] == {'10.1.0.53': ['corp.example', 'hq.corp.example'],
                                                        '10.2.0.53': ['branch.example']}
    json.dumps(result['plan'])      # the plan stays JSON data


def test_a_server_the_class_cannot_reach_is_left_out_with_its_domains():
    half = {'name': 'half', 'users': ['bob'], 'allow': ['branch:lan:udp/53']}     # udp/53 only is not enough
    result = build(_split(DNS_HQ, half))
    users = _users(result)
    assert 'branch.example' not in users['carol']['dns_domains'] and '10.2.0.53' not in users['carol']['dns']
    assert users['bob']['dns'] == [] and users['bob']['dns_domains'] == []
    warnings = [w for w in result['report']['warnings'] if 'dns server 10.2.0.53' in w]
    assert len(warnings) == 1, result['report']['warnings']
    assert 'left out (and with it branch.example) of the client configuration' in warnings[0]
    assert 'bob' in warnings[0] and 'carol' in warnings[0] and 'Fix:' in warnings[0]


def test_a_class_may_get_a_server_for_every_name_and_per_domain_servers():
    result = build(_split(DNS_HQ, dns=['10.1.0.53', BRANCH]))
    users = _users(result)
    assert users['alice']['dns'] == ['10.1.0.53', '10.2.0.53'] and users['alice']['dns_domains'] == ['branch.example']
    assert users['carol']['dns'] == ['10.1.0.53'] and users['carol']['dns_domains'] == []
    assert result['plan']['network']['dns_domains'] == {'10.2.0.53': ['branch.example']}


def test_servers_for_every_name_only_give_no_domains():
    inv = inventory()
    inv['network']['dns'] = ['10.1.0.53']
    inv['policies'].append(DNS_HQ)
    result = build(inv)
    assert user(result, 'carol')['dns'] == ['10.1.0.53'] and user(result, 'carol')['dns_domains'] == []
    assert result['plan']['network']['dns_domains'] == {}


# ----------------------------------------------------------------------
# validation


@pytest.mark.parametrize('entry', [{'address': '10.1.0.53'}, {'address': '10.1.0.53', 'domains': []},
                                   {'address': '10.1.0.53', 'domains': None}])
def test_a_per_domain_server_needs_domains(entry):
    assert_error(_split(dns=[entry]), 'meshconnect_network', 'dns entry #1 (10.1.0.53) has no domains',
                 'write the address alone')


@pytest.mark.parametrize('domain', ['corp..example', '.corp.example', 'corp.example.', 'corp_x.example', '10.2',
                                    '10.1.0.54', 'bad domain', '-corp.example', 'corp-.example', '', 'corp.example\n',
                                    'corp.e\u212aample', 'caf\u00e9.example', 'a' * 64 + '.example', '*.example'])
def test_domains_are_dns_names(domain):
    assert_error(_split(dns=['10.1.0.1', {'address': '10.1.0.53', 'domains': ['ok.example', domain]}]),
                 'meshconnect_network', 'dns entry #2 (10.1.0.53): domain', 'is not a DNS name')


def test_a_domain_of_two_servers_is_named_with_both_entries():
    other = {'address': '10.2.0.53', 'domains': ['branch.example', 'CORP.example']}
    assert_error(_split(dns=[CORP, other]), 'meshconnect_network',
                 'dns entry #2 (10.2.0.53): domain corp.example is listed by dns entry #1 (10.1.0.53) too',
                 'remove it from one of the two entries')


def test_a_domain_listed_twice_by_one_server():
    twice = {'address': '10.1.0.53', 'domains': ['corp.example', 'Corp.example']}
    assert_error(_split(dns=[twice]), 'dns entry #1 (10.1.0.53): domain corp.example is listed twice')


@pytest.mark.parametrize('second', ['10.1.0.53', {'address': '10.1.0.53', 'domains': ['lab.example']}])
def test_a_server_is_listed_once(second):
    assert_error(_split(dns=[CORP, second]), 'dns entry #2 (10.1.0.53) is the same server as dns entry #1 (10.1.0.53)')


@pytest.mark.parametrize('entry, fragment', [
    ({'address': '10.1.0.300', 'domains': ['corp.example']}, "dns entry #1: address '10.1.0.300' is invalid"),
    ('10.1.0.0/24', "dns entry #1: address '10.1.0.0/24' is invalid"),
    ({'address': '10.1.0.53', 'domain': ['corp.example']}, "has the unknown key 'domain'"),
    ({'domains': ['corp.example']}, 'has no address'),
    ({'address': '10.1.0.53', 'domains': 'corp.example'}, 'domains must be a list of strings'),
    ({'address': '10.1.0.53', 'domains': [5]}, 'must be a string'),
    (53, 'must be an IPv4 address, or a mapping with address and domains'),
])
def test_malformed_entries_are_named(entry, fragment):
    assert_error(_split(dns=[entry]), 'meshconnect_network', fragment)


def test_every_dns_problem_is_reported_in_one_run():
    errors = errors_of(_split(dns=[{'address': '10.1.0.53'}, {'address': '10.2.0.53', 'domains': ['x..y']},
                                   '10.1.0.53']))
    assert len([e for e in errors if 'dns entry' in e]) == 3, errors


# ----------------------------------------------------------------------
# client configurations


NETWORK = {'name': 'corp', 'dns': ['9.9.9.9', '10.1.0.53', '10.2.0.53'],
           'dns_domains': {'10.1.0.53': ['corp.example', 'hq.corp.example'], '10.2.0.53': ['branch.example']}}


def _plan(dns, domains):
    return {'name': 'carol', 'address': '100.64.0.3', 'prefix': 32, 'dns': dns, 'dns_domains': domains,
            'mtu': 1420, 'public_key': key(3), 'peers': []}


def test_the_stock_configuration_lists_servers_then_domains():
    text = client_config(_plan(['10.1.0.53', '10.2.0.53'], ['branch.example', 'corp.example', 'hq.corp.example']),
                         NETWORK, None)
    lines = text.splitlines()
    assert 'DNS = 10.1.0.53, 10.2.0.53, branch.example, corp.example, hq.corp.example' in lines
    assert not any(line.startswith('PostUp') for line in lines)


def test_the_stock_configuration_of_servers_for_every_name_is_unchanged():
    lines = client_config(_plan(['9.9.9.9'], []), NETWORK, None).splitlines()
    assert [line for line in lines if line.startswith('DNS')] == ['DNS = 9.9.9.9']


def test_the_resolved_variant_routes_only_the_domains_to_the_mesh():
    plan = _plan(['10.1.0.53', '10.2.0.53'], ['branch.example', 'corp.example', 'hq.corp.example'])
    stock = client_config(plan, NETWORK, None).splitlines()
    resolved = client_config(plan, NETWORK, None, resolved=True).splitlines()
    assert not any(line.startswith('DNS') for line in resolved)
    assert resolved[2] == ('# Split DNS for Linux with systemd-resolved: only branch.example, corp.example, '
                           'hq.corp.example resolve through the mesh; other names stay with the local resolvers.')
    assert resolved[-1] == ('PostUp = resolvectl dns %i 10.1.0.53 10.2.0.53; resolvectl domain %i ~branch.example '
                            '~corp.example ~hq.corp.example; resolvectl default-route %i false')
    # Otherwise the same file: header, [Interface], the key comment, address, MTU.
    assert [line for line in resolved if line not in (resolved[2], resolved[-1])] == \
        [line for line in stock if not line.startswith('DNS = ')]


@pytest.mark.parametrize('dns, domains, wanted', [
    (['10.1.0.53'], ['corp.example', 'hq.corp.example'], True),
    (['10.1.0.53', '10.2.0.53'], ['branch.example', 'corp.example', 'hq.corp.example'], True),
    (['9.9.9.9', '10.1.0.53'], ['corp.example', 'hq.corp.example'], False),    # a resolver for every name
    (['9.9.9.9'], [], False),
    ([], [], False),
])
def test_who_gets_the_resolved_variant(dns, domains, wanted):
    assert wants_resolved(_plan(dns, domains), NETWORK) is wanted


def test_the_configurations_of_a_compiled_user():
    result = build(_split(DNS_HQ))
    carol = user(result, 'carol')
    network = result['plan']['network']
    assert 'DNS = 10.1.0.53, corp.example, hq.corp.example' in client_config(carol, network, None).splitlines()
    assert wants_resolved(carol, network)
    assert ('PostUp = resolvectl dns %i 10.1.0.53; resolvectl domain %i ~corp.example ~hq.corp.example; '
            'resolvectl default-route %i false') in client_config(carol, network, None, True).splitlines()
    assert not wants_resolved(user(result, 'bob'), network)


def test_the_manifest_names_the_resolved_variants():
    data = json.dumps({'version': 1, 'files': ['alice.conf', 'alice.png', 'resolved/alice.conf',
                                               'resolved/../x.conf', 'other/alice.conf', 'resolved/alice.png',
                                               'resolved/', '/etc/passwd.conf']}).encode('utf-8')
    assert read_manifest(data, '/nonexistent') == set(['alice.conf', 'alice.png', 'resolved/alice.conf'])
