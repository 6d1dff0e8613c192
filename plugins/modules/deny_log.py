#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: deny_log
short_description: Read the denied mesh traffic an agent logged
version_added: 0.2.0
description:
  - Reads the end of the agent's deny log (written by the agent role's ulogd instance from the table's deny chain,
    rate-limited) and returns one entry per denied packet.
  - Read-only. The C(deny_report) filter names who was denied what, from the plan.
options:
  path:
    description: The deny log.
    type: path
    default: /var/log/meshconnect/deny.log
  since:
    description: Only denies logged at or after this time (seconds since the epoch, the host's local time as logged).
    type: float
  max_bytes:
    description: How much of the end of the log to read.
    type: int
    default: 262144
requirements:
  - the agent role with C(agent_deny_log) on
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.read_only
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Read the recent denies
  meshconnect.mesh.deny_log:
    since: "{{ now(fmt='%s') | float - 600 }}"
  register: denies
'''

RETURN = r'''
denies:
  description: One entry per logged packet, with C(time), C(in), C(out), C(src), C(dst), C(proto) and C(port).
  returned: always
  type: list
  elements: dict
exists:
  description: Whether the log exists.
  returned: always
  type: bool
now:
  description: The host's local time (seconds since the epoch, as the log writes it).
  returned: always
  type: float
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_denylog import parse


def main():
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'default': '/var/log/meshconnect/deny.log'},
            'since': {'type': 'float'},
            'max_bytes': {'type': 'int', 'default': 262144},
        },
        supports_check_mode=True,
    )
    path = module.params['path']
    now = datetime.datetime.now()
    result = {'changed': False, 'denies': [], 'exists': os.path.exists(path),
              'now': (now - datetime.datetime(1970, 1, 1)).total_seconds()}
    if result['exists']:
        try:
            with open(path, 'rb') as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - module.params['max_bytes']))
                text = handle.read().decode('utf-8', 'replace')
        except (IOError, OSError) as exc:
            module.fail_json(msg='cannot read %s: %s' % (path, exc))
        result['denies'] = parse(text, now, module.params['since'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
