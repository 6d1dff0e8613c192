#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: wg_key
short_description: Ensure a WireGuard private key exists on the host and return its public key
version_added: 0.1.0
description:
  - Creates the private key with C(wg genkey) when it is absent, writing it to O(path) with mode C(0600) inside a
    directory with mode C(0700). The key never appears in a command line, a log, or the module's result.
  - An existing key is never regenerated; only its file and directory modes are corrected.
  - Returns the public key, also as the fact C(meshconnect_public_key).
options:
  path:
    description: Where the private key lives.
    type: path
    default: /etc/meshconnect/private.key
requirements:
  - wireguard-tools (C(wg)) on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
attributes:
  check_mode:
    support: full
    details: In check mode a missing key is reported as a change and RV(public_key) is null.
  diff_mode:
    support: none
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Make sure the agent has its key
  meshconnect.mesh.wg_key:
    path: /etc/meshconnect/private.key
  register: agent_key
'''

RETURN = r'''
public_key:
  description: The base64 public key derived from the private key (null in check mode when no key exists yet).
  returned: always
  type: str
  sample: xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
created:
  description: Whether a new key was generated.
  returned: always
  type: bool
'''

import os
import stat

from ansible.module_utils.basic import AnsibleModule


def _public_key(module, wg, private_key):
    rc, out, err = module.run_command([wg, 'pubkey'], data=private_key, binary_data=False)
    if rc != 0:
        module.fail_json(msg='wg pubkey could not read the private key in %s: %s' % (module.params['path'],
                                                                                     err.strip()))
    return out.strip()


def main():
    module = AnsibleModule(argument_spec={'path': {'type': 'path', 'default': '/etc/meshconnect/private.key'}},
                           supports_check_mode=True)
    path = module.params['path']
    directory = os.path.dirname(path)
    changed = False
    created = False

    if not os.path.isdir(directory):
        changed = True
        if not module.check_mode:
            os.makedirs(directory, 0o700)
    if os.path.isdir(directory) and stat.S_IMODE(os.stat(directory).st_mode) != 0o700:
        changed = True
        if not module.check_mode:
            os.chmod(directory, 0o700)

    wg = module.get_bin_path('wg', required=not module.check_mode)
    public_key = None
    if os.path.exists(path):
        if stat.S_IMODE(os.stat(path).st_mode) != 0o600:
            changed = True
            if not module.check_mode:
                os.chmod(path, 0o600)
        if wg:
            with open(path, 'r') as handle:
                public_key = _public_key(module, wg, handle.read().strip() + '\n')
    else:
        changed = created = True
        if not module.check_mode:
            rc, private_key, err = module.run_command([wg, 'genkey'])
            if rc != 0:
                module.fail_json(msg='wg genkey failed: %s' % err.strip())
            old_umask = os.umask(0o077)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, 'w') as handle:
                    handle.write(private_key.strip() + '\n')
            finally:
                os.umask(old_umask)
            public_key = _public_key(module, wg, private_key.strip() + '\n')
            del private_key

    facts = {'meshconnect_public_key': public_key} if public_key else {}
    module.exit_json(changed=changed, created=created, public_key=public_key, ansible_facts=facts)


if __name__ == '__main__':
    main()
