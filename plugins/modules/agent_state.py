#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: agent_state
short_description: Read an agent's live WireGuard, route, forwarding and firewall state
version_added: 0.1.0
description:
  - Read-only. Reports what is running, for comparison with the agent's plan (see the C(agent_drift) filter and
    C(playbooks/verify.yml)).
  - The private key is never read; only whether the interface has one.
options:
  interface:
    description: The WireGuard interface.
    type: str
    default: mc0
  firewall_file:
    description: The ruleset file the agent role installed.
    type: path
    default: /etc/meshconnect/firewall.nft
  guard:
    description: The guard the agent role installed (C(meshconnect-guard)), asked whether the routing guard is complete.
    type: path
    default: /usr/local/sbin/meshconnect-guard
requirements:
  - wireguard-tools, iproute2, nftables and util-linux on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.read_only
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Read the live state
  meshconnect.mesh.agent_state:
    interface: mc0
  register: live
'''

RETURN = r'''
state:
  description: The live state.
  returned: always
  type: dict
  contains:
    up:
      description: Whether the interface exists.
      type: bool
    address:
      description: The interface's IPv4 address with its prefix length.
      type: str
    listen_port:
      description: The WireGuard listen port.
      type: int
    mtu:
      description: The interface MTU.
      type: int
    private_key:
      description: Whether the interface has a private key.
      type: bool
    public_key:
      description: The interface's public key.
      type: str
    peers:
      description: Public key to C(allowed_ips), C(endpoint), C(latest_handshake) (epoch seconds, 0 for never).
      type: dict
    routes:
      description: Routes through the interface, other than the one to its own prefix.
      type: list
      elements: str
    forwarding:
      description: Whether IPv4 forwarding is on.
      type: bool
    firewall_loaded:
      description: Whether the table inet meshconnect is loaded.
      type: bool
    firewall_digest:
      description: The digest in the live table's comment.
      type: str
    firewall_file_digest:
      description: The digest in O(firewall_file).
      type: str
    firewall_drift:
      description:
        - How the live table differs from what O(firewall_file) loads to, both listed without counters (unified diff
          lines, C(-) missing from the live table, C(+) extra in it); empty when they are equal.
      type: list
      elements: str
    guard:
      description: What is wrong with the routing guard (empty when it is complete); null when the guard is missing.
      type: list
      elements: str
    firewall_service:
      description: Whether C(meshconnect-firewall.service), which restores the table after a flush, is running.
      type: bool
'''

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import (
    CommandFailed, LiveError, interface_link, interface_routes, parse_handshakes, parse_listen_port, parse_public_key,
    wg_peers, wg_show,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_nft import (
    ListingError, expected_listing, find_digest, listing_diff, live_listing,
)


def _run(module, args):
    rc, out, _err = module.run_command(args)
    return out if rc == 0 else None


def read_interface(run, ip, wg, iface):
    """The interface part of the state: link, address, routes that count (mesh_live.counted_route), and with
    ``wg`` its keys, port and peers. What cannot be read is left out; the private key is never read."""
    state = {'up': False, 'peers': {}, 'routes': []}
    try:
        link = interface_link(run, ip, iface)
    except CommandFailed:
        return state
    state['up'] = True
    state['mtu'] = link['mtu']
    if link['addresses']:
        state['address'] = link['addresses'][0]
    try:
        state['routes'] = sorted(interface_routes(run, ip, iface))
    except CommandFailed:
        pass
    if not wg:
        return state

    def show(what):
        try:
            return wg_show(run, wg, iface, what)
        except CommandFailed:
            return ''
    state['public_key'] = parse_public_key(show('public-key'))
    state['private_key'] = state['public_key'] is not None
    state['listen_port'] = parse_listen_port(show('listen-port'))
    try:
        peers = wg_peers(run, wg, iface)
    except CommandFailed:
        peers = {}
    handshakes = parse_handshakes(show('latest-handshakes'))
    for key, peer in peers.items():
        state['peers'][key] = {'allowed_ips': sorted(peer['allowed_ips']), 'endpoint': peer['endpoint'],
                               'latest_handshake': handshakes.get(key, 0)}
    return state


def main():
    module = AnsibleModule(
        argument_spec={
            'interface': {'type': 'str', 'default': 'mc0'},
            'firewall_file': {'type': 'path', 'default': '/etc/meshconnect/firewall.nft'},
            'guard': {'type': 'path', 'default': '/usr/local/sbin/meshconnect-guard'},
        },
        supports_check_mode=True,
    )
    iface = module.params['interface']
    ip = module.get_bin_path('ip', required=True)
    wg = module.get_bin_path('wg')
    nft = module.get_bin_path('nft')
    try:
        state = read_interface(module.run_command, ip, wg, iface)
    except LiveError as exc:
        module.fail_json(msg=str(exc))
    try:
        with open('/proc/sys/net/ipv4/ip_forward') as handle:
            state['forwarding'] = handle.read().strip() == '1'
    except (IOError, OSError):
        state['forwarding'] = None
    table = _run(module, [nft, 'list', 'table', 'inet', 'meshconnect']) if nft else None
    state['firewall_loaded'] = table is not None
    state['firewall_digest'] = find_digest(table)
    state['firewall_file'] = module.params['firewall_file']
    try:
        with open(module.params['firewall_file']) as handle:
            state['firewall_file_digest'] = find_digest(handle.read())
    except (IOError, OSError):
        state['firewall_file_digest'] = None
    state['firewall_drift'] = []
    if nft and table is not None and state['firewall_file_digest']:
        def run(args):
            return module.run_command(args)
        live = live_listing(run, nft)
        try:
            expected = expected_listing(run, nft, module.get_bin_path('unshare'), module.params['firewall_file'])
            state['firewall_drift'] = listing_diff(expected, live) if expected != live else []
        except ListingError as exc:
            module.warn('cannot list what %s loads to: %s' % (module.params['firewall_file'], exc))
    state['guard'] = None
    if os.path.exists(module.params['guard']):
        rc, out, _err = module.run_command([module.params['guard'], 'check', iface])
        try:
            state['guard'] = json.loads(out)['guard']
        except (ValueError, KeyError, TypeError):
            state['guard'] = ['the guard could not be checked (rc %d)' % rc]
    systemctl = module.get_bin_path('systemctl')
    state['firewall_service'] = None
    if systemctl:
        rc, _out, _err = module.run_command([systemctl, 'is-active', '--quiet', 'meshconnect-firewall.service'])
        state['firewall_service'] = rc == 0
    module.exit_json(changed=False, state=state)


if __name__ == '__main__':
    main()
