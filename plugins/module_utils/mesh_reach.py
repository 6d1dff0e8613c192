# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability: who reaches what, stored by access class, and its diff.

The matrix (``report.matrix``, and the snapshot ``plan.json`` records) is
data, factored so that it grows with distinct access, not with users times
resources::

    {'resources': {REF: ADDRESSES},                        # every resource reached
     'grants': {GID: {REF: [[ADDRESSES, TCP, UDP, OTHER], ...]}},  # at one site
     'classes': {CID: [GID, ...]},                         # one grant per site
     'members': {PRINCIPAL: CID},
     'via': {SITE: {'users' or SITE: RELAY}},             # relayed paths only
     'real': {REF: CIDR}}                                 # mapped resources only: their real addresses

``PRINCIPAL`` is ``user:NAME`` or ``site:SITE:CONNECTOR``; principals that
reach the same are members of one class, and classes that reach the same at
a site share that site's grant.  IDs are digests of their content, so equal
access has the same ID in every run.  A grant lists, per resource, the
pieces reached: addresses (``A``, ``A/N`` or ``A-B``), TCP and UDP port
intervals (``[[LO, HI], ...]``) and whether other protocols (ICMP
included) pass.  ``via`` (present when a path is relayed) names the relay
that users, or another site, reach a site through; it is not compared by the
diff (the report's ``relay_changes`` says when a relay changes).

``Reachability`` is mixed into the compiler's ``_Compiler`` (see
``mesh_compile``) and writes it; ``rows`` and ``row_text`` read it for people;
``diff_snapshots`` compares two of them address by address and port by port.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_digest import add_by_digest, digest_id
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, EVERYWHERE, PORT_MAX, AddressError, PortSet, format_interval, parse_interval,
)

ADDRESS_MAX = (1 << 32) - 1

EMPTY = {'resources': {}, 'grants': {}, 'classes': {}, 'members': {}}


class Reachability:
    """The reachability matrix of users (by policy) and sites (by link)."""

    def _matrix(self):
        model = self.model
        matrix = {'resources': {}, 'grants': {}, 'classes': {}, 'members': {}}
        class_ids = {}      # users' access class -> matrix class ID ('': reaches nothing)
        pieces = {}         # (lo, hi, PortSet) -> its row piece: sites' maps share many
        for name in model.users:
            key = self.user_class[name]
            if key not in class_ids:
                class_ids[key] = self._class_row(self.class_maps[key], matrix, pieces, self.class_internet.get(key))
            if class_ids[key]:
                matrix['members']['user:' + name] = class_ids[key]
        for principal in sorted(self.principal_access):
            site_maps = [self._site_map(s_name, amap)
                         for s_name, amap in sorted(self.principal_access[principal].items())]
            class_id = self._class_row(site_maps, matrix, pieces)
            if class_id:
                matrix['members']['site:%s:%s' % principal] = class_id
        via = dict((name, {'users': relay}) for name, relay in self.relay_of.items())
        for s_name in sorted(self.link_names):
            for t_name in sorted(self.link_names[s_name]):
                relay = self.pair_relay(s_name, t_name)
                if relay is not None:
                    via.setdefault(t_name, {})[s_name] = relay
        if via:
            matrix['via'] = dict(sorted(via.items()))
        # Resources the mesh reaches under a mapped prefix: their real addresses, inside their site.
        real = dict((res.ref, format_interval(res.real_lo, res.real_hi)) for site in model.sites.values()
                    for res in site.resources.values() if res.mapped and res.ref in matrix['resources'])
        if real:
            matrix['real'] = dict(sorted(real.items()))
        return matrix

    def _class_row(self, site_maps, matrix, pieces, exit_site=None):
        """The matrix class ID of what ``site_maps`` reach (each SiteMap's grant is added once), and the
        internet through ``exit_site`` (a row ``SITE:internet`` of the whole address space, all ports)."""
        grants = []
        if exit_site is not None:
            ref = '%s:internet' % exit_site
            matrix['resources'][ref] = EVERYWHERE
            grants.append(_add(matrix['grants'], {ref: [_piece(0, ADDRESS_MAX, EVERYTHING)]}))
        for site_map in site_maps:
            if site_map.grant is None:
                site_map.grant = _add(matrix['grants'], _rows(self.model.sites[site_map.site], site_map.amap,
                                                              matrix['resources'], pieces))
            if site_map.grant:
                grants.append(site_map.grant)
        return _add(matrix['classes'], sorted(grants))


def _rows(site, amap, resources, pieces):
    """``{resource ref: pieces}`` of what ``amap`` reaches at ``site``."""
    out = {}
    for res in site.resources.values():
        part = access.restrict(amap, res.lo, res.hi)
        if part:
            row = []
            for piece in part:
                if piece not in pieces:
                    pieces[piece] = _piece(*piece)
                row.append(pieces[piece])
            out[res.ref] = row
            if res.ref not in resources:
                resources[res.ref] = format_interval(res.lo, res.hi)
    return out


def _piece(lo, hi, ps):
    return [format_interval(lo, hi), [list(r) for r in ps.tcp], [list(r) for r in ps.udp], ps.other]


def _add(table, value):
    """The ID of ``value`` in ``table`` (added if new); ``''`` for nothing."""
    return add_by_digest(table, value) if value else ''


# ----------------------------------------------------------------------
# reading


