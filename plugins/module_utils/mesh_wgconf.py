# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""wg-quick configuration files and the live reconcile plan.

Pure functions: parse a wg-quick file, and compare the desired interface
(addresses, MTU, peers, routes) with what is live, returning the exact steps
that make them equal.  The ``wg_sync`` module runs those steps.
"""

import ipaddress

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, cidr_interval, contains, format_cidr, parse_cidr, prefix_interval,
)


def parse_config(text):
    """Parse a wg-quick file into ``{'interface': {...}, 'peers': [...]}``.

    Keys are lower-cased; list-valued keys (Address, AllowedIPs, DNS) are
    split on commas.
    """
    interface = {}
    peers = []
    current = None
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1].strip().lower()
            if section == 'interface':
                current = interface
            elif section == 'peer':
                current = {}
                peers.append(current)
            else:
                raise ValueError('unknown section [%s]' % section)
            continue
        if current is None or '=' not in line:
            raise ValueError('unexpected line %r' % raw)
        key, _sep, value = line.partition('=')
        key = key.strip().lower()
        value = value.strip()
        if key in ('address', 'allowedips', 'dns'):
            current.setdefault(key, []).extend(v.strip() for v in value.split(',') if v.strip())
        elif key in ('postup', 'postdown', 'preup', 'predown'):
            current.setdefault(key, []).append(value)
        else:
            current[key] = value
    return {'interface': interface, 'peers': peers}


def normalise_cidr(text):
    """``A``, ``A/N`` (host bits cleared) as ``A/N``.  IPv4 is what the mesh
    plans; an IPv6 entry (only ever added by hand on a live peer) is
    normalised too, so that it shows as drift and is removed, instead of
    stopping the run that should remove it."""
    if ':' in text:
        try:
            return str(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as exc:
            raise AddressError('%s is not an IPv6 address or network (%s)' % (show(text), exc))
    net, length = parse_cidr(text, strict=False)
    return format_cidr(prefix_interval(net, length)[0], length)


def desired_peers(config):
    """public key -> {'allowed_ips': frozenset, 'endpoint': str|None, 'keepalive': int, 'psk': str|None}"""
    out = {}
    for peer in config['peers']:
        out[peer['publickey']] = {
            'allowed_ips': frozenset(normalise_cidr(c) for c in peer.get('allowedips', [])),
            'endpoint': peer.get('endpoint'),
            'keepalive': int(peer.get('persistentkeepalive', 0) or 0),
            'psk': peer.get('presharedkey'),
        }
    return out


def sync_config_text(config, private_key):
    """The ``wg syncconf`` input for ``config``: wg-quick keys stripped,
    the private key included so that the reload never drops it."""
    lines = ['[Interface]', 'PrivateKey = %s' % private_key]
    if config['interface'].get('listenport'):
        lines.append('ListenPort = %s' % config['interface']['listenport'])
    for peer in config['peers']:
        lines.append('[Peer]')
        lines.append('PublicKey = %s' % peer['publickey'])
        if peer.get('presharedkey'):
            lines.append('PresharedKey = %s' % peer['presharedkey'])
        if peer.get('allowedips'):
            lines.append('AllowedIPs = %s' % ', '.join(peer['allowedips']))
        if peer.get('endpoint'):
            lines.append('Endpoint = %s' % peer['endpoint'])
        if peer.get('persistentkeepalive'):
            lines.append('PersistentKeepalive = %s' % peer['persistentkeepalive'])
    return '\n'.join(lines) + '\n'


def peer_changes(wanted, live):
    """Human-readable differences between desired and live peers.

    ``live`` maps public key -> {'allowed_ips', 'endpoint', 'keepalive'}.
    A live endpoint that differs from the configured one is not a
    difference (peers roam; a changed configuration forces a sync anyway),
    but a configured endpoint that is not live at all is.
    """
    changes = []
    for key in sorted(set(wanted) | set(live)):
        if key not in live:
            changes.append('add peer %s' % key)
            continue
        if key not in wanted:
            changes.append('remove peer %s' % key)
            continue
        want, have = wanted[key], live[key]
        if want['allowed_ips'] != have['allowed_ips']:
            before = ','.join(sorted(have['allowed_ips'])) or '(none)'
            after = ','.join(sorted(want['allowed_ips'])) or '(none)'
            changes.append('peer %s allowed-ips %s -> %s' % (key, before, after))
        if want['keepalive'] != have['keepalive']:
            changes.append('peer %s keepalive %s -> %s' % (key, have['keepalive'], want['keepalive']))
        # Preshared keys are compared where the live side read them (wg_sync), and never shown.
        if 'psk' in have and want.get('psk') != have['psk']:
            changes.append('peer %s preshared key %s' % (
                key, 'set' if have['psk'] is None else 'removed' if want.get('psk') is None else 'changed'))
        if want['endpoint'] and not have['endpoint']:
            changes.append('peer %s endpoint (none) -> %s' % (key, want['endpoint']))
    return changes


def desired_routes(addresses, allowed_ips):
    """Routes wg-quick would add: each allowed prefix not already covered by
    a connected prefix of the interface addresses."""
    connected = [cidr_interval(normalise_cidr(a)) for a in addresses]
    out = set()
    for cidr in allowed_ips:
        interval = cidr_interval(cidr)
        if any(contains(c, interval) for c in connected):
            continue
        out.add(cidr)
    return out


__all__ = ['AddressError', 'desired_peers', 'desired_routes', 'normalise_cidr', 'parse_config',
           'peer_changes', 'sync_config_text']
