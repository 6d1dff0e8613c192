# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Site links: what each link lets through, per destination site and source.

Part of the compiler (see ``mesh_compile``): ``Links`` is mixed into its
``_Compiler`` and fills ``link_names``, ``peer_ranges``, ``site_grants``,
``principal_access`` and ``relayed_grants`` (what passes a relay, see
``mesh_relays``).
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import merge_intervals


class Links:
    """The grants of ``meshconnect_links``."""

    def _links(self):
        """What links let through, per destination site and per source principal.

        On a link, every connector of a member (its agent or one of its
        resources, see LinkMember) may open connections to the exposures of
        every other member, with their ports; the members' agents reach each
        other with the link's ``agents`` ports.  Each link grants on its own:
        what is exposed on one link does not reach what connects on another.
        """
        model = self.model
        sites = model.sites
        self.link_names = dict((name, {}) for name in sites)     # S -> T -> [link names]
        self.peer_ranges = dict((name, {}) for name in sites)    # S -> T -> set(resources of T routed to T)
        self.site_grants = dict((name, []) for name in sites)    # S -> [(src_lo, src_hi, dst map)]
        self.principal_access = {}                               # (T, connector) -> S -> access map
        self.relayed_grants = []                                 # (T, S, src lo, src hi, map) through a relay
        for link in model.links:
            members = link.members
            exposed = {}
            for s_name, member in members.items():
                own = sites[s_name].resources
                pieces = []
                for r_name, ports in member.expose:
                    amap = own[r_name].amap
                    pieces.extend(access.restrict_ports(amap, ports) if ports is not None else amap)
                exposed[s_name] = access.from_pieces(pieces)
            for s_name in members:
                site = sites[s_name]
                agent_map = [(site.address, site.address, link.agents)] if link.agents else []
                for t_name, t_member in members.items():
                    if t_name == s_name:
                        continue
                    peer = sites[t_name]
                    carries = agent_map or (exposed[s_name] and t_member.connect) or \
                        (exposed[t_name] and members[s_name].connect)
                    if not carries:
                        continue    # nothing may flow between these two members: no tunnel
                    self.link_names[s_name].setdefault(t_name, []).append(link.name)
                    routed = self.peer_ranges[s_name].setdefault(t_name, set())
                    if agent_map:
                        self._grant_link(s_name, (t_name, 'agent'), peer.address, peer.address, agent_map)
                    if not exposed[s_name]:
                        continue
                    for c_name in t_member.connect:
                        res = peer.resources[c_name]
                        if c_name == 'agent':
                            self._grant_link(s_name, (t_name, c_name), peer.address, peer.address, exposed[s_name])
                        else:
                            self._grant_link(s_name, (t_name, c_name), res.lo, res.hi, exposed[s_name])
                            routed.add(c_name)
                    if t_member.connect:
                        # T's connectors reach S's exposures: T routes them to S.
                        self.peer_ranges[t_name].setdefault(s_name, set()).update(
                            r_name for r_name, _ports in members[s_name].expose)

    def _grant_link(self, s_name, principal, lo, hi, amap):
        self.site_grants[s_name].append((lo, hi, amap))
        if self.pair_relay(principal[0], s_name):
            self.relayed_grants.append((principal[0], s_name, lo, hi, amap))
        reach = self.principal_access.setdefault(principal, {})
        reach[s_name] = access.union(reach[s_name], amap) if s_name in reach else amap

    def _agent_ranges(self, site):
        """The addresses that are the agent itself: its overlay address and,
        for a side-loaded agent, the host's own addresses (its local resources)."""
        ranges = [(site.address, site.address)]
        if not site.router:
            ranges.extend((r.real_lo, r.real_hi) for r in site.resources.values() if r.kind == 'local')
        return merge_intervals(ranges)


def decompose(grants):
    """Turn ``(src_lo, src_hi, dst_map)`` grants with overlapping sources
    into disjoint source intervals, each with the union of its maps."""
    if not grants:
        return []
    points = set()
    for lo, hi, _m in grants:
        points.add(lo)
        points.add(hi + 1)
    points = sorted(points)
    out = []
    for k in range(len(points) - 1):
        start, end = points[k], points[k + 1] - 1
        amap = []
        for lo, hi, dst in grants:
            if lo <= start and end <= hi:
                amap = access.union(amap, dst)
        if not amap:
            continue
        if out and out[-1][1] == start - 1 and out[-1][2] == amap:
            out[-1] = (out[-1][0], end, amap)
        else:
            out.append((start, end, amap))
    return out
