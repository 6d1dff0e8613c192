#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: report_render
short_description: Write the mesh's report as one self-contained HTML page
version_added: 0.4.0
description:
  - Runs on the controller (it is an action plugin).
  - Writes one HTML file that works offline and from a CI artifact; it fetches nothing, and its
    Content-Security-Policy allows no fetch and no script or style but its own.
  - The page shows the topology picture, the reachability matrix as a table filtered by user (or site), group,
    site and resource, what changed since the last recorded run, the policy tests, the warnings and lease
    changes, and why a flow chosen in the table is allowed or denied (the C(explain) answer).
  - With O(observed) (the probe report of C(verify.yml)), the table has an observed column, and the flows the
    probes tried that the policy denies are rows too.
  - Every name and text of the inventory, the state and the agents is written into the page as text, never as
    markup.
  - The file is written atomically and only when it differs.
options:
  report:
    description:
      - The C(report) returned by M(meshconnect.mesh.mesh_plan).
      - Run M(meshconnect.mesh.mesh_plan) with O(meshconnect.mesh.mesh_plan#module:explain_rows) for the
        C(explain) answers and users' groups.
    type: dict
    required: true
  plan:
    description: The C(plan) returned by M(meshconnect.mesh.mesh_plan), for the site names and the plan digest.
    type: dict
  topology:
    description: The topology picture (SVG) to show, as written by M(meshconnect.mesh.topology_render).
    type: path
  observed:
    description: The probe report of C(verify.yml) (the result of the C(meshconnect.mesh.probe_report) filter).
    type: dict
  dest:
    description: The HTML file to write.
    type: path
    required: true
extends_documentation_fragment:
  - meshconnect.mesh.attributes
  - meshconnect.mesh.attributes.action
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written; the result says whether it would be.
  diff_mode:
    support: none
author:
  - MeshConnect engineering (@meshconnect)
seealso:
  - module: meshconnect.mesh.mesh_plan
  - module: meshconnect.mesh.topology_render
'''

EXAMPLES = r'''
- name: Compile the mesh, explaining every flow for the report
  meshconnect.mesh.mesh_plan:
    explain_rows: 10000
  register: mesh

- name: Draw the topology
  meshconnect.mesh.topology_render:
    plan: "{{ mesh.plan }}"
    matrix: "{{ mesh.report.matrix }}"
    dest: "{{ mesh.paths.topology_file }}"

- name: Write the report
  meshconnect.mesh.report_render:
    report: "{{ mesh.report }}"
    plan: "{{ mesh.plan }}"
    topology: "{{ mesh.paths.topology_file }}"
    dest: "{{ mesh.paths.report_file }}"
'''

RETURN = r'''
path:
  description: The HTML file.
  returned: success
  type: str
size:
  description: Its size in bytes.
  returned: success
  type: int
rows:
  description: The flows of the matrix (and those newly denied) that C(explain) could answer.
  returned: success
  type: int
explained:
  description: How many of them the page explains (at most O(meshconnect.mesh.mesh_plan#module:explain_rows)).
  returned: success
  type: int
'''
