# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard key pairs the controller makes for devices that ask for one (``generate_key: true``).

Keys are Curve25519 (X25519) pairs in base64, as ``wg genkey``/``wg pubkey``
write them.  A private key is stored only encrypted: ``write_private_key``
takes a codec (``encrypt``/``decrypt`` of text, Ansible Vault on the
controller, see ``plugin_utils/mesh_vault``) and writes what it returns to a
0600 file in a 0700 directory.  Keys are never returned to callers except
through ``read_private_key``, which opens an encrypted file with the codec
and still reads a plain one (written by older versions; ``is_encrypted``
tells them apart, so that the caller can encrypt it).

The public halves are recorded in the state's ``device-keys.json`` (``DEVICE_KEYS``), which is committed with
the leases: a run without the vault password, or on a checkout without the private keys (a read-only job, an
agent in pull mode), knows the devices' public keys from it. ``device_keys_problems`` checks that document.
"""

import base64
import os
import stat

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_access import file_stem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import validate_public_key
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_state import create_atomic, write_atomic

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - cryptography ships with ansible-core
    HAS_CRYPTOGRAPHY = False


def _raw_private(key):
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def _raw_public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class KeyFileError(Exception):
    """A user's key file exists but holds no usable private key; the message
    names the user and the file and says how to recover."""

    def __init__(self, user, path, why, message=None):
        self.user = user
        self.path = path
        super(KeyFileError, self).__init__(message or (
            "user '%s': the key file %s is damaged (%s). Fix: restore it from a backup; or remove it and its "
            "entry in device-keys.json to have a new key pair made on the next run, which changes the user's key: "
            "the user then needs the new bundle." % (user, path, why)))


class KeyLockedError(KeyFileError):
    """A key file is encrypted and this run cannot open it."""

    def __init__(self, user, path, why):
        super(KeyLockedError, self).__init__(user, path, why, message=(
            "user '%s': the key file %s is encrypted with Ansible Vault and %s. Fix: run with the vault "
            "password it was written with (--vault-id or --ask-vault-pass)." % (user, path, why)))


VAULT_HEADER = '$ANSIBLE_VAULT;'
DEVICE_KEYS_VERSION = 1


def device_keys_problems(document):
    """What is wrong with a ``device-keys.json`` document (device -> public key), as a list of texts."""
    if not isinstance(document, dict):
        return ['it holds %s, not a mapping' % type(document).__name__]
    if document.get('version') != DEVICE_KEYS_VERSION:
        return ['its version is %r, not %d' % (document.get('version'), DEVICE_KEYS_VERSION)]
    keys = document.get('keys')
    if not isinstance(keys, dict):
        return ['"keys" is %s, not a mapping of device to public key' % type(keys).__name__]
    return ['the public key of %r is not a WireGuard public key (base64 of 32 bytes): %r' % (device, key)
            for device, key in sorted(keys.items()) if not validate_public_key(key)]


def decode_private(text):
    """The 32 raw bytes of a base64 private key, or ValueError saying what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError('it is empty')
    if len(text) != 44:
        raise ValueError('it holds %d characters, not the 44 of a WireGuard key' % len(text))
    try:
        raw = base64.b64decode(text.encode('ascii'), validate=True)
    except (ValueError, TypeError, UnicodeError):
        raise ValueError('it is not base64 text')
    if len(raw) != 32:
        raise ValueError('it decodes to %d bytes, not 32' % len(raw))
    return raw


def public_from_private(private_b64):
    key = X25519PrivateKey.from_private_bytes(decode_private(private_b64))
    return base64.b64encode(_raw_public(key)).decode('ascii')


def ensure_key_dir(path):
    """Create ``path`` with mode 0700 (and fix the mode if it drifted)."""
    if not os.path.isdir(path):
        os.makedirs(path, 0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)


def key_path(keys_dir, user):
    """The private key file of ``user`` (a user's one device, or ``USER/DEVICE``: ``keys/alice=laptop.key``)."""
    return os.path.join(keys_dir, '%s.key' % file_stem(user))


def load_public_key(keys_dir, user, codec=None):
    """Public key of an existing private key file, or None when there is none.

    Raises KeyFileError (naming the user and the file) when the file is damaged, KeyLockedError when it is
    encrypted and ``codec`` cannot open it.
    """
    path = key_path(keys_dir, user)
    if not os.path.lexists(path):
        return None
    return public_from_private(read_private_key(path, user, codec))


def _read_text(path, user):
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(user, path, 'it is not a regular file (a link, a directory, a pipe, ...)')
        with open(path, 'rb') as handle:
            data = handle.read(65536)
    except (IOError, OSError) as exc:
        raise KeyFileError(user, path, 'it cannot be read: %s' % (exc.strerror or exc))
    try:
        return data.decode('ascii').strip()
    except UnicodeDecodeError:
        raise KeyFileError(user, path, 'it is not text')


def is_encrypted(path):
    """Whether the key file ``path`` is encrypted (False for one that cannot be read: reading it says why)."""
    try:
        with open(path, 'rb') as handle:
            return handle.read(len(VAULT_HEADER)) == VAULT_HEADER.encode('ascii')
    except (IOError, OSError):
        return False


def read_private_key(path, user, codec=None):
    """The base64 private key in ``path``, opened with ``codec`` when it is encrypted; KeyFileError names
    ``user`` and the file when it is unreadable or holds anything but one WireGuard private key, KeyLockedError
    when it is encrypted and cannot be opened."""
    text = _read_text(path, user)
    if text.startswith(VAULT_HEADER):
        if codec is None:
            raise KeyLockedError(user, path, 'this run has no vault password')
        try:
            text = codec.decrypt(text).strip()
        except ValueError as exc:
            raise KeyLockedError(user, path, 'no vault password of this run opens it (%s)' % exc)
    try:
        decode_private(text)
    except ValueError as exc:
        raise KeyFileError(user, path, str(exc))
    return text


def new_key_pair():
    """A fresh ``(private, public)`` pair in base64, written nowhere yet."""
    if not HAS_CRYPTOGRAPHY:
        raise RuntimeError('the Python cryptography library is needed to generate user keys')
    key = X25519PrivateKey.generate()
    return (base64.b64encode(_raw_private(key)).decode('ascii'),
            base64.b64encode(_raw_public(key)).decode('ascii'))


def write_private_key(keys_dir, user, private_b64, codec, replace=False):
    """Write ``<keys_dir>/<user>.key`` (0600, in a 0700 directory) encrypted with ``codec``, whole or not at all;
    never overwrite one (OSError EEXIST) unless ``replace`` (to encrypt a plain one)."""
    if codec is None:
        raise ValueError('a private key is only ever stored encrypted')
    ensure_key_dir(keys_dir)
    data = (codec.encrypt(private_b64).strip() + '\n').encode('ascii')
    (write_atomic if replace else create_atomic)(key_path(keys_dir, user), data, 0o600)
