# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall file's self-digest: ``comment "meshconnect.mesh sha1:DIGEST"``
on the table, which tells whether the live table is the one in the file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DIGEST_RE = re.compile(r'meshconnect\.mesh sha1:([0-9a-f]{40})')


def find_digest(text):
    """The digest in a ruleset file or a ``nft list table`` output, or None."""
    match = DIGEST_RE.search(text or '')
    return match.group(1) if match else None
