# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_facts on this machine: what it reports, and that check mode changes nothing.

The real ``ip`` runs; a wrapper first on PATH records every command line, so
that the test sees whether the module tried to create (or delete) a link.
"""

import json
import os
import shutil
import stat
import sys

import pytest

from meshrun import run_playbook, write_playbook

PLAYBOOK = '''---
- name: Discover
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Discover this host
      meshconnect.mesh.site_facts:
        exclude_interfaces: [mc0]
        endpoint: 192.0.2.55
        endpoint_port: 41820
        listen_port: 51820
      register: found

    - name: Keep the result
      ansible.builtin.copy:
        content: "{{ found | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      check_mode: false
'''


def _spy(tmp_path):
    real = shutil.which('ip') or '/usr/sbin/ip'
    spy_dir = tmp_path / 'bin'
    spy_dir.mkdir()
    log = tmp_path / 'ip.log'
    spy = spy_dir / 'ip'
    spy.write_text('#!/bin/sh\necho "$*" >> %s\nexec %s "$@"\n' % (log, real))
    spy.chmod(spy.stat().st_mode | stat.S_IEXEC)
    return str(spy_dir), log


@pytest.mark.parametrize('check', [True, False])
def test_site_facts_creates_nothing_in_check_mode(tmp_path, check):
    spy_dir, log = _spy(tmp_path)
    playbook = write_playbook(str(tmp_path / 'discover.yml'), PLAYBOOK)
    inventory = tmp_path / 'inv'
    inventory.mkdir()
    (inventory / 'hosts.yml').write_text('all: {hosts: {localhost: {ansible_connection: local, '
                                         'ansible_python_interpreter: "%s"}}}\n' % sys.executable)
    out = tmp_path / 'found.json'
    args = ['-e', 'out=%s' % out] + (['--check'] if check else [])
    run = run_playbook(str(tmp_path), str(inventory), playbook, *args,
                       env={'PATH': spy_dir + os.pathsep + os.environ['PATH']})
    assert run.rc == 0, run.log
    calls = log.read_text().splitlines()
    changing = [c for c in calls if ' link add ' in ' %s ' % c or ' link del ' in ' %s ' % c]
    if check:
        assert changing == [], calls
    else:
        # The spy sees the probe when it is allowed to run (so that the check above can fail).
        assert any('type wireguard' in c for c in changing), calls
    found = json.loads(out.read_text())['ansible_facts']['meshconnect_discovered']
    assert found['wireguard'] in ('kernel', 'userspace')
    for entry in found['interfaces']:
        assert set(entry) == {'name', 'address', 'prefix', 'kind', 'default_route'}
    # The NAT warning names the port peers dial (41820), and a 1:1 NAT as an allowed case.
    warnings = json.loads(out.read_text()).get('warnings') or []
    nat = [w for w in warnings if 'behind NAT' in w]
    assert nat and 'UDP 41820' in nat[0] and '1:1 NAT' in nat[0]
