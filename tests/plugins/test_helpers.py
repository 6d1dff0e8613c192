# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure helpers behind wg_sync (mesh_wgconf) and wg_status (mesh_diagnose)."""

import base64
import datetime

import pytest

from meshrun import inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_diagnose import HANDSHAKE_FRESH, diagnose
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import parse_peers
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_wgconf import (
    desired_peers, desired_routes, parse_config, peer_changes, sync_config_text,
)


def _key(n):
    return base64.b64encode(bytes([n]) * 32).decode('ascii')


K1, K2, K3 = _key(1), _key(2), _key(3)
PRIVATE = _key(200)

# As roles/agent/templates/wg.conf.j2 renders it, plus what people add by hand.
CONFIG = '''# Ansible managed
# MeshConnect agent for site hq: overlay 100.96.0.2/24.
[Interface]
Address = 100.96.0.2/24
ListenPort = 51820
MTU = 1420
DNS = 10.10.0.53, 10.10.0.54
PostUp = wg set %%i private-key /etc/meshconnect/private.key
PostUp = logger mesh up   # a second hook
Table = auto

# site:branch (links: hq-branch)
[Peer]
PublicKey = %(k1)s
AllowedIPs = 100.96.0.1/32, 10.20.0.0/24
AllowedIPs = 10.30.0.7/24
Endpoint = 198.51.100.2:51820
PersistentKeepalive = 25

  [peer]
  publickey=%(k2)s
  allowedips = 100.96.0.4
''' % {'k1': K1, 'k2': K2}


# ----------------------------------------------------------------------
# parse_config


def test_parse_config_sections_comments_and_multi_value_keys():
    config = parse_config(CONFIG)
    assert config['interface'] == {
        'address': ['100.96.0.2/24'],
        'listenport': '51820',
        'mtu': '1420',
        'dns': ['10.10.0.53', '10.10.0.54'],
        'postup': ['wg set %i private-key /etc/meshconnect/private.key', 'logger mesh up'],
        'table': 'auto',
    }
    first, second = config['peers']
    # Values keep their '=' (base64 padding); repeated AllowedIPs lines add up.
    assert first == {
        'publickey': K1,
        'allowedips': ['100.96.0.1/32', '10.20.0.0/24', '10.30.0.7/24'],
        'endpoint': '198.51.100.2:51820',
        'persistentkeepalive': '25',
    }
    assert second == {'publickey': K2, 'allowedips': ['100.96.0.4']}


def test_parse_config_of_nothing():
    assert parse_config('') == {'interface': {}, 'peers': []}
    assert parse_config('# only a comment\n\n   \n') == {'interface': {}, 'peers': []}


@pytest.mark.parametrize('text, message', [
    ('[Interface]\n[Wat]\nKey = 1\n', 'unknown section [wat]'),
    ('ListenPort = 51820\n[Interface]\n', "unexpected line 'ListenPort = 51820'"),
    ('[Interface]\nListenPort 51820\n', "unexpected line 'ListenPort 51820'"),
    ('[Peer\nPublicKey = x\n', "unexpected line '[Peer'"),
])
def test_parse_config_errors(text, message):
    with pytest.raises(ValueError) as info:
        parse_config(text)
    assert str(info.value) == message


# ----------------------------------------------------------------------
# desired_peers and sync_config_text


def test_desired_peers_normalise_what_wg_shows():
    peers = desired_peers(parse_config(CONFIG))
    assert peers == {
        K1: {'allowed_ips': frozenset(['100.96.0.1/32', '10.20.0.0/24', '10.30.0.0/24']),
             'endpoint': '198.51.100.2:51820', 'keepalive': 25, 'psk': None},
        # A bare address is a /32; no endpoint, no keepalive and no preshared key.
        K2: {'allowed_ips': frozenset(['100.96.0.4/32']), 'endpoint': None, 'keepalive': 0, 'psk': None},
    }


