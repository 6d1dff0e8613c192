# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard key pairs for users whose inventory entry has no public key.

Keys are Curve25519 (X25519) pairs in base64, as ``wg genkey``/``wg pubkey``
write them.  Private keys go straight to a 0600 file in a 0700 directory and
are never returned to callers except through ``read_private_key``.
"""

import base64
import os
import stat

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_access import file_stem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_state import create_atomic

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

    def __init__(self, user, path, why):
        self.user = user
        self.path = path
        super(KeyFileError, self).__init__(
            "user '%s': the key file %s is damaged (%s). Fix: restore it from a backup; or remove it to have a "
            "new key pair made on the next run, which changes the user's key: the user then needs the new "
            "bundle." % (user, path, why))


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


def load_public_key(keys_dir, user):
    """Public key of an existing private key file, or None when there is none.

    Raises KeyFileError (naming the user and the file) when the file is damaged.
    """
    path = key_path(keys_dir, user)
    if not os.path.lexists(path):
        return None
    return public_from_private(read_private_key(path, user))


def read_private_key(path, user):
    """The base64 private key in ``path``; KeyFileError names ``user`` and the file when it is
    unreadable or holds anything but one WireGuard private key."""
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(user, path, 'it is not a regular file (a link, a directory, a pipe, ...)')
        with open(path, 'rb') as handle:
            data = handle.read(4096)
    except (IOError, OSError) as exc:
        raise KeyFileError(user, path, 'it cannot be read: %s' % (exc.strerror or exc))
    try:
        text = data.decode('ascii').strip()
    except UnicodeDecodeError:
        raise KeyFileError(user, path, 'it is not text')
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


def write_private_key(keys_dir, user, private_b64):
    """Create ``<keys_dir>/<user>.key`` (0600, in a 0700 directory), whole or
    not at all; never overwrite one (OSError EEXIST)."""
    ensure_key_dir(keys_dir)
    create_atomic(key_path(keys_dir, user), (private_b64 + '\n').encode('ascii'), 0o600)
