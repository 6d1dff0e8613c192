# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-galaxy collection build`` from a checkout that has been used: the
tarball holds no state (leases, user private keys, bundles), no virtualenv and
no build output."""

import os
import shutil
import subprocess
import tarfile

import yaml

from meshrun import REPO, run_playbook


def _checkout(dest):
    """A copy of the files git knows, as a fresh clone would have them."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=REPO,
                           stdout=subprocess.PIPE, check=True).stdout.decode().split('\0')
    for name in files:
        source = os.path.join(REPO, name)
        if not name or not os.path.isfile(source) or name.startswith('inventories/') and '/.meshconnect/' in name:
            continue
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(source, target)


def test_a_used_checkout_builds_a_tarball_without_state_keys_or_build_output(tmp_path):
    checkout = tmp_path / 'checkout'
    _checkout(str(checkout))
    inventory = str(checkout / 'inventories' / 'example')
    # A user whose key the controller makes (and keeps, encrypted), as an operator may add one.
    users = checkout / 'inventories' / 'example' / 'group_vars' / 'all' / 'users.yml'
    document = yaml.safe_load(users.read_text())
    document['meshconnect_users'].append({'name': 'gwen', 'groups': ['admins'], 'generate_key': True})
    users.write_text(yaml.safe_dump(document))
    # Use it: plan.yml writes leases and generated user keys, users.yml client bundles.
    for playbook in ('plan.yml', 'users.yml'):
        run = run_playbook(str(tmp_path), inventory, playbook)
        assert run.rc == 0, run.log
    state = checkout / 'inventories' / 'example' / '.meshconnect' / 'corp'
    assert any((state / 'keys').iterdir()) and any((state / 'bundles').iterdir())
    for junk in ('.venv/lib/secret.py', 'build/sanity/x.txt', 'state/keys/alice.key'):
        path = checkout / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('junk\n')

    galaxy = os.path.join(os.path.dirname(run.args[0]), 'ansible-galaxy')
    out = tmp_path / 'out'
    subprocess.run([galaxy, 'collection', 'build', '--output-path', str(out), str(checkout)], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tarball = next(out.iterdir())
    with tarfile.open(str(tarball)) as archive:
        names = archive.getnames()
    assert 'plugins/module_utils/mesh_compile.py' in names and 'roles/agent/files/meshconnect_guard.py' in names
    # What an execution environment needs is declared with it (ansible-builder reads these).
    assert {'meta/execution-environment.yml', 'bindep.txt', 'requirements.txt'} <= set(names)
    with tarfile.open(str(tarball)) as archive:
        bindep = archive.extractfile('bindep.txt').read().decode()
        python = archive.extractfile('requirements.txt').read().decode()
    assert 'graphviz' in bindep.split() and 'segno>=1.5' in python.split()
    leaked = [n for n in names if '.meshconnect' in n or n.endswith('.key') or '/keys' in n or '/bundles' in n
              or n.split('/')[0] in ('.venv', 'build')]
    assert leaked == []
