# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/plan.yml and the mesh_plan action, run by ansible-playbook on small inventories."""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import types

import pytest

from meshrun import (
    CAROL_KEY, DAVE_KEY, inventory, mode, open_key_file, run_playbook, snapshot_tree, state_dir, write_inventory,
    write_playbook,
)

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import canonical_json, compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import rows
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import public_from_private

COMPILE = 'Compile the mesh inventory'
REPORT = 'Show the plan report'
MEMBERS = ['agent/branch', 'agent/hq', 'user/alice', 'user/bob', 'user/carol']
ALICE_KEY = base64.b64encode(b'AliceAliceAliceAliceAliceAlice!!').decode('ascii')
BOB_KEY = base64.b64encode(b'BobBobBobBobBobBobBobBobBobBob!!').decode('ascii')


def _read(path, binary=True):
    with open(path, 'rb' if binary else 'r') as handle:
        return handle.read()


def _fresh(tmp_path, inv=None):
    work = str(tmp_path)
    return work, write_inventory(os.path.join(work, 'inv'), inv)


def _private_keys(keys_dir):
    out = {}
    for name in sorted(os.listdir(keys_dir)):
        out[name[:-len('.key')]] = open_key_file(os.path.join(keys_dir, name))
    return out


def _diff_block(output, path):
    """The unified diff ansible-playbook printed for ``path``, as a list of lines."""
    start = output.index('--- before: %s' % path)
    block = []
    for line in output[start:].splitlines():
        if not line.strip():        # a blank line ends the diff
            break
        block.append(line)
    return block


# ----------------------------------------------------------------------
# a first and a second run of plan.yml on one valid inventory


@pytest.fixture(scope='module')
def planned(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('planned'))
    inv = write_inventory(os.path.join(work, 'inv'))
    before = snapshot_tree(inv)
    first = run_playbook(work, inv, 'plan.yml')
    after_first = snapshot_tree(inv)
    leases = os.path.join(state_dir(inv), 'leases.json')
    leases_mtime = os.stat(leases).st_mtime_ns if os.path.exists(leases) else None
    second = run_playbook(work, inv, 'plan.yml')
    return types.SimpleNamespace(work=work, inv=inv, state=state_dir(inv), leases=leases, before=before,
                                 first=first, after_first=after_first, leases_mtime=leases_mtime,
                                 second=second, after_second=snapshot_tree(inv))


def test_plan_prints_the_report(planned):
    run = planned.first
    assert run.rc == 0, run.log
    assert run.task_status(COMPILE) == 'changed'
    assert run.task_status(REPORT) == 'ok'
    assert 'POLICY TESTS: 5 passed, 0 failed' in run.stdout
    assert re.search(r'^\s+ok\s+user:bob\s+deny\s+hq:db$', run.stdout, re.M)
    assert 'REACHABILITY (policy and links)' in run.stdout
    assert re.search(r'^\s+FROM\s+TO\s+ALLOWED$', run.stdout, re.M)
    assert re.search(r'^\s+user:alice\s+branch:agent\s+all$', run.stdout, re.M)
    assert re.search(r'^\s+user:bob\s+hq:lan\s+partial: 10\.10\.0\.80 tcp/443$', run.stdout, re.M)
    assert re.search(r'^\s+hq:web\s+tcp/443$', run.stdout, re.M)
    assert re.search(r'^\s+site:branch:agent\s+hq:agent\s+all$', run.stdout, re.M)
    assert 'DIFF: no previous run recorded' in run.stdout
    # A controller-only playbook: no agent shows up in the recap.
    assert set(run.recap()) == {'localhost'}
    assert run.recap()['localhost']['failed'] == 0