def test_sync_config_text_keeps_the_key_and_drops_wg_quick_settings():
    text = sync_config_text(parse_config(CONFIG), PRIVATE)
    lines = text.splitlines()
    assert lines[:3] == ['[Interface]', 'PrivateKey = %s' % PRIVATE, 'ListenPort = 51820']
    assert text.endswith('\n')
    keys = set(line.split('=', 1)[0].strip().lower() for line in lines if '=' in line)
    assert keys == {'privatekey', 'listenport', 'publickey', 'allowedips', 'endpoint', 'persistentkeepalive'}
    for wg_quick_only in ('Address', 'PostUp', 'MTU', 'DNS', 'Table'):
        assert wg_quick_only not in text
    assert 'AllowedIPs = 100.96.0.1/32, 10.20.0.0/24, 10.30.0.7/24' in lines
    assert lines.count('[Peer]') == 2
    # What wg syncconf gets describes the same peers.
    assert desired_peers(parse_config(text)) == desired_peers(parse_config(CONFIG))


def test_sync_config_text_always_has_the_private_key():
    text = sync_config_text({'interface': {}, 'peers': []}, PRIVATE)
    assert text == '[Interface]\nPrivateKey = %s\n' % PRIVATE
    text = sync_config_text(parse_config('[Interface]\nPrivateKey = %s\n' % _key(9)), PRIVATE)
    assert text == '[Interface]\nPrivateKey = %s\n' % PRIVATE


# ----------------------------------------------------------------------
# peer_changes


def _peer(ips, endpoint=None, keepalive=0):
    return {'allowed_ips': frozenset(ips), 'endpoint': endpoint, 'keepalive': keepalive}


def test_peer_changes_none_when_live_matches():
    wanted = desired_peers(parse_config(CONFIG))
    live = dict((k, dict(v)) for k, v in wanted.items())
    assert peer_changes(wanted, live) == []


def test_peer_changes_add_and_remove():
    assert peer_changes({K1: _peer(['10.0.0.0/24'])}, {}) == ['add peer %s' % K1]
    assert peer_changes({}, {K2: _peer(['10.0.0.0/24'])}) == ['remove peer %s' % K2]
    changes = peer_changes({K3: _peer([]), K1: _peer([])}, {K2: _peer([])})
    assert changes == ['add peer %s' % K1, 'remove peer %s' % K2, 'add peer %s' % K3]     # by key


def test_peer_changes_allowed_ips_and_keepalive():
    wanted = {K1: _peer(['10.0.0.0/24', '10.1.0.0/24'], keepalive=25)}
    live = {K1: _peer(['10.0.0.0/24'])}
    assert peer_changes(wanted, live) == [
        'peer %s allowed-ips 10.0.0.0/24 -> 10.0.0.0/24,10.1.0.0/24' % K1,
        'peer %s keepalive 0 -> 25' % K1,
    ]
    assert peer_changes({K1: _peer([])}, {K1: _peer(['10.0.0.0/24'])}) == [
        'peer %s allowed-ips 10.0.0.0/24 -> (none)' % K1]


def test_peer_changes_endpoint_roaming_is_not_a_change():
    wanted = {K1: _peer(['10.0.0.0/24'], endpoint='branch.example.test:51820')}
    # The peer answered from another address (NAT, roaming): nothing to fix.
    assert peer_changes(wanted, {K1: _peer(['10.0.0.0/24'], endpoint='203.0.113.9:61000')}) == []
    # We never configured an endpoint and the peer dialled in: nothing to fix either.
    assert peer_changes({K1: _peer(['10.0.0.0/24'])}, {K1: _peer(['10.0.0.0/24'], endpoint='203.0.113.9:1')}) == []


def test_peer_changes_missing_endpoint_is_a_change():
    wanted = {K1: _peer(['10.0.0.0/24'], endpoint='198.51.100.2:51820')}
    assert peer_changes(wanted, {K1: _peer(['10.0.0.0/24'])}) == [
        'peer %s endpoint (none) -> 198.51.100.2:51820' % K1]


# ----------------------------------------------------------------------
# desired_routes


