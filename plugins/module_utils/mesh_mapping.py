# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""1:1 network mapping: the prefixes the mesh sees a site's mapped LANs under.

A site's ``mappings`` publish a real prefix of its own under another of the
same size (host part kept).  ``published_as: auto`` takes the lowest free
prefix of that size from the network's ``mapping_pool``; the choice is kept in
the lease document (``mappings``: site -> {real prefix: published prefix}) and,
like a lease, never changes while the mapping exists.  Once every mapping has
its prefix, the site's resources inside a mapped prefix take their published
addresses (``mesh_model_sites.map_resources``).
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import check_mappings, map_resources
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, format_cidr, looks_like_ipv4, overlaps, parse_cidr, parse_ip, prefix_interval,
)


def document_problem(recorded):
    """What is wrong with the ``mappings`` of a lease document, or None."""
    if not isinstance(recorded, dict):
        return 'its mappings are %s, not a mapping' % show(recorded)
    for site, entries in recorded.items():
        if not isinstance(site, str) or not isinstance(entries, dict):
            return 'the mappings of %s are not prefixes by prefix' % show(site)
        for real, published in entries.items():
            try:
                if parse_cidr(real)[1] != parse_cidr(published)[1]:
                    raise AddressError('sizes differ')
            except (AddressError, TypeError):
                return 'the mapping %s: %s of site %s is not two prefixes of one size' % (
                    show(real), show(published), site)
    return None


def assign(network, sites, lease_state, problems):
    """Give every ``auto`` mapping its published prefix (the recorded one, else
    the lowest free one of the pool), check the published prefixes, and map
    the sites' resources.  Returns ``(recorded, changes)``: the document's
    ``mappings`` and ``(site, real, published)`` of the prefixes given now."""
    previous = {}
    if isinstance(lease_state, dict) and isinstance(lease_state.get('mappings'), dict):
        previous = lease_state['mappings']
    # (lo, hi, what): the addresses a published prefix must not take
    taken = [(m.lo, m.hi, '%s publishes %s' % (site.name, m.published)) for site in sites.values()
             for m in site.mappings if m.lo is not None]
    taken.append((network.lo, network.hi, 'the overlay %s' % network.cidr))
    taken.extend((res.real_lo, res.real_hi, 'resource %s (%s)' % (res.ref, res.real_cidr))
                 for site in sites.values() for res in site.resources.values() if res.kind != 'agent' and res.real_cidr)
    taken.extend((parse_ip(site.endpoint), parse_ip(site.endpoint), 'the endpoint of %s' % site.name)
                 for site in sites.values() if site.endpoint and looks_like_ipv4(site.endpoint))
    recorded, changes, waiting = {}, [], []
    for name, site in sorted(sites.items()):
        for mapping in site.mappings:
            if mapping.lo is not None:
                continue
            kept = (previous.get(name) or {}).get(mapping.real)
            if kept is None:
                waiting.append((name, mapping))
                continue
            # Given once, never moved: moving it would renumber the site's hosts for every user and linked site.
            net, length = parse_cidr(kept)
            lo, hi = prefix_interval(net, length)
            clash = [what for olo, ohi, what in taken if overlaps((lo, hi), (olo, ohi))]
            if clash:
                problems.error("site '%s' mapping %s" % (name, mapping.real),
                               'is published as %s, recorded in leases.json, which now overlaps %s.'
                               % (kept, ', '.join(clash)),
                               'give the other one other addresses; to renumber this site on purpose, remove its '
                               'entry from mappings in leases.json.')
                continue
            _give(mapping, lo, hi, length)
            taken.append((lo, hi, '%s publishes %s' % (name, kept)))
            recorded.setdefault(name, {})[mapping.real] = mapping.published
    for name, mapping in waiting:
        length = parse_cidr(mapping.real)[1]
        found = _free(network.mapping_pool, length, taken)
        if found is None:
            problems.error("site '%s' mapping %s" % (name, mapping.real),
                           'is published_as auto, but mapping_pool %s has no free /%d left.'
                           % (network.mapping_pool[2], length),
                           'widen meshconnect_network.mapping_pool, or give published_as.')
            continue
        _give(mapping, found, found + (mapping.real_hi - mapping.real_lo), length)
        taken.append((mapping.lo, mapping.hi, '%s publishes %s' % (name, mapping.published)))
        recorded.setdefault(name, {})[mapping.real] = mapping.published
        changes.append((name, mapping.real, mapping.published))
    for site in sites.values():
        site.mappings = [m for m in site.mappings if m.lo is not None]     # those the pool had no room for
    check_mappings(problems, sites)
    for site in sites.values():
        map_resources(problems, site)
    return dict((name, dict(sorted(entries.items()))) for name, entries in sorted(recorded.items())), changes


def _give(mapping, lo, hi, length):
    mapping.lo, mapping.hi = lo, hi
    mapping.published = format_cidr(lo, length)


def _free(pool, length, taken):
    """The lowest prefix of ``length`` in ``pool`` that overlaps nothing ``taken`` (``(lo, hi, what)``), or None."""
    size = 1 << (32 - length)
    lo = (pool[0] + size - 1) // size * size
    while lo + size - 1 <= pool[1]:
        clash = [hi for olo, hi, _what in taken if overlaps((lo, lo + size - 1), (olo, hi))]
        if not clash:
            return lo
        lo = (max(clash) + size) // size * size
    return None
