# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client bundles: the stock WireGuard client configuration of one user.

``client_config(user_plan, network, private_key)`` renders the wg-quick file;
with ``resolved=True``, the variant for Linux clients with systemd-resolved
that sends only the user's split-DNS domains to the mesh (``RESOLVED_DIR``,
for users ``wants_resolved``).  The private key is only ever inserted here,
on the controller, into a file the caller writes with mode 0600; ``redact``
gives the same text without it, for diffs and logs.
"""

import json
import os
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_psk import preshared_key

REDACTED = '<redacted: in the 0600 bundle file only>'
# What client_bundle wrote into a folder, so that pruning never touches files it did not write.
MANIFEST = '.meshconnect-bundles.json'
# The sub-folder of the systemd-resolved variants: RESOLVED_DIR/NAME.conf, the same interface name as NAME.conf.
RESOLVED_DIR = 'resolved'
# A bundle's name: NAME or USER=DEVICE (mesh_model_access.file_stem), then .conf or .png.
_STEM = r'[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}(=[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63})?'
_BUNDLE_NAME = re.compile(r'(%s\.(conf|png)|%s/%s\.conf)\Z' % (_STEM, RESOLVED_DIR, _STEM), re.ASCII)
_HEADER = b'# MeshConnect client configuration for '


def manifest_document(names):
    return {'version': 1, 'files': sorted(names)}


def read_manifest(data, dest):
    """The bundle file names this plugin wrote into ``dest``, from the manifest's bytes.

    Without a manifest (bundles written by an earlier version), only ``NAME.conf``
    files that start with this collection's header, and their ``NAME.png``, are
    taken as ours. Entries that are not plain bundle file names are ignored.
    """
    names = set()
    if data is not None:
        try:
            document = json.loads(data.decode('utf-8'))
            files = document.get('files') if isinstance(document, dict) else None
        except ValueError:
            files = None
        for name in files if isinstance(files, list) else []:
            if isinstance(name, str) and _BUNDLE_NAME.match(name):
                names.add(name)
        return names
    if not os.path.isdir(dest):
        return names
    for entry in os.listdir(dest):
        if entry.endswith('.conf') and _BUNDLE_NAME.match(entry):
            try:
                with open(os.path.join(dest, entry), 'rb') as handle:
                    mine = handle.read(len(_HEADER)) == _HEADER
            except (IOError, OSError):
                mine = False
            if mine:
                names.add(entry)
                names.add(entry[:-5] + '.png')
    return names


def wants_resolved(user, network):
    """Whether ``user`` gets the systemd-resolved variant: it has per-domain
    DNS servers and no resolver for every name (with one, the stock file
    already sends every lookup to the mesh)."""
    split = network.get('dns_domains') or {}
    return bool(user.get('dns_domains')) and all(server in split for server in user['dns'])


def client_config(user, network, private_key, resolved=False, preshared_secret=None):
    """The wg-quick configuration for ``user`` (a whole user plan).

    ``private_key`` is None when the user brought their own public key: the
    file then says where the key comes from and the device adds it.

    The stock file lists the DNS servers, then the split-DNS domains, on its
    ``DNS =`` line (wg-quick gives names that are not addresses to
    resolvconf as search domains).  ``resolved=True`` gives the variant for
    Linux with systemd-resolved instead: no ``DNS =`` line, but a ``PostUp``
    that makes the servers resolve only the domains on this link (routing
    domains ``~DOMAIN``) and keeps every other lookup off it
    (``default-route false``); resolved forgets the link's settings when
    the interface goes away.

    With ``preshared_secret`` (the mesh's preshared key secret) each peer
    gets the preshared key of the pair (``mesh_psk``): the file then holds a
    secret even when the device brought its own key.
    """
    exits = [peer['site'] for peer in user['peers'] if peer.get('exit')]
    lines = [
        '# MeshConnect client configuration for %s on network %s.' % (user['name'], network['name']),
        '# Full tunnel: the internet goes through site %s; what other sites grant goes to them; the sites '
        'enforce it.' % exits[0] if exits else
        '# Split tunnel: only what the access policies grant is routed here; the sites enforce it.',
    ]
    domains = user.get('dns_domains') or []
    if resolved:
        lines.append('# Split DNS for Linux with systemd-resolved: only %s resolve through the mesh; other names '
                     'stay with the local resolvers.' % ', '.join(domains))
    lines.append('[Interface]')
    if private_key:
        lines.append('PrivateKey = %s' % private_key)
    else:
        lines.append('# PrivateKey = (the private key of the device whose public key is %s)' % user['public_key'])
    lines.append('Address = %s/%d' % (user['address'], user['prefix']))
    if user.get('dns') and not resolved:
        lines.append('DNS = %s' % ', '.join(list(user['dns']) + list(domains)))
    lines.append('MTU = %d' % user['mtu'])
    if resolved:
        lines.append('PostUp = resolvectl dns %%i %s; resolvectl domain %%i %s; resolvectl default-route %%i false'
                     % (' '.join(user['dns']), ' '.join('~' + name for name in domains)))
    for peer in user['peers']:
        if not peer.get('public_key'):
            continue
        lines.extend([
            '',
            '# site %s' % peer['site'] + (' (relays %s)' % ', '.join(peer['relays']) if peer.get('relays') else '')
            + (' (exit: the internet)' if peer.get('exit') else ''),
            '[Peer]',
            'PublicKey = %s' % peer['public_key'],
        ])
        if preshared_secret:
            # The same key the site's agent derives for this device (mesh_psk).
            lines.append('PresharedKey = %s' % preshared_key(preshared_secret, network['name'], 'user:' + user['name'],
                                                             'site:' + peer['site']))
        lines.extend([
            'Endpoint = %s' % peer['endpoint'],
            'AllowedIPs = %s' % ', '.join(peer['allowed_ips']),
        ])
        if peer.get('keepalive'):
            lines.append('PersistentKeepalive = %d' % peer['keepalive'])
    return '\n'.join(lines) + '\n'


def redact(text):
    out = []
    for line in text.splitlines():
        for secret in ('PrivateKey = ', 'PresharedKey = '):
            if line.startswith(secret):
                line = secret + REDACTED
        out.append(line)
    return '\n'.join(out) + '\n'
