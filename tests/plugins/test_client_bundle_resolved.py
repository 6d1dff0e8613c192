# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""client_bundle writes the systemd-resolved variant (resolved/NAME.conf) of the users who have only
per-domain DNS servers, keeps it private, and prunes it when the user no longer gets it."""

import json
import os

import pytest

from meshrun import inventory, mode, run_playbook, state_dir, write_inventory, write_playbook

PLAYBOOK = '''---
- name: Bundles
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compile
      meshconnect.mesh.mesh_plan:
      register: compiled

    - name: Write the bundles
      meshconnect.mesh.client_bundle:
        plan: "{{ compiled.plan }}"
        dest: "{{ compiled.paths.bundles_dir }}"
        keys_dir: "{{ compiled.paths.keys_dir }}"
        state_dir: "{{ compiled.paths.state_dir }}"
      register: bundles
      ignore_errors: true

    - name: Dump
      ansible.builtin.copy:
        content: "{{ bundles | to_json }}"
        dest: "{{ playbook_dir }}/out.json"
        mode: "0644"
'''

CORP = {'address': '10.10.0.53', 'domains': ['corp.example']}
POST_UP = ('PostUp = resolvectl dns %i 10.10.0.53; resolvectl domain %i ~corp.example; '
           'resolvectl default-route %i false')


def _inventory(dns):
    inv = inventory()
    inv['network']['dns'] = dns
    return inv


def _run(work, inv_dir, inv):
    write_inventory(inv_dir, inv)
    playbook = os.path.join(work, 'bundles.yml')
    if not os.path.exists(playbook):
        write_playbook(playbook, PLAYBOOK)
    run = run_playbook(work, inv_dir, playbook)
    assert run.rc == 0, run.log
    with open(os.path.join(work, 'out.json')) as handle:
        return json.load(handle)


def _lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def _manifest(bundles):
    with open(os.path.join(bundles, '.meshconnect-bundles.json')) as handle:
        return json.load(handle)['files']


def test_the_resolved_variant_is_written_private_and_pruned(tmp_path):
    work = str(tmp_path)
    inv_dir = os.path.join(work, 'inv')
    bundles = os.path.join(state_dir(inv_dir), 'bundles')
    variants = os.path.join(bundles, 'resolved')
    variant = os.path.join(variants, 'alice.conf')

    # alice reaches hq's LAN (everything): she gets the server for corp.example; bob and carol do not.
    out = _run(work, inv_dir, _inventory([CORP]))
    assert not out.get('failed'), out
    assert out['resolved'] == ['alice'] and variant in out['written']
    assert 'DNS = 10.10.0.53, corp.example' in _lines(os.path.join(bundles, 'alice.conf'))
    lines = _lines(variant)
    assert POST_UP in lines and not any(line.startswith('DNS') for line in lines)
    assert any(line.startswith('PrivateKey = ') for line in lines)
    assert mode(variants) == 0o700 and mode(variant) == 0o600
    assert sorted(os.listdir(variants)) == ['alice.conf']       # no variant for bob and carol, no QR code
    assert 'resolved/alice.conf' in _manifest(bundles)
    assert not any(name.endswith('.png') for name in _manifest(bundles) if name.startswith('resolved/'))

    # Nothing changed: nothing written.
    out = _run(work, inv_dir, _inventory([CORP]))
    assert out['changed'] is False and out['written'] == [] and out['resolved'] == ['alice'], out

    # A checkout widened the modes: put back, like the other bundles.
    os.chmod(variants, 0o755)
    os.chmod(variant, 0o644)
    out = _run(work, inv_dir, _inventory([CORP]))
    assert sorted(entry['path'] for entry in out['modes_fixed']) == [variants, variant], out
    assert mode(variants) == 0o700 and mode(variant) == 0o600

    # With a resolver for every name too, the stock file is right: the variant and its folder go.
    out = _run(work, inv_dir, _inventory(['10.10.0.1', CORP]))
    assert out['resolved'] == [] and out['removed'] == [variant], out
    assert not os.path.exists(variants)
    assert 'DNS = 10.10.0.1, 10.10.0.53, corp.example' in _lines(os.path.join(bundles, 'alice.conf'))
    assert not any(name.startswith('resolved/') for name in _manifest(bundles))


@pytest.mark.parametrize('kind', ['file', 'link'])
def test_a_resolved_entry_that_is_not_a_folder_stops_the_bundles(tmp_path, kind):
    work = str(tmp_path)
    inv_dir = os.path.join(work, 'inv')
    bundles = os.path.join(state_dir(inv_dir), 'bundles')
    assert not _run(work, inv_dir, _inventory([])).get('failed')
    with open(os.path.join(bundles, 'alice.conf'), 'rb') as handle:
        before = handle.read()
    elsewhere = os.path.join(work, 'elsewhere')
    os.makedirs(elsewhere)
    if kind == 'file':
        with open(os.path.join(bundles, 'resolved'), 'w') as handle:
            handle.write('mine\n')
    else:
        os.symlink(elsewhere, os.path.join(bundles, 'resolved'))
    out = _run(work, inv_dir, _inventory([CORP]))
    assert out.get('failed') and 'resolved is not a directory, so nothing was written' in out['msg'], out
    assert os.listdir(elsewhere) == []
    with open(os.path.join(bundles, 'alice.conf'), 'rb') as handle:
        assert handle.read() == before
