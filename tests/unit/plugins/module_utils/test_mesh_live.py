# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mesh_live on real output: every fixture was printed by the real ``ip`` and ``wg``.

``fixtures/capture.sh`` made them: in a throwaway network namespace, ``wgtest0``
(userspace WireGuard, 100.65.0.1/22 and fd00:65::1/64, MTU 1380) has three
peers: B, which really handshook (with a preshared key); C, with AllowedIPs but no endpoint and no
handshake; D, with nothing. ``wgtest2`` has no key, no peer, no address and is
down. Routes through ``wgtest0``: two as wg-quick adds them, one ``proto
static``, the kernel's prefix route, a default route, two in table 51820 and
an IPv6 one. Rerunning the script changes the keys and the handshake time.
"""

import json
import os

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import (
    CommandFailed, LiveError, counted_route, counted_routes, interface_link, interface_routes, ip_json,
    ip_json_or_none, ipv4_addr_info, ipv4_cidrs, is_up, link_kinds, parse_endpoints, parse_handshakes, parse_json,
    parse_listen_port, parse_pairs, parse_public_key, route_devices, route_source, wg_peers, wg_preshared_keys,
    wg_show,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')

OWN = 'DPKyAiEzCzjNxz6PgIYHPizkMNStS0PARKk/cdnLbic='
PEER_B = 'XG9rCCOQB+iDxpqzo/P8SblFxFYwv1uC6sZ+XeCzAGU='
PEER_C = 'H3qgeOLrwd2izdbRO+KWSqkouc+9K4xfR0lCZfTF634='
PEER_D = 'mfwWQ/HWiaLIqiJJCiRu15inym9OZCdkPyLXvz97n04='
HANDSHAKE_B = 1796215337
PSK_B = 'lV7fRFpDJG/LjmtVhbJ5A7CE4KxKOd8+0mLZVxzNhI8='  # wg genpsk, for the fixture only
ROUTES_WGTEST0 = {'10.20.0.0/24', '10.30.0.0/16', '100.66.0.9/32'}

# argv (with the binaries as 'ip' and 'wg') -> fixture printed by that very command.
COMMANDS = {
    ('ip', '-j', '-d', 'link', 'show'): 'ip-d-link-show.json',
    ('ip', '-j', '-4', 'addr', 'show'): 'ip-4-addr-show.json',
    ('ip', '-j', '-4', 'route', 'show', 'default'): 'ip-4-route-show-default.json',
    ('ip', '-j', '-4', 'route', 'get', '192.0.2.1'): 'ip-4-route-get-192.0.2.1.json',
    ('ip', '-j', 'route', 'get', '100.65.0.2'): 'ip-route-get-100.65.0.2.json',
    ('ip', '-j', 'route', 'show', 'table', 'all'): 'ip-route-show-table-all.json',
}
for _iface in ('wgtest0', 'wgtest2'):
    COMMANDS[('ip', '-j', '-4', 'addr', 'show', 'dev', _iface)] = 'ip-4-addr-show-dev-%s.json' % _iface
    COMMANDS[('ip', '-j', '-4', 'route', 'show', 'dev', _iface)] = 'ip-4-route-show-dev-%s.json' % _iface
    COMMANDS[('ip', '-j', 'link', 'show', 'dev', _iface)] = 'ip-link-show-dev-%s.json' % _iface
    for _what in ('public-key', 'listen-port', 'allowed-ips', 'endpoints', 'persistent-keepalive',
                  'latest-handshakes', 'preshared-keys'):
        COMMANDS[('wg', 'show', _iface, _what)] = 'wg-show-%s-%s.txt' % (_iface, _what)
# Commands that failed, with what they printed on stderr.
FAILED = {'ip': 'ip-4-addr-show-dev-mlmissing0.err', 'wg': 'wg-show-mlmissing0-public-key.err'}


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


class Host:
    """A ``run`` that answers with the captured output, and records what was run."""

    def __init__(self, replace=None):
        self.calls = []
        self.replace = dict(replace or {})

    def __call__(self, args):
        args = tuple(args)
        self.calls.append(args)
        if args in self.replace:
            return self.replace[args]
        if args in COMMANDS:
            return 0, fixture(COMMANDS[args]), ''
        return 1, '', fixture(FAILED[args[0]])


# ----------------------------------------------------------------------
# ip: links and addresses


def test_every_ip_fixture_is_a_json_list():
    for args, name in COMMANDS.items():
        if args[0] == 'ip':
            assert isinstance(parse_json(fixture(name)), list), name


def test_link_kinds_in_ip_order():
    kinds = link_kinds(parse_json(fixture('ip-d-link-show.json')))
    assert list(kinds.items()) == [('lo', None), ('mlveth0', 'veth'), ('mlbr0', 'bridge'), ('mlbr1', 'bridge'),
                                   ('wgtest0', 'tun'), ('wgtest2', 'tun')]
    assert link_kinds(None) == {}


def test_up_and_down_links():
    links = dict((link['ifname'], link) for link in parse_json(fixture('ip-d-link-show.json')))
    assert sorted(name for name, link in links.items() if is_up(link)) == ['lo', 'mlbr0', 'mlveth0', 'wgtest0']


def test_ipv4_addresses_of_every_link():
    links = parse_json(fixture('ip-4-addr-show.json'))
    assert dict((link['ifname'], ipv4_cidrs(link)) for link in links) == {
        'lo': ['127.0.0.1/8'],
        'mlveth0': ['198.51.100.1/24', '169.254.10.1/16'],
        'mlbr0': ['172.31.0.1/16'],
        'mlbr1': ['172.30.0.1/16'],
        'wgtest0': ['100.65.0.1/22'],
    }
    # Scope as ip prints it, for the callers that filter on it.
    lo = [link for link in links if link['ifname'] == 'lo'][0]
    assert [info['scope'] for info in ipv4_addr_info(lo)] == ['host']


def test_ipv6_addresses_are_left_out():
    link = parse_json(fixture('ip-addr-show-dev-wgtest0.json'))[0]
    assert [info['family'] for info in link['addr_info']] == ['inet', 'inet6', 'inet6']
    assert ipv4_cidrs(link) == ['100.65.0.1/22']
    assert [info['local'] for info in ipv4_addr_info(link)] == ['100.65.0.1']


def test_a_link_without_addresses():
    assert parse_json(fixture('ip-4-addr-show-dev-wgtest2.json')) == []
    link = parse_json(fixture('ip-link-show-dev-wgtest2.json'))[0]
    assert ipv4_cidrs(link) == [] and not is_up(link) and link['mtu'] == 1420


def test_interface_link():
    host = Host()
    assert interface_link(host, 'ip', 'wgtest0') == {'mtu': 1380, 'addresses': ['100.65.0.1/22']}
    assert host.calls == [('ip', '-j', '-4', 'addr', 'show', 'dev', 'wgtest0')]


def test_interface_link_without_ipv4_reads_the_link():
    # ip -4 addr lists nothing at all for a link without an IPv4 address.
    host = Host()
    assert interface_link(host, 'ip', 'wgtest2') == {'mtu': 1420, 'addresses': []}
    assert host.calls[-1] == ('ip', '-j', 'link', 'show', 'dev', 'wgtest2')


def test_interface_link_of_a_missing_interface():
    with pytest.raises(CommandFailed) as caught:
        interface_link(Host(), 'ip', 'mlmissing0')
    assert caught.value.rc == 1
    assert str(caught.value) == 'ip -j -4 addr failed: Device "mlmissing0" does not exist.'


def test_output_that_is_not_json():
    host = Host({('ip', '-j', '-4', 'addr', 'show', 'dev', 'wgtest0'): (0, 'inet 100.65.0.1/22', '')})
    with pytest.raises(LiveError) as caught:
        interface_link(host, 'ip', 'wgtest0')
    assert not isinstance(caught.value, CommandFailed)
    assert caught.value.rc == 0 and 'not JSON' in str(caught.value)
    assert ip_json_or_none(host, 'ip', ['-4', 'addr', 'show', 'dev', 'wgtest0']) is None
    assert ip_json_or_none(Host(), 'ip', ['-4', 'addr', 'show', 'dev', 'mlmissing0']) is None
    assert parse_json('') == [] and parse_json(None) == []


# ----------------------------------------------------------------------
# ip: routes


def test_default_route_devices():
    assert route_devices(parse_json(fixture('ip-4-route-show-default.json'))) == {'mlveth0', 'wgtest0'}
    assert route_devices(None) == set()


def test_route_source():
    host = Host()
    assert route_source(host, 'ip', '192.0.2.1', ipv4=True) == '198.51.100.1'
    assert route_source(host, 'ip', '100.65.0.2') == '100.65.0.1'
    assert host.calls == [('ip', '-j', '-4', 'route', 'get', '192.0.2.1'), ('ip', '-j', 'route', 'get', '100.65.0.2')]
    # No route, an empty answer, or garbage: unknown.
    assert route_source(Host(), 'ip', '203.0.113.9') is None
    assert route_source(Host({('ip', '-j', 'route', 'get', '203.0.113.9'): (0, '[]\n', '')}), 'ip', '203.0.113.9') is None
    assert route_source(Host({('ip', '-j', 'route', 'get', '203.0.113.9'): (0, 'x', '')}), 'ip', '203.0.113.9') is None


def test_routes_that_count_through_the_interface():
    routes = parse_json(fixture('ip-4-route-show-dev-wgtest0.json'))
    assert [route['dst'] for route in routes] == ['default', '10.20.0.0/24', '10.30.0.0/16', '100.65.0.0/22',
                                                  '100.66.0.9']
    # Not the default route, not the kernel's route to the interface's own prefix; a host route gets its /32.
    assert [counted_route(route) for route in routes] == [False, True, True, False, True]
    assert counted_routes(routes) == ROUTES_WGTEST0
    assert interface_routes(Host(), 'ip', 'wgtest0') == ROUTES_WGTEST0
    assert interface_routes(Host(), 'ip', 'wgtest2') == set()
    with pytest.raises(CommandFailed):
        interface_routes(Host(), 'ip', 'mlmissing0')


def test_routes_of_other_tables_and_ipv6_never_count():
    routes = [route for route in parse_json(fixture('ip-route-show-table-all.json')) if route.get('dev') == 'wgtest0']
    tables = set(route.get('table', 'main') for route in routes)
    assert tables == {'main', 'local', '51820'}
    assert {'10.40.0.0/16', 'fd00:66::/64'} <= set(route['dst'] for route in routes)
    assert counted_routes(routes) == ROUTES_WGTEST0
    # Over every device, only those of wgtest0 count (the others are the kernel's or default routes).
    assert counted_routes(parse_json(fixture('ip-route-show-table-all.json'))) == ROUTES_WGTEST0


# ----------------------------------------------------------------------
# wg show IF FIELD


def test_public_key():
    assert parse_public_key(fixture('wg-show-wgtest0-public-key.txt')) == OWN
    # No private key: wg prints (none).
    assert fixture('wg-show-wgtest2-public-key.txt') == '(none)\n'
    assert parse_public_key(fixture('wg-show-wgtest2-public-key.txt')) is None
    assert parse_public_key('') is None


def test_listen_port():
    assert parse_listen_port(fixture('wg-show-wgtest0-listen-port.txt')) == 51820
    # Without one configured, wireguard-go listens on a port of its own.
    assert 1024 <= parse_listen_port(fixture('wg-show-wgtest2-listen-port.txt')) <= 65535
    assert parse_listen_port('') is None


def test_latest_handshakes():
    # Peers that never handshook say 0; wg lists them in its own order.
    assert parse_handshakes(fixture('wg-show-wgtest0-latest-handshakes.txt')) == {
        PEER_B: HANDSHAKE_B, PEER_C: 0, PEER_D: 0}
    assert parse_handshakes(fixture('wg-show-wgtest2-latest-handshakes.txt')) == {}


def test_endpoints():
    assert parse_endpoints(fixture('wg-show-wgtest0-endpoints.txt')) == {
        PEER_B: '198.51.100.2:51821', PEER_C: None, PEER_D: None}
    assert parse_pairs(fixture('wg-show-wgtest0-endpoints.txt'))[PEER_C] == '(none)'
    assert parse_endpoints(fixture('wg-show-wgtest2-endpoints.txt')) == {}


def test_peers():
    host = Host()
    assert wg_peers(host, 'wg', 'wgtest0') == {
        # wg itself cleared the host bits of 10.20.0.7/24.
        PEER_B: {'allowed_ips': frozenset(['100.65.0.2/32', '10.20.0.0/24']), 'endpoint': '198.51.100.2:51821',
                 'keepalive': 25},
        PEER_C: {'allowed_ips': frozenset(['100.65.0.3/32', '10.30.0.0/16']), 'endpoint': None, 'keepalive': 0},
        PEER_D: {'allowed_ips': frozenset(), 'endpoint': None, 'keepalive': 0},
    }
    assert host.calls == [('wg', 'show', 'wgtest0', 'allowed-ips'), ('wg', 'show', 'wgtest0', 'endpoints'),
                          ('wg', 'show', 'wgtest0', 'persistent-keepalive')]
    assert wg_peers(Host(), 'wg', 'wgtest2') == {}


def test_preshared_keys():
    assert wg_preshared_keys(Host(), 'wg', 'wgtest0') == {PEER_B: PSK_B, PEER_C: None, PEER_D: None}
    assert wg_preshared_keys(Host(), 'wg', 'wgtest2') == {}


def test_wg_on_a_missing_interface():
    with pytest.raises(CommandFailed) as caught:
        wg_show(Host(), 'wg', 'mlmissing0', 'public-key')
    assert str(caught.value) == 'wg show mlmissing0 public-key failed: Unable to access interface: Protocol not supported'
    assert caught.value.err == 'Unable to access interface: Protocol not supported'


def test_no_reader_asks_for_the_private_key():
    host = Host()
    wg_peers(host, 'wg', 'wgtest0')
    for what in ('public-key', 'listen-port', 'latest-handshakes', 'endpoints'):
        wg_show(host, 'wg', 'wgtest0', what)
    assert not [call for call in host.calls if 'private-key' in call or 'dump' in call]


def test_ip_json_passes_arguments_through():
    host = Host()
    assert ip_json(host, 'ip', ['-d', 'link', 'show'])[0]['ifname'] == 'lo'
    assert host.calls == [('ip', '-j', '-d', 'link', 'show')]
    assert json.loads(fixture('ip-d-link-show.json')) == ip_json(host, 'ip', ('-d', 'link', 'show'))


# ----------------------------------------------------------------------
# The modules that read live state through mesh_live, on the same captures


def _module(name):
    pytest.importorskip('ansible.module_utils.basic')
    return __import__('ansible_collections.meshconnect.mesh.plugins.modules.%s' % name, fromlist=[name])


def test_agent_state_reads_the_interface():
    agent_state = _module('agent_state')
    state = agent_state.read_interface(Host(), 'ip', 'wg', 'wgtest0')
    assert state == {
        'up': True, 'mtu': 1380, 'address': '100.65.0.1/22', 'routes': sorted(ROUTES_WGTEST0),
        'public_key': OWN, 'private_key': True, 'listen_port': 51820,
        'peers': {
            PEER_B: {'allowed_ips': ['10.20.0.0/24', '100.65.0.2/32'], 'endpoint': '198.51.100.2:51821',
                     'latest_handshake': HANDSHAKE_B},
            PEER_C: {'allowed_ips': ['10.30.0.0/16', '100.65.0.3/32'], 'endpoint': None, 'latest_handshake': 0},
            PEER_D: {'allowed_ips': [], 'endpoint': None, 'latest_handshake': 0},
        },
    }


def test_agent_state_of_a_bare_and_of_a_missing_interface():
    agent_state = _module('agent_state')
    assert agent_state.read_interface(Host(), 'ip', 'wg', 'wgtest2') == {
        'up': True, 'mtu': 1420, 'routes': [], 'public_key': None, 'private_key': False,
        'listen_port': parse_listen_port(fixture('wg-show-wgtest2-listen-port.txt')), 'peers': {}}
    assert agent_state.read_interface(Host(), 'ip', None, 'wgtest0')['peers'] == {}
    host = Host()
    assert agent_state.read_interface(host, 'ip', 'wg', 'mlmissing0') == {'up': False, 'peers': {}, 'routes': []}
    assert len(host.calls) == 1


def test_wg_sync_and_agent_state_count_the_same_routes():
    agent_state, wg_sync = _module('agent_state'), _module('wg_sync')
    live = wg_sync.read_live(Host(), 'ip', 'wg', 'wgtest0', routes=True)
    assert live['routes'] == ROUTES_WGTEST0
    assert sorted(live['routes']) == agent_state.read_interface(Host(), 'ip', 'wg', 'wgtest0')['routes']
    assert live['link'] == {'mtu': 1380, 'addresses': ['100.65.0.1/22']}
    assert live['port'] == '51820' and live['public_key'] == OWN
    # wg_sync also reads the preshared keys (to compare them; B has one, C and D none).
    peers = wg_peers(Host(), 'wg', 'wgtest0')
    assert set(live['peers']) == set(peers)
    for key, peer in live['peers'].items():
        assert dict(peer, psk=None) == dict(peers[key], psk=None)
    assert live['peers'][PEER_B]['psk'] == PSK_B and live['peers'][PEER_C]['psk'] is None
    # Table = off: routes are not read at all.
    host = Host()
    assert wg_sync.read_live(host, 'ip', 'wg', 'wgtest0', routes=False)['routes'] == set()
    assert not [call for call in host.calls if 'route' in call]
    with pytest.raises(CommandFailed):
        wg_sync.read_live(Host(), 'ip', 'wg', 'mlmissing0', routes=True)


class FakeModule:
    check_mode = True

    def __init__(self, host):
        self.run_command = host


def test_site_facts_on_the_captured_host():
    site_facts = _module('site_facts')
    host = Host()
    kinds = link_kinds(ip_json(host, 'ip', ['-d', 'link', 'show']))
    found = site_facts.discover_interfaces(FakeModule(host), 'ip', {'wgtest0'}, kinds)
    # lo, the link-local address, the bridge that is down and the excluded overlay are left out.
    assert found == [
        {'name': 'mlbr0', 'address': '172.31.0.1', 'prefix': 16, 'kind': 'bridge', 'default_route': False},
        {'name': 'mlveth0', 'address': '198.51.100.1', 'prefix': 24, 'kind': 'veth', 'default_route': True},
    ]
    with_overlay = site_facts.discover_interfaces(FakeModule(host), 'ip', set(), kinds)
    assert with_overlay[-1] == {'name': 'wgtest0', 'address': '100.65.0.1', 'prefix': 22, 'kind': 'tun',
                                'default_route': True}
    assert site_facts.wireguard_implementation(FakeModule(host), 'ip', 'auto', {'wgtest0'}, kinds) == 'userspace'
    assert site_facts.wireguard_implementation(FakeModule(host), 'ip', 'kernel', {'wgtest0'}, kinds) == 'kernel'
