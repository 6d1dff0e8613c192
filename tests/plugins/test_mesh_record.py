# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""mesh_record: the applied plan's snapshot is written under the state lock, once, and never over a plan that
another run recorded after this one compiled."""

import json
import os

from meshrun import inventory, run_playbook, state_dir, write_inventory, write_playbook

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state

PLAYBOOK = '''---
- name: Compile, then record as site.yml does
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Compile, recording facts but not the snapshot
      meshconnect.mesh.mesh_plan:
        record: true
        record_snapshot: false
      register: compiled

    - name: Another run records its plan meanwhile
      ansible.builtin.copy:
        content: "{{ compiled.snapshot | combine({'digest': '0' * 64}) | to_json }}"
        dest: "{{ compiled.snapshot_file }}"
        mode: "0644"
      when: meddle | default(false) | bool

    - name: Somebody removes the record meanwhile
      ansible.builtin.file:
        path: "{{ compiled.snapshot_file }}"
        state: absent
      when: remove | default(false) | bool

    - name: Somebody damages the agents' record meanwhile
      ansible.builtin.copy:
        content: "{{ damage_applied }}"
        dest: "{{ compiled.state_dir }}/applied.json"
        mode: "0644"
      when: damage_applied is defined

    - name: Record
      meshconnect.mesh.mesh_record:
        snapshot: "{{ snapshot | default(compiled.snapshot) }}"
        state_dir: "{{ where | default(compiled.state_dir) }}"
        replaces: "{{ compiled.previous_digest }}"
        agents: "{{ agents | default(omit) }}"
        applied: "{{ applied | default(omit) }}"
      register: first
      ignore_errors: true

    - name: Record again
      meshconnect.mesh.mesh_record:
        snapshot: "{{ snapshot | default(compiled.snapshot) }}"
        state_dir: "{{ where | default(compiled.state_dir) }}"
        replaces: "{{ compiled.previous_digest }}"
        agents: "{{ agents | default(omit) }}"
        applied: "{{ second_applied | default(applied) | default(omit) }}"
      register: second
      ignore_errors: true

    - name: Dump
      ansible.builtin.copy:
        content: "{{ {'compiled': compiled.snapshot, 'previous': compiled.previous_digest, 'first': first,
                      'second': second} | to_json }}"
        dest: "{{ playbook_dir }}/out.json"
        mode: "0644"
      check_mode: false
'''


def _run(tmp_path, *extra):
    work = str(tmp_path)
    inv = write_inventory(os.path.join(work, 'inv'), inventory(policy_tests=[]))
    playbook = write_playbook(os.path.join(work, 'record.yml'), PLAYBOOK)
    run = run_playbook(work, inv, playbook, *extra)
    assert run.rc == 0, run.log
    with open(os.path.join(work, 'out.json')) as handle:
        out = json.load(handle)
    path = os.path.join(state_dir(inv), mesh_state.SNAPSHOT)
    return out, path, inv, work


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def test_records_once_then_changes_nothing(tmp_path):
    out, path, _inv, _work = _run(tmp_path)
    assert out['previous'] == ''
    assert out['first']['changed'] is True and not out['first'].get('failed')
    assert out['second']['changed'] is False and not out['second'].get('failed')
    assert _read(path) == mesh_state.dumps(out['compiled']).encode('utf-8')
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    assert out['first']['digest'] == out['compiled']['digest']


def test_a_second_compile_replaces_what_it_read(tmp_path):
    out, path, inv, work = _run(tmp_path)
    # The next run compiles against the recorded plan and may record over it.
    run = run_playbook(work, inv, os.path.join(work, 'record.yml'))
    assert run.rc == 0, run.log
    with open(os.path.join(work, 'out.json')) as handle:
        again = json.load(handle)
    assert again['previous'] == out['compiled']['digest']
    assert not again['first'].get('failed') and again['first']['changed'] is False


def test_check_mode_writes_nothing(tmp_path):
    # On a new state directory (mesh_plan in check mode writes none) and on one with state.
    out, path, inv, work = _run(tmp_path, '--check')
    assert out['first']['changed'] is True and not out['first'].get('failed')
    assert not os.path.exists(path)
    assert run_playbook(work, inv, 'plan.yml').rc == 0       # leases, no snapshot
    out, path, _inv, _work = _run(tmp_path, '--check')
    assert out['first']['changed'] is True and not out['first'].get('failed')
    assert not os.path.exists(path)


def test_never_records_over_a_plan_recorded_meanwhile(tmp_path):
    out, path, _inv, _work = _run(tmp_path, '-e', 'meddle=true')
    for attempt in ('first', 'second'):
        assert out[attempt].get('failed'), out[attempt]
        assert 'another run recorded its plan meanwhile' in out[attempt]['msg']
        assert 'Nothing was written' in out[attempt]['msg']
    # The other run's record is untouched.
    assert json.loads(_read(path).decode('utf-8'))['digest'] == '0' * 64


def test_never_records_when_the_record_it_replaces_was_removed_meanwhile(tmp_path):
    out, path, inv, work = _run(tmp_path)
    run = run_playbook(work, inv, os.path.join(work, 'record.yml'), '-e', 'remove=true')
    assert run.rc == 0, run.log
    with open(os.path.join(work, 'out.json')) as handle:
        again = json.load(handle)
    assert again['previous'] == out['compiled']['digest']
    assert again['first'].get('failed') and 'it was removed after this run compiled' in again['first']['msg']
    assert not os.path.exists(path)


def test_refuses_what_is_not_a_snapshot_and_a_directory_without_state(tmp_path):
    bad = json.dumps({'snapshot': {'version': 4, 'digest': 'f' * 64, 'matrix': {'rows': []}}})
    out, path, _inv, work = _run(tmp_path, '-e', bad)
    assert out['first'].get('failed') and 'not the snapshot returned by mesh_plan' in out['first']['msg']
    assert not os.path.exists(path)
    empty = os.path.join(work, 'empty')
    os.mkdir(empty)
    out, _path, _inv, _work = _run(tmp_path, '-e', 'where=%s' % empty)
    assert out['first'].get('failed') and 'holds no mesh state' in out['first']['msg']
    assert os.listdir(empty) == []


def _slices(tmp_path, *slices):
    """Record the same plan as applied by each slice of agents in turn (each a run, as a sliced job's)."""
    outs = []
    for applied in slices:
        extra = json.dumps({'agents': ['hq', 'branch', 'shop'], 'applied': applied})
        out, path, _inv, _work = _run(tmp_path, '-e', extra)
        outs.append(out)
    applied_path = os.path.join(os.path.dirname(path), mesh_state.APPLIED)
    return outs, path, applied_path


def test_slices_record_their_agents_and_the_last_one_the_snapshot(tmp_path):
    (first, second), path, applied_path = _slices(tmp_path, ['hq'], ['branch', 'shop'])
    digest = first['compiled']['digest']
    assert second['compiled']['digest'] == digest           # the same plan in each slice
    assert first['first']['changed'] is True and first['first']['recorded'] is False
    assert first['first']['applied_by'] == ['hq'] and first['first']['pending'] == ['branch', 'shop']
    assert first['second']['changed'] is False               # the same slice again writes nothing
    # The first slice wrote no snapshot: the diff's base is still what every agent ran.
    assert second['previous'] == ''
    assert second['first']['recorded'] is True and second['first']['pending'] == []
    assert second['first']['applied_by'] == ['branch', 'hq', 'shop']
    assert json.loads(_read(path).decode('utf-8')) == second['compiled']
    assert json.loads(_read(applied_path).decode('utf-8')) == {
        'agents': {'branch': digest, 'hq': digest, 'shop': digest}}


def test_a_slice_alone_records_no_snapshot(tmp_path):
    (only,), path, applied_path = _slices(tmp_path, ['hq', 'branch'])
    assert only['first']['recorded'] is False and only['first']['pending'] == ['shop']
    assert not os.path.exists(path)
    assert sorted(json.loads(_read(applied_path).decode('utf-8'))['agents']) == ['branch', 'hq']


def test_agents_gone_from_the_inventory_leave_the_record(tmp_path):
    _slices(tmp_path, ['hq', 'branch', 'shop'])
    extra = json.dumps({'agents': ['hq', 'branch'], 'applied': ['hq', 'branch']})
    out, path, _inv, _work = _run(tmp_path, '-e', extra)
    applied_path = os.path.join(os.path.dirname(path), mesh_state.APPLIED)
    assert sorted(json.loads(_read(applied_path).decode('utf-8'))['agents']) == ['branch', 'hq']
    assert out['first']['changed'] is True and out['first']['recorded'] is True


def test_refuses_a_record_damaged_meanwhile_and_agents_it_does_not_know(tmp_path):
    (first,), path, applied_path = _slices(tmp_path, ['hq'])
    damage = json.dumps({'agents': {'hq': 'not a digest'}})
    extra = json.dumps({'agents': ['hq', 'branch', 'shop'], 'applied': ['branch'], 'damage_applied': damage})
    out, _path, _inv, _work = _run(tmp_path, '-e', extra)
    assert out['first'].get('failed')
    assert applied_path in out['first']['msg'] and 'agent "hq"' in out['first']['msg']
    assert 'Fix: restore it from version control' in out['first']['msg']
    with open(applied_path) as handle:
        assert json.load(handle) == {'agents': {'hq': 'not a digest'}}      # left as it was
    os.remove(applied_path)
    extra = json.dumps({'agents': ['hq'], 'applied': ['hq', 'mallory']})
    out, _path, _inv, _work = _run(tmp_path, '-e', extra)
    assert out['first'].get('failed') and 'applied names mallory' in out['first']['msg']
    assert not os.path.exists(applied_path)


def test_a_damaged_record_stops_the_next_compile_before_any_host(tmp_path):
    # Damage is named by mesh_plan (site.yml's first play), not only by the record after the agents applied.
    (_first,), _path, applied_path = _slices(tmp_path, ['hq'])
    for damage in ('{"agents": {"hq": 7}}', '{"agents": []}', '[]', 'not json'):
        with open(applied_path, 'w') as handle:
            handle.write(damage)
        run = run_playbook(str(tmp_path), os.path.join(str(tmp_path), 'inv'), 'plan.yml')
        assert run.rc != 0, damage
        assert applied_path in run.stdout and 'Fix: restore it from version control' in run.stdout, run.stdout
