# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment (ee/execution-environment.yml, built by scripts/ee-build.sh), used the way AWX uses
one (docs/awx.md): ansible-runner launches the image with a private data dir that holds

- ``project/``: the checkout of the inventory's Git repository: playbooks that import the collection's, the
  inventory (with a Vault-encrypted secret), the committed state (``state/corp``);
- ``inventory/hosts``: the inventory as AWX hands it to a job after syncing it from the project (a script that
  prints ``ansible-inventory --list --export``, run without the Vault password), so not the project's directory;
- the Vault credential's password.

Run by ``make ee`` after the build (``make test`` runs it)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.environ.get('MESHCONNECT_EE_TAG', 'meshconnect/ee:test')
BIN = os.path.dirname(sys.executable)
VAULT_PASSWORD = os.path.join(REPO, 'tests', 'plugins', 'vault-password')
SECRET = 'ee-test-preshared-key-secret-0123456789abcdef'
WRITE = ('-e', 'meshconnect_state_readonly=false')


def _clean_env():
    """No ANSIBLE_* setting of this checkout (the Makefile's vault identities, ansible.cfg): as on an AWX node."""
    return dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))


def _job(private, playbook, *extra, **options):
    """One job: a container of the image, the private data dir mounted at /runner, no settings of this checkout."""
    env = _clean_env()
    command = [os.path.join(BIN, 'ansible-runner'), 'run', str(private), '-p', playbook, '--container-image', IMAGE,
               '--process-isolation', '--process-isolation-executable', 'docker', '-i', playbook.split('.')[0]]
    if options.get('vault', True):
        extra = ('--vault-password-file', '/runner/vault-password') + extra
    if extra:
        command += ['--cmdline', ' '.join(extra)]
    cmdline = private / 'env' / 'cmdline'     # ansible-runner keeps the last --cmdline there; each job has its own
    if cmdline.exists():
        cmdline.unlink()
    for option in options.get('container_options', ()):
        command.append('--container-option=' + option)
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    return done.returncode, done.stdout


def _sync_inventory(private):
    """AWX's inventory sync (ansible-inventory --list --export): the project's inventory, read once, its
    variables kept by group, handed to jobs as a script of their own."""
    listed = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', str(private / 'project' / 'inventory'),
                             '--list', '--export'], stdout=subprocess.PIPE, check=True, universal_newlines=True,
                            env=_clean_env()).stdout
    script = private / 'inventory' / 'hosts'
    script.parent.mkdir(exist_ok=True)
    script.write_text('#!/usr/bin/env python3\nimport sys\nsys.stdout.write(%r)\n' % listed)
    script.chmod(0o755)


@pytest.fixture
def private(tmp_path):
    if subprocess.run(['docker', 'image', 'inspect', IMAGE], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL, check=False).returncode:
        pytest.fail('no image %s: build it with scripts/ee-build.sh (make ee)' % IMAGE)
    project = tmp_path / 'project'
    shutil.copytree(os.path.join(REPO, 'inventories', 'example'), str(project / 'inventory'),
                    ignore=shutil.ignore_patterns('.meshconnect'))
    for name in ('plan', 'site', 'users', 'verify'):
        (project / ('%s.yml' % name)).write_text(
            '---\n- name: The collection\'s %s\n  ansible.builtin.import_playbook: meshconnect.mesh.%s\n' % (name, name))
    # A user whose key the controller makes and keeps encrypted with the Vault credential.
    users = project / 'inventory' / 'group_vars' / 'all' / 'users.yml'
    document = yaml.safe_load(users.read_text())
    document['meshconnect_users'].append({'name': 'gwen', 'groups': ['admins'], 'generate_key': True})
    users.write_text(yaml.safe_dump(document))
    # In the inventory, Vault-encrypted: AWX's sync keeps it encrypted and the job's Vault credential opens it.
    # The state directory is relative to where the job runs: the project's checkout. Jobs only read it; a run in
    # the repository writes it with -e meshconnect_state_readonly=false (WRITE below).
    secret = subprocess.run([os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file',
                             VAULT_PASSWORD, SECRET, '--name', 'meshconnect_preshared_key_secret'],
                            stdout=subprocess.PIPE, check=True, universal_newlines=True, env=_clean_env()).stdout
    (project / 'inventory' / 'group_vars' / 'all' / 'awx.yml').write_text(
        '---\nmeshconnect_state_dir: state/corp\nmeshconnect_state_readonly: true\n' + secret)
    shutil.copy(VAULT_PASSWORD, str(tmp_path / 'vault-password'))
    _sync_inventory(tmp_path)
    return tmp_path


