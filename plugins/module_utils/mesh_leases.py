# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay address leases.

A lease maps a member (``agent/<site>`` or ``user/<name>``) to one overlay
address.  Once given, a lease never changes: existing leases are kept as they
are, new members get the lowest free address, and members that left the
inventory release theirs.  The state is a small JSON document meant to be
committed next to the inventory and reviewed like code.

The same document keeps each relayed site's relay (``relays``: site ->
relay site, see ``mesh_relays``), which is sticky like a lease.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import AddressError, format_ip, parse_ip

STATE_VERSION = 1


def allocate(network, members, previous, problems):
    """Return ``(leases, changes)``.

    ``members`` is the ordered list of member keys that need an address;
    ``previous`` the state document read from disk (or None).  ``leases`` maps
    member -> address (an integer; ``state_document`` writes them as text);
    ``changes`` lists ``(action, member, address text)`` for new and released
    leases.
    """
    item = "network '%s' (%s)" % (network.name, network.cidr)
    old = {}
    if previous is not None:
        # A lease file that exists is complete, or nothing is leased from it: read as "no leases yet",
        # it would give every member a new address.
        damage = document_problem(previous, network)
        if damage:
            problems.error(item, 'the lease file is %s; reading it as "no leases yet" would renumber every '
                           'member.' % damage,
                           'restore leases.json from version control (git checkout -- leases.json); to renumber '
                           'on purpose, move the whole state directory away.')
            return {}, []
        raw = previous['leases']
        seen = {}
        for member, text in sorted(raw.items()):
            try:
                addr = parse_ip(text)
            except AddressError:
                problems.error(item, 'the lease file gives %s the invalid address %s.' % (member, show(text)),
                               'restore the file from version control.')
                continue
            if not network.lo < addr < network.hi:
                if member in members:
                    problems.error(item, '%s holds lease %s, outside the overlay network.' % (member, text),
                                   'leases never change: keep the old cidr, or delete the lease file on '
                                   'purpose to renumber every member.')
                continue
            if addr in seen:
                problems.error(item, 'the lease file gives %s to both %s and %s.' % (text, seen[addr], member),
                               'restore the file from version control.')
                continue
            seen[addr] = member
            old[member] = addr

    wanted = set(members)
    kept = dict((m, a) for m, a in old.items() if m in wanted)
    needed = len(wanted)
    if needed > network.usable:
        problems.error(item, 'has %d usable addresses but %d members need one (%d agents, %d users).'
                       % (network.usable, needed, sum(1 for m in members if m.startswith('agent/')),
                          sum(1 for m in members if m.startswith('user/'))),
                       'choose a larger prefix in meshconnect_network.cidr (before any lease is given).')
        return {}, []

    taken = set(kept.values())
    changes = []
    leases = dict(kept)
    cursor = network.lo + 1
    for member in members:
        if member in leases:
            continue
        while cursor in taken:
            cursor += 1
        leases[member] = cursor
        taken.add(cursor)
        changes.append(('leased', member, format_ip(cursor)))
    for member in sorted(old):
        if member not in wanted:
            changes.append(('released', member, format_ip(old[member])))
    return dict(sorted(leases.items())), changes


MEMBER_PREFIXES = ('agent/', 'user/')


def document_problem(document, network):
    """What is wrong with a lease document read from disk, or None.

    A lease file is always written whole, with its version, network, cidr and
    at least one lease (every network has an agent); anything else is damage.
    """
    if not isinstance(document, dict):
        return 'damaged (it holds %s, not a mapping)' % ('null' if document is None else type(document).__name__)
    missing = [key for key in ('version', 'network', 'cidr', 'leases') if key not in document]
    if missing:
        return 'incomplete (it has no %s)' % ', '.join(missing)
    unknown = sorted(str(key) for key in document if key not in ('version', 'network', 'cidr', 'leases', 'relays'))
    if unknown:
        return 'not one this collection wrote (unknown keys %s)' % ', '.join(unknown[:5])
    version = document['version']
    if isinstance(version, bool) or not isinstance(version, int):
        return 'damaged (its version is not a number)'
    if version != STATE_VERSION:
        return 'of version %d; this collection reads version %d (upgrade the collection)' % (version, STATE_VERSION)
    if document['network'] != network.name:
        return 'the one of another network (%s), not %s' % (show(document['network']), network.name)
    if not isinstance(document['cidr'], str):
        return 'damaged (its cidr is not text)'
    leases = document['leases']
    if not isinstance(leases, dict):
        return 'damaged (its leases are %s, not a mapping)' % ('null' if leases is None else type(leases).__name__)
    if not leases:
        return 'empty (it holds no lease, and every network has at least one agent)'
    for member, text in leases.items():
        if not isinstance(member, str) or not member.startswith(MEMBER_PREFIXES) or not isinstance(text, str):
            return 'damaged (the lease %s: %s is not a member and an address)' % (show(member), show(text))
    relays = document.get('relays', {})
    if not isinstance(relays, dict):
        return 'damaged (its relays are %s, not a mapping)' % ('null' if relays is None else type(relays).__name__)
    for site, relay in relays.items():
        if not isinstance(site, str) or not isinstance(relay, str):
            return 'damaged (the relay %s: %s is not a site and its relay)' % (show(site), show(relay))
    return None


def state_document(network, leases, relays=None):
    """The lease document of ``leases`` (member -> address integer) and
    ``relays`` (site -> relay; written only when there are some), as
    written to disk."""
    document = {
        'version': STATE_VERSION,
        'network': network.name,
        'cidr': network.cidr,
        'leases': dict((member, format_ip(address)) for member, address in sorted(leases.items())),
    }
    if relays:
        document['relays'] = dict(sorted(relays.items()))
    return document
