# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key pairs the controller makes (generate_key: true) are kept encrypted with Ansible Vault: never without a
vault password, never in plain text; a plain key file of an older version is encrypted in place."""

import json
import os
import shutil

from meshrun import inventory, mode, open_key_file, run_playbook, snapshot_tree, state_dir, write_inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import new_key_pair, public_from_private


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
    with open(path, 'w') as handle:        # as 0.3 wrote it, with no record of its public half
        handle.write(private + '\n')
    os.unlink(os.path.join(state_dir(inv_dir), 'device-keys.json'))
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


def _device_keys(inv_dir):
    with open(os.path.join(state_dir(inv_dir), 'device-keys.json')) as handle:
        return json.load(handle)


def test_public_halves_are_recorded_and_serve_runs_without_the_password_or_the_private_keys(tmp_path):
    """device-keys.json, committed with the leases, gives the public keys to a run without the vault password
    (site.yml needs no more) and to a checkout without the private keys (an AWX job, an agent in pull mode),
    which keeps the devices' keys instead of making new pairs."""
    work, inv_dir = _setup(tmp_path)
    first = run_playbook(work, inv_dir, 'plan.yml')
    assert first.rc == 0, first.log
    state = state_dir(inv_dir)
    record = _device_keys(inv_dir)
    private = open_key_file(os.path.join(state, 'keys', 'alice.key'))
    assert record['version'] == 1 and record['keys']['alice'] == public_from_private(private)
    assert sorted(record['keys']) == sorted(n[:-len('.key')] for n in os.listdir(os.path.join(state, 'keys')))
    assert mode(os.path.join(state, 'device-keys.json')) == 0o644
    assert private not in json.dumps(record)
    # Without the vault password: the plan compiles from the record, and writes nothing.
    before = snapshot_tree(state)
    locked = run_playbook(work, inv_dir, 'plan.yml', env={'ANSIBLE_VAULT_PASSWORD_FILE': None})
    assert locked.rc == 0, locked.log
    assert dict((k, v) for k, v in snapshot_tree(state).items() if k != 'report.html' and 'topology' not in k) == \
        dict((k, v) for k, v in before.items() if k != 'report.html' and 'topology' not in k)
    # A checkout of the committed state (no keys/, no bundles/): read-only jobs pass, and a writable run keeps
    # alice's recorded key instead of making her a new pair; her bundle there is a template.
    checkout = os.path.join(work, 'checkout')
    shutil.copytree(inv_dir, checkout, ignore=shutil.ignore_patterns('keys', 'bundles', '.lock'))
    readonly = run_playbook(work, checkout, 'plan.yml', '-e', 'meshconnect_state_readonly=true',
                            env={'ANSIBLE_VAULT_PASSWORD_FILE': None})
    assert readonly.rc == 0, readonly.log
    bundles = run_playbook(work, checkout, 'users.yml')
    assert bundles.rc == 0, bundles.log
    assert not os.path.exists(os.path.join(state_dir(checkout), 'keys', 'alice.key'))
    assert _device_keys(checkout) == record
    # Removing the key file and its entry (the way out the messages give) has a new pair made.
    os.unlink(os.path.join(state, 'keys', 'alice.key'))
    with open(os.path.join(state, 'device-keys.json'), 'w') as handle:
        json.dump({'version': 1, 'keys': dict((k, v) for k, v in record['keys'].items() if k != 'alice')}, handle)
    renewed = run_playbook(work, inv_dir, 'plan.yml')
    assert renewed.rc == 0, renewed.log
    assert _device_keys(inv_dir)['keys']['alice'] not in (None, record['keys']['alice'])
    assert _device_keys(inv_dir)['keys']['alice'] == public_from_private(
        open_key_file(os.path.join(state, 'keys', 'alice.key')))
    conf = open(os.path.join(state_dir(checkout), 'bundles', 'alice.conf')).read()
    assert '\nPrivateKey = ' not in conf and '# PrivateKey = (the private key of the device whose public key is %s)' \
        % record['keys']['alice'] in conf


def test_a_record_that_does_not_match_the_key_file_or_is_damaged_stops_the_run_naming_it(tmp_path):
    work, inv_dir = _setup(tmp_path)
    first = run_playbook(work, inv_dir, 'plan.yml')
    assert first.rc == 0, first.log
    path = os.path.join(state_dir(inv_dir), 'device-keys.json')
    for keys, message in (({'alice': new_key_pair()[1]}, "holds another key pair"),
                          ({'alice': 'not a key'}, "the public key of 'alice' is not a WireGuard public key")):
        with open(path, 'w') as handle:
            json.dump({'version': 1, 'keys': keys}, handle)
        before = snapshot_tree(state_dir(inv_dir))
        run = run_playbook(work, inv_dir, 'plan.yml')
        assert run.rc != 0 and message in run.log and 'device-keys.json' in run.log, run.log
        assert 'Fix: restore' in run.log
        assert snapshot_tree(state_dir(inv_dir)) == before
