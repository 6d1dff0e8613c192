# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/site.yml stops in its first play, on localhost, when the inventory is wrong.

The agents are fakes (TEST-NET-1 addresses over SSH, 1 s timeout): had any
task tried to reach one, the run would show it UNREACHABLE.  The last test
checks exactly that on a valid inventory, so that the absence of
UNREACHABLE in the others means something.
"""

import os

import pytest

from meshrun import AGENTS, inventory, run_playbook, snapshot_tree, write_inventory

VALIDATE_PLAY = 'PLAY [Validate the mesh inventory before touching any host]'
VALIDATE_TASK = 'Compile without facts (fails on bad input)'


def _unknown_site_in_policy():
    policies = inventory()['policies'] + [{'name': 'typo', 'groups': ['admins'], 'allow': ['hqq:web']}]
    return inventory(policies=policies)


def _duplicate_user():
    return inventory(users=inventory()['users'] + [{'name': 'bob', 'groups': ['admins']}])


def _overlapping_resources():
    # lab's 10.10.0.0/16 and hq's 10.10.0.0/24 would both be routed to branch's agent.
    inv = inventory()
    inv['sites']['gw-lab'] = {'name': 'lab', 'endpoint': '198.51.100.3',
                              'resources': [{'name': 'net', 'address': '10.10.0.0/16'}]}
    inv['links'].append({'name': 'lab-branch', 'sites': {'lab': ['net'], 'branch': []}})
    inv['policies'][0]['allow'] = ['hq', 'branch']     # no user is granted both LANs
    return inv


BAD = [
    pytest.param(_unknown_site_in_policy,
                 ["policy 'typo': allow 'hqq:web' names unknown site 'hqq'.", 'Fix: use one of: branch, hq.'],
                 id='unknown-site-in-policy'),
    pytest.param(_duplicate_user,
                 ["user 'bob': is defined more than once.", 'Fix: merge the two entries.'],
                 id='duplicate-user'),
    pytest.param(_overlapping_resources,
                 ["site 'branch': would route overlapping addresses to two peers: hq:lan (10.10.0.0/24) via 'hq' "
                  "and lab:net (10.10.0.0/16) via 'lab'.", 'Fix: WireGuard routes each address to one peer'],
                 id='overlapping-resources'),
]


@pytest.mark.parametrize('make, expected', BAD)
def test_bad_inventory_stops_site_before_any_host(tmp_path, make, expected):
    work = str(tmp_path)
    bad = make()
    inv = write_inventory(os.path.join(work, 'inv'), bad)
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'site.yml')

    assert run.rc != 0, run.log
    # The failure is the validation task of the first play, with one precise error.
    assert run.stdout.count('PLAY [') == 1, run.log      # the first play only
    assert VALIDATE_PLAY in run.stdout
    assert run.task_status(VALIDATE_TASK) == 'fatal'
    assert 'the mesh inventory has 1 error:' in run.stdout
    for text in expected:
        assert text in run.stdout, run.log
    # No task ran on an agent: none was even contacted.
    assert 'UNREACHABLE' not in run.output
    recap = run.recap()
    assert set(recap) <= {'localhost'} | set(bad['sites']), recap
    assert recap['localhost']['failed'] == 1
    for host in set(recap) - {'localhost'}:
        assert recap[host]['ok'] == 0 and recap[host]['unreachable'] == 0, recap
    # Nothing was written: no state directory, no key.
    assert snapshot_tree(inv) == before


def test_valid_inventory_passes_validation_and_then_reaches_for_the_fake_agents(tmp_path):
    """The control: the same checks do see a host that was contacted."""
    work = str(tmp_path)
    inv = write_inventory(os.path.join(work, 'inv'))
    before = snapshot_tree(inv)
    run = run_playbook(work, inv, 'site.yml')
    assert run.rc != 0, run.log
    assert run.task_status(VALIDATE_TASK) == 'ok'
    assert 'PLAY [Discover agents and make their keys]' in run.stdout
    assert 'UNREACHABLE' in run.output
    recap = run.recap()
    for host in ('gw-hq', 'gw-branch'):
        assert recap[host]['unreachable'] == 1 and recap[host]['ok'] == 0, recap
        assert AGENTS[host] in run.output
    # Validation runs in check mode without key generation: still nothing written.
    assert snapshot_tree(inv) == before
