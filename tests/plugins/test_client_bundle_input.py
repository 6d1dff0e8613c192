# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""client_bundle refuses a plan that is not one of this version's mesh_plan, before writing anything."""

import json
import os

import pytest

from meshrun import inventory, run_playbook, write_inventory, write_playbook

PLAYBOOK = '''---
- name: Bundles from a plan that was changed after the compile
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compile
      meshconnect.mesh.mesh_plan:
        record: true
      register: compiled

    - name: Write the bundles of another plan
      meshconnect.mesh.client_bundle:
        plan: "{{ compiled.plan | combine(change) }}"
        dest: "{{ playbook_dir }}/bundles"
        keys_dir: "{{ compiled.paths.keys_dir }}"
      register: bundles
      ignore_errors: true

    - name: Dump
      ansible.builtin.copy:
        content: "{{ bundles | to_json }}"
        dest: "{{ playbook_dir }}/out.json"
        mode: "0644"
'''


@pytest.mark.parametrize('change', [
    {'version': 3},                         # an older plan
    {'classes': None},                      # damaged
    {'users': ['alice']},
])
def test_a_plan_of_another_version_or_damaged_writes_no_bundle(tmp_path, change):
    work = str(tmp_path)
    inv = write_inventory(os.path.join(work, 'inv'), inventory(policy_tests=[]))
    playbook = write_playbook(os.path.join(work, 'bundles.yml'), PLAYBOOK)
    run = run_playbook(work, inv, playbook, '-e', json.dumps({'change': change}))
    assert run.rc == 0, run.log
    with open(os.path.join(work, 'out.json')) as handle:
        out = json.load(handle)
    assert out.get('failed') and 'is not a plan of this mesh_plan' in out['msg'], out
    assert not os.path.exists(os.path.join(work, 'bundles'))
