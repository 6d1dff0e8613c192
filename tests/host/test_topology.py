# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology picture, laid out by the real Graphviz: no labels overlap and
no edge crosses a box, read from Graphviz's own output positions (``dot
-Tjson``), for the example inventory and for a generated one of 50 sites, 200
users in 12 access classes and 30 links; and ``topology_render`` as plan.yml
runs it."""

import json
import os
import subprocess
import sys

import pytest

from inventories import example_inventory, generated_inventory
from meshrun import run_playbook, write_inventory, write_playbook

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_graph import layout_problems, topology_dot


def _layout(dot_text):
    proc = subprocess.run(['dot', '-Tjson'], input=dot_text, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize('make', [example_inventory, generated_inventory], ids=['example', 'generated-50-sites'])
def test_the_layout_has_no_overlapping_label_and_no_edge_through_a_box(make):
    result = compile_mesh(make())
    dot_text = topology_dot(result['plan'], result['matrix'])
    layout = _layout(dot_text)
    assert layout_problems(layout) == []
    # Every site is drawn, and users share nodes by access.
    names = [obj['name'] for obj in layout['objects']]
    sites = sorted('site:' + agent['site'] for agent in result['plan']['agents'].values())
    assert sorted(n for n in names if n.startswith('site:')) == sites
    users = [n for n in names if n.startswith('users:')]
    assert len(users) == len(set(c for p, c in result['matrix']['members'].items() if p.startswith('user:')))


def test_the_checker_sees_overlaps_and_crossings():
    # Two boxes pinned on top of each other, and an edge pinned straight through a third box.
    dot_text = '''digraph g { node [shape=box, width=1, height=0.5, fixedsize=true];
      a [pos="0,0!"]; b [pos="20,0!"]; c [pos="0,200!"]; d [pos="0,100!"]; c -> a [label="x"]; }'''
    proc = subprocess.run(['neato', '-n', '-Tjson'], input=dot_text, stdout=subprocess.PIPE,
                          universal_newlines=True, check=True)
    problems = layout_problems(json.loads(proc.stdout))
    assert 'boxes of a and b overlap' in problems
    assert any(p.startswith('edge c -> a crosses the box of d') for p in problems)


# Draw (the matrix, user and engine from play variables) and dump the result: both playbooks below end so.
DRAW_TASKS = '''
    - name: Draw the topology
      meshconnect.mesh.topology_render:
        plan: "{{ compiled.plan }}"
        matrix: "{{ draw_matrix }}"
        dest: "{{ playbook_dir }}/topology.svg"
        user: "{{ draw_user | default(omit) }}"
        engine: "{{ draw_engine | default('auto') }}"
      register: drawn
      ignore_errors: true

    - name: Dump
      ansible.builtin.copy:
        content: "{{ drawn | to_json }}"
        dest: "{{ playbook_dir }}/out.json"
        mode: "0644"
'''

PLAYBOOK = '''---
- name: Draw
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    draw_matrix: "{{ compiled.report.matrix }}"
  tasks:
    - name: Compile
      meshconnect.mesh.mesh_plan:
      register: compiled
''' + DRAW_TASKS


def _draw(tmp_path, *extra, **kwargs):
    inv = write_inventory(str(tmp_path / 'inv'), kwargs.pop('inv', None))
    playbook = write_playbook(str(tmp_path / 'draw.yml'), PLAYBOOK)
    run = run_playbook(str(tmp_path), inv, playbook, *extra, **kwargs)
    assert run.rc == 0, run.log
    with open(str(tmp_path / 'out.json')) as handle:
        return json.load(handle)


def test_plan_draws_svg_and_png_with_graphviz_and_is_unchanged_the_second_time(tmp_path):
    first = _draw(tmp_path)
    assert first['engine'] == 'graphviz' and first['changed'] is True
    with open(first['svg']) as handle:
        svg = handle.read()
    # One file that refers to nothing outside itself.
    assert svg.lstrip().startswith('<?xml') and '<!DOCTYPE' not in svg and 'href' not in svg and '<image' not in svg
    with open(first['png'], 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.exists(first['dot'])
    second = _draw(tmp_path)
    assert second['changed'] is False


def test_without_graphviz_the_builtin_picture_is_drawn_and_a_stale_png_removed(tmp_path):
    first = _draw(tmp_path)
    assert os.path.exists(first['png'])
    # A PATH with every command of this machine but Graphviz's dot.
    bare = tmp_path / 'bin'
    bare.mkdir()
    for directory in ('/usr/local/bin', '/usr/bin', '/bin'):
        for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else ():
            if name != 'dot' and not (bare / name).exists():
                os.symlink(os.path.join(directory, name), str(bare / name))
    second = _draw(tmp_path, env={'PATH': os.pathsep.join([os.path.dirname(sys.executable), str(bare)])})
    assert second['engine'] == 'builtin' and second['png'] is None
    assert not os.path.exists(first['png'])
    with open(second['svg']) as handle:
        assert handle.read().startswith('<svg')


def test_one_user_alone_and_an_unknown_user_refused(tmp_path):
    drawn = _draw(tmp_path, '-e', 'draw_user=alice')
    with open(drawn['dot']) as handle:
        users = [line for line in handle if line.startswith('  "users:')]
    assert users and all('"users:alice"' in line for line in users)
    refused = _draw(tmp_path, '-e', 'draw_user=nobody')
    assert refused['failed'] and "user 'nobody' is not a user of the plan" in refused['msg']


DIRECT = '''---
- name: Draw a compiled plan
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    draw_matrix: "{{ compiled.matrix }}"
  tasks:
''' + DRAW_TASKS.lstrip('\n')


def test_a_picture_too_large_for_graphviz_is_drawn_built_in_with_a_warning(tmp_path):
    # 260 distinct access classes each granted 10 to 15 sites: over 2,600 edges (Graphviz would take minutes).
    inv = generated_inventory(n_users=260, n_classes=260)
    names = sorted(site['name'] for site in inv['sites'].values())
    for index, policy in enumerate(inv['policies']):
        policy['allow'] = [names[(index + k) % len(names)] for k in range(10 + index // len(names))]
    result = compile_mesh(inv)
    with open(str(tmp_path / 'compiled.json'), 'w') as handle:
        json.dump({'compiled': {'plan': result['plan'], 'matrix': result['matrix']}}, handle)
    playbook = write_playbook(str(tmp_path / 'direct.yml'), DIRECT)
    inv_dir = tmp_path / 'inv'
    inv_dir.mkdir()
    (inv_dir / 'hosts.yml').write_text('all: {hosts: {localhost: {ansible_connection: local, '
                                       'ansible_python_interpreter: "%s"}}}\n' % sys.executable)
    run = run_playbook(str(tmp_path), str(inv_dir), playbook, '-e', '@' + str(tmp_path / 'compiled.json'),
                       '-e', 'draw_engine=auto')
    assert run.rc == 0, run.log
    with open(str(tmp_path / 'out.json')) as handle:
        drawn = json.load(handle)
    assert drawn['engine'] == 'builtin' and drawn['edges'] > 2500 and drawn['png'] is None, drawn
    assert 'too many for Graphviz to lay out' in drawn['warning']
    assert 'too many for Graphviz' in run.log