def test_plan_writes_sorted_leases_0644(planned):
    assert planned.first.rc == 0, planned.first.log
    assert mode(planned.leases) == 0o644
    text = _read(planned.leases, binary=False)
    doc = json.loads(text)
    # Sorted and stable: exactly what a sorted, indented dump gives.
    assert text == json.dumps(doc, indent=2, sort_keys=True) + '\n'
    assert list(doc) == sorted(doc)
    assert list(doc['leases']) == MEMBERS
    assert doc['network'] == 'testnet' and doc['cidr'] == '100.96.0.0/24'
    addresses = list(doc['leases'].values())
    assert len(set(addresses)) == len(addresses)
    assert all(re.match(r'^100\.96\.0\.\d+$', a) for a in addresses), addresses
    assert 'lease leased: agent/hq %s' % doc['leases']['agent/hq'] in planned.first.stdout


def test_plan_writes_user_keys_0600_in_a_0700_dir(planned):
    assert planned.first.rc == 0, planned.first.log
    keys_dir = os.path.join(planned.state, 'keys')
    assert mode(keys_dir) == 0o700
    # carol has a public key in the inventory: no key pair is made for her.
    assert sorted(os.listdir(keys_dir)) == ['alice.key', 'bob.key']
    privates = _private_keys(keys_dir)
    for name in ('alice', 'bob'):
        path = os.path.join(keys_dir, '%s.key' % name)
        assert mode(path) == 0o600
        # Encrypted with Ansible Vault (the run's vault password): the key is nowhere in plain text.
        text = _read(path, binary=False)
        assert text.startswith('$ANSIBLE_VAULT;1.1;AES256') and privates[name] not in text
        assert len(base64.b64decode(privates[name], validate=True)) == 32
    assert privates['alice'] != privates['bob']


def test_private_keys_never_printed(planned):
    privates = _private_keys(os.path.join(planned.state, 'keys'))
    assert privates
    for run in (planned.first, planned.second):
        for private in privates.values():
            assert private not in run.stdout
            assert private not in run.stderr


def test_private_keys_never_printed_with_vvv(tmp_path):
    work, inv = _fresh(tmp_path)
    run = run_playbook(work, inv, 'plan.yml', '-vvv')
    assert run.rc == 0, run.log
    keys_dir = os.path.join(state_dir(inv), 'keys')
    privates = _private_keys(keys_dir)
    assert sorted(privates) == ['alice', 'bob']
    # This run made the keys and printed the whole registered result...
    assert os.path.join(keys_dir, 'alice.key') in run.stdout
    for private in privates.values():
        # ...with the public half in it, and never the private half.
        assert public_from_private(private) in run.stdout
        assert private not in run.stdout
        assert private not in run.stderr


def test_second_run_changes_nothing(planned):
    assert planned.first.rc == 0, planned.first.log
    run = planned.second
    assert run.rc == 0, run.log
    assert run.task_status(COMPILE) == 'ok'
    assert run.recap()['localhost']['changed'] == 0
    # Leases and keys byte-identical; the HTML report is this run's output (it named the leases the first run gave).
    report = os.path.join(os.path.relpath(planned.state, planned.inv), 'report.html')
    assert report in planned.after_first and report in planned.after_second
    assert b'lease leased: user/alice' in planned.after_first[report][1]
    assert b'lease leased' not in planned.after_second[report][1]
    first, second = dict(planned.after_first), dict(planned.after_second)
    del first[report], second[report]
    assert second == first
    assert os.stat(planned.leases).st_mtime_ns == planned.leases_mtime    # not even rewritten
    assert 'lease leased' not in run.stdout
    assert 'POLICY TESTS: 5 passed, 0 failed' in run.stdout
    # The state directory is hidden: Ansible did not try to read it as inventory.
    assert 'Unable to parse' not in run.output


# ----------------------------------------------------------------------
# check mode and diff mode


def test_check_mode_writes_nothing(tmp_path):
    work, inv = _fresh(tmp_path)
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml', '--check')
    assert run.rc == 0, run.log
    assert snapshot_tree(inv) == before
    assert not os.path.exists(os.path.join(inv, '.meshconnect'))
    assert not os.path.exists(os.path.join(inv, 'state'))
    # It still predicts the change and shows the report with the leases it would give.
    assert run.task_status(COMPILE) == 'changed'
    assert 'lease leased: agent/hq 100.96.0.' in run.stdout
    assert 'POLICY TESTS: 5 passed, 0 failed' in run.stdout
    assert '--- before' not in run.stdout