def test_desired_routes_skip_prefixes_inside_the_interface_prefix():
    allowed = {'100.96.0.1/32', '100.96.0.0/25', '10.20.0.0/24', '100.96.0.0/23', '100.96.1.7/32'}
    assert desired_routes(['100.96.0.2/24'], allowed) == {'10.20.0.0/24', '100.96.0.0/23', '100.96.1.7/32'}


def test_desired_routes_for_a_host_address():
    assert desired_routes(['100.96.0.3/32'], {'100.96.0.3/32', '100.96.0.2/32'}) == {'100.96.0.2/32'}
    assert desired_routes([], {'10.0.0.0/8'}) == {'10.0.0.0/8'}
    assert desired_routes(['100.96.0.2/24'], set()) == set()


# ----------------------------------------------------------------------
# parse_peers


def test_parse_peers():
    allowed = '%s\t100.96.0.1/32 10.20.0.7/24\n%s\t(none)\nnot a peer line\n' % (K1, K2)
    endpoints = '%s\t198.51.100.2:51820\n%s\t(none)\n%s\t192.0.2.9:1\n' % (K1, K2, K3)
    keepalive = '%s\t25\n%s\toff\n' % (K1, K2)
    assert parse_peers(allowed, endpoints, keepalive) == {
        K1: _peer(['100.96.0.1/32', '10.20.0.0/24'], '198.51.100.2:51820', 25),
        K2: _peer([], None, 0),
    }
    assert parse_peers('', '', '') == {}


def test_an_ipv6_allowed_ip_added_by_hand_is_drift_not_a_crash():
    # The mesh plans IPv4 only; `wg set mc0 peer K allowed-ips 100.96.0.1/32,fd00::1` on the agent must
    # show as a change to undo, not stop the run that undoes it.
    config = parse_config(CONFIG)
    allowed = ''.join('%s\t%s\n' % (p['publickey'], ' '.join(p['allowedips'] + (['fd00:0::1/64'] if i == 0 else [])))
                      for i, p in enumerate(config['peers']))
    endpoints = '%s\t198.51.100.2:51820\n%s\t(none)\n' % (K1, K2)
    keepalive = '%s\t25\n%s\toff\n' % (K1, K2)
    live = parse_peers(allowed, endpoints, keepalive)
    first = config['peers'][0]['publickey']
    assert 'fd00::/64' in live[first]['allowed_ips']
    changes = peer_changes(desired_peers(config), live)
    assert len(changes) == 1 and changes[0].startswith('peer %s allowed-ips' % first) and 'fd00::/64' in changes[0]


def test_live_dump_of_the_desired_config_needs_no_change():
    config = parse_config(CONFIG)
    allowed = ''.join('%s\t%s\n' % (p['publickey'], ' '.join(p['allowedips'])) for p in config['peers'])
    endpoints = '%s\t198.51.100.2:51820\n%s\t(none)\n' % (K1, K2)
    keepalive = '%s\t25\n%s\toff\n' % (K1, K2)
    live = parse_peers(allowed, endpoints, keepalive)
    assert peer_changes(desired_peers(config), live) == []
    live[K1]['keepalive'] = 0
    assert peer_changes(desired_peers(config), live) == ['peer %s keepalive 0 -> 25' % K1]


# ----------------------------------------------------------------------
# diagnose

PUBLIC_PEER = {'name': 'site:branch', 'endpoint': '198.51.100.2:51820', 'behind_nat': False,
               'port_forwarding': False}
NATED_PEER = {'name': 'site:shop', 'endpoint': 'shop.example.test:41820', 'behind_nat': True,
              'port_forwarding': True}
SILENT_PEER = {'name': 'site:lyon', 'endpoint': None, 'behind_nat': True, 'port_forwarding': False}
OWN_PUBLIC = {'endpoint': '198.51.100.1:51820', 'behind_nat': False, 'port_forwarding': False, 'listen_port': 51820}
OWN_NATED = {'endpoint': 'hq.example.test:41820', 'endpoint_port': 41820, 'behind_nat': True, 'port_forwarding': True,
             'listen_port': 51820}
OWN_HIDDEN = {'endpoint': None, 'behind_nat': True, 'port_forwarding': False, 'listen_port': 51820}


