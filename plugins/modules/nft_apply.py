#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: nft_apply
short_description: Load the collection's nftables table atomically, only when it differs from the live one
version_added: 0.1.0
description:
  - Checks the ruleset file O(path) with C(nft -c) first; a file that does not check is refused and the live
    rules stay as they are.
  - The file carries a digest of its own content in the table's comment
    (C(comment "meshconnect.mesh sha1:DIGEST")); the file is loaded with C(nft -f) (one atomic transaction that
    deletes and recreates only the collection's table) when the live table is missing or carries another digest.
  - Other tables (Docker's, the distribution's, yours) are never read or changed.
options:
  path:
    description: The ruleset file rendered by the agent role.
    type: path
    required: true
  family:
    description: The table's family.
    type: str
    default: inet
  table:
    description: The table's name.
    type: str
    default: meshconnect
requirements:
  - nftables (C(nft)) on the managed host
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Load the mesh firewall
  meshconnect.mesh.nft_apply:
    path: /etc/meshconnect/firewall.nft
'''

RETURN = r'''
digest:
  description: The digest of the file's ruleset.
  returned: always
  type: str
live_digest:
  description: The digest found in the live table before this run (null when the table was missing).
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_nft import find_digest


def main():
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'required': True},
            'family': {'type': 'str', 'default': 'inet'},
            'table': {'type': 'str', 'default': 'meshconnect'},
        },
        supports_check_mode=True,
    )
    nft = module.get_bin_path('nft', required=True)
    path, family, table = module.params['path'], module.params['family'], module.params['table']
    try:
        with open(path, 'r') as handle:
            content = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, exc))
    digest = find_digest(content)
    if not digest:
        module.fail_json(msg='%s has no "meshconnect.mesh sha1:" comment; render it with the agent role' % path)

    # The text listing carries the table comment (the JSON one of nft 1.0 does not).
    rc, out, err = module.run_command([nft, 'list', 'table', family, table])
    live = None
    if rc == 0:
        live = find_digest(out) or 'no digest'
    result = {'changed': live != digest, 'digest': digest, 'live_digest': live}
    if module._diff and result['changed']:
        result['diff'] = {'before': 'table %s %s digest %s\n' % (family, table, live or '(missing)'),
                          'after': 'table %s %s digest %s\n' % (family, table, digest)}
    rc, out, err = module.run_command([nft, '-c', '-f', path])
    if rc != 0:
        module.fail_json(msg='nft refused %s; the live rules were left unchanged: %s' % (path, err.strip()), **result)
    if result['changed'] and not module.check_mode:
        rc, out, err = module.run_command([nft, '-f', path])
        if rc != 0:
            module.fail_json(msg='loading %s failed; nft applies a file atomically, so the previous rules are still '
                                 'in force: %s' % (path, err.strip()), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
