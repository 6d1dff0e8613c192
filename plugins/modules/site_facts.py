#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: site_facts
short_description: Discover an agent's local resources, NAT situation and WireGuard implementation
version_added: 0.1.0
description:
  - Lists the host's IPv4 addresses and attached subnets, with each interface's kind (C(vxlan), C(tun), ...) and
    whether it holds the default route. The compiler offers them as C(local-IFNAME) resources of the site, except
    uplinks, virtual interfaces and container bridges, and shows what it skipped and why in the plan.
    Loopback, link-local addresses, interfaces that are down, and the interfaces in O(exclude_interfaces) (the
    overlay interface among them) are left out here.
  - Detects NAT by comparing the source address the host uses for outbound traffic with the addresses of its
    declared O(endpoint), and warns when the inventory does not say how peers reach a NATed agent.
  - Decides between the kernel WireGuard module and the userspace C(wireguard-go), by the type of the existing
    overlay interface, else by trying to create a WireGuard link (removed at once). In check mode nothing is
    created; the module is looked for with C(modprobe -n) instead.
  - Read-only apart from that probe link outside check mode; returns everything as the fact
    C(meshconnect_discovered).
options:
  exclude_interfaces:
    description: Interfaces never reported (the overlay interface, container bridges, ...).
    type: list
    elements: str
    default: [mc0]
  endpoint:
    description: The endpoint peers dial for this agent (host name or address), if it has one.
    type: str
  port_forwarding:
    description: Whether the inventory says UDP is forwarded to this agent through its NAT.
    type: bool
    default: false
  listen_port:
    description: The WireGuard port the agent listens on, used in messages.
    type: int
    default: 51820
  endpoint_port:
    description: The port peers dial (a NAT router may forward another port to O(listen_port)); defaults to O(listen_port).
    type: int
  wireguard:
    description: C(auto) probes the kernel; C(kernel) or C(userspace) force the choice.
    type: str
    choices: [auto, kernel, userspace]
    default: auto
requirements:
  - iproute2 (C(ip)) on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Discover local resources and NAT
  meshconnect.mesh.site_facts:
    exclude_interfaces: [mc0, docker0]
    endpoint: vpn.hq.example.com
'''

RETURN = r'''
ansible_facts:
  description: Facts set on the host.
  returned: always
  type: dict
  contains:
    meshconnect_discovered:
      description: What was discovered.
      type: dict
      contains:
        interfaces:
          description:
            - One entry per address, with C(name), C(address), C(prefix), C(kind) (the link type, null for a plain
              device) and C(default_route) (the interface holds the default route).
          type: list
          elements: dict
        route_source:
          description: The source address of the default route, or null.
          type: str
        endpoint_addresses:
          description: The addresses O(endpoint) resolves to, from the host.
          type: list
          elements: str
        behind_nat:
          description: True when the host has an endpoint and none of its addresses is the route source.
          type: bool
        wireguard:
          description: C(kernel) or C(userspace).
          type: str
'''

import os
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import (
    ip_json_or_none, ipv4_addr_info, is_up, link_kinds, route_devices, route_source,
)

PROBE_LINK = 'mcprobe0'


def discover_interfaces(module, ip, excluded, kinds):
    run = module.run_command
    default_devices = route_devices(ip_json_or_none(run, ip, ['-4', 'route', 'show', 'default']))
    found = []
    for link in ip_json_or_none(run, ip, ['-4', 'addr', 'show']) or []:
        name = link.get('ifname')
        if not name or name == 'lo' or name in excluded or not is_up(link):
            continue
        for info in ipv4_addr_info(link):
            address = info['local']
            if address.startswith('169.254.') or info.get('scope') not in (None, 'global'):
                continue
            found.append({'name': name, 'address': address, 'prefix': int(info.get('prefixlen', 32)),
                          'kind': kinds.get(name), 'default_route': name in default_devices})
    return sorted(found, key=lambda entry: (entry['name'], entry['address']))


def resolve(endpoint):
    try:
        infos = socket.getaddrinfo(endpoint, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted(set(info[4][0] for info in infos))


def wireguard_implementation(module, ip, wanted, overlay, kinds):
    if wanted != 'auto':
        return wanted
    for name, kind in kinds.items():
        if name in overlay:
            if kind == 'wireguard':
                return 'kernel'
            if kind == 'tun':
                return 'userspace'
    if module.check_mode:
        # Nothing is created in check mode: ask whether the module could be loaded (or is built in).
        if os.path.isdir('/sys/module/wireguard'):
            return 'kernel'
        modprobe = module.get_bin_path('modprobe')
        if modprobe and module.run_command([modprobe, '-n', '-q', 'wireguard'])[0] == 0:
            return 'kernel'
        return 'userspace'
    rc, _out, _err = module.run_command([ip, 'link', 'add', PROBE_LINK, 'type', 'wireguard'])
    if rc == 0:
        module.run_command([ip, 'link', 'del', PROBE_LINK])
        return 'kernel'
    return 'userspace'


def main():
    module = AnsibleModule(
        argument_spec={
            'exclude_interfaces': {'type': 'list', 'elements': 'str', 'default': ['mc0']},
            'endpoint': {'type': 'str'},
            'port_forwarding': {'type': 'bool', 'default': False},
            'listen_port': {'type': 'int', 'default': 51820},
            'endpoint_port': {'type': 'int'},
            'wireguard': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'kernel', 'userspace']},
        },
        supports_check_mode=True,
    )
    params = module.params
    ip = module.get_bin_path('ip', required=True)
    excluded = set(params['exclude_interfaces'])
    kinds = link_kinds(ip_json_or_none(module.run_command, ip, ['-d', 'link', 'show']))
    interfaces = discover_interfaces(module, ip, excluded, kinds)
    # A routing lookup only: no packet is sent.
    source = route_source(module.run_command, ip, '192.0.2.1', ipv4=True)
    endpoint = params['endpoint']
    endpoint_addresses = resolve(endpoint) if endpoint else []
    own = set(entry['address'] for entry in interfaces)
    behind_nat = bool(endpoint_addresses) and not (own & set(endpoint_addresses))
    if endpoint and not endpoint_addresses:
        module.warn('endpoint %s does not resolve from this host; peers may not resolve it either.' % endpoint)
    dialled = params['endpoint_port'] or params['listen_port']
    if behind_nat and not params['port_forwarding']:
        module.warn(
            'this agent sends from %s, but its endpoint %s is %s: it is behind NAT. If that NAT forwards UDP %d to '
            'this host (UDP %d here) - a port forward on a router, or a 1:1 NAT such as a cloud elastic IP, which '
            'forwards every port - set behind_nat: true and port_forwarding: true in meshconnect_site. Otherwise '
            'peers and users that dial %s:%d never reach it: remove endpoint and let it dial out.'
            % (source or 'an address it does not own', endpoint, ', '.join(endpoint_addresses), dialled,
               params['listen_port'], endpoint, dialled))
    discovered = {
        'interfaces': interfaces,
        'route_source': source,
        'endpoint': endpoint,
        'endpoint_addresses': endpoint_addresses,
        'behind_nat': behind_nat,
        'wireguard': wireguard_implementation(module, ip, params['wireguard'], excluded, kinds),
    }
    module.exit_json(changed=False, ansible_facts={'meshconnect_discovered': discovered})


if __name__ == '__main__':
    main()
