# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access maps: what may be reached, as address intervals with port sets.

An *access map* is a sorted list of disjoint ``(lo, hi, PortSet)`` pieces.
Policies are compiled into one access map per site: the union of what they
allow minus what they except, computed on addresses and ports, so that
"all of hq except db" also removes db's address from the LAN that contains
it.  The result only ever contains allow rules.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, format_interval, subtract_intervals,
)


def combine(a, b, op):
    """Apply ``op(PortSet, PortSet)`` over two access maps, segment by segment."""
    if not b and op is _union:
        return list(a)
    if not a and op is _union:
        return list(b)
    points = set()
    for lo, hi, _ps in a:
        points.add(lo)
        points.add(hi + 1)
    for lo, hi, _ps in b:
        points.add(lo)
        points.add(hi + 1)
    points = sorted(points)
    out = []
    ia = ib = 0
    na, nb = len(a), len(b)
    for k in range(len(points) - 1):
        start, end = points[k], points[k + 1] - 1
        while ia < na and a[ia][1] < start:
            ia += 1
        while ib < nb and b[ib][1] < start:
            ib += 1
        pa = a[ia][2] if ia < na and a[ia][0] <= start else NOTHING
        pb = b[ib][2] if ib < nb and b[ib][0] <= start else NOTHING
        result = op(pa, pb)
        if not result:
            continue
        if out and out[-1][1] == start - 1 and out[-1][2] == result:
            out[-1] = (out[-1][0], end, result)
        else:
            out.append((start, end, result))
    return out


def _union(a, b):
    if not b:
        return a
    if not a:
        return b
    return a.union(b)


def _subtract(a, b):
    return a.subtract(b) if b else a


def union(a, b):
    return combine(a, b, _union)


def subtract(a, b):
    return combine(a, b, _subtract)


def restrict(a, lo, hi):
    """The part of map ``a`` inside ``lo..hi``.

    What combining ``a`` with ``[(lo, hi, EVERYTHING)]`` by intersection
    gives, without a map for the query: pieces are clipped to ``lo..hi``,
    and neighbours with equal ports merged.
    """
    out = []
    for plo, phi, ps in a:
        if phi < lo:
            continue
        if plo > hi:
            break
        if not ps:
            continue
        start, end = max(plo, lo), min(phi, hi)
        if out and out[-1][1] == start - 1 and out[-1][2] == ps:
            out[-1] = (out[-1][0], end, ps)
        else:
            out.append((start, end, ps))
    return out


def _cap(a, b):
    return a.intersect(b) if b else a


def cap(a, caps):
    """``a`` with the ports of every address that ``caps`` covers narrowed
    to the ports ``caps`` has there; addresses outside ``caps`` keep theirs."""
    if not caps:
        return list(a)
    return combine(a, caps, _cap)


def restrict_ports(a, ports):
    """``a`` with every piece's ports narrowed to ``ports``."""
    out = []
    for lo, hi, ps in a:
        ps = ps.intersect(ports)
        if not ps:
            continue
        if out and out[-1][1] == lo - 1 and out[-1][2] == ps:
            out[-1] = (out[-1][0], hi, ps)
        else:
            out.append((lo, hi, ps))
    return out


def from_pieces(pieces):
    """Build a map from possibly overlapping ``(lo, hi, PortSet)`` pieces
    (one sweep over their bounds; where pieces overlap, their ports add up)."""
    pieces = [piece for piece in pieces if piece[2]]
    if len(pieces) <= 1:
        return [tuple(piece) for piece in pieces]
    if all(pieces[k][1] < pieces[k + 1][0] for k in range(len(pieces) - 1)):
        # Already sorted and disjoint (one resource's map): only neighbours with equal ports to merge.
        out = []
        for lo, hi, ports in pieces:
            if out and out[-1][1] == lo - 1 and out[-1][2] == ports:
                out[-1] = (out[-1][0], hi, ports)
            else:
                out.append((lo, hi, ports))
        return out
    bounds = sorted(set([lo for lo, _hi, _ps in pieces] + [hi + 1 for _lo, hi, _ps in pieces]))
    order = sorted(pieces, key=lambda piece: piece[0])
    unions = {}
    out = []
    active = []
    index = 0
    for k in range(len(bounds) - 1):
        start, end = bounds[k], bounds[k + 1] - 1
        while index < len(order) and order[index][0] <= start:
            active.append(order[index])
            index += 1
        active = [piece for piece in active if piece[1] >= start]
        if not active:
            continue
        ports = active[0][2]
        for piece in active[1:]:
            if piece[2] is not ports:
                key = (ports, piece[2])
                if key not in unions:
                    unions[key] = _union(ports, piece[2])
                ports = unions[key]
        if out and out[-1][1] == start - 1 and out[-1][2] == ports:
            out[-1] = (out[-1][0], end, ports)
        else:
            out.append((start, end, ports))
    return out


