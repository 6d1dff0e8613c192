# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key pairs the controller makes (generate_key: true) are kept encrypted with Ansible Vault: never without a
vault password, never in plain text; a plain key file of an older version is encrypted in place."""

import os

from meshrun import inventory, open_key_file, run_playbook, state_dir, write_inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import new_key_pair


def _setup(tmp_path):
    work = str(tmp_path)
    return work, write_inventory(os.path.join(work, 'inv'), inventory())


def test_without_a_vault_password_no_key_is_made_and_nothing_is_written(tmp_path):
    work, inv_dir = _setup(tmp_path)
    run = run_playbook(work, inv_dir, 'plan.yml', env={'ANSIBLE_VAULT_PASSWORD_FILE': None})
    assert run.rc != 0
    assert "user 'alice': generate_key needs a vault password" in run.log
    assert 'or give the device its own public_key' in run.log
    assert not os.path.exists(os.path.join(state_dir(inv_dir), 'keys'))
    assert not os.path.exists(os.path.join(state_dir(inv_dir), 'leases.json'))


def test_a_plain_key_file_of_an_older_version_is_encrypted_in_place(tmp_path):
    work, inv_dir = _setup(tmp_path)
    first = run_playbook(work, inv_dir, 'plan.yml')
    assert first.rc == 0, first.log
    path = os.path.join(state_dir(inv_dir), 'keys', 'alice.key')
    private, public = new_key_pair()
    with open(path, 'w') as handle:        # as 0.3 wrote it
        handle.write(private + '\n')
    run = run_playbook(work, inv_dir, 'users.yml')
    assert run.rc == 0, run.log
    assert 'held the private key of alice in plain text; it is encrypted now' in run.log
    text = open(path).read()
    assert text.startswith('$ANSIBLE_VAULT;') and private not in text
    assert open_key_file(path) == private
    assert 'PrivateKey = %s' % private in open(os.path.join(state_dir(inv_dir), 'bundles', 'alice.conf')).read()
    assert private not in run.stdout and private not in run.stderr
    # Check mode encrypts nothing, and says what it would leave in plain text.
    with open(path, 'w') as handle:
        handle.write(private + '\n')
    checked = run_playbook(work, inv_dir, 'plan.yml', '--check')
    assert checked.rc == 0, checked.log
    assert 'holds the private key of alice in plain text; a run without --check encrypts it' in checked.log
    assert open(path).read() == private + '\n'


def test_a_key_file_no_password_of_the_run_opens_fails_naming_it(tmp_path):
    work, inv_dir = _setup(tmp_path)
    first = run_playbook(work, inv_dir, 'plan.yml')
    assert first.rc == 0, first.log
    other = os.path.join(work, 'other-password')
    with open(other, 'w') as handle:
        handle.write('not the password\n')
    run = run_playbook(work, inv_dir, 'users.yml', env={'ANSIBLE_VAULT_PASSWORD_FILE': other})
    assert run.rc != 0
    assert 'alice.key is encrypted with Ansible Vault and no vault password of this run opens it' in run.log
    assert 'Fix: run with the vault password it was written with' in run.log
    assert not os.path.exists(os.path.join(state_dir(inv_dir), 'bundles'))
