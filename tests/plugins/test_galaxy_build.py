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
    # Only what a consumer needs: no tests, lab, Molecule, scripts or development settings.
    with tarfile.open(str(tarball)) as archive:
        tops = set(member.name.split('/')[0] for member in archive.getmembers() if member.isfile())
    assert tops == CONSUMER_FILES, sorted(tops)

    # A consumer installs it into an empty collections path and runs the FQCN playbooks from another directory,
    # with no project ansible.cfg, on a copy of the example inventory.
    consumer = tmp_path / 'consumer'
    collections = consumer / 'collections'
    subprocess.run([galaxy, 'collection', 'install', '--no-deps', '-p', str(collections), str(tarball)], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_consumer_env(consumer, collections))
    shutil.copytree(os.path.join(REPO, 'inventories', 'example'), str(consumer / 'inventory'),
                    ignore=shutil.ignore_patterns('.meshconnect'))
    playbook = os.path.join(os.path.dirname(galaxy), 'ansible-playbook')
    for fqcn in ('meshconnect.mesh.plan', 'meshconnect.mesh.users'):
        done = subprocess.run([playbook, '-i', 'inventory', fqcn], cwd=str(consumer), env=_consumer_env(
            consumer, collections), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
            check=False)
        assert done.returncode == 0, (fqcn, done.stdout[-3000:], done.stderr[-3000:])
    # The report reads well under Ansible's default (JSON) output: a line per item, no escaped newlines.
    report = subprocess.run([playbook, '-i', 'inventory', 'meshconnect.mesh.plan'], cwd=str(consumer),
                            env=_consumer_env(consumer, collections), stdout=subprocess.PIPE,
                            universal_newlines=True, check=True).stdout
    assert '\n        "REACHABILITY (policy and links)",\n' in report and '\\n' not in report, report[-2000:]
    bundles = consumer / 'inventory' / '.meshconnect' / 'corp' / 'bundles'
    assert (bundles / 'bob.conf').exists() and (consumer / 'inventory' / '.meshconnect' / 'corp' / 'report.html').exists()
    assert not (consumer / 'ansible.cfg').exists()


CONSUMER_FILES = {'MANIFEST.json', 'FILES.json', 'README.md', 'LICENSE', 'bindep.txt', 'requirements.txt',
                  'changelogs', 'docs', 'meta', 'playbooks', 'plugins', 'roles'}


def _consumer_env(home, collections):
    """A consumer's environment: no ANSIBLE_* settings of ours (no project ansible.cfg), only the installed
    collection (and the collections the ansible package bundles)."""
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(collections), 'ANSIBLE_HOME': str(home / '.ansible'),
                'ANSIBLE_NOCOLOR': '1'})
    return env
