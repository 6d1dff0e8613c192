# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's nftables table as it is really loaded.

The live table is compared with what its ruleset file loads to, both as the
kernel lists them without counters (``nft -s list table``): the file is
loaded into a private network namespace, never into the host's ruleset, so
that an element added by hand, a rule deleted by hand or a table someone
replaced shows as drift, whatever the table's comment says.

``run(args)`` is the caller's command runner: it returns ``(rc, out, err)``.
"""

import difflib
import re

DIGEST_RE = re.compile(r'meshconnect\.mesh sha1:([0-9a-f]{40})')
FAMILY, TABLE = 'inet', 'meshconnect'


class ListingError(Exception):
    """The expected listing cannot be made (no unshare, or the file does not load)."""


def find_digest(text):
    """The digest in a ruleset file or a ``nft list table`` output, or None."""
    match = DIGEST_RE.search(text or '')
    return match.group(1) if match else None


def normalise(listing):
    """The listing without trailing blanks, one rule per line."""
    return '\n'.join(line.rstrip() for line in (listing or '').strip().splitlines()) + '\n'


def live_listing(run, nft, family=FAMILY, table=TABLE):
    """The live table without counters, or None when it is not loaded."""
    rc, out, _err = run([nft, '-s', 'list', 'table', family, table])
    return normalise(out) if rc == 0 else None


def expected_listing(run, nft, unshare, path, family=FAMILY, table=TABLE):
    """What ``path`` loads to, listed like ``live_listing``, from a private
    network namespace (nothing on the host changes)."""
    if not unshare:
        raise ListingError('unshare (util-linux) is not installed')
    script = '"$1" -f "$2" && "$1" -s list table "$3" "$4"'
    rc, out, err = run([unshare, '--net', '--', '/bin/sh', '-c', script, 'sh', nft, path, family, table])
    if rc != 0:
        raise ListingError(err.strip() or 'loading %s in a private network namespace failed' % path)
    return normalise(out)


def listing_diff(expected, live, limit=20):
    """Lines of a unified diff from the file's listing to the live one (``-`` missing, ``+`` extra)."""
    if live is None:
        return ['the table is not loaded']
    out = []
    for line in difflib.unified_diff(expected.splitlines(), live.splitlines(), 'file', 'live', n=0, lineterm=''):
        if line.startswith(('---', '+++', '@@')):
            continue
        out.append(line)
    if len(out) > limit:
        out = out[:limit] + ['... %d more lines' % (len(out) - limit)]
    return out