def test_check_diff_shows_the_new_lease_file(tmp_path):
    work, inv = _fresh(tmp_path)
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml', '--check', '--diff')
    assert run.rc == 0, run.log
    assert snapshot_tree(inv) == before
    leases = os.path.join(state_dir(inv), 'leases.json')
    block = _diff_block(run.stdout, leases)
    assert block[1] == '+++ after: %s' % leases
    assert block[2].startswith('@@ -0,0 +1,')
    added = [line[1:] for line in block[3:] if line.startswith('+')]
    doc = json.loads('\n'.join(added))
    assert list(doc['leases']) == MEMBERS
    assert not [line for line in block[3:] if line.startswith('-')]


def test_check_diff_shows_only_the_lease_of_a_new_user(planned, tmp_path):
    assert planned.second.rc == 0, planned.second.log
    # A copy of the planned inventory with its state (modes kept).
    work = str(tmp_path)
    inv = os.path.join(work, 'inv')
    shutil.copytree(planned.inv, inv)
    leases = os.path.join(state_dir(inv), 'leases.json')
    old = json.loads(_read(leases, binary=False))

    users = inventory()['users'] + [{'name': 'dave', 'groups': ['developers'], 'public_key': DAVE_KEY}]
    write_inventory(inv, inventory(users=users))
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml', '--check', '--diff')
    assert run.rc == 0, run.log
    assert snapshot_tree(inv) == before            # check mode: the lease file is not touched
    assert run.task_status(COMPILE) == 'changed'

    block = _diff_block(run.stdout, leases)
    added = [line[1:].strip().rstrip(',') for line in block[3:] if line.startswith('+')]
    removed = [line[1:].strip().rstrip(',') for line in block[3:] if line.startswith('-')]
    new = [line for line in added if line not in removed]
    assert len(new) == 1 and re.match(r'^"user/dave": "100\.96\.0\.\d+"$', new[0]), block
    # Existing leases never change: whatever the diff removes, it adds back unchanged.
    assert set(removed) <= set(added), block
    dave = new[0].split('"')[3]
    assert dave not in old['leases'].values()


# ----------------------------------------------------------------------
# bad input


def test_bad_inventory_fails_with_every_error_and_writes_nothing(tmp_path):
    users = inventory()['users'] + [{'name': 'bob', 'groups': ['admins']}, {'name': '../evil'}]
    policies = inventory()['policies'] + [{'name': 'typo', 'groups': ['admins'], 'allow': ['hqq:web']}]
    work, inv = _fresh(tmp_path, inventory(users=users, policies=policies))
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert run.task_status(COMPILE) == 'fatal'
    assert 'the mesh inventory has 3 errors:' in run.stdout
    assert "  - user 'bob': is defined more than once. Fix: merge the two entries." in run.stdout
    assert "  - user #5: name '../evil' is not a valid name. Fix: " in run.stdout
    assert "  - policy 'typo': allow 'hqq:web' names unknown site 'hqq'. Fix: use one of: branch, hq." in run.stdout
    # Nothing written: not the key pairs of alice and bob (who have no public key), nor one for
    # '../evil' (keys/../evil.key, outside the keys directory).
    assert snapshot_tree(inv) == before


# ----------------------------------------------------------------------
# policy tests and explain


