# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull mode's settings reach the agent's systemd unit as the exact arguments of ansible-pull, whatever they
hold (systemd's specifiers ``%``, variables ``$``, quotes, spaces), and settings that a unit file or ansible-pull
would read as something else (a line break, an option) are refused before the host is touched. Molecule's
``default`` scenario runs the unit for real (molecule/default/pull.yml)."""

import os
import shlex

import pytest
import yaml

from meshrun import REPO, run_playbook, write_playbook

LOCALHOST = 'all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
TEMPLATE = os.path.join(REPO, 'roles', 'agent', 'templates', 'meshconnect-pull.service.j2')


def _unit_arguments(text):
    """The argv systemd runs for ExecStart: words split as systemd does for quoted words, then the doubled
    ``%%`` and ``$$`` undone; a lone ``%`` or ``$`` (a specifier or a variable systemd would expand) fails."""
    lines = text.replace('\\\n', ' ').splitlines()
    command = [line for line in lines if line.startswith('ExecStart=')][0][len('ExecStart='):]
    words = []
    for word in shlex.split(command):
        for mark in ('%', '$'):
            assert word.replace(mark * 2, '').count(mark) == 0, 'systemd would expand %r in %r' % (mark, word)
        words.append(word.replace('%%', '%').replace('$$', '$'))
    return words


def test_the_unit_passes_every_setting_as_one_argument(tmp_path):
    settings = {
        'agent_pull_repository': "https://git.example.invalid/ops/mesh%20inventory.git?a=$HOME&b='x' y",
        'agent_pull_version': 'release/2026 "q3"',
        'agent_pull_inventory': 'inv dir/$USER/hosts.yml',
        'agent_pull_playbook': 'site %n.yml',
        'agent_pull_dir': '/var/lib/mesh pull',
        'agent_pull_vault_password': 'not shown',
    }
    out = tmp_path / 'unit'
    playbook = write_playbook(str(tmp_path / 'render.yml'), yaml.safe_dump([{
        'name': 'Render the pull unit', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'vars': dict(settings, agent_pull_interval='15min', agent_config_dir='/etc/meshconnect'),
        'tasks': [{'name': 'Render', 'ansible.builtin.template': {'src': TEMPLATE, 'dest': str(out),
                                                                  'mode': '0644'}}]}]))
    inventory = tmp_path / 'inventory'
    inventory.mkdir()
    (inventory / 'hosts.yml').write_text(LOCALHOST)
    run = run_playbook(str(tmp_path), str(inventory), playbook)
    assert run.rc == 0, run.log
    argv = _unit_arguments(out.read_text())
    assert argv[0] == '/usr/bin/ansible-pull'
    pairs = dict(zip(argv[1:-1], argv[2:]))
    assert pairs['--url'] == settings['agent_pull_repository']
    assert pairs['--checkout'] == settings['agent_pull_version']
    assert pairs['--inventory'] == settings['agent_pull_inventory']
    assert pairs['--directory'] == '/var/lib/mesh pull/checkout'
    assert pairs['--limit'] == 'localhost,localhost'
    assert pairs['--vault-password-file'] == '/etc/meshconnect/pull-vault-password'
    assert argv[-1] == settings['agent_pull_playbook']
    # Read-only state, a local connection, no become: whatever the inventory says about this host.
    extra = [argv[i + 1] for i, word in enumerate(argv) if word == '--extra-vars']
    assert extra == ['meshconnect_state_readonly=true', 'ansible_connection=local', 'ansible_become=false']
    assert 'not shown' not in out.read_text()


@pytest.mark.parametrize('setting,value', [
    ('agent_pull_repository', ''),
    ('agent_pull_repository', '--upload-pack=touch /tmp/owned'),
    ('agent_pull_version', 'main\nExecStartPre=/bin/touch /tmp/owned'),
    ('agent_pull_playbook', '-e@/etc/shadow'),
    ('agent_pull_inventory', 'hosts.yml\r'),
    ('agent_pull_interval', '15min; rm -rf /'),
    ('agent_pull_interval', 'soon'),
])
def test_settings_a_unit_or_ansible_pull_would_misread_are_refused(tmp_path, setting, value):
    settings = {'agent_pull': True, 'agent_pull_repository': 'https://git.example.invalid/ops/mesh.git'}
    settings[setting] = value
    playbook = write_playbook(str(tmp_path / 'pull.yml'), yaml.safe_dump([{
        'name': 'Pull settings', 'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'vars': settings,
        'tasks': [{'name': 'Pull mode', 'ansible.builtin.include_role': {'name': 'meshconnect.mesh.agent',
                                                                          'tasks_from': 'pull'}}]}]))
    inventory = tmp_path / 'inventory'
    inventory.mkdir()
    (inventory / 'hosts.yml').write_text(LOCALHOST)
    run = run_playbook(str(tmp_path), str(inventory), playbook, '--check')
    assert run.rc != 0
    assert 'TASK [meshconnect.mesh.agent : Check the pull settings]' in run.log
    assert 'agent_pull is true, so agent_pull_repository must be' in run.log
    # Refused at the first task: nothing after it ran.
    assert 'Find the ansible-core this release packages' not in run.log, run.log
