# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay address leases.

A lease maps a member (``agent/<site>`` or ``user/<name>``) to one overlay
address.  Once given, a lease never changes: existing leases are kept as they
are, and members that left the inventory release theirs.  A new member gets
the lowest address never leased; a released address is handed to another
member only when no such address is left (agents, logs and names may still
know it as its old holder's), the least recently released first, and the
change says whose it was (``was``).  A member that comes back gets its own
released address again.  The released addresses are kept in order in the
document (``released``: ``[{address, member}]``, oldest first).  The state is a
small JSON document meant to be committed next to the inventory and reviewed
like code.

The same document keeps each relayed site's relay (``relays``: site ->
relay site, see ``mesh_relays``), which is sticky like a lease.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_mapping import document_problem as mapping_problem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import AddressError, format_ip, parse_ip

STATE_VERSION = 1


def allocate(network, members, previous, problems):
    """Return ``(leases, changes, released)``.

    ``members`` is the ordered list of member keys that need an address;
    ``previous`` the state document read from disk (or None).  ``leases`` maps
    member -> address (an integer; ``state_document`` writes them as text);
    ``changes`` lists ``(action, member, address text, was)`` for new and
    released leases (``was``: the member that held a reused address before,
    else None); ``released`` lists ``(address, member)`` of the addresses
    released and not leased again, the least recently released first.
    """
    item = "network '%s' (%s)" % (network.name, network.cidr)
    old, released = {}, []
    if previous is not None:
        # A lease file that exists is complete, or nothing is leased from it: read as "no leases yet",
        # it would give every member a new address.
        damage = document_problem(previous, network)
        if damage:
            problems.error(item, 'the lease file is %s; reading it as "no leases yet" would renumber every '
                           'member.' % damage,
                           'restore leases.json from version control (git checkout -- leases.json); to renumber '
                           'on purpose, move the whole state directory away.')
            return {}, [], []
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
        listed = set()
        for entry in previous.get('released', []):
            try:
                addr = parse_ip(entry['address'])
            except AddressError:
                problems.error(item, 'the lease file lists the invalid released address %s.'
                               % show(entry['address']), 'restore the file from version control.')
                continue
            # Outside a changed network it is no longer ours to give; leased again (by hand), it is in use.
            if network.lo < addr < network.hi and addr not in seen and addr not in listed:
                listed.add(addr)
                released.append((addr, entry['member']))

    wanted = set(members)
    kept = dict((m, a) for m, a in old.items() if m in wanted)
    needed = len(wanted)
    if needed > network.usable:
        problems.error(item, 'has %d usable addresses but %d members need one (%d agents, %d users).'
                       % (network.usable, needed, sum(1 for m in members if m.startswith('agent/')),
                          sum(1 for m in members if m.startswith('user/'))),
                       'choose a larger prefix in meshconnect_network.cidr (before any lease is given).')
        return {}, [], []

    changes = []
    # Released by this run: after every earlier release, in member order.
    for member in sorted(old):
        if member not in wanted:
            changes.append(('released', member, format_ip(old[member]), None))
            released.append((old[member], member))
    taken = set(kept.values())
    held = set(a for a, _m in released)
    own = dict((m, a) for a, m in released)
    leases = dict(kept)
    cursor = network.lo + 1
    oldest = 0      # released[oldest:] holds the least recently released address still free (each looked at once)
    for member in members:
        if member in leases:
            continue
        was = None
        if member in own and own[member] in held:
            address = own[member]                   # it comes back: its own address
        else:
            while cursor < network.hi and (cursor in taken or cursor in held):
                cursor += 1
            if cursor < network.hi:
                address = cursor                    # never leased (or long forgotten)
            else:
                while released[oldest][0] not in held:
                    oldest += 1
                address, was = released[oldest]         # the least recently released
        held.discard(address)
        leases[member] = address
        taken.add(address)
        changes.append(('leased', member, format_ip(address), was))
    return dict(sorted(leases.items())), changes, [(a, m) for a, m in released if a in held]


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
    unknown = sorted(str(key) for key in document
                     if key not in ('version', 'network', 'cidr', 'leases', 'relays', 'released', 'mappings'))
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
    if 'mappings' in document:
        problem = mapping_problem(document['mappings'])
        if problem:
            return 'damaged (%s)' % problem
    released = document.get('released', [])
    if not isinstance(released, list):
        return 'damaged (its released addresses are %s, not a list)' % (
            'null' if released is None else type(released).__name__)
    for entry in released:
        if not isinstance(entry, dict) or sorted(entry) != ['address', 'member'] or not isinstance(
                entry['address'], str) or not isinstance(entry['member'], str) or not entry['member'].startswith(
                    MEMBER_PREFIXES):
            return 'damaged (the released address %s is not an address and its last member)' % show(entry)
    return None


def state_document(network, leases, relays=None, released=None, mappings=None):
    """The lease document of ``leases`` (member -> address integer),
    ``relays`` (site -> relay) and ``released`` (``(address, member)``,
    oldest first), the last two written only when there are some, as written
    to disk."""
    document = {
        'version': STATE_VERSION,
        'network': network.name,
        'cidr': network.cidr,
        'leases': dict((member, format_ip(address)) for member, address in sorted(leases.items())),
    }
    if relays:
        document['relays'] = dict(sorted(relays.items()))
    if released:
        document['released'] = [{'address': format_ip(address), 'member': member} for address, member in released]
    if mappings:
        document['mappings'] = mappings
    return document
