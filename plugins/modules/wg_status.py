#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: wg_status
short_description: Check the WireGuard handshakes an agent should have, and name the likely cause of a missing one
version_added: 0.1.0
description:
  - Sends one ping to each peer's overlay address (so that a handshake is attempted), then waits up to O(timeout)
    seconds for the handshakes.
  - Reports per peer whether a handshake happened and, when one that should have did not, the likely cause
    (a closed UDP port forward, a wrong endpoint, an agent that is down).
  - Read-only; it never changes the interface.
options:
  interface:
    description: The WireGuard interface.
    type: str
    required: true
  peers:
    type: list
    elements: dict
    required: true
    description:
      - The site peers to check, as the agent plan lists them. Each needs C(name) and C(public_key); C(address)
        (the overlay address pinged through the tunnel), C(endpoint) (what this agent dials, if anything) and
        C(behind_nat) are used when present.
  own:
    description: This agent's C(endpoint), C(behind_nat) and C(listen_port), for messages.
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for all handshakes.
    type: int
    default: 20
requirements:
  - wireguard-tools and iputils-ping on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.read_only
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Check handshakes with the linked sites
  meshconnect.mesh.wg_status:
    interface: mc0
    peers:
      - name: site:hq
        public_key: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
        address: 100.65.0.1
        endpoint: 172.30.0.10:51820
  register: handshakes
'''

RETURN = r'''
peers:
  description: One entry per peer.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Peer name.
      type: str
    handshake:
      description: Whether a recent handshake happened.
      type: bool
    age:
      description: Seconds since the last handshake (null for never).
      type: int
    endpoint:
      description: The endpoint the peer was last seen at.
      type: str
    cause:
      description: The likely cause when the handshake is missing.
      type: str
summary:
  description: One line per peer, for people.
  returned: always
  type: list
  elements: str
ok:
  description: Whether every peer has handshaken.
  returned: always
  type: bool
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_diagnose import HANDSHAKE_FRESH, diagnose
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import (
    CommandFailed, parse_endpoints, parse_handshakes, wg_show,
)


def _read(module, wg, iface, what, parse):
    try:
        return parse(wg_show(module.run_command, wg, iface, what))
    except CommandFailed as exc:
        module.fail_json(msg='wg show %s %s failed: %s' % (iface, what, exc.err))


def main():
    module = AnsibleModule(
        argument_spec={
            'interface': {'type': 'str', 'required': True},
            'peers': {'type': 'list', 'elements': 'dict', 'required': True},
            'own': {'type': 'dict', 'default': {}},
            'timeout': {'type': 'int', 'default': 20},
        },
        supports_check_mode=True,
    )
    iface = module.params['interface']
    peers = module.params['peers']
    for peer in peers:
        if not peer.get('name') or not peer.get('public_key'):
            module.fail_json(msg='every peer needs name and public_key; got %r' % (sorted(peer),))
    wg = module.get_bin_path('wg', required=True)
    ping = module.get_bin_path('ping')
    deadline = time.time() + module.params['timeout']
    while True:
        now = int(time.time())
        handshakes = _read(module, wg, iface, 'latest-handshakes', parse_handshakes)
        waiting = [p for p in peers if handshakes.get(p['public_key'], 0) < now - HANDSHAKE_FRESH]
        if not waiting or time.time() >= deadline:
            break
        for peer in waiting:
            if ping and peer.get('address'):
                module.run_command([ping, '-c', '1', '-W', '1', peer['address']])
        time.sleep(1)
    endpoints = _read(module, wg, iface, 'endpoints', parse_endpoints)
    results = []
    for peer in peers:
        stamp = handshakes.get(peer['public_key'], 0)
        age = now - stamp if stamp else None
        cause = diagnose(peer, age, module.params['own'])
        results.append({
            'name': peer['name'],
            'handshake': cause is None,
            'age': age,
            'endpoint': endpoints.get(peer['public_key']),
            'cause': cause,
        })
    summary = []
    for entry in results:
        if entry['cause']:
            module.warn(entry['cause'])
            summary.append('%s: %s' % (entry['name'], entry['cause']))
        else:
            summary.append('%s: handshake %d s ago via %s' % (entry['name'], entry['age'], entry['endpoint']))
    module.exit_json(changed=False, ok=all(r['handshake'] for r in results), peers=results, summary=summary)


if __name__ == '__main__':
    main()
