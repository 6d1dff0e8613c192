# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters matrix_table, report_text and nft_elements, used from a playbook.

One playbook compiles a small inventory, renders with every filter, feeds
each filter a wrong input, checks some results with ansible.builtin.assert
and dumps everything to a JSON file that the tests below read.
"""

import json
import os
import re

import pytest

from meshrun import run_playbook, write_inventory, write_playbook

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import nft_elements
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import rows
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table, report_text

PLAYBOOK = r'''---
- name: Use the filters
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    hq_groups: "{{ (mesh.plan | meshconnect.mesh.agent_plan('gw-hq')).firewall.groups }}"
  tasks:
    - name: Compile
      meshconnect.mesh.mesh_plan:
        explain: "bob hq:web:tcp/443"
      register: mesh

    - name: Render with every filter
      ansible.builtin.set_fact:
        rendered:
          table: "{{ mesh.report.matrix | meshconnect.mesh.matrix_table }}"
          table_2: "{{ mesh.report.matrix | meshconnect.mesh.matrix_table(2) }}"
          table_empty: "{{ {} | meshconnect.mesh.matrix_table }}"
          text: "{{ mesh.report | meshconnect.mesh.report_text }}"
          text_1: "{{ mesh.report | meshconnect.mesh.report_text(1) }}"
          ports: "{{ hq_groups | meshconnect.mesh.nft_elements('ports') }}"
          other: "{{ hq_groups | meshconnect.mesh.nft_elements('other') }}"
          ping: "{{ hq_groups | meshconnect.mesh.nft_elements('ping') }}"
          agent_ports: "{{ hq_groups | meshconnect.mesh.nft_elements('agent_ports') }}"
          agent_other: "{{ hq_groups | meshconnect.mesh.nft_elements('agent_other') }}"
          agent_ping: "{{ hq_groups | meshconnect.mesh.nft_elements('agent_ping') }}"

    - name: Check the rendering where it is used
      ansible.builtin.assert:
        that:
          - rendered.table is string
          - rendered.table.splitlines()[0] is match('FROM +TO +ALLOWED$')
          - rendered.table_2.splitlines() | length == 4
          - rendered.table_empty == 'nothing is reachable'
          - "rendered.text is search('EXPLAIN bob hq:web:tcp/443: ALLOWED')"
          - rendered.ports is sequence and rendered.ports is not string
          - (mesh.plan.users.bob.address ~ ' . 10.10.0.80 . tcp . 443') in rendered.ports
          - (mesh.plan.users.bob.address ~ ' . 10.10.0.80') in rendered.ping

    - name: matrix_table of a list
      ansible.builtin.debug:
        msg: "{{ mesh.report.tests | meshconnect.mesh.matrix_table }}"
      register: bad_table_list
      ignore_errors: true

    - name: matrix_table of a string
      ansible.builtin.debug:
        msg: "{{ mesh.state_dir | meshconnect.mesh.matrix_table }}"
      register: bad_table_str
      ignore_errors: true

    - name: report_text of a list
      ansible.builtin.debug:
        msg: "{{ mesh.report.warnings | meshconnect.mesh.report_text }}"
      register: bad_text_list
      ignore_errors: true

    - name: report_text of a number
      ansible.builtin.debug:
        msg: "{{ 42 | meshconnect.mesh.report_text }}"
      register: bad_text_int
      ignore_errors: true

    - name: nft_elements of an unknown kind
      ansible.builtin.debug:
        msg: "{{ hq_groups | meshconnect.mesh.nft_elements('tcp') }}"
      register: bad_kind
      ignore_errors: true

    - name: nft_elements of the agent plan instead of its groups
      ansible.builtin.debug:
        msg: "{{ mesh.plan.agents['gw-hq'] | meshconnect.mesh.nft_elements('ports') }}"
      register: bad_groups_dict
      ignore_errors: true

    - name: nft_elements of groups without their sets
      ansible.builtin.debug:
        msg: "{{ [{'sources': ['10.0.0.1']}] | meshconnect.mesh.nft_elements('ports') }}"
      register: bad_groups_missing
      ignore_errors: true

    - name: nft_elements of the plan's own entry, whose groups name users
      ansible.builtin.debug:
        msg: "{{ mesh.plan.agents['gw-hq'].firewall.groups | meshconnect.mesh.nft_elements('ports') }}"
      register: bad_groups_lean
      ignore_errors: true

    - name: agent_drift of the plan's own entry
      ansible.builtin.debug:
        msg: "{{ mesh.plan.agents['gw-hq'] | meshconnect.mesh.agent_drift({}) }}"
      register: bad_drift_lean
      ignore_errors: true

    - name: agent_plan of a host that is not an agent
      ansible.builtin.debug:
        msg: "{{ mesh.plan | meshconnect.mesh.agent_plan('nobody') }}"
      register: bad_agent_plan_host
      ignore_errors: true

    - name: Every wrong input failed
      ansible.builtin.assert:
        that:
          - bad_table_list is failed
          - bad_table_str is failed
          - bad_text_list is failed
          - bad_text_int is failed
          - bad_kind is failed
          - bad_groups_dict is failed
          - bad_groups_missing is failed
          - bad_groups_lean is failed
          - bad_drift_lean is failed
          - bad_agent_plan_host is failed

    - name: Dump what the filters gave
      ansible.builtin.copy:
        dest: "{{ dump_file }}"
        mode: "0644"
        content: >-
          {{ {'report': mesh.report, 'groups': hq_groups, 'plan': mesh.plan, 'rendered': rendered,
              'errors': {'table_list': bad_table_list.msg, 'table_str': bad_table_str.msg,
                         'text_list': bad_text_list.msg, 'text_int': bad_text_int.msg,
                         'kind': bad_kind.msg, 'groups_dict': bad_groups_dict.msg,
                         'groups_missing': bad_groups_missing.msg, 'groups_lean': bad_groups_lean.msg,
                         'drift_lean': bad_drift_lean.msg, 'agent_plan_host': bad_agent_plan_host.msg}} | to_json }}
'''


@pytest.fixture(scope='module')
def filtered(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('filters'))
    inv = write_inventory(os.path.join(work, 'inv'))
    playbook = write_playbook(os.path.join(work, 'filters.yml'), PLAYBOOK)
    dump = os.path.join(work, 'filters.json')
    run = run_playbook(work, inv, playbook, '-e', 'dump_file=%s' % dump)
    assert run.rc == 0, run.log
    with open(dump) as handle:
        return run, json.load(handle)


def test_the_playbook_assertions_held(filtered):
    run, _out = filtered
    recap = run.recap()['localhost']
    assert recap['failed'] == 0
    assert recap['ignored'] == 10       # the ten wrong inputs, and nothing else
    assert run.stdout.count('All assertions passed') == 2


def test_matrix_table(filtered):
    _run, out = filtered
    matrix = out['report']['matrix']
    table = out['rendered']['table']
    assert table == matrix_table(matrix, 200)
    lines = table.splitlines()
    assert re.match(r'^FROM +TO +ALLOWED$', lines[0])
    # Users first, each source named once, then the rows under it.
    assert re.match(r'^user:alice +branch:agent +all$', lines[1])
    assert re.match(r'^ +branch:lan +all$', lines[2])
    assert any(re.match(r'^user:bob +hq:lan +partial: 10\.10\.0\.80 tcp/443$', line) for line in lines)
    sources = [line.split()[0] for line in lines[1:] if not line.startswith(' ')]
    assert sources == ['user:alice', 'user:bob', 'user:carol', 'site:branch:agent', 'site:branch:lan', 'site:hq:agent',
                       'site:hq:lan']
    assert len(lines) == 1 + sum(len(rows(matrix, principal)) for principal in matrix['members'])
    limited = out['rendered']['table_2'].splitlines()
    assert [line.split() for line in limited[:3]] == [line.split() for line in lines[:3]]
    assert limited[3] == '... %d more rows (see the registered report)' % (len(lines) - 3)
    assert out['rendered']['table_empty'] == 'nothing is reachable'


def test_report_text(filtered):
    _run, out = filtered
    report = out['report']
    text = out['rendered']['text']
    assert text == report_text(report, 200)
    assert text.startswith('network testnet (100.96.0.0/24): 2 sites, 1 links, 3 users (3 active), 2 policies; '
                           '5 leases used, 249 free\n')
    assert 'POLICY TESTS: 5 passed, 0 failed' in text
    assert 'REACHABILITY (policy and links)\n' + out['rendered']['table'] in text
    assert 'DIFF: no previous run recorded' in text
    explain = text.split('\nEXPLAIN ', 1)[1].splitlines()
    assert explain[:2] == ['bob hq:web:tcp/443: ALLOWED', "  allowed by policy 'developers-web' (allow hq:web:tcp/443)"]
    short = out['rendered']['text_1']
    assert '... %d more rows' % (len(out['rendered']['table'].splitlines()) - 2) in short


def test_nft_elements(filtered):
    _run, out = filtered
    groups, plan, rendered = out['groups'], out['plan'], out['rendered']
    leases = dict(('user/' + name, user['address']) for name, user in plan['users'].items())
    leases.update(('agent/' + agent['site'], agent['address']) for agent in plan['agents'].values())
    for kind in ('ports', 'other', 'ping', 'agent_ports', 'agent_other', 'agent_ping'):
        assert rendered[kind] == nft_elements(groups, kind)
    bob, carol, alice = leases['user/bob'], leases['user/carol'], leases['user/alice']
    hq, branch = leases['agent/hq'], leases['agent/branch']
    # Developers reach the web server on 443 only; it answers their pings.
    assert '%s . 10.10.0.80 . tcp . 443' % bob in rendered['ports']
    assert '%s . 10.10.0.80 . tcp . 443' % carol in rendered['ports']
    assert not [e for e in rendered['ports'] if e.startswith(bob + ' . ') and not e.endswith('tcp . 443')]
    assert sorted(e for e in rendered['ping'] if e.startswith((bob + ' ', carol + ' '))) == [
        '%s . 10.10.0.80' % bob, '%s . 10.10.0.80' % carol]
    # alice reaches everything at hq with every protocol, but db and web on their own ports only;
    # the agent is looked up without a destination.
    assert '%s . 10.10.0.81-10.10.0.255' % alice in rendered['other']
    assert '%s . 10.10.0.5 . tcp . 5432' % alice in rendered['ports']
    assert not [e for e in rendered['other'] if e.startswith(alice + ' . 10.10.0.5')]
    assert alice in rendered['agent_other'] and '%s . %s' % (alice, hq) not in rendered['other']
    # The linked branch (its agent and its LAN) reaches hq's LAN, and the agents reach each other.
    assert '10.20.0.0/24 . 10.10.0.0-10.10.0.4 . tcp . 0-65535' in rendered['ports']
    assert '%s . 10.10.0.6-10.10.0.79' % branch in rendered['other']
    assert branch in rendered['agent_other']
    for element in rendered['agent_ports']:
        assert re.match(r'^[0-9./]+ \. (tcp|udp) \. \d+(-\d+)?$', element), element
    # Every element is SRC . DST[ . PROTO . PORTS].
    for element in rendered['ports']:
        assert re.match(r'^[0-9./]+ \. [0-9./-]+ \. (tcp|udp) \. \d+(-\d+)?$', element), element
    for element in rendered['other'] + rendered['ping']:
        assert re.match(r'^[0-9./]+ \. [0-9./-]+$', element), element


@pytest.mark.parametrize('name, expected', [
    ('table_list', 'matrix_table expects the report matrix (a dict), got list'),
    ('table_str', 'matrix_table expects the report matrix (a dict), got str'),
    ('text_list', 'report_text expects the report of mesh_plan (a dict), got list'),
    ('text_int', 'report_text expects the report of mesh_plan (a dict), got int'),
    ('kind', "nft_elements: kind must be one of ports, other, ping, agent_ports, agent_other, agent_ping, not 'tcp'"),
    ('groups_dict', 'nft_elements expects the firewall groups of an agent plan: '),
    ('groups_missing', "nft_elements expects the firewall groups of an agent plan: 'ports'"),
    ('groups_lean', 'nft_elements expects the firewall groups of an agent plan: a group names its classes of '
                    'users; give the groups of plan | meshconnect.mesh.agent_plan(HOST)'),
    ('drift_lean', "agent_drift expects an agent's whole plan: give it plan | meshconnect.mesh.agent_plan(HOST)"),
    ('agent_plan_host', "agent_plan: the plan has no agent 'nobody'"),
])
def test_filter_errors_on_wrong_input(filtered, name, expected):
    _run, out = filtered
    message = out['errors'][name]
    assert "The filter plugin 'meshconnect.mesh." in message
    assert expected in message
