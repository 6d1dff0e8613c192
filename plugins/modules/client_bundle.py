#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: client_bundle
short_description: Write every user's WireGuard client bundle into a protected directory
version_added: 0.1.0
description:
  - Runs on the controller (it is an action plugin).
  - For each active device of a plan compiled by M(meshconnect.mesh.mesh_plan), writes C(NAME.conf), a stock
    wg-quick configuration with exactly the peers and AllowedIPs the user's policies grant (split tunnel), and
    C(NAME.png), the same configuration as a QR code for mobile clients. C(NAME) is the user's name, or
    C(USER=DEVICE) for a device of a user who lists devices (C(alice=laptop.conf) for C(alice/laptop)).
  - The C(DNS) line of C(NAME.conf) lists the DNS servers of C(meshconnect_network.dns) the user reaches on udp/53
    and tcp/53, then the domains of those that resolve only some domains (split DNS); wg-quick hands the domains
    to resolvconf as search domains.
  - A user whose servers all resolve only some domains (no server for every name) also gets
    C(resolved/NAME.conf), the same configuration for Linux clients with systemd-resolved. Instead of the C(DNS)
    line, it has a C(PostUp) that gives the servers only those domains on the tunnel's link (routing domains)
    and keeps every other lookup with the local resolvers. It has the same interface name as C(NAME.conf) and no
    QR code.
  - The directory is created with mode C(0700) and every file with mode C(0600). Private keys generated on the
    controller are read from O(keys_dir) (opened with the run's Ansible Vault password) and go only into those
    files; they are never in the result, the diff
    (which shows them redacted), or the log.
  - A user whose inventory entry has its own O(ignore:public_key) gets a configuration without the private key
    (the device holds it) and no QR code. Expired and revoked devices get no bundle; with O(prune), files of users that are
    gone or expired, and variants a user no longer gets, are removed.
options:
  plan:
    description: The C(plan) returned by M(meshconnect.mesh.mesh_plan).
    type: dict
    required: true
  dest:
    description:
      - The bundle directory (mode C(0700)). The systemd-resolved variants go into its sub-folder C(resolved)
        (mode C(0700)); when C(resolved) is there but is not a directory, nothing is written.
    type: path
    required: true
  keys_dir:
    description: Where M(meshconnect.mesh.mesh_plan) keeps generated user keys (C(STATE_DIR/keys)).
    type: path
    required: true
  state_dir:
    description:
      - The state directory locked while bundles are written (the one M(meshconnect.mesh.mesh_plan) returns);
        defaults to the parent of O(keys_dir).
    type: path
  qr:
    description:
      - Also write QR codes (needs the Python package C(segno) on the controller), for the bundles that hold their
        private key. A bundle too large for one QR code gets none (see RV(without_qr)). C(users.yml) passes
        C(meshconnect_bundle_qr).
    type: bool
    default: true
  prune:
    description:
      - Remove bundles of users that are no longer active.
      - Only files this module wrote are removed; it lists them in C(.meshconnect-bundles.json) in O(dest).
        Other files in O(dest) are never touched.
    type: bool
    default: true
  lock_timeout:
    description:
      - Seconds to wait for the lock on O(state_dir) while another run holds it, then fail naming the holder.
      - Defaults to C(meshconnect_lock_timeout), else 300.
    type: int
  preshared_key_secret:
    description:
      - The mesh's preshared key secret (C(meshconnect_preshared_key_secret), kept in Ansible Vault). When the plan
        uses preshared keys (its network has C(preshared_keys)), every peer of a bundle gets the preshared key of
        its pair, derived from it (see the P(meshconnect.mesh.preshared_key#filter) filter), and a missing secret
        fails before anything is written. The bundle then holds a secret even for a device with its own key.
    type: str
requirements:
  - segno (Python, on the controller) for QR codes
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.action
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Private keys are shown redacted.
author:
  - MeshConnect engineering (@meshconnect)
'''

EXAMPLES = r'''
- name: Compile the mesh
  meshconnect.mesh.mesh_plan:
  register: mesh

- name: Write the client bundles
  meshconnect.mesh.client_bundle:
    plan: "{{ mesh.plan }}"
    dest: "{{ mesh.state_dir }}/bundles"
    keys_dir: "{{ mesh.state_dir }}/keys"
'''

RETURN = r'''
written:
  description: Files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: Files removed by O(prune).
  returned: always
  type: list
  elements: str
without_bundle:
  description: Users without a bundle, with the reason.
  returned: always
  type: list
  elements: str
dest:
  description: The bundle directory.
  returned: always
  type: str
resolved:
  description:
    - Users who have a systemd-resolved variant of their bundle, C(resolved/NAME.conf) in RV(dest) (written or
      unchanged).
  returned: success
  type: list
  elements: str
without_qr:
  description:
    - Devices whose bundle is too large for one QR code (about 2900 bytes, for example a user reaching about twenty
      sites). They get the C(.conf) only, with a warning, and the other bundles are written as usual.
  returned: success
  type: list
  elements: str
modes_fixed:
  description: Bundle and key files (and their directories) whose mode had drifted, put back to 0600 (0700).
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file or directory.
      type: str
    mode:
      description: The mode it had.
      type: str
    fixed_to:
      description: The mode it has now.
      type: str
'''
