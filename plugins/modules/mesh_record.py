#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: mesh_record
short_description: Record an applied plan's reachability snapshot in the state directory
version_added: 0.3.0
description:
  - Runs on the controller (it is an action plugin).
  - Writes the O(snapshot) that M(meshconnect.mesh.mesh_plan) returned to the state directory's C(plan.json), the
    base of the next run's diff, once every agent has applied the plan. It takes the state directory's lock, as
    M(meshconnect.mesh.mesh_plan) does, writes atomically, and only when the file differs.
  - When another run recorded a plan after this one compiled (C(plan.json) no longer holds O(replaces)), nothing is
    written and the task fails, because recording an older plan over a newer one would make the next diff lie.
options:
  snapshot:
    description: The C(snapshot) returned by M(meshconnect.mesh.mesh_plan) (version, plan digest, matrix).
    type: dict
    required: true
  state_dir:
    description: The state directory (C(state_dir) returned by M(meshconnect.mesh.mesh_plan)); it must already hold state.
    type: path
    required: true
  replaces:
    description:
      - The plan digest C(plan.json) held when the plan was compiled (C(previous_digest) returned by
        M(meshconnect.mesh.mesh_plan)); an empty string when there was none.
      - When C(plan.json) holds neither this nor O(snapshot)'s digest, the task fails and writes nothing.
    type: str
    required: true
  lock_timeout:
    description:
      - Seconds to wait for the lock on O(state_dir) while another run holds it, then fail naming the holder.
      - Defaults to C(meshconnect_lock_timeout), else 300.
    type: int
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.action
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; the result says whether it would be.
  diff_mode:
    support: full
    details: Shows the recorded plan digest before and after.
author:
  - MeshConnect engineering (@meshconnect)
seealso:
  - module: meshconnect.mesh.mesh_plan
'''

EXAMPLES = r'''
- name: Compile the mesh
  meshconnect.mesh.mesh_plan:
    record: true
    record_snapshot: false
  run_once: true
  register: mesh

- name: Record the applied reachability once every agent applied its plan
  meshconnect.mesh.mesh_record:
    snapshot: "{{ mesh.snapshot }}"
    state_dir: "{{ mesh.state_dir }}"
    replaces: "{{ mesh.previous_digest | default('', true) }}"
  run_once: true
  when: ansible_play_hosts | length == ansible_play_hosts_all | length
'''

RETURN = r'''
snapshot_file:
  description: The file recorded (C(plan.json) in O(state_dir)).
  returned: always
  type: str
digest:
  description: The plan digest recorded.
  returned: success
  type: str
'''
