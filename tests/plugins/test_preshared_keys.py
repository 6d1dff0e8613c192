# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meshconnect_preshared_key_secret, kept in Ansible Vault: users.yml gives every peer of a bundle its pair's
preshared key; a weak secret fails the plan before anything is written; neither the secret nor a derived key
reaches the output, even at -vvv."""

import base64
import json
import os
import re
import subprocess

from meshrun import ansible_playbook, inventory, run_playbook, state_dir, write_inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_psk import preshared_key

SECRET = 'Zq7Rk2Vn9Lx4Tb8Wm1Pc6Hy3Jf5Gd0Sa2Ue7Io4Ml9Nb='
PASSWORD = 'test-vault-password\n'


def _vaulted(work, secret):
    """``secret`` as an Ansible Vault string, with the password file that opens it."""
    password = os.path.join(work, 'vault-password')
    with open(password, 'w') as handle:
        handle.write(PASSWORD)
    vault = os.path.join(os.path.dirname(ansible_playbook()), 'ansible-vault')
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    out = subprocess.run([vault, 'encrypt_string', '--vault-password-file', password, '--name',
                          'meshconnect_preshared_key_secret', '--stdin-name', 'meshconnect_preshared_key_secret'],
                         input=secret, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout
    return password, out


def _setup(tmp_path, secret):
    work = str(tmp_path)
    inv_dir = write_inventory(os.path.join(work, 'inv'), inventory())
    password, vaulted = _vaulted(work, secret)
    with open(os.path.join(inv_dir, 'group_vars', 'all', 'secret.yml'), 'w') as handle:
        handle.write('---\n' + vaulted)
    return work, inv_dir, password


def test_bundles_carry_each_pairs_key_and_nothing_secret_is_printed(tmp_path):
    work, inv_dir, password = _setup(tmp_path, SECRET)
    first = run_playbook(work, inv_dir, 'users.yml', '--vault-password-file', password)
    assert first.rc == 0, first.log
    # The agents' keys, as site.yml would have cached them: the bundles then have peers.
    with open(os.path.join(state_dir(inv_dir), 'facts.json'), 'w') as handle:
        json.dump(dict((host, {'public_key': base64.b64encode(bytes([n + 1]) * 32).decode(), 'interfaces': []})
                       for n, host in enumerate(sorted(inventory()['sites']))), handle)
    run = run_playbook(work, inv_dir, 'users.yml', '--vault-password-file', password, '-vvv')
    assert run.rc == 0, run.log
    bundles = os.path.join(state_dir(inv_dir), 'bundles')
    text = open(os.path.join(bundles, 'carol.conf')).read()
    # carol brought her own key: her bundle is a template, and still carries the pair's preshared key.
    assert '# PrivateKey = ' in text
    pairs = re.findall(r'^# site (\S+).*\n\[Peer\]\nPublicKey = \S+\nPresharedKey = (\S+)$', text, re.M)
    assert pairs and len(pairs) == text.count('[Peer]')
    for site, psk in pairs:
        assert psk == preshared_key(SECRET, 'testnet', 'site:' + site, 'user:carol')
    alice = open(os.path.join(bundles, 'alice.conf')).read()
    alice_keys = re.findall(r'^PresharedKey = (\S+)$', alice, re.M)
    assert alice_keys and not set(alice_keys) & set(psk for _site, psk in pairs)   # another pair, another key
    for secret in [SECRET] + alice_keys + [psk for _site, psk in pairs]:
        assert secret not in run.log


def test_a_weak_secret_fails_the_plan_before_anything_is_written(tmp_path):
    work, inv_dir, password = _setup(tmp_path, 'too-short')
    run = run_playbook(work, inv_dir, 'users.yml', '--vault-password-file', password)
    assert run.rc != 0
    assert 'meshconnect_preshared_key_secret is 9 characters long; it needs at least 32' in run.log
    assert 'too-short' not in run.log
    assert not os.path.exists(state_dir(inv_dir))
