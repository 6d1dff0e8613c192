# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Relays: how sites that nothing can dial are reached.

Part of the compiler (see ``mesh_compile``): ``Relays`` is mixed into its
``_Compiler``.  ``_choose_relays`` gives every site that cannot be dialled a
relay (``relay_of``), before policies and links are read; ``_route_relays``
then works out what each tunnel carries for relayed paths:

- a user granted something at a relayed site S reaches it through S's relay
  H: the user's peer for H carries S's granted ranges, H's peer for S carries
  them too, and S's peer for H carries the users' addresses back;
- two linked sites that cannot be dialled reach each other through the relay
  of the first of them (by name): each one's peer for it carries the other's
  ranges.

Each address is still routed to one peer, so every (source, destination)
pair has one path.  The relay forwards only the pairs that a grant or a link
needs (``relay_users``, ``relay_pairs``), and policy is enforced where it
always is, at the destination agent, which sees the source's own address.

The choice is sticky, like a lease: ``via`` in the inventory wins, then the
relay recorded in the state (while it still relays), then the relay with the
fewest relayed sites (by name on a tie).
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import format_interval, merge_intervals


class RelayTunnel:
    """What a site's peer for another site carries besides their links."""

    __slots__ = ('ranges', 'links', 'relayed', 'classes')

    def __init__(self):
        self.ranges = []        # (lo, hi, what) routed to the peer
        self.links = set()      # names of links whose traffic it carries
        self.relayed = set()    # sites whose traffic passes through the relay on this tunnel
        self.classes = set()    # classes of users whose addresses are routed back to the peer


class Relays:
    """Relay choice and the tunnels and pairs of relayed paths."""

    def _choose_relays(self, lease_state):
        """``relay_of`` (site -> relay) for every site that cannot be dialled,
        when a site relays; ``relay_changes`` for the report."""
        model = self.model
        recorded = {}
        if isinstance(lease_state, dict) and isinstance(lease_state.get('relays'), dict):
            recorded = lease_state['relays']
        candidates = model.relays
        load = dict((name, 0) for name in candidates)
        self.relay_of = {}
        self.reachable_sites = None     # the sites users can reach (reachable)
        waiting = []
        for name, site in model.sites.items():
            if site.dialable or not candidates:
                continue
            if site.via in load:
                choice = site.via
            elif recorded.get(name) in load:
                choice = recorded[name]
            else:
                waiting.append(name)
                continue
            self.relay_of[name] = choice
            load[choice] += 1
        for name in waiting:
            choice = min(candidates, key=lambda candidate: (load[candidate], candidate))
            self.relay_of[name] = choice
            load[choice] += 1
        self.relay_changes = []
        for name in sorted(set(recorded) | set(self.relay_of)):
            old, new = recorded.get(name), self.relay_of.get(name)
            if old == new:
                continue
            self.relay_changes.append({'site': name, 'from': old, 'to': new})
            if old is not None and new is not None and model.sites[name].via != new:
                self.problems.warn("site '%s'" % name,
                                   'was relayed by %s, which no longer relays (not in the inventory, cannot be '
                                   'dialled, or relay is off); it is relayed by %s now.' % (old, new),
                                   'set via: %s on the site to choose its relay yourself.' % new)

    def reachable(self, site_name):
        """Whether users can reach ``site_name``: it can be dialled, or it is relayed."""
        if self.reachable_sites is None:
            self.reachable_sites = set(name for name, site in self.model.sites.items()
                                       if site.dialable or name in self.relay_of)
        return site_name in self.reachable_sites

    def pair_relay(self, first, second):
        """The relay between two sites that cannot be dialled (that of the first by name), else None."""
        sites = self.model.sites
        if sites[first].dialable or sites[second].dialable:
            return None
        return self.relay_of.get(min(first, second))

    def _tunnel(self, site_name, peer_name):
        by_peer = self.relay_tunnels.setdefault(site_name, {})
        if peer_name not in by_peer:
            by_peer[peer_name] = RelayTunnel()
        return by_peer[peer_name]

    def _route_relays(self):
        """The tunnels (``relay_tunnels``: site -> peer site -> RelayTunnel)
        and relay rules (``relay_users``: relay -> class -> [SiteMap];
        ``relay_pairs``: relay -> [(src lo, src hi, dst lo, dst hi)]) of
        relayed paths."""
        sites = self.model.sites
        self.relay_tunnels = {}
        self.relay_users = {}
        self.relay_pairs = {}
        if not self.relay_of:
            return
        # Users: each class's maps at relayed sites go through their relays.
        for key in self.class_users:
            for site_map in self.class_maps[key]:
                relay = self.relay_of.get(site_map.site)
                if relay is None or not site_map.amap:
                    continue
                self.relay_users.setdefault(relay, {}).setdefault(key, []).append(site_map)
                there = self._tunnel(relay, site_map.site)
                there.ranges.extend((lo, hi, '%s (granted to users)' % site_map.site)
                                    for lo, hi in merge_intervals([(lo, hi) for lo, hi, _ps in site_map.amap]))
                there.relayed.add(site_map.site)
                self._tunnel(site_map.site, relay).classes.add(key)
        # Links between two sites that cannot be dialled.
        for s_name in sorted(self.link_names):
            for t_name in sorted(self.link_names[s_name]):
                relay = self.pair_relay(s_name, t_name)
                if relay is None:
                    continue
                target = sites[t_name]
                what = [(target.address, target.address, '%s:agent' % t_name)]
                what.extend((target.resources[r].lo, target.resources[r].hi, target.resources[r].ref)
                            for r in sorted(self.peer_ranges[s_name].get(t_name, ())))
                # s routes t's ranges to the relay; the relay routes them to t.
                mine = self._tunnel(s_name, relay)
                mine.ranges.extend(what)
                mine.links.update(self.link_names[s_name][t_name])
                mine.relayed.add(t_name)
                theirs = self._tunnel(relay, t_name)
                theirs.ranges.extend(what)
                theirs.links.update(self.link_names[s_name][t_name])
                theirs.relayed.add(s_name)
        for t_name, s_name, lo, hi, amap in self.relayed_grants:
            relay = self.pair_relay(t_name, s_name)
            pairs = self.relay_pairs.setdefault(relay, [])
            pairs.extend((lo, hi, dlo, dhi) for dlo, dhi in merge_intervals([(a, b) for a, b, _ps in amap]))

    def _relay_plan(self, site):
        """The ``relay`` entry of a relay's agent plan, or None: the classes
        of users it relays (their peer, and the destinations they are
        relayed to) and the site-to-site pairs it forwards."""
        by_class = self.relay_users.get(site.name, {})
        pairs = self.relay_pairs.get(site.name, [])
        if not by_class and not pairs:
            return None
        entries = {}    # (peer, destinations) -> [class IDs]
        for key, site_maps in by_class.items():
            reached = [(lo, hi) for site_map in site_maps for lo, hi, _ps in site_map.amap]
            destinations = tuple(format_interval(lo, hi) for lo, hi in merge_intervals(reached))
            entries.setdefault((self.class_hub_peer[(key, site.name)], destinations), []).append(self.class_ids[key])
        users = [{'classes': sorted(ids), 'peer': peer, 'destinations': list(destinations)}
                 for (peer, destinations), ids in sorted(entries.items())]
        sites = sorted(set((format_interval(lo, hi), format_interval(dlo, dhi)) for lo, hi, dlo, dhi in pairs))
        return {'users': users, 'sites': [list(pair) for pair in sites]}
