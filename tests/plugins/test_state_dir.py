# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state directory survives what lands on it: damaged files, two runs at
once, a checkout that widened modes, foreign files next to the bundles, and an
inventory built to explode (through real ansible-playbook runs)."""

import fcntl
import json
import os
import threading
import time

import pytest
import yaml

from meshrun import inventory, mode, open_key_file, run_playbook, snapshot_tree, state_dir, write_inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import public_from_private

COMPILE = 'Compile the mesh inventory'
BUNDLES = 'Write one bundle per active user'


def _fresh(tmp_path, inv=None):
    work = str(tmp_path)
    return work, write_inventory(os.path.join(work, 'inv'), inv)


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _write(path, data, file_mode=0o600):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, file_mode)


def _planned(tmp_path, inv=None):
    work, inv_dir = _fresh(tmp_path, inv)
    run = run_playbook(work, inv_dir, 'plan.yml')
    assert run.rc == 0, run.log
    return work, inv_dir, state_dir(inv_dir)


# ----------------------------------------------------------------------
# a state file that exists is valid and complete


@pytest.mark.parametrize('content', [b'{}', b'{"version": 1, "network": "testnet", "cidr": "100.80.0.0/24", '
                                     b'"leases": null}', b'{"version": 1, "network": "testnet", "cidr": '
                                     b'"100.80.0.0/24", "leases": []}', b'{"version": 1, "network": "testnet", '
                                     b'"cidr": "100.80.0.0/24", "leases": {}}', b'[]', b'null', b'',
                                     b'{"version": 1, "leases": {"user/alice": "100.80.0.9"}}'],
                         ids=['empty-map', 'leases-null', 'leases-list', 'leases-empty', 'list', 'null',
                              'empty-file', 'incomplete'])
def test_a_lease_file_without_leases_stops_the_run_and_is_kept(tmp_path, content):
    work, inv, state = _planned(tmp_path)
    leases = os.path.join(state, 'leases.json')
    _write(leases, content, 0o644)
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0 and run.task_status(COMPILE) == 'fatal', run.log
    assert 'leases.json' in run.stdout or 'lease file' in run.stdout, run.stdout
    assert 'restore' in run.stdout
    assert snapshot_tree(inv) == before                  # nothing renumbered, nothing rewritten


def test_an_existing_state_directory_without_its_lease_file_stops_the_run(tmp_path):
    work, inv, state = _planned(tmp_path)
    os.unlink(os.path.join(state, 'leases.json'))
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert 'has no leases.json, but holds device-keys.json, keys' in run.stdout, run.stdout
    assert snapshot_tree(inv) == before


@pytest.mark.parametrize('name, content', [('plan.json', b'[1, 2]'), ('plan.json', b'{"version": 2}'),
                                           ('facts.json', b'{"gw-hq": 5}'), ('facts.json', b'{"gw-hq": {'),
                                           ('plan.json', b'')])
def test_damaged_snapshot_and_facts_files_are_named(tmp_path, name, content):
    work, inv, state = _planned(tmp_path)
    _write(os.path.join(state, name), content, 0o644)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert os.path.join(state, name) in run.stdout.replace('\n        ', ' '), run.stdout


# ----------------------------------------------------------------------
# damaged key files


@pytest.mark.parametrize('content', [b'', b'\n', b'garbage', b'not base64 at all but 44 characters long!!!',
                                     b'\xff\xfe\x00binary', b'QUJD\n', b'A' * 5000],
                         ids=['empty', 'newline', 'garbage', 'not-base64', 'binary', 'short', 'huge'])
def test_a_damaged_key_file_names_the_user_the_file_and_the_way_out(tmp_path, content):
    work, inv, state = _planned(tmp_path)
    path = os.path.join(state, 'keys', 'alice.key')
    _write(path, content)
    for playbook in ('plan.yml', 'users.yml'):
        run = run_playbook(work, inv, playbook)
        assert run.rc != 0, run.log
        text = ' '.join(run.stdout.split())
        assert "user 'alice': the key file %s is damaged" % path in text, text
        assert 'remove it and its entry in device-keys.json to have a new key pair made' in text
        assert 'Incorrect padding' not in text and 'Traceback' not in text
    assert _read(path) == content                        # never replaced behind the operator's back
    assert not os.path.exists(os.path.join(state, 'bundles'))   # users.yml stopped before writing any bundle


# ----------------------------------------------------------------------
# two runs at once


def test_concurrent_runs_with_new_users_never_fail_or_corrupt(tmp_path):
    """Each round adds 40 users without keys and starts two plan.yml runs at the same moment."""
    work, inv = _fresh(tmp_path)
    state = state_dir(inv)
    base = inventory()
    for round_number in range(3):
        users = base['users'] + [{'name': 'r%du%d' % (r, i), 'groups': ['developers'], 'generate_key': True}
                                 for r in range(round_number + 1) for i in range(40)]
        write_inventory(inv, inventory(users=users))
        runs = [None, None]

        def go(index):
            runs[index] = run_playbook(work, inv, 'plan.yml')

        threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for run in runs:
            assert run.rc == 0, run.log
        leases = json.loads(_read(os.path.join(state, 'leases.json')).decode('utf-8'))['leases']
        names = [u['name'] for u in users]
        assert sorted(k for k in leases if k.startswith('user/')) == sorted('user/' + n for n in names)
        assert len(set(leases.values())) == len(leases)
        for name in names:
            if name == 'carol':
                continue
            key = open_key_file(os.path.join(state, 'keys', '%s.key' % name))
            public_from_private(key)                      # whole, valid keys only
            assert mode(os.path.join(state, 'keys', '%s.key' % name)) == 0o600
        assert not [n for n in os.listdir(state) + os.listdir(os.path.join(state, 'keys')) if n.endswith('.tmp')]


def test_a_run_waits_for_the_lock_then_gives_up_naming_the_holder(tmp_path):
    work, inv, state = _planned(tmp_path)
    with open(os.path.join(state, '.lock'), 'a+') as handle:
        handle.seek(0)
        handle.truncate()
        handle.write('pid 4242 on ci-runner since 2026-12-02 08:00:00\n')
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        before = snapshot_tree(inv)
        run = run_playbook(work, inv, 'plan.yml', '-e', 'meshconnect_lock_timeout=2')
        assert run.rc != 0, run.log
        text = ' '.join(run.stdout.split())
        assert 'another run holds the lock on %s (last taken by pid 4242 on ci-runner' % state in text, text
        assert snapshot_tree(inv) == before

        def release():
            time.sleep(3)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

        releaser = threading.Thread(target=release)
        releaser.start()
        run = run_playbook(work, inv, 'plan.yml', '-e', 'meshconnect_lock_timeout=60')
        releaser.join()
    assert run.rc == 0, run.log
    assert 'waiting for the lock on %s' % state in run.stdout


# ----------------------------------------------------------------------
# modes, .gitignore, bundles


def test_widened_modes_are_put_back_and_reported(tmp_path):
    work, inv, state = _planned(tmp_path)
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    keys, bundles = os.path.join(state, 'keys'), os.path.join(state, 'bundles')
    for path, widened in ((keys, 0o755), (os.path.join(keys, 'alice.key'), 0o644), (bundles, 0o755),
                          (os.path.join(bundles, 'alice.conf'), 0o644), (os.path.join(bundles, 'bob.png'), 0o664)):
        os.chmod(path, widened)
    check = run_playbook(work, inv, 'users.yml', '--check')
    assert check.rc == 0, check.log
    assert mode(os.path.join(keys, 'alice.key')) == 0o644          # check mode reports, changes nothing
    assert 'alice.key had mode 0644; it would be put back to 0600' in ' '.join((check.stdout + check.stderr).split())
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    text = ' '.join((run.stdout + run.stderr).split())
    for path, fixed in ((keys, 0o700), (os.path.join(keys, 'alice.key'), 0o600), (bundles, 0o700),
                        (os.path.join(bundles, 'alice.conf'), 0o600), (os.path.join(bundles, 'bob.png'), 0o600)):
        assert mode(path) == fixed, path
        assert '%s had mode' % path in text, path


def test_the_state_directory_keeps_keys_and_bundles_out_of_git(tmp_path):
    _work, _inv, state = _planned(tmp_path)
    lines = _read(os.path.join(state, '.gitignore')).decode('utf-8').splitlines()
    for entry in ('keys/', 'bundles/', '.lock', '.*.tmp'):
        assert entry in lines


def test_an_own_gitignore_is_kept_and_completed(tmp_path):
    work, inv = _fresh(tmp_path)
    state = state_dir(inv)
    os.makedirs(state)
    _write(os.path.join(state, '.gitignore'), b'# ours\n*.bak\nkeys/\n', 0o644)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc == 0, run.log
    lines = _read(os.path.join(state, '.gitignore')).decode('utf-8').splitlines()
    assert lines[:3] == ['# ours', '*.bak', 'keys/'] and 'bundles/' in lines and lines.count('keys/') == 1


def test_pruning_removes_only_the_bundles_it_wrote(tmp_path):
    work, inv, state = _planned(tmp_path)
    bundles = os.path.join(state, 'bundles')
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    foreign = {'notes.conf': b'[Interface]\n# mine\n', 'photo.png': b'\x89PNG mine', 'vpn-old.conf': b'x',
               'README': b'mine'}
    for name, data in foreign.items():
        _write(os.path.join(bundles, name), data, 0o644)
    base = inventory()
    write_inventory(inv, inventory(users=[u for u in base['users'] if u['name'] != 'alice'],
                                   policies=base['policies'][1:], policy_tests=base['policy_tests'][1:]))
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    names = set(os.listdir(bundles))
    assert 'alice.conf' not in names and 'alice.png' not in names       # what it wrote, for a user who left
    for name, data in foreign.items():
        assert _read(os.path.join(bundles, name)) == data, name        # what it did not write
        assert mode(os.path.join(bundles, name)) == 0o644, name


def test_bundles_of_an_earlier_version_without_a_manifest_are_recognised(tmp_path):
    work, inv, state = _planned(tmp_path)
    bundles = os.path.join(state, 'bundles')
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    os.unlink(os.path.join(bundles, '.meshconnect-bundles.json'))
    _write(os.path.join(bundles, 'dave.conf'), b'# my own dave config\n')
    base = inventory()
    write_inventory(inv, inventory(users=[u for u in base['users'] if u['name'] != 'bob'],
                                   policy_tests=base['policy_tests'][:1]))
    run = run_playbook(work, inv, 'users.yml')
    assert run.rc == 0, run.log
    names = set(os.listdir(bundles))
    assert 'bob.conf' not in names and 'bob.png' not in names and 'dave.conf' in names


# ----------------------------------------------------------------------
# an inventory built to explode


def _laughs_yaml(levels, use):
    lines = ['lol0: &lol0 [a, a, a, a, a, a, a, a, a]']
    for level in range(1, levels):
        lines.append('lol%d: &lol%d [%s]' % (level, level, ', '.join(['*lol%d' % (level - 1)] * 9)))
    lines.append(use % (levels - 1))
    return '\n'.join(lines) + '\n'


@pytest.mark.parametrize('use', ['laughs_users: [{name: mallory, groups: *lol%d}]',
                                 'laughs_groups: "{{ lol%d }}"'], ids=['alias', 'template'])
def test_nested_aliases_fail_fast_before_anything_renders_them(tmp_path, use):
    work, inv = _fresh(tmp_path)
    with open(os.path.join(inv, 'group_vars', 'all', 'laughs.yml'), 'w') as handle:
        handle.write(_laughs_yaml(30, use))
    mesh_file = os.path.join(inv, 'group_vars', 'all', 'mesh.yml')
    with open(mesh_file) as handle:
        mesh = yaml.safe_load(handle)
    del mesh['meshconnect_users']
    with open(mesh_file, 'w') as handle:
        yaml.safe_dump(mesh, handle)
        handle.write("meshconnect_users: [{name: alice, groups: ['{{ laughs_groups | default(\"x\") }}']}]\n"
                     if 'template' in use else 'meshconnect_users: "{{ laughs_users }}"\n')
    started = time.time()
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert 'through YAML aliases' in run.stdout and 'lol10' in run.stdout, run.stdout
    assert len(run.stdout) < 20000
    assert time.time() - started < 150      # the run ends (it never did: 9**30 values)


def test_nested_aliases_in_an_agents_host_vars_fail_fast(tmp_path):
    work, inv = _fresh(tmp_path)
    host_file = os.path.join(inv, 'host_vars', 'gw-hq.yml')
    with open(host_file) as handle:
        site = yaml.safe_load(handle)['meshconnect_site']
    with open(host_file, 'w') as handle:
        handle.write(_laughs_yaml(30, 'meshconnect_site: {name: %s, endpoint: %s, resources: *lol%%d}'
                                  % (site['name'], site.get('endpoint', 'gw-hq'))))
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert "host 'gw-hq': lol10" in run.stdout and 'through YAML aliases' in run.stdout, run.stdout