def test_plan_and_users_run_in_the_execution_environment(private):
    rc, out = _job(private, 'plan.yml', *WRITE)
    assert rc == 0, out[-4000:]
    assert 'REACHABILITY (policy and links)' in out and SECRET not in out
    state = private / 'project' / 'state' / 'corp'
    leases = json.loads((state / 'leases.json').read_text())
    assert leases['leases']['agent/aws'].startswith('100.65.')
    # Graphviz is in the image (bindep.txt): the picture is laid out by dot, not only the built-in SVG.
    assert (state / 'topology.png').stat().st_size > 1000
    rc, out = _job(private, 'users.yml', *WRITE)
    assert rc == 0, out[-4000:]
    # segno is in the image (requirements.txt): a bundle that holds its key comes with its QR code.
    bundles = state / 'bundles'
    assert sorted(p.name for p in bundles.iterdir() if p.suffix == '.png') == ['gwen.png']
    assert (state / 'keys' / 'gwen.key').read_text().startswith('$ANSIBLE_VAULT;')
    # The synced inventory holds the secret still encrypted; only a job with the Vault credential opens it.
    synced = (private / 'inventory' / 'hosts').read_text()
    assert SECRET not in synced and '__ansible_vault' in synced
    rc, out = _job(private, 'plan.yml', vault=False)
    assert rc != 0 and 'no vault secrets found' in out and SECRET not in out, out[-4000:]


def test_a_job_on_committed_state_refuses_a_change_and_names_it(private):
    """Jobs run from a fresh checkout of the committed state: read-only, a new user fails with the change."""
    rc, out = _job(private, 'plan.yml', *WRITE)  # the plan run in the repository, whose result is committed
    assert rc == 0, out[-4000:]
    state = private / 'project' / 'state' / 'corp'
    before = dict((name, (state / name).read_bytes()) for name in ('leases.json',))
    rc, out = _job(private, 'plan.yml')
    assert rc == 0, out[-4000:]
    users = private / 'project' / 'inventory' / 'group_vars' / 'all' / 'users.yml'
    document = yaml.safe_load(users.read_text())
    document['meshconnect_users'].append({'name': 'dave', 'groups': ['admins'],
                                          'public_key': 'dGVzdGtleWZvcmRhdmVkYXZlZGF2ZWRhdmVkYXZlZGE='})
    users.write_text(yaml.safe_dump(document))
    _sync_inventory(private)
    rc, out = _job(private, 'plan.yml')
    assert rc != 0 and 'lease leased: user/dave 100.65.' in out, out[-4000:]
    assert dict((name, (state / name).read_bytes()) for name in before) == before
    # Even with the variable false, a state directory mounted read-only is read-only: the same refusal.
    rc, out = _job(private, 'plan.yml', *WRITE, container_options=[
        '--mount=type=bind,src=%s,dst=/runner/project/state,readonly' % (state.parent,)])
    assert rc != 0 and 'lease leased: user/dave 100.65.' in out and 'read-only' in out, out[-4000:]
    assert dict((name, (state / name).read_bytes()) for name in before) == before
    # Where it can be written (the repository), the same plan records the lease: the change to commit.
    rc, out = _job(private, 'plan.yml', *WRITE)
    assert rc == 0 and 'user/dave' in (state / 'leases.json').read_text(), out[-4000:]
