# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client bundles: the stock WireGuard client configuration of one user.

``client_config(user_plan, network, private_key)`` renders the wg-quick file.
The private key is only ever inserted here, on the controller, into a file the
caller writes with mode 0600; ``redact`` gives the same text without it, for
diffs and logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REDACTED = '<redacted: in the 0600 bundle file only>'


def client_config(user, network, private_key):
    """The wg-quick configuration for ``user`` (a plan entry).

    ``private_key`` is None when the user brought their own public key: the
    file then says where the key comes from and the device adds it.
    """
    lines = [
        '# MeshConnect client configuration for %s on network %s.' % (user['name'], network['name']),
        '# Split tunnel: only what the access policies grant is routed here; the sites enforce it.',
        '[Interface]',
    ]
    if private_key:
        lines.append('PrivateKey = %s' % private_key)
    else:
        lines.append('# PrivateKey = (the private key of the device whose public key is %s)' % user['public_key'])
    lines.append('Address = %s/%d' % (user['address'], user['prefix']))
    if user.get('dns'):
        lines.append('DNS = %s' % ', '.join(user['dns']))
    lines.append('MTU = %d' % user['mtu'])
    for peer in user['peers']:
        if not peer.get('public_key'):
            continue
        lines.extend([
            '',
            '# site %s' % peer['site'],
            '[Peer]',
            'PublicKey = %s' % peer['public_key'],
            'Endpoint = %s' % peer['endpoint'],
            'AllowedIPs = %s' % ', '.join(peer['allowed_ips']),
        ])
        if peer.get('keepalive'):
            lines.append('PersistentKeepalive = %d' % peer['keepalive'])
    return '\n'.join(lines) + '\n'


def redact(text):
    out = []
    for line in text.splitlines():
        if line.startswith('PrivateKey = '):
            line = 'PrivateKey = ' + REDACTED
        out.append(line)
    return '\n'.join(out) + '\n'
