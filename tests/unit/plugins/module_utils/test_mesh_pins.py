# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent keys pinned on first sight: a changed key stops the plan unless that
exact key is accepted for that site (the whole run, with real agents, is in
Molecule's mesh scenario)."""

from meshcase import key

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_pins import check_accepted, key_changes
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import change_lines

SITES = {'gw-hq': 'hq', 'gw-branch': 'branch'}
OLD, NEW, OTHER = key(1), key(2), key(3)


def test_first_sight_pins_the_key():
    changes, problems = key_changes({}, {'gw-hq': {'public_key': OLD}}, None, SITES)
    assert problems == []
    assert changes == [{'site': 'hq', 'host': 'gw-hq', 'action': 'pinned', 'key': OLD}]
    assert change_lines({'key_changes': changes}) == ['agent key pinned: hq (gw-hq) %s' % OLD]


def test_the_same_key_again_changes_nothing_and_a_missing_key_is_not_compared():
    pinned = {'gw-hq': {'public_key': OLD}, 'gw-branch': {'public_key': OTHER}}
    live = {'gw-hq': {'public_key': OLD}, 'gw-branch': {'public_key': None, 'interfaces': []}}
    assert key_changes(pinned, live, None, SITES) == ([], [])


def test_a_changed_key_stops_the_plan_and_says_how_to_accept_it():
    changes, problems = key_changes({'gw-hq': {'public_key': OLD}}, {'gw-hq': {'public_key': NEW}}, None, SITES)
    assert changes == []
    assert len(problems) == 1
    assert problems[0].startswith("site 'hq': its agent (host gw-hq) reports the public key %s, but the state "
                                  'pinned %s' % (NEW, OLD))
    assert '{"meshconnect_accept_agent_keys": {"hq": "%s"}}' % NEW in problems[0]


def test_only_the_exact_key_accepted_for_that_site_lets_it_through():
    pinned, live = {'gw-hq': {'public_key': OLD}}, {'gw-hq': {'public_key': NEW}}
    changes, problems = key_changes(pinned, live, {'hq': NEW}, SITES)
    assert problems == []
    assert changes == [{'site': 'hq', 'host': 'gw-hq', 'action': 'changed', 'key': NEW, 'was': OLD}]
    assert change_lines({'key_changes': changes}) == ['agent key CHANGED: hq (gw-hq) %s, was %s (accepted)'
                                                      % (NEW, OLD)]
    # Another key accepted for hq (an attacker answering after the operator checked), or NEW for another site.
    for accepted in ({'hq': OTHER}, {'branch': NEW}):
        _changes, problems = key_changes(pinned, live, accepted, SITES)
        assert len(problems) == 1 and 'gw-hq' in problems[0]
    assert 'the key accepted now' in key_changes(pinned, live, {'hq': OTHER}, SITES)[1][0]


def test_the_accept_variable_is_checked_before_use():
    assert check_accepted(None, {'hq'}) == []
    assert check_accepted({'hq': NEW}, {'hq'}) == []
    assert 'must map site names' in check_accepted(['hq'], {'hq'})[0]
    assert "'nowhere' is not a site" in check_accepted({'nowhere': NEW}, {'hq'})[0]
    assert 'must be the agent\'s new public key' in check_accepted({'hq': 'yes'}, {'hq'})[0]
