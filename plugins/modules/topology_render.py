#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r'''
---
module: topology_render
short_description: Draw the mesh's topology with Graphviz (SVG and PNG)
version_added: 0.4.0
description:
  - Runs on the controller (it is an action plugin).
  - Lays the topology of a compiled plan out with Graphviz's C(dot) and writes it as an SVG file that refers to
    nothing outside itself, a PNG file beside it, and the Graphviz source (C(.dot)) it was drawn from.
  - Sites are boxes with their address, how they are reached, whether they relay, are an exit site or serve the
    mesh's names, and their resources (long lines wrap; past six resources the rest are counted). A link of two
    sites is an edge, a link of three or more a hub; a link carried by a relay is dashed and says C(via RELAY).
  - Users with the same access share one node (C(alice, erin (2))), with an edge to each site they reach,
    labelled with what they reach there (summarised with a count when long), C(via RELAY) when relayed.
  - Without Graphviz (and O(engine=auto)), the built-in hand-placed SVG is written instead and no PNG.
  - Files are written atomically and only when they differ.
options:
  plan:
    description: The C(plan) returned by M(meshconnect.mesh.mesh_plan).
    type: dict
    required: true
  matrix:
    description: The C(report.matrix) returned by M(meshconnect.mesh.mesh_plan).
    type: dict
    required: true
  dest:
    description: The SVG file to write; the PNG and the Graphviz source go beside it (C(.png), C(.dot)).
    type: path
    required: true
  user:
    description: Draw this user alone (with every site), instead of every user grouped by access.
    type: str
  engine:
    description:
      - C(graphviz) lays the picture out with Graphviz and fails when its C(dot) is not installed or fails;
        C(builtin) writes the hand-placed SVG only; C(auto) uses Graphviz when it is installed and the picture has
        at most 2,500 edges (Graphviz takes minutes for much larger ones, about 5 s for 2,400 edges and 86 s for
        6,600), with a warning and the built-in picture otherwise or when Graphviz fails or takes over 60 s.
    type: str
    default: auto
    choices: [auto, graphviz, builtin]
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
'''

EXAMPLES = r'''
- name: Compile the mesh
  meshconnect.mesh.mesh_plan:
  register: mesh

- name: Draw the topology
  meshconnect.mesh.topology_render:
    plan: "{{ mesh.plan }}"
    matrix: "{{ mesh.report.matrix }}"
    dest: "{{ mesh.paths.topology_file }}"

- name: Draw what alice reaches
  meshconnect.mesh.topology_render:
    plan: "{{ mesh.plan }}"
    matrix: "{{ mesh.report.matrix }}"
    dest: /tmp/alice.svg
    user: alice
'''

RETURN = r'''
engine:
  description: What drew the picture, C(graphviz) or C(builtin).
  returned: success
  type: str
edges:
  description: The number of edges of the picture (links, and users' grants by access class).
  returned: success
  type: int
warning:
  description: Why the built-in picture was drawn although Graphviz was wanted (O(engine=auto)).
  returned: when that happened
  type: str
svg:
  description: The SVG file.
  returned: success
  type: str
png:
  description: The PNG file, or null when Graphviz did not draw the picture.
  returned: success
  type: str
dot:
  description: The Graphviz source of the picture.
  returned: success
  type: str
'''