def _amap(pieces):
    """Row pieces -> an access map ``[(lo, hi, PortSet)]`` (ValueError,
    TypeError or KeyError when they are not what ``_piece`` writes)."""
    out = []
    for text, tcp, udp, other in pieces:
        lo, hi = parse_interval(text)
        for ranges in (tcp, udp):
            for p_lo, p_hi in ranges:
                if not (isinstance(p_lo, int) and isinstance(p_hi, int) and 0 <= p_lo <= p_hi <= PORT_MAX):
                    raise ValueError('port range %r' % ([p_lo, p_hi],))
        if not isinstance(other, bool):
            raise ValueError('other %r' % (other,))
        if out and lo <= out[-1][1]:
            raise ValueError('pieces out of order')
        out.append((lo, hi, PortSet(tcp, udp, other)))
    return out


def row_text(matrix, ref, pieces):
    """A row as people read it: ``all``, ``tcp/443``, or ``partial: ...``
    when it differs between the resource's addresses."""
    lo, hi = parse_interval(matrix['resources'][ref])
    return access.describe(_amap(pieces), lo, hi)


def reached(matrix, class_id):
    """``{resource ref: pieces}`` of a class (of ``None``: nothing)."""
    out = {}
    for grant_id in matrix['classes'].get(class_id, ()):
        out.update(matrix['grants'][grant_id])
    return out


def rows(matrix, principal):
    """``{resource ref: text}`` of what ``principal`` reaches."""
    return dict((ref, row_text(matrix, ref, pieces))
                for ref, pieces in reached(matrix, matrix['members'].get(principal)).items())


def via(matrix, principal, ref):
    """The relay ``principal`` reaches resource ``ref`` through, or None."""
    kind, _sep, rest = principal.partition(':')
    source = 'users' if kind == 'user' else rest.partition(':')[0]
    return ((matrix.get('via') or {}).get(ref.partition(':')[0]) or {}).get(source)


def principals_order(name):
    """Sort key of principals: users first, then sites."""
    return (0 if name.startswith('user:') else 1, name)


def principals(matrix):
    """Every principal that reaches something, users first."""
    return sorted(matrix['members'], key=principals_order)


def checked(matrix):
    """``matrix`` when it is a readable matrix, else ``None`` (a snapshot of
    an older version, from elsewhere or edited by hand)."""
    try:
        if set(matrix) - {'via', 'real'} != set(EMPTY) or not all(isinstance(matrix[key], dict) for key in EMPTY):
            return None
        if not isinstance(matrix.get('via', {}), dict) or not isinstance(matrix.get('real', {}), dict):
            return None
        for ref, text in matrix.get('real', {}).items():
            if ref not in matrix['resources']:
                return None
            parse_interval(text)
        for ref, text in matrix['resources'].items():
            if not isinstance(ref, str):
                return None
            parse_interval(text)
        for grant_id, grant in matrix['grants'].items():
            if not isinstance(grant, dict) or not grant or digest_id(grant) != grant_id:
                return None
            for ref, pieces in grant.items():
                if ref not in matrix['resources']:
                    return None
                _amap(pieces)
        for class_id, grant_ids in matrix['classes'].items():
            if not isinstance(grant_ids, list) or not grant_ids or digest_id(grant_ids) != class_id or not all(
                    isinstance(g, str) and g in matrix['grants'] for g in grant_ids):
                return None
        if not all(isinstance(c, str) and c in matrix['classes'] for c in matrix['members'].values()):
            return None
    except (AddressError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return matrix


# ----------------------------------------------------------------------
# semantic diff


def diff_snapshots(previous, current):
    """Flows newly allowed and newly denied since the recorded snapshot.

    Principals whose access changed the same way are reported together:
    one entry per change of a class, ``from`` listing its principals.  A
    snapshot that cannot be read counts as empty: everything is new.
    """
    if previous is None:
        return None
    before = checked(previous.get('matrix')) if isinstance(previous, dict) else None
    before = before or EMPTY
    changes = {}    # (class before, class after) -> [principals]
    for principal in sorted(set(before['members']) | set(current['members'])):
        old = _grant_set(before, before['members'].get(principal))
        new = _grant_set(current, current['members'].get(principal))
        if old != new:
            key = (before['members'].get(principal), current['members'].get(principal))
            changes.setdefault(key, []).append(principal)
    allowed, denied = [], []
    for (old_id, new_id), members in sorted(changes.items(), key=lambda item: principals_order(item[1][0])):
        old, new = reached(before, old_id), reached(current, new_id)
        for ref in sorted(set(old) | set(new)):
            if old.get(ref) == new.get(ref):
                continue
            old_map, new_map = _amap(old.get(ref, [])), _amap(new.get(ref, []))
            was, now = before['resources'].get(ref), current['resources'].get(ref)
            gained, lost = access.subtract(new_map, old_map), access.subtract(old_map, new_map)
            if gained:
                allowed.append({'from': members, 'to': ref, 'ports': _change_text(gained, was, now)})
            if lost:
                denied.append({'from': members, 'to': ref, 'ports': _change_text(lost, was, now)})
    return {'newly_allowed': allowed, 'newly_denied': denied}


def _grant_set(matrix, class_id):
    """What a class reaches, comparable between runs: grant IDs are the
    digests of their content (``checked`` makes sure of it)."""
    return frozenset(matrix['classes'].get(class_id, ()))


def _change_text(amap, was, now):
    """What changed at a resource, as people read it; a resource whose
    addresses changed since the snapshot (renumbered, or added and removed)
    names the addresses of each piece."""
    if was is not None and now is not None and was != now:
        return '; '.join('%s %s' % (format_interval(lo, hi), ps.describe()) for lo, hi, ps in amap)
    lo, hi = parse_interval(now if now is not None else was)
    return access.describe(amap, lo, hi)
