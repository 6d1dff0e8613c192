# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preshared keys derived from one secret: both ends of every tunnel derive the same key, each pair its own."""

import base64
import itertools

import pytest

from meshcase import build, inventory, key

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_bundle import client_config, redact
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan, user_plans
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_psk import preshared_key, secret_problem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_wgconf import (
    desired_peers, parse_config, peer_changes, sync_config_text,
)

SECRET = 'kH3xq9V0c2Rr7mZb8yW1tN5pL4aD6sE0fG2hJ7kQ9uY='
OTHER = 'n8Fz2Lq0Wc5Vb1Xm7Rt3Yp9Ks4Hd6Ja0Gu2Ee8Io5Qw='


def test_a_key_is_32_bytes_the_same_from_both_ends_and_stable():
    psk = preshared_key(SECRET, 'corp', 'site:hq', 'user:alice/laptop')
    assert len(base64.b64decode(psk, validate=True)) == 32
    assert psk == preshared_key(SECRET, 'corp', 'user:alice/laptop', 'site:hq')
    assert psk == preshared_key(' %s\n' % SECRET, 'corp', 'site:hq', 'user:alice/laptop')   # as a vault file ends


def test_every_pair_network_and_secret_has_its_own_key():
    members = ['site:hq', 'site:branch', 'site:shop', 'user:alice/laptop', 'user:alice/phone', 'user:bob']
    keys = [preshared_key(SECRET, 'corp', a, b) for a, b in itertools.combinations(members, 2)]
    keys += [preshared_key(OTHER, 'corp', a, b) for a, b in itertools.combinations(members, 2)]
    keys += [preshared_key(SECRET, 'lab', a, b) for a, b in itertools.combinations(members, 2)]
    assert len(set(keys)) == len(keys)
    # No confusion between the parts of the message: a name cannot take the place of the network.
    assert preshared_key(SECRET, 'a', 'b', 'c') != preshared_key(SECRET, 'b', 'a', 'c')


@pytest.mark.parametrize('secret, fragment', [
    (None, 'must be a string'), (12345, 'must be a string'), ('short', 'at least 32'), (' ' * 40, 'at least 32'),
])
def test_a_weak_secret_is_refused_without_being_shown(secret, fragment):
    problem = secret_problem(secret)
    assert problem and fragment in problem
    with pytest.raises(ValueError) as info:
        preshared_key(secret, 'corp', 'site:hq', 'site:branch')
    assert fragment in str(info.value)
    if isinstance(secret, str) and secret.strip():
        assert secret not in str(info.value)


def test_a_pair_is_two_members():
    with pytest.raises(ValueError):
        preshared_key(SECRET, 'corp', 'site:hq', 'site:hq')


def test_both_ends_of_every_tunnel_of_a_compiled_mesh_derive_one_key():
    inv = inventory()
    inv['users'][0] = {'name': 'alice', 'groups': ['admins'],
                       'devices': [{'name': 'laptop', 'public_key': key(11)}, {'name': 'phone', 'public_key': key(12)}]}
    result = build(inv, facts=dict((host, {'public_key': key(100 + n), 'interfaces': []})
                                   for n, host in enumerate(sorted(inv['sites']))))
    plan = result['plan']
    plan['network']['preshared_keys'] = True
    ends = {}   # (one member, the other) -> the key the first derives
    for host in plan['agents']:
        agent = agent_plan(plan, host)
        assert agent['preshared_keys'] is True and agent['network'] == 'corp'
        for peer in agent['peers']:
            if peer['public_key']:
                me = 'site:' + agent['site']
                ends[(me, peer['name'])] = preshared_key(SECRET, agent['network'], me, peer['name'])
    users = user_plans(plan)
    for name, user in users.items():
        text = client_config(user, plan['network'], None, preshared_secret=SECRET)
        config = parse_config(text)
        by_key = dict((p['publickey'], p.get('presharedkey')) for p in config['peers'])
        for peer in user['peers']:
            if peer.get('public_key'):
                ends[('user:' + name, 'site:' + peer['site'])] = by_key[peer['public_key']]
        assert REDACTED_IN(redact(text))
    pairs = [pair for pair in ends if (pair[1], pair[0]) in ends]
    assert pairs and len(pairs) == len(ends), sorted(set(ends) - set(pairs))
    assert all(ends[pair] == ends[(pair[1], pair[0])] for pair in pairs)
    assert any(a.startswith('user:alice/phone') for a, _b in pairs)
    assert any(a.startswith('site:') and b.startswith('site:') for a, b in pairs)


def REDACTED_IN(text):
    return all('<redacted' in line for line in text.splitlines() if line.startswith('PresharedKey'))


def test_without_the_flag_agents_and_bundles_have_no_preshared_keys():
    plan = build(inventory())['plan']
    assert not any(agent_plan(plan, host)['preshared_keys'] for host in plan['agents'])
    user = user_plans(plan)['bob']
    assert 'PresharedKey' not in client_config(user, plan['network'], None)


def test_live_sync_applies_preshared_keys_and_never_names_them():
    psk = preshared_key(SECRET, 'corp', 'site:hq', 'site:branch')
    text = '[Interface]\nListenPort = 51820\n[Peer]\nPublicKey = %s\nPresharedKey = %s\nAllowedIPs = 10.0.0.1/32\n' % (
        key(1), psk)
    config = parse_config(text)
    assert 'PresharedKey = %s' % psk in sync_config_text(config, 'PRIVATE')
    wanted = desired_peers(config)
    live = {key(1): dict(wanted[key(1)], psk=preshared_key(OTHER, 'corp', 'site:hq', 'site:branch'))}
    changes = peer_changes(wanted, live)
    assert changes == ['peer %s preshared key changed' % key(1)]
    assert peer_changes(wanted, {key(1): dict(wanted[key(1)], psk=None)}) == ['peer %s preshared key set' % key(1)]
    assert peer_changes(wanted, {key(1): dict(wanted[key(1)])}) == []        # not read live: not compared
    assert peer_changes(wanted, {key(1): dict(wanted[key(1)], psk=psk)}) == []
