#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: mesh_probe
short_description: Probe flows from a host with real packets (ping and TCP connect)
version_added: 0.1.0
description:
  - Sends one ping or opens one TCP connection per target, in parallel, and reports whether the target answered.
  - A TCP target counts as reached when the connection opens or is refused by the target (the packet got
    through); a drop by a firewall shows as a timeout.
  - Also reports the source address the host uses for each target, so that the result can be compared with
    the plan (see the C(probe_report) filter and C(playbooks/verify.yml)).
options:
  targets:
    description: The probes, each with C(address), C(proto) (C(icmp) or C(tcp)) and C(port) for TCP; other keys are
      returned as they are.
    type: list
    elements: dict
    required: true
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 2
  parallel:
    description: How many probes run at once.
    type: int
    default: 32
requirements:
  - iputils-ping and iproute2 on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.read_only
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Can this host reach the hq app?
  meshconnect.mesh.mesh_probe:
    targets:
      - {address: 10.10.0.10, proto: icmp}
      - {address: 10.10.0.10, proto: tcp, port: 8080}
  register: probes
'''

RETURN = r'''
probes:
  description: The targets with C(reachable), C(source) and C(detail) added.
  returned: always
  type: list
  elements: dict
'''

import errno
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_live import route_source


def main():
    module = AnsibleModule(
        argument_spec={
            'targets': {'type': 'list', 'elements': 'dict', 'required': True},
            'timeout': {'type': 'float', 'default': 2},
            'parallel': {'type': 'int', 'default': 32},
        },
        supports_check_mode=True,
    )
    timeout = module.params['timeout']
    ping = module.get_bin_path('ping')
    ip = module.get_bin_path('ip')
    sources = {}

    def source_of(address):
        if address not in sources:
            sources[address] = route_source(module.run_command, ip, address) if ip else None
        return sources[address]

    def probe(target):
        result = dict(target)
        address = target['address']
        if target.get('proto') == 'icmp':
            if not ping:
                module.fail_json(msg='ping is not installed on this host')
            rc, _out, _err = module.run_command([ping, '-n', '-c', '1', '-W', str(max(1, int(timeout))), address])
            result['reachable'] = rc == 0
            result['detail'] = 'echo reply' if rc == 0 else 'no reply'
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect((address, int(target['port'])))
                result['reachable'], result['detail'] = True, 'open'
            except socket.timeout:
                result['reachable'], result['detail'] = False, 'timeout'
            except (OSError, IOError) as exc:
                refused = exc.errno == errno.ECONNREFUSED
                result['reachable'] = refused
                result['detail'] = 'refused by the target' if refused else (exc.strerror or str(exc))
            finally:
                sock.close()
        return result

    targets = module.params['targets']
    for target in targets:
        if not target.get('address') or target.get('proto') not in ('icmp', 'tcp') or \
                (target.get('proto') == 'tcp' and not target.get('port')):
            module.fail_json(msg='each target needs address, proto icmp or tcp, and port for tcp: %r' % (target,))
        source_of(target['address'])
    with ThreadPoolExecutor(max_workers=max(1, module.params['parallel'])) as pool:
        results = list(pool.map(probe, targets))
    for result in results:
        result['source'] = sources.get(result['address'])
    module.exit_json(changed=False, probes=results)


if __name__ == '__main__':
    main()