def test_failing_policy_tests_fail_the_plan(tmp_path):
    tests = inventory()['policy_tests'] + [
        {'user': 'bob', 'allow': ['hq:db:tcp/5432']},
        {'user': 'carol', 'deny': ['hq:web:tcp/443']},
    ]
    work, inv = _fresh(tmp_path, inventory(policy_tests=tests))
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc != 0, run.log
    assert run.task_status(COMPILE) == 'fatal'
    assert 'policy tests failed' in run.stdout
    # Nothing written: no lease file, no key pair for the users without a public key.
    assert snapshot_tree(inv) == before
    assert "test #3 from user:bob expects allow hq:db:tcp/5432: hq:db:tcp/5432 is not allowed (hq:db has no " \
           "access)" in run.stdout
    assert "test #4 from user:carol expects deny hq:web:tcp/443: hq:web:tcp/443 is allowed (hq:web has " \
           "tcp/443)" in run.stdout
    # Only the failures are listed, and the play stops before the report.
    assert 'test #1' not in run.stdout and 'test #2' not in run.stdout
    assert 'TASK [%s]' % REPORT not in run.stdout
    assert run.recap()['localhost']['failed'] == 1


@pytest.mark.parametrize('query, verdict, reasons', [
    ('alice hq:db:tcp/5432', 'ALLOWED', ["allowed by policy 'admins-everything' (allow *)"]),
    ('bob hq:db:tcp/5432', 'DENIED', [
        "policy 'admins-everything' would allow it, but applies to groups admins, not to bob",
        "policy 'developers-web' reaches hq only as: ",
    ]),
])
def test_explain(tmp_path, query, verdict, reasons):
    work, inv = _fresh(tmp_path)
    run = run_playbook(work, inv, 'plan.yml', '-e', 'meshconnect_explain="%s"' % query)
    assert run.rc == 0, run.log
    lines = run.stdout.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip().startswith('EXPLAIN ')]
    assert len(heads) == 1, run.log
    assert lines[heads[0]].strip() == 'EXPLAIN %s: %s' % (query, verdict)
    section = [line.strip() for line in lines[heads[0] + 1:heads[0] + 1 + len(reasons)]]
    for expected, line in zip(reasons, section):
        assert line.startswith(expected), section


# ----------------------------------------------------------------------
# record: true, then the semantic diff of plan.yml

RECORD = '''---
- name: Apply (as site.yml does it) and record the reachability snapshot
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compile and record
      meshconnect.mesh.mesh_plan:
        record: true
      register: recorded

    - name: Show the report
      ansible.builtin.debug:
        msg: "{{ recorded.report | meshconnect.mesh.report_text(0) }}"
'''


def test_recorded_snapshot_gives_plan_a_semantic_diff(tmp_path):
    work, inv = _fresh(tmp_path, inventory(policy_tests=[]))
    record = write_playbook(os.path.join(work, 'record.yml'), RECORD)
    recorded = run_playbook(work, inv, record)
    assert recorded.rc == 0, recorded.log
    assert 'DIFF: no previous run recorded' in recorded.stdout
    snapshot = os.path.join(state_dir(inv), 'plan.json')
    assert mode(snapshot) == 0o644
    recorded_bytes = _read(snapshot)
    doc = json.loads(recorded_bytes.decode('utf-8'))
    assert rows(doc['matrix'], 'user:bob') == {'hq:lan': 'partial: 10.10.0.80 tcp/443', 'hq:web': 'tcp/443'}
    assert re.match(r'^[0-9a-f]{64}$', doc['digest'])

    # developers lose the web server and get the database instead.
    policies = inventory()['policies']
    policies[1]['allow'] = ['hq:db:tcp/5432']
    write_inventory(inv, inventory(policies=policies, policy_tests=[]))
    run = run_playbook(work, inv, 'plan.yml')
    assert run.rc == 0, run.log
    assert 'DIFF since the last recorded run' in run.stdout
    diff = [line.strip() for line in run.stdout.split('DIFF since the last recorded run', 1)[1].splitlines()]
    # bob and carol share their access: one line for both.
    assert '+ user:bob, user:carol -> hq:db tcp/5432' in diff
    assert '- user:bob, user:carol -> hq:web tcp/443' in diff
    assert not [line for line in diff if line.startswith(('+ user:alice', '- user:alice', '+ site:', '- site:'))]
    # plan.yml does not record: the snapshot is still the one of the applied run.
    assert _read(snapshot) == recorded_bytes


