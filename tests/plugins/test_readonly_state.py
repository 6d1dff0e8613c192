# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only state (a job on a fresh checkout, where the state is committed): a run that needs no change to the
state passes and writes nothing; one that needs a change (a new user's lease, a key pair to make) fails before
anything is written, naming the change to commit."""

import os

from meshrun import DAVE_KEY, inventory, run_playbook, snapshot_tree, state_dir, write_inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_state import writable

READONLY = ('-e', 'meshconnect_state_readonly=true')


def _committed(tmp_path, inv=None):
    """An inventory whose state a writable run made (as the repository holds it)."""
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), inv or inventory())
    run = run_playbook(work, inv_dir, 'plan.yml')
    assert run.rc == 0, run.log
    return work, inv_dir


def test_a_run_that_needs_no_change_passes_and_writes_nothing(tmp_path):
    work, inv_dir = _committed(tmp_path)
    before = snapshot_tree(state_dir(inv_dir))
    run = run_playbook(work, inv_dir, 'plan.yml', *READONLY)
    assert run.rc == 0, run.log
    assert 'POLICY TESTS: 5 passed, 0 failed' in run.stdout
    state = snapshot_tree(state_dir(inv_dir))
    # The picture and the report are output, not state: only they may differ.
    assert dict((k, v) for k, v in state.items() if not k.startswith(('topology', 'report'))) == \
        dict((k, v) for k, v in before.items() if not k.startswith(('topology', 'report')))


def test_a_new_user_fails_with_the_change_to_commit_and_nothing_is_written(tmp_path):
    work, inv_dir = _committed(tmp_path)
    before = snapshot_tree(state_dir(inv_dir))
    inv = inventory()
    inv['users'].append({'name': 'dave', 'groups': ['developers'], 'public_key': DAVE_KEY})
    write_inventory(inv_dir, inv)
    for playbook in ('plan.yml', 'site.yml'):
        run = run_playbook(work, inv_dir, playbook, *READONLY)
        assert run.rc != 0
        assert 'is read-only for this run, and the inventory needs changes to it' in run.log
        assert 'lease leased: user/dave 100.96.0.' in run.log
        assert 'review the change to the state directory as a diff, commit it' in run.log
        assert 'UNREACHABLE' not in run.stdout       # site.yml stopped before any host
        assert snapshot_tree(state_dir(inv_dir)) == before
    # Where the state can be written, the same change is made, to be reviewed and committed.
    run = run_playbook(work, inv_dir, 'plan.yml')
    assert run.rc == 0 and 'lease leased: user/dave 100.96.0.' in run.stdout


def test_a_key_pair_to_make_fails_in_a_read_only_run(tmp_path):
    work, inv_dir = _committed(tmp_path)
    inv = inventory()
    inv['users'].append({'name': 'erin', 'groups': ['developers'], 'generate_key': True})
    write_inventory(inv_dir, inv)
    run = run_playbook(work, inv_dir, 'plan.yml', *READONLY)
    assert run.rc != 0
    assert 'erin needs the key pair the controller makes (generate_key), which a read-only run cannot write' \
        in run.log
    assert not os.path.exists(os.path.join(state_dir(inv_dir), 'keys', 'erin.key'))


def test_a_state_directory_that_cannot_be_written_is_read_only(tmp_path):
    target = tmp_path / 'file'
    target.write_text('not a directory\n')
    assert not writable(str(target / 'state'))
    assert writable(str(tmp_path / 'new' / 'state'))


def test_a_new_auto_mapping_fails_with_the_prefix_to_commit_then_passes_once_committed(tmp_path):
    work, inv_dir = _committed(tmp_path)
    before = snapshot_tree(state_dir(inv_dir))
    inv = inventory()
    inv['network']['mapping_pool'] = '10.200.0.0/16'
    branch = inv['sites']['gw-branch']
    branch['mappings'] = [{'prefix': '10.20.0.0/24', 'published_as': 'auto'}]
    write_inventory(inv_dir, inv)
    run = run_playbook(work, inv_dir, 'plan.yml', *READONLY)
    assert run.rc != 0
    assert 'lease mapping: branch 10.20.0.0/24 published as 10.200.0.0/24' in run.log
    assert snapshot_tree(state_dir(inv_dir)) == before
    # Made where the state can be written, and committed: the read-only run takes it and passes.
    assert run_playbook(work, inv_dir, 'plan.yml').rc == 0
    run = run_playbook(work, inv_dir, 'plan.yml', *READONLY)
    assert run.rc == 0, run.log
    assert 'lease mapping' not in run.stdout
