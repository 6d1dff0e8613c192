# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canonical JSON and the plan's digest.

``canonical_json`` is the one encoding of compiler output (sorted keys, no
spaces): the same input always gives the same bytes.  ``digest_id`` names
shared entries by their content, ``plan_digest`` the whole plan.
"""

import hashlib
import json

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(',', ':'))


def canonical_json(data):
    return _CANONICAL.encode(data)


def digest_id(value):
    """A short ID of ``value`` made from its content: equal content has the
    same ID in every run."""
    return hashlib.sha256(canonical_json(value).encode('utf-8')).hexdigest()[:16]


def add_by_digest(table, value):
    """Put ``value`` in ``table`` under its ``digest_id`` and return the ID.

    Two different values with one ID would merge two different accesses
    into one: that stops the compile instead (64-bit IDs make it a
    practical impossibility, and it stays one)."""
    key = digest_id(value)
    if table.setdefault(key, value) != value:
        raise ValueError('two different entries have the ID %s; this is a defect of meshconnect, please '
                         'report it' % key)
    return key


def plan_digest(plan):
    """``sha256(canonical_json(plan))``: a plan is small (it grows with distinct
    access, not users times sites), so it is encoded whole."""
    return hashlib.sha256(canonical_json(plan).encode('utf-8')).hexdigest()
