# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key pairs the controller makes (mesh_keys), kept encrypted with the real Ansible Vault (mesh_vault).

Here, not under module_utils: ansible-test runs these as controller tests, with Ansible importable."""

import base64
import os
import stat

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model import validate_public_key

pytest.importorskip('cryptography')
from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_keys as keys  # noqa: E402
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_vault import VaultCodec  # noqa: E402

# RFC 7748, section 6.1: Alice's private key and the public key it gives.
RFC_PRIVATE = bytes.fromhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')
RFC_PUBLIC = bytes.fromhex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a')


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ----------------------------------------------------------------------
# keys


def _codec(password=b'unit-test-vault-password'):
    """Ansible Vault with one password, as mesh_plan gets it from the run."""
    return VaultCodec(VaultLib([('default', VaultSecret(password))]))


CODEC = _codec()


def _generate_key(keys_dir, user):
    """What mesh_plan does for a device with generate_key: the existing key's public half, else a new pair
    written encrypted (0600, in a 0700 directory) once; returns the public key."""
    keys.ensure_key_dir(keys_dir)
    public = keys.load_public_key(keys_dir, user, CODEC)
    if public is None:
        private, public = keys.new_key_pair()
        keys.write_private_key(keys_dir, user, private, CODEC)
    return public


def test_public_key_derivation_matches_x25519():
    private = base64.b64encode(RFC_PRIVATE).decode('ascii')
    assert keys.public_from_private(private) == base64.b64encode(RFC_PUBLIC).decode('ascii')


def test_generated_key_is_0600_in_a_0700_directory(tmp_path):
    keys_dir = str(tmp_path / 'state' / 'keys')
    public = _generate_key(keys_dir, 'alice')
    path = os.path.join(keys_dir, 'alice.key')
    assert _mode(keys_dir) == 0o700
    assert _mode(path) == 0o600
    assert validate_public_key(public)
    stored = open(path).read()
    assert stored.startswith('$ANSIBLE_VAULT;1.1;AES256\n') and stored.endswith('\n')
    private = keys.read_private_key(path, 'alice', CODEC)
    assert len(base64.b64decode(private)) == 32 and private not in stored
    # What was returned is the public half of what was written.
    assert keys.public_from_private(private) == public
    assert keys.load_public_key(keys_dir, 'alice', CODEC) == public
    assert public not in stored and keys.is_encrypted(path)


def test_a_key_is_never_stored_in_plain_text(tmp_path):
    private, _public = keys.new_key_pair()
    with pytest.raises(ValueError):
        keys.write_private_key(str(tmp_path), 'alice', private, None)
    assert not os.path.exists(os.path.join(str(tmp_path), 'alice.key'))


def test_an_encrypted_key_opens_only_with_its_password(tmp_path):
    keys_dir = str(tmp_path / 'keys')
    _generate_key(keys_dir, 'alice')
    path = os.path.join(keys_dir, 'alice.key')
    for codec, why in ((None, 'this run has no vault password'), (_codec(b'another'), 'no vault password')):
        with pytest.raises(keys.KeyLockedError) as info:
            keys.read_private_key(path, 'alice', codec)
        assert why in str(info.value) and 'Fix: run with the vault password' in str(info.value)


def test_generated_key_is_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        keys_dir = str(tmp_path / 'keys')
        _generate_key(keys_dir, 'bob')
    finally:
        os.umask(old)
    assert _mode(keys_dir) == 0o700
    assert _mode(os.path.join(keys_dir, 'bob.key')) == 0o600


def test_existing_key_directory_mode_is_corrected(tmp_path):
    keys_dir = tmp_path / 'keys'
    keys_dir.mkdir(mode=0o755)
    os.chmod(str(keys_dir), 0o755)
    _generate_key(str(keys_dir), 'carol')
    assert _mode(str(keys_dir)) == 0o700


def test_existing_key_is_never_regenerated(tmp_path):
    keys_dir = str(tmp_path / 'keys')
    first = _generate_key(keys_dir, 'alice')
    path = os.path.join(keys_dir, 'alice.key')
    before = open(path).read()
    inode = os.stat(path).st_ino
    second = _generate_key(keys_dir, 'alice')
    assert second == first
    assert open(path).read() == before
    assert os.stat(path).st_ino == inode


def test_existing_hand_made_key_is_kept(tmp_path):
    keys_dir = tmp_path / 'keys'
    keys_dir.mkdir()
    (keys_dir / 'dana.key').write_text(base64.b64encode(RFC_PRIVATE).decode('ascii') + '\n')
    assert _generate_key(str(keys_dir), 'dana') == base64.b64encode(RFC_PUBLIC).decode('ascii')
    # A plain file (an older version's) is read, and known as plain, so that mesh_plan encrypts it.
    assert not keys.is_encrypted(str(keys_dir / 'dana.key'))


def test_every_user_gets_a_different_key(tmp_path):
    keys_dir = str(tmp_path / 'keys')
    publics = set(_generate_key(keys_dir, name) for name in ('a', 'b', 'c', 'd'))
    assert len(publics) == 4


def test_missing_key_has_no_public_key(tmp_path):
    assert keys.load_public_key(str(tmp_path), 'nobody') is None
