# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard preshared keys derived from one secret, so that nothing is stored per pair of peers.

The key of a pair is HMAC-SHA256 of the pair under the secret: the network's name and the two members' names
(``site:hq``, ``user:alice/laptop``), sorted, so both ends derive the same 32 bytes without talking. A new secret
gives every pair a new key; the same secret always gives the same one. The secret lives in the operator's
Ansible Vault (``meshconnect_preshared_key_secret``); only the derived keys reach hosts and bundles, and each
host only the keys of its own pairs.
"""

import base64
import hashlib
import hmac

# Long enough for 128 bits of a random text (openssl rand -base64 32 gives 44 characters).
MIN_SECRET = 32
CONTEXT = b'meshconnect preshared key v1\n'


def secret_problem(secret):
    """Why ``secret`` cannot be the preshared key secret, or None."""
    if not isinstance(secret, str):
        return 'must be a string (keep it in Ansible Vault), not a %s' % type(secret).__name__
    if len(secret.strip()) < MIN_SECRET:
        return ('is %d characters long; it needs at least %d (make one with `openssl rand -base64 32` and keep it '
                'in Ansible Vault)' % (len(secret.strip()), MIN_SECRET))
    return None


def preshared_key(secret, network, first, second):
    """The base64 WireGuard preshared key of the pair of members ``first`` and ``second`` of ``network``."""
    problem = secret_problem(secret)
    if problem:
        raise ValueError('the preshared key secret ' + problem)
    pair = sorted([str(first), str(second)])
    if pair[0] == pair[1]:
        raise ValueError('a preshared key is for two different members, not %s twice' % pair[0])
    message = CONTEXT + '\n'.join([str(network)] + pair).encode('utf-8')
    digest = hmac.new(secret.strip().encode('utf-8'), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode('ascii')
