#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: wg_sync
short_description: Apply a wg-quick configuration to a running WireGuard interface without dropping tunnels
version_added: 0.1.0
description:
  - Compares the running interface O(interface) with its wg-quick file O(config) and makes them equal in place.
  - Peers are changed with C(wg syncconf), which keeps the sessions of unchanged peers running; the private key
    is fed to it on standard input from O(private_key_path), so a reload never drops the key, and the key is never
    on a command line or in the result. Preshared keys (C(PresharedKey) in the file) are compared with the live
    ones and applied the same way; a change names the peer, never the key. A session survives a new preshared key.
  - Addresses and the MTU are reconciled with C(ip), and the routes of the interface are made to match the peers'
    AllowedIPs as C(wg-quick) would set them (prefixes inside the interface's own prefix need no route); stale
    routes are removed.
  - When the interface is not up, nothing is done (the C(wg-quick@) service brings it up from the same file).
options:
  interface:
    description: The WireGuard interface.
    type: str
    required: true
  config:
    description: The wg-quick file; defaults to C(/etc/wireguard/INTERFACE.conf).
    type: path
  private_key_path:
    description: The private key file of the interface.
    type: path
    default: /etc/meshconnect/private.key
  force:
    description: Run C(wg syncconf) even when the peers look equal (for example because the file changed).
    type: bool
    default: false
requirements:
  - wireguard-tools and iproute2 on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.changes
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Apply peer, address, MTU and route changes live
  meshconnect.mesh.wg_sync:
    interface: mc0
    force: "{{ agent_wg_conf.changed }}"
'''

RETURN = r'''
changes:
  description: What was (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
  sample: ["add peer xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=", "add route 10.20.0.0/24"]
up:
  description: Whether the interface exists.
  returned: always
  type: bool
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import (
    LiveError, interface_link, interface_routes, parse_public_key, wg_peers, wg_preshared_keys, wg_show,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_wgconf import (
    desired_peers, desired_routes, normalise_cidr, parse_config, peer_changes, sync_config_text,
)


class Runner:
    def __init__(self, module):
        self.module = module
        self.wg = module.get_bin_path('wg', required=True)
        self.ip = module.get_bin_path('ip', required=True)

    def run(self, args, data=None, check=True):
        rc, out, err = self.module.run_command(args, data=data, binary_data=False)
        if check and rc != 0:
            self.module.fail_json(msg='%s failed: %s' % (' '.join(args[:4]), err.strip()))
        return rc, out


def read_live(run, ip, wg, iface, routes):
    """What is compared with the file: addresses and MTU, peers, listen port, public key, and the routes that
    count (mesh_live.counted_route) when ``routes``. The interface's private key is never read."""
    peers = wg_peers(run, wg, iface)
    for key, psk in wg_preshared_keys(run, wg, iface).items():
        if key in peers:
            peers[key]['psk'] = psk
    return {
        'link': interface_link(run, ip, iface),
        'peers': peers,
        'port': wg_show(run, wg, iface, 'listen-port').strip(),
        'public_key': parse_public_key(wg_show(run, wg, iface, 'public-key')),
        'routes': interface_routes(run, ip, iface) if routes else set(),
    }


def main():
    module = AnsibleModule(
        argument_spec={
            'interface': {'type': 'str', 'required': True},
            'config': {'type': 'path'},
            'private_key_path': {'type': 'path', 'default': '/etc/meshconnect/private.key', 'no_log': False},
            'force': {'type': 'bool', 'default': False},
        },
        supports_check_mode=True,
    )
    iface = module.params['interface']
    path = module.params['config'] or '/etc/wireguard/%s.conf' % iface
    try:
        with open(path, 'r') as handle:
            config = parse_config(handle.read())
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, exc))
    runner = Runner(module)

    rc, _out = runner.run([runner.ip, 'link', 'show', 'dev', iface], check=False)
    if rc != 0:
        module.exit_json(changed=False, up=False, changes=[])

    settings = config['interface']
    # Routes as wg-quick sets them, unless the file turns them off.
    manage_routes = settings.get('table', 'auto').lower() != 'off'
    try:
        live = read_live(module.run_command, runner.ip, runner.wg, iface, manage_routes)
    except LiveError as exc:
        module.fail_json(msg=str(exc))

    changes = []
    steps = []

    # Addresses.
    wanted_addrs = set(a if '/' in a else a + '/32' for a in settings.get('address', []))
    live_addrs = set(live['link']['addresses'])
    for addr in sorted(wanted_addrs - live_addrs):
        changes.append('add address %s' % addr)
        steps.append([runner.ip, '-4', 'address', 'add', addr, 'dev', iface])
    for addr in sorted(live_addrs - wanted_addrs):
        changes.append('remove address %s' % addr)
        steps.append([runner.ip, '-4', 'address', 'del', addr, 'dev', iface])

    # Peers, listen port and private key: one wg syncconf.
    sync = peer_changes(desired_peers(config), live['peers'])
    if settings.get('listenport') and live['port'] != settings['listenport']:
        sync.append('listen port %s -> %s' % (live['port'], settings['listenport']))
    key_path = module.params['private_key_path']
    if not os.path.exists(key_path):
        module.fail_json(msg='private key %s is missing; run the agent role to create it' % key_path)
    with open(key_path, 'r') as handle:
        private_key = handle.read().strip()
    _rc, expected_public = runner.run([runner.wg, 'pubkey'], data=private_key + '\n')
    if live['public_key'] != parse_public_key(expected_public):
        sync.append('restore the private key of %s' % iface)
    if module.params['force'] and not sync:
        sync.append('reload peers from %s' % path)
    changes.extend(sync)

    # MTU.
    mtu = settings.get('mtu')
    if mtu:
        live_mtu = live['link']['mtu']
        if str(live_mtu) != str(mtu):
            changes.append('mtu %s -> %s' % (live_mtu, mtu))

    # Routes.
    route_steps = []
    if manage_routes:
        allowed_all = set()
        for peer in config['peers']:
            allowed_all.update(normalise_cidr(c) for c in peer.get('allowedips', []))
        wanted_routes = desired_routes(wanted_addrs, allowed_all)
        live_routes = live['routes']
        for cidr in sorted(wanted_routes - live_routes):
            changes.append('add route %s' % cidr)
            route_steps.append([runner.ip, '-4', 'route', 'replace', cidr, 'dev', iface])
        for cidr in sorted(live_routes - wanted_routes):
            changes.append('remove route %s' % cidr)
            route_steps.append([runner.ip, '-4', 'route', 'del', cidr, 'dev', iface])

    result = {'changed': bool(changes), 'up': True, 'changes': changes}
    if module._diff and changes:
        result['diff'] = {'before': '', 'after': '\n'.join(changes) + '\n',
                          'after_header': '%s (live changes)' % iface}
    if module.check_mode or not changes:
        module.exit_json(**result)

    for step in steps:
        runner.run(step)
    if sync:
        runner.run([runner.wg, 'syncconf', iface, '/dev/stdin'], data=sync_config_text(config, private_key))
    del private_key
    if mtu and any(c.startswith('mtu ') for c in changes):
        runner.run([runner.ip, 'link', 'set', 'dev', iface, 'mtu', str(mtu)])
    for step in route_steps:
        runner.run(step)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
