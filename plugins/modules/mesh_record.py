#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: mesh_record
short_description: Record which agents applied a plan, and its reachability snapshot once all did
version_added: 0.3.0
description:
  - Runs on the controller (it is an action plugin).
  - Records in the state directory's C(applied.json) that the agents O(applied) applied the plan of O(snapshot)
    (its digest, per agent), and writes the O(snapshot) that M(meshconnect.mesh.mesh_plan) returned to
    C(plan.json), the base of the next run's diff, once every agent of O(agents) has applied that plan. A run
    limited to some agents (C(--limit), a sliced AWX job) so records its part, and the slice that completes the
    plan records its snapshot; slices running at the same time queue on the lock.
  - It takes the state directory's lock, as M(meshconnect.mesh.mesh_plan) does, writes atomically, and only when
    a file differs.
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
  agents:
    description:
      - Every agent of the inventory (C(groups['meshconnect_agents'])). Agents C(applied.json) lists that are not
        here any more are dropped from it.
      - Without O(agents) and O(applied), every agent is taken to have applied the plan.
    type: list
    elements: str
  applied:
    description:
      - The agents that applied the plan in this run, those that did not fail (C(ansible_play_hosts)). Each must be
        in O(agents).
    type: list
    elements: str
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
    details: Shows the agents' plan digests and the recorded plan digest before and after.
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

- name: Record the agents that applied it, and the reachability once every agent did
  meshconnect.mesh.mesh_record:
    snapshot: "{{ mesh.snapshot }}"
    state_dir: "{{ mesh.state_dir }}"
    replaces: "{{ mesh.previous_digest | default('', true) }}"
    agents: "{{ groups['meshconnect_agents'] }}"
    applied: "{{ ansible_play_hosts }}"
  run_once: true
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
recorded:
  description: Whether every agent now runs this plan (C(plan.json) holds its snapshot).
  returned: success
  type: bool
applied_by:
  description: The agents that run this plan, this run's and earlier runs' (sorted).
  returned: success
  type: list
  elements: str
pending:
  description: The agents that have not applied this plan yet (sorted); empty when RV(recorded) is true.
  returned: success
  type: list
  elements: str
applied_file:
  description: The agents' record (C(applied.json) in O(state_dir)).
  returned: success
  type: str
'''
