# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard key pairs for users whose inventory entry has no public key.

Keys are Curve25519 (X25519) pairs in base64, as ``wg genkey``/``wg pubkey``
write them.  Private keys go straight to a 0600 file in a 0700 directory and
are never returned to callers except through ``read_private_key``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os

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


def public_from_private(private_b64):
    key = X25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))
    return base64.b64encode(_raw_public(key)).decode('ascii')


def ensure_key_dir(path):
    """Create ``path`` with mode 0700 (and fix the mode if it drifted)."""
    if not os.path.isdir(path):
        os.makedirs(path, 0o700)
    if os.stat(path).st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)


def key_path(keys_dir, user):
    return os.path.join(keys_dir, '%s.key' % user)


def load_public_key(keys_dir, user):
    """Public key of an existing private key file, or None."""
    path = key_path(keys_dir, user)
    if not os.path.exists(path):
        return None
    return public_from_private(read_private_key(path))


def read_private_key(path):
    with open(path, 'r') as handle:
        return handle.read().strip()


def new_key_pair():
    """A fresh ``(private, public)`` pair in base64, written nowhere yet."""
    if not HAS_CRYPTOGRAPHY:
        raise RuntimeError('the Python cryptography library is needed to generate user keys')
    key = X25519PrivateKey.generate()
    return (base64.b64encode(_raw_private(key)).decode('ascii'),
            base64.b64encode(_raw_public(key)).decode('ascii'))


def write_private_key(keys_dir, user, private_b64):
    """Create ``<keys_dir>/<user>.key`` (0600, in a 0700 directory); never overwrite one."""
    ensure_key_dir(keys_dir)
    fd = os.open(key_path(keys_dir, user), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(private_b64 + '\n')


def generate_key(keys_dir, user):
    """Create ``<keys_dir>/<user>.key`` (0600) if absent; return the public key."""
    if not HAS_CRYPTOGRAPHY:
        raise RuntimeError('the Python cryptography library is needed to generate user keys')
    ensure_key_dir(keys_dir)
    if os.path.exists(key_path(keys_dir, user)):
        return load_public_key(keys_dir, user)
    private, public = new_key_pair()
    write_private_key(keys_dir, user, private)
    return public