@pytest.mark.parametrize('age', [0, 5, HANDSHAKE_FRESH])
def test_diagnose_fresh_handshake_is_fine(age):
    for peer in (PUBLIC_PEER, NATED_PEER, SILENT_PEER):
        assert diagnose(peer, age, OWN_HIDDEN) is None


@pytest.mark.parametrize('age', [None, HANDSHAKE_FRESH + 1, 86400])
def test_diagnose_stale_or_missing_handshake_is_reported(age):
    assert diagnose(PUBLIC_PEER, age, OWN_PUBLIC) is not None


def test_diagnose_we_dial_a_nated_peer():
    cause = diagnose(NATED_PEER, None, OWN_PUBLIC)
    assert cause.startswith('no handshake with site:shop: this agent dials shop.example.test:41820 but gets no answer.')
    assert 'site:shop is behind NAT' in cause
    assert 'check that UDP 41820 reaches its agent' in cause
    assert 'port forward' in cause and '1:1 NAT' in cause


def test_diagnose_we_dial_a_public_peer():
    cause = diagnose(PUBLIC_PEER, 3600, OWN_NATED)
    assert cause.startswith('no handshake with site:branch: this agent dials 198.51.100.2:51820 but gets no answer.')
    assert 'Check that the endpoint is right (198.51.100.2 resolves to the peer)' in cause
    assert 'UDP 51820 is open to it' in cause
    assert 'NAT' not in cause and 'port forward' not in cause


def test_diagnose_peer_should_dial_us():
    cause = diagnose(SILENT_PEER, None, OWN_PUBLIC)
    assert cause.startswith('no handshake with site:lyon: it should dial this agent at 198.51.100.1:51820 but has not.')
    assert 'Check that UDP 51820 reaches this agent at 198.51.100.1:51820' in cause
    assert 'site:lyon is running and can reach the internet' in cause


def test_diagnose_peer_should_dial_us_through_our_port_forward():
    cause = diagnose(SILENT_PEER, None, OWN_NATED)
    assert 'it should dial this agent at hq.example.test:41820' in cause
    # The port peers dial (41820, forwarded by the router to 51820 here), not the listen port.
    assert 'This agent is behind NAT: check that UDP 41820, the port peers dial, reaches it' in cause
    assert 'port forward' in cause and '1:1 NAT' in cause
    assert '51820' not in cause


def test_diagnose_nobody_can_dial():
    cause = diagnose(SILENT_PEER, None, OWN_HIDDEN)
    assert cause == ('no handshake with site:lyon: neither side can dial the other (fix the inventory: one of them '
                     'needs an endpoint).')


def test_diagnose_takes_compiled_plans():
    """The peers and own settings wg_status passes come straight from an agent plan."""
    inv = inventory()
    inv['sites']['gw-lab'] = {'name': 'lab', 'behind_nat': True,
                              'resources': [{'name': 'net', 'address': '10.30.0.0/24'}]}
    inv['links'].append({'name': 'lab-hq', 'sites': {'lab': ['net'], 'hq': []}})
    users = [dict(u, public_key=_key(i + 10), generate_key=False) for i, u in enumerate(inv['users'])]
    inv['users'] = users
    plan = compile_mesh(inv, today=datetime.date(2026, 1, 1))['plan']
    hq, lab = plan['agents']['gw-hq'], plan['agents']['gw-lab']

    def own(agent):
        return {'endpoint': agent['endpoint'], 'behind_nat': agent['behind_nat'],
                'listen_port': agent['listen_port']}

    peers = dict((p['name'], p) for p in hq['peers'])
    # hq waits for lab (NAT, no endpoint) to dial in; lab dials hq's public endpoint.
    assert 'it should dial this agent at 198.51.100.1:51820' in diagnose(peers['site:lab'], None, own(hq))
    lab_peers = dict((p['name'], p) for p in lab['peers'])
    assert 'this agent dials 198.51.100.1:51820' in diagnose(lab_peers['site:hq'], None, own(lab))
    assert diagnose(lab_peers['site:hq'], 30, own(lab)) is None
