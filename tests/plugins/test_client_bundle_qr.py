# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bundle too large for one QR code gets none, with a warning, and every other user still gets theirs;
meshconnect_bundle_qr: false turns QR codes off."""

import base64
import json
import os

import pytest

from meshrun import inventory, run_playbook, state_dir, write_inventory

pytest.importorskip('segno')


def _inventory():
    inv = inventory()
    # 300 single addresses at hq that merge into no network: alice (everything) gets them all in AllowedIPs.
    inv['sites']['gw-hq']['resources'] += [
        {'name': 'host%03d' % n, 'address': '10.60.%d.%d' % (n // 100, 2 * (n % 100) + 1)} for n in range(300)]
    return inv


def _with_agent_keys(work, inv_dir):
    """A first run (leases), then the agents' keys as site.yml caches them, so that bundles have peers."""
    first = run_playbook(work, inv_dir, 'users.yml')
    assert first.rc == 0, first.log
    with open(os.path.join(state_dir(inv_dir), 'facts.json'), 'w') as handle:
        json.dump(dict((host, {'public_key': base64.b64encode(bytes([n + 1]) * 32).decode(), 'interfaces': []})
                       for n, host in enumerate(sorted(inventory()['sites']))), handle)


def test_a_bundle_too_large_for_a_qr_code_gets_none_and_the_others_are_unaffected(tmp_path):
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), _inventory())
    _with_agent_keys(work, inv_dir)
    run = run_playbook(work, inv_dir, 'users.yml')
    assert run.rc == 0, run.log
    bundles = os.path.join(state_dir(inv_dir), 'bundles')
    files = set(os.listdir(bundles))
    assert os.path.getsize(os.path.join(bundles, 'alice.conf')) > 3000
    assert 'alice.conf' in files and 'alice.png' not in files
    assert {'bob.conf', 'bob.png'} <= files
    assert 'no QR code for alice: the bundle is too large for one' in run.log
    assert 'no bundle for: nobody' in run.stdout


def test_qr_codes_can_be_turned_off(tmp_path):
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), inventory())
    _with_agent_keys(work, inv_dir)
    bundles = os.path.join(state_dir(inv_dir), 'bundles')
    assert 'bob.png' in os.listdir(bundles)
    run = run_playbook(work, inv_dir, 'users.yml', '-e', 'meshconnect_bundle_qr=false')
    assert run.rc == 0, run.log
    files = set(os.listdir(bundles))
    assert 'bob.conf' in files and not [name for name in files if name.endswith('.png')]
