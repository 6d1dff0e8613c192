# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reachability: the matrix of who reaches what, and its semantic diff.

``Reachability`` is mixed into the compiler's ``_Compiler`` (see
``mesh_compile``); ``diff_snapshots`` compares a recorded snapshot with the
matrix of this run.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import EVERYTHING, NOTHING, PORT_MAX, PortSet


class Reachability:
    """The reachability matrix of users (by policy) and sites (by link)."""

    def _matrix(self):
        """from -> to -> ports text, for users (by policy) and sites (by link)."""
        model = self.model
        matrix = {}
        class_rows = {}
        for name in model.users:
            key = self.user_class[name]
            if key not in class_rows:
                rows = {}
                for site_map in self.class_maps[key]:
                    if site_map.rows is None:
                        site_map.rows = []
                        for res in model.sites[site_map.site].resources.values():
                            text = access.describe(site_map.amap, res.lo, res.hi)
                            if text:
                                site_map.rows.append((res.ref, text))
                    rows.update(site_map.rows)
                class_rows[key] = rows
            if class_rows[key]:
                matrix['user:' + name] = class_rows[key]
        for principal in sorted(self.principal_access):
            rows = {}
            for s_name, amap in sorted(self.principal_access[principal].items()):
                for res in model.sites[s_name].resources.values():
                    text = access.describe(amap, res.lo, res.hi)
                    if text:
                        rows[res.ref] = text
            if rows:
                matrix['site:%s:%s' % principal] = rows
        return matrix


def parse_description(text):
    """Inverse of ``PortSet.describe`` (``None`` for partial or unknown)."""
    if text is None or text == 'none':
        return NOTHING
    if text == 'all':
        return EVERYTHING
    if text.startswith('partial'):
        return None
    tcp, udp, other = [], [], False
    for token in text.split(','):
        if token == 'other-protocols':
            other = True
        elif token in ('tcp', 'udp'):
            (tcp if token == 'tcp' else udp).append((0, PORT_MAX))
        else:
            proto, _sep, rng = token.partition('/')
            lo, _sep, hi = rng.partition('-')
            (tcp if proto == 'tcp' else udp).append((int(lo), int(hi or lo)))
    return PortSet(tcp, udp, other)


def diff_snapshots(previous, current):
    """Flows newly allowed and newly denied since the recorded snapshot."""
    if previous is None:
        return None
    before = previous.get('matrix') if isinstance(previous, dict) else None
    if not isinstance(before, dict):
        before = {}     # a snapshot from elsewhere, or edited by hand: everything counts as new
    allowed, denied, changed = [], [], []
    for src in sorted(set(before) | set(current)):
        old_rows, new_rows = before.get(src), current.get(src, {})
        if not isinstance(old_rows, dict):
            old_rows = {}
        if old_rows == new_rows:
            continue
        for dst in sorted(set(old_rows) | set(new_rows)):
            old, new = old_rows.get(dst), new_rows.get(dst)
            if old == new:
                continue
            old_ps, new_ps = parse_description(old), parse_description(new)
            if old_ps is None or new_ps is None:
                changed.append({'from': src, 'to': dst, 'before': old or 'none', 'after': new or 'none'})
                continue
            gained, lost = new_ps.subtract(old_ps), old_ps.subtract(new_ps)
            if gained:
                allowed.append({'from': src, 'to': dst, 'ports': gained.describe()})
            if lost:
                denied.append({'from': src, 'to': dst, 'ports': lost.describe()})
    return {'newly_allowed': allowed, 'newly_denied': denied, 'changed': changed}