DEFERRED = '''---
- name: Compile as site.yml does, recording the snapshot only after the apply
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compile, recording facts but not the snapshot
      meshconnect.mesh.mesh_plan:
        record: true
        record_snapshot: false
      register: compiled

    - name: Nothing is recorded yet
      ansible.builtin.stat:
        path: "{{ compiled.snapshot_file }}"
      register: before

    - name: Fail when the snapshot was written early
      ansible.builtin.assert:
        that: not before.stat.exists

    - name: Save what would be recorded
      ansible.builtin.copy:
        content: "{{ compiled.snapshot | to_json }}"
        dest: "{{ playbook_dir }}/returned.json"
        mode: "0600"
'''


def test_snapshot_can_be_recorded_after_the_apply(tmp_path):
    work, inv = _fresh(tmp_path, inventory(policy_tests=[]))
    run = run_playbook(work, inv, write_playbook(os.path.join(work, 'deferred.yml'), DEFERRED))
    assert run.rc == 0, run.log
    assert not os.path.exists(os.path.join(state_dir(inv), 'plan.json'))
    returned = json.loads(_read(os.path.join(work, 'returned.json')).decode('utf-8'))
    # What it returns is what record_snapshot: true writes.
    recorded = run_playbook(work, inv, write_playbook(os.path.join(work, 'record.yml'), RECORD))
    assert recorded.rc == 0, recorded.log
    assert json.loads(_read(os.path.join(state_dir(inv), 'plan.json')).decode('utf-8')) == returned


# ----------------------------------------------------------------------
# determinism

DIGESTS = '''---
- name: Compile the same inventory several times
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: First compile
      meshconnect.mesh.mesh_plan:
      register: first

    - name: Second compile
      meshconnect.mesh.mesh_plan:
      register: second

    - name: Compile with an explain query (the report changes, the plan does not)
      meshconnect.mesh.mesh_plan:
        explain: "alice hq:db"
      register: explained

    - name: Compile another MTU (the plan changes)
      meshconnect.mesh.mesh_plan:
      vars:
        meshconnect_network: {name: testnet, cidr: 100.96.0.0/24, port: 51820, interface: mc0, mtu: 1380}
      register: other_mtu

    - name: Dump the digests and the plan
      ansible.builtin.copy:
        dest: "{{ dump_file }}"
        mode: "0644"
        content: >-
          {{ {'first': first.plan.digest, 'second': second.plan.digest, 'explained': explained.plan.digest,
              'other_mtu': other_mtu.plan.digest, 'plan': first.plan} | to_json }}
'''


def test_same_inventory_gives_the_same_digest(tmp_path):
    # Every user has a public key: no random key pair enters the plan.
    users = [dict(u, public_key=k, generate_key=False)
             for u, k in zip(inventory()['users'], (ALICE_KEY, BOB_KEY, CAROL_KEY))]
    source = inventory(users=users)
    work, inv = _fresh(tmp_path, source)
    playbook = write_playbook(os.path.join(work, 'digests.yml'), DIGESTS)
    dump = os.path.join(work, 'digests.json')
    run = run_playbook(work, inv, playbook, '-e', 'dump_file=%s' % dump)
    assert run.rc == 0, run.log
    out = json.loads(_read(dump, binary=False))
    assert re.match(r'^[0-9a-f]{64}$', out['first'])
    assert out['first'] == out['second'] == out['explained']
    assert out['other_mtu'] != out['first']
    # The digest is the SHA-256 of the canonical JSON of the plan without it...
    plan = dict(out['plan'])
    assert plan.pop('digest') == out['first']
    assert hashlib.sha256(canonical_json(plan).encode('utf-8')).hexdigest() == out['first']
    # ...and another process (another hash seed) compiling the same input gets the same plan.
    lease_state = json.loads(_read(os.path.join(state_dir(inv), 'leases.json'), binary=False))
    again = compile_mesh(source, facts={}, lease_state=lease_state, previous=None,
                         today=datetime.date.today())
    assert again['plan'] == out['plan']
