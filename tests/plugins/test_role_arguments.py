# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent role's argument specs hold: its main entry point refuses to run without a plan."""

import os

from meshrun import run_playbook, write_playbook

PLAY = """
- name: Apply the agent role without a plan
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: meshconnect.mesh.agent
"""


def test_the_main_entry_point_requires_a_plan(tmp_path):
    work = str(tmp_path)
    inv = os.path.join(work, 'hosts.yml')
    with open(inv, 'w') as handle:
        handle.write('all:\n  hosts:\n    localhost: {}\n')
    playbook = os.path.join(work, 'play.yml')
    write_playbook(playbook, PLAY)
    run = run_playbook(work, inv, playbook, '--check')
    assert run.rc != 0, run.log
    text = ' '.join(run.stdout.split())
    assert 'missing required arguments: agent_plan' in text, text
    assert 'Validating arguments against arg spec' in text
