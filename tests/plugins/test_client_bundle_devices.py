# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""users.yml with devices: one bundle per device (USER=DEVICE.conf); a device that brings its own key gets a
template with no private key (no QR code) and the controller holds no key for it; a revoked device loses its
bundle and keeps its lease."""

import json
import os

from meshrun import CAROL_KEY, PLAYBOOKS, inventory, mode, run_playbook, state_dir, write_inventory

PHONE_KEY = 'UGhvbmVQaG9uZVBob25lUGhvbmVQaG9uZVBob25lUCE='


def _inventory(phone_revoked=False):
    inv = inventory()
    inv['users'][0] = {'name': 'alice', 'groups': ['admins'], 'devices': [
        {'name': 'laptop', 'generate_key': True},                  # the controller makes its key pair
        {'name': 'phone', 'public_key': PHONE_KEY, 'revoked': phone_revoked},
    ]}
    return inv


def _users(work, inv_dir):
    run = run_playbook(work, inv_dir, os.path.join(PLAYBOOKS, 'users.yml'))
    assert run.rc == 0, run.log
    return run


def _read(path):
    with open(path) as handle:
        return handle.read()


def test_one_bundle_per_device_and_no_controller_key_for_a_device_with_its_own(tmp_path):
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), _inventory())
    run = _users(work, inv_dir)
    state = state_dir(inv_dir)
    bundles, keys = os.path.join(state, 'bundles'), os.path.join(state, 'keys')
    assert sorted(os.listdir(keys)) == ['alice=laptop.key', 'bob.key']
    assert mode(os.path.join(keys, 'alice=laptop.key')) == 0o600
    leases = json.loads(_read(os.path.join(state, 'leases.json')))['leases']
    assert {'user/alice/laptop', 'user/alice/phone'} <= set(leases) and 'user/alice' not in leases

    laptop = _read(os.path.join(bundles, 'alice=laptop.conf'))
    phone = _read(os.path.join(bundles, 'alice=phone.conf'))
    assert 'for alice/laptop on network testnet' in laptop
    assert 'PrivateKey = ' in laptop and 'Address = %s/32' % leases['user/alice/laptop'] in laptop
    # The phone's bundle is a template: its private key never left the phone.
    assert 'Address = %s/32' % leases['user/alice/phone'] in phone
    assert not [line for line in phone.splitlines() if line.startswith('PrivateKey = ') and '<' not in line]
    assert mode(os.path.join(bundles, 'alice=phone.conf')) == 0o600
    files = set(os.listdir(bundles))
    assert 'alice=phone.png' not in files
    assert 'alice=laptop.png' in files or 'segno' in run.log
    assert 'alice.conf' not in files
    assert CAROL_KEY not in phone


def test_a_revoked_device_loses_its_bundle_and_keeps_its_lease(tmp_path):
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), _inventory())
    _users(work, inv_dir)
    state = state_dir(inv_dir)
    before = json.loads(_read(os.path.join(state, 'leases.json')))['leases']
    write_inventory(inv_dir, _inventory(phone_revoked=True))
    run = _users(work, inv_dir)
    assert json.loads(_read(os.path.join(state, 'leases.json')))['leases'] == before
    files = set(os.listdir(os.path.join(state, 'bundles')))
    assert 'alice=phone.conf' not in files and 'alice=laptop.conf' in files
    assert 'alice/phone (revoked)' in run.log
