#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: nft_apply
short_description: Load the collection's nftables table atomically when the live table differs from its file
version_added: 0.1.0
description:
  - Checks the ruleset file O(path) with C(nft -c) first; a file that does not check is refused and the live
    rules stay as they are.
  - Compares what is really loaded with what the file loads to, both listed by the kernel without counters
    (C(nft -s list table)); the file is loaded for that into a private network namespace (C(unshare --net)), never
    into the host's ruleset. An element added by hand, a deleted rule or a missing table is drift, and is
    repaired by loading the file with C(nft -f) (one atomic transaction that deletes and recreates only the
    collection's table).
  - Where C(unshare) is not available the table's digest comment is compared instead, with a warning.
  - Other tables (Docker's, the distribution's, yours) are never read or changed.
  - Records the time of every load in C(/run/meshconnect/firewall.loaded).
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
  - nftables (C(nft)) and util-linux (C(unshare)) on the managed host
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.changes
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
drift:
  description: How the live table differed from the file before this run (unified diff lines; empty when equal).
  returned: always
  type: list
  elements: str
'''

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_nft import (
    ListingError, expected_listing, find_digest, listing_diff, live_listing,
)

STAMP = '/run/meshconnect/firewall.loaded'


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
    unshare = module.get_bin_path('unshare')
    path, family, table = module.params['path'], module.params['family'], module.params['table']
    try:
        with open(path, 'r') as handle:
            content = handle.read()
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot read %s: %s' % (path, exc))
    digest = find_digest(content)
    if not digest:
        module.fail_json(msg='%s has no "meshconnect.mesh sha1:" comment; render it with the agent role' % path)

    def run(args):
        return module.run_command(args)

    rc, _out, err = run([nft, '-c', '-f', path])
    if rc != 0:
        module.fail_json(msg='nft refused %s; the live rules were left unchanged: %s' % (path, err.strip()),
                         digest=digest)
    live = live_listing(run, nft, family, table)
    result = {'digest': digest, 'live_digest': find_digest(live) if live else None}
    try:
        expected = expected_listing(run, nft, unshare, path, family, table)
        result['drift'] = listing_diff(expected, live) if live != expected else []
    except ListingError as exc:
        module.warn('cannot list what %s loads to (%s); comparing the digest in the table comment only, so '
                    'changes made by hand inside the table are not seen' % (path, exc))
        result['drift'] = [] if live is not None and result['live_digest'] == digest else ['the digest differs']
    result['changed'] = bool(result['drift'])
    if module._diff and result['changed']:
        result['diff'] = {'before_header': 'table %s %s (live)' % (family, table), 'before': '\n'.join(
            line[1:] for line in result['drift'] if line.startswith('+')) + '\n',
            'after_header': 'table %s %s (%s)' % (family, table, path), 'after': '\n'.join(
            line[1:] for line in result['drift'] if line.startswith('-')) + '\n'}
    if result['changed'] and not module.check_mode:
        rc, _out, err = run([nft, '-f', path])
        if rc != 0:
            module.fail_json(msg='loading %s failed; nft applies a file atomically, so the previous rules are still '
                                 'in force: %s' % (path, err.strip()), **result)
        try:
            os.makedirs(os.path.dirname(STAMP), exist_ok=True)
            with open(STAMP, 'w') as handle:
                handle.write('%.3f\n' % time.time())
        except OSError:
            pass
    module.exit_json(**result)


if __name__ == '__main__':
    main()