def covers(amap, lo, hi, ports):
    """Every address of ``lo..hi`` allows every port of ``ports``."""
    cursor = lo
    for plo, phi, ps in amap:
        if phi < cursor:
            continue
        if plo > cursor:
            return False
        if not ps.covers(ports):
            return False
        cursor = phi + 1
        if cursor > hi:
            return True
    return cursor > hi


def touches(amap, lo, hi, ports=None):
    """Some address of ``lo..hi`` allows some port of ``ports`` (or anything)."""
    for plo, phi, ps in amap:
        if phi < lo or plo > hi:
            continue
        if ports is None or ps.intersect(ports):
            return True
    return False


def describe(amap, lo, hi):
    """Text for the part of ``amap`` inside ``lo..hi``: ``all``, ``tcp/443``,
    or ``partial: 10.0.0.0/30 all; ...`` when it differs between addresses."""
    part = restrict(amap, lo, hi)
    if not part:
        return None
    if len(part) == 1 and part[0][0] == lo and part[0][1] == hi:
        return part[0][2].describe()
    if all(ps == part[0][2] for _lo, _hi, ps in part):
        holes = subtract_intervals([(lo, hi)], [(plo, phi) for plo, phi, _ps in part])
        if len(holes) <= len(part):
            return 'partial: %s except %s' % (part[0][2].describe(),
                                              ', '.join(format_interval(hlo, hhi) for hlo, hhi in holes))
    return 'partial: ' + '; '.join('%s %s' % (format_interval(plo, phi), ps.describe()) for plo, phi, ps in part)


def grant_pieces(grant, sites, deny=False):
    """Yield ``(site_name, lo, hi, PortSet)`` for one policy term.

    An allow term reaches a resource's own ports (capped inside it where a
    declared resource with ports lies, see ``mesh_model_sites.cap_resources``)
    narrowed by the term's ports; an except term without ports removes every
    port of the resource's addresses.
    """
    for site_name in _grant_sites(grant, sites):
        for lo, hi, ports in _site_pieces(grant, sites[site_name], deny):
            yield site_name, lo, hi, ports


def _grant_sites(grant, sites):
    return sites if grant.site == '*' else [grant.site]


def _site_pieces(grant, site, deny):
    """``(lo, hi, PortSet)`` of one policy term at one site (``grant_pieces``)."""
    if grant.resource == '*':
        resources = site.resources.values()
    elif grant.resource in site.resources:
        resources = [site.resources[grant.resource]]
    else:
        return
    for resource in resources:
        if deny:
            yield resource.lo, resource.hi, EVERYTHING if grant.ports is None else grant.ports
            continue
        for lo, hi, ports in resource.amap:
            if grant.ports is not None:
                ports = ports.intersect(grant.ports)
            if ports:
                yield lo, hi, ports


def policy_access(policy, sites, terms=None):
    """site -> access map for one policy: allow minus except.

    ``terms``, a dict kept between calls, holds the map each allow term
    gives at a site; where one term of a policy reaches a site, that map is
    the policy's there, and policies granting the same term share the work.
    """
    terms = {} if terms is None else terms
    allowed = {}
    for grant in policy.allow:
        for site_name in _grant_sites(grant, sites):
            key = (site_name, grant.resource, grant.ports)
            if key not in terms:
                terms[key] = from_pieces(list(_site_pieces(grant, sites[site_name], False)))
            allowed.setdefault(site_name, []).append(terms[key])
    denied = {}
    for grant in policy.deny:
        for site_name, lo, hi, ports in grant_pieces(grant, sites, deny=True):
            denied.setdefault(site_name, []).append((lo, hi, ports))
    out = {}
    for site_name in sorted(allowed):
        maps = allowed[site_name]
        # Pieces of several terms add up as the terms' own pieces do.
        amap = list(maps[0]) if len(maps) == 1 else from_pieces([piece for amap in maps for piece in amap])
        if site_name in denied:
            amap = subtract(amap, from_pieces(denied[site_name]))
        if amap:
            out[site_name] = amap
    return out


def merge_access(accesses):
    """Union of several site -> map dictionaries."""
    out = {}
    for access in accesses:
        for site_name, amap in access.items():
            out[site_name] = union(out[site_name], amap) if site_name in out else amap
    return dict(sorted(out.items()))
