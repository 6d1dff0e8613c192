# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-agent and per-user plans.

Part of the compiler (see ``mesh_compile``): ``Plans`` is mixed into its
``_Compiler`` and reads what ``AccessClasses`` and ``Links`` computed.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_digest import add_by_digest
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import flow_group
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_links import decompose
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    format_interval, format_ip, interval_to_cidrs, merge_intervals,
)


class Plans:
    """Agent and user plans, with the overlap checks of their routes."""

    def _discovery(self):
        """What the agents' discovery found, for the report: used or not, and why."""
        out = {}
        for name, site in self.model.sites.items():
            if site.discovery:
                out[name] = site.discovery
        return out

    def _agent_plan(self, site):
        net = self.net
        peers = []
        owner = []          # (lo, hi, peer name, what) for the AllowedIPs overlap check
        routes = []
        pending = []
        for t_name in sorted(self.link_names[site.name]):
            peer = self.model.sites[t_name]
            intervals = [(peer.address, peer.address)]
            for r_name in sorted(self.peer_ranges[site.name].get(t_name, ())):
                res = peer.resources[r_name]
                intervals.append((res.lo, res.hi))
                owner.append((res.lo, res.hi, t_name, res.ref))
                routes.append((res.lo, res.hi))
            if peer.public_key is None:
                pending.append('site:' + t_name)
            peers.append({
                'name': 'site:' + t_name,
                'kind': 'site',
                'address': format_ip(peer.address),
                'public_key': peer.public_key,
                'endpoint': peer.endpoint_text,
                'behind_nat': peer.behind_nat,
                'allowed_ips': cidrs(intervals),
                'keepalive': 0 if site.dialable else net.keepalive,
                'links': sorted(self.link_names[site.name][t_name]),
            })
        self._check_overlaps("site '%s'" % site.name, owner,
                             'WireGuard routes each address to one peer; expose non-overlapping resources '
                             'to this site, or split the links.')
        own = [(r.lo, r.hi, r.ref) for r in site.resources.values() if r.kind != 'agent']
        for lo, hi, _peer, ref in owner:
            for olo, ohi, oref in own:
                if lo <= ohi and olo <= hi:
                    self.problems.error("site '%s'" % site.name,
                                        'would route %s (%s) into the mesh, but it overlaps its own resource %s.'
                                        % (format_interval(lo, hi), ref, oref),
                                        'sites with the same LAN addresses cannot be linked to each other; '
                                        'renumber one LAN or do not expose it on this link.')

        agent_ranges = self._agent_ranges(site)
        groups = []
        if site.dialable:
            # Users with equal access here are one group, named (their
            # addresses and peer entries are in the plan's users).
            by_map = {}     # SiteMap -> users; equal maps are one SiteMap
            for user, site_map in self.site_users[site.name]:
                if user.public_key is None:
                    pending.append('user:' + user.name)
                if site_map not in by_map:
                    by_map[site_map] = []
                by_map[site_map].append(user)
            for site_map in sorted(by_map, key=lambda m: by_map[m][0].address_text):
                if site_map.group is None:
                    site_map.group = flow_group((), site_map.amap, net.allow_ping, agent_ranges)
                    del site_map.group['sources']
                groups.append(dict(site_map.group, users=[user.name for user in by_map[site_map]]))
        for lo, hi, amap in decompose(self.site_grants[site.name]):
            groups.append(flow_group([format_interval(lo, hi)], amap, net.allow_ping, agent_ranges))

        local = [(r.lo, r.hi) for r in site.resources.values() if r.kind != 'agent']
        return {
            'site': site.name,
            'host': site.host,
            'address': format_ip(site.address),
            'prefix': net.length,
            'overlay': net.cidr,
            'interface': net.interface,
            'listen_port': net.port,
            'mtu': net.mtu,
            'router': site.router,
            'forwarding': site.router,
            'masquerade': site.masquerade and site.router,
            'dialable': site.dialable,
            'endpoint': site.endpoint_text,
            'endpoint_port': site.endpoint_port,
            'behind_nat': site.behind_nat,
            'port_forwarding': site.port_forwarding,
            'peers': peers,
            'pending_keys': sorted(pending),
            'routes': cidrs(routes),
            'resources': [{'name': r.name, 'cidr': r.cidr, 'ports': r.ports.describe(), 'kind': r.kind}
                          for r in site.resources.values()],
            'local_addresses': [format_ip(a) for a in site.local_addresses],
            'firewall': {
                'groups': groups,
                # Anti-spoofing: what may enter the mesh from the site's own networks.
                'local_sources': [format_interval(lo, hi) for lo, hi in merge_intervals(local)],
            },
        }

    def _check_overlaps(self, item, owner, fix):
        owner = sorted(owner)
        reported = set()
        for i in range(len(owner)):
            lo, hi, peer, ref = owner[i]
            for j in range(i + 1, len(owner)):
                olo, ohi, opeer, oref = owner[j]
                if olo > hi:
                    break
                if opeer != peer and (ref, oref) not in reported:
                    reported.add((ref, oref))
                    problem = ("would route overlapping addresses to two peers: %s (%s) via '%s' and %s (%s) "
                               "via '%s'." % (ref, format_interval(lo, hi), peer, oref, format_interval(olo, ohi),
                                              opeer))
                    self.problems.error(item, problem, fix)

    def _user_plans(self):
        """``(users, access, site_peers)``: each user's plan names its access
        class; a class (``access``) lists the site peers it has, its DNS
        servers and the sites whose keys are pending; a site peer
        (``site_peers``) is what a client needs to reach one site, shared by
        every class with the same access there.  ``user_plan`` gives a user's
        whole plan back."""
        users, access, site_peers = {}, {}, {}
        class_ids = {}
        for user in self.model.users.values():
            key = self.user_class[user.name]
            if key not in class_ids:
                class_ids[key] = self._user_access(user, key, access, site_peers)
            users[user.name] = {
                'name': user.name,
                'address': user.address_text,
                'expired': user.expired,
                'public_key': user.public_key,
                'access': class_ids[key],
            }
        return users, access, site_peers

    def _user_access(self, user, key, access, site_peers):
        """The ID of the access entry of one class; ``user`` is the first of
        its users, named if the class routes overlapping addresses."""
        peer_ids = []
        owner = []
        pending = []
        for site_map in self.class_maps[key]:
            if site_map.peer is None:
                site = self.model.sites[site_map.site]
                intervals = [(lo, hi) for lo, hi, _ps in site_map.amap]
                site_map.owner = [(lo, hi, site.name, site.name) for lo, hi in merge_intervals(intervals)]
                peer = {'name': 'site:' + site.name, 'site': site.name, 'public_key': site.public_key,
                        'endpoint': site.endpoint_text, 'allowed_ips': cidrs(intervals)}
                site_map.peer = add_by_digest(site_peers, peer)
                if site.public_key is None:
                    site_map.pending = peer['name']
            owner.extend(site_map.owner)
            peer_ids.append(site_map.peer)
            if site_map.pending:
                pending.append(site_map.pending)
        self._check_overlaps("user '%s'" % user.name, owner,
                             'a client routes each address to one site; narrow the policies so that '
                             'overlapping LANs are not granted together.')
        entry = {'site_peers': peer_ids, 'dns': list(self.class_dns[key]), 'pending_keys': sorted(pending)}
        return add_by_digest(access, entry)


def agent_plan(plan, host):
    """The whole plan of the agent on ``host``, as the role applies it.

    In the plan, an agent's ``peers`` are its site peers, and a firewall
    group of users names them (``users``) instead of listing their
    addresses.  Here each such group gets its ``sources`` (the users'
    addresses) and ``peers`` a peer entry per user, after the site peers
    and in name order.
    """
    agent = dict(plan['agents'][host])
    users = plan['users']
    names = []
    groups = []
    for group in agent['firewall']['groups']:
        if 'users' in group:
            members = group['users']
            names.extend(members)
            group = dict(group, sources=[users[name]['address'] for name in members])
            del group['users']
        groups.append(group)
    agent['firewall'] = dict(agent['firewall'], groups=groups)
    agent['peers'] = agent['peers'] + [_user_peer(users[name]) for name in sorted(names)]
    return agent


def is_whole(agent):
    """Whether ``agent`` is a whole agent plan (``agent_plan``), not the
    plan's own entry whose user groups name their users."""
    groups = (agent.get('firewall') or {}).get('groups') or []
    return not any(isinstance(group, dict) and 'users' in group for group in groups)


def _user_peer(user):
    return {
        'name': 'user:' + user['name'],
        'kind': 'user',
        'address': user['address'],
        'public_key': user['public_key'],
        'endpoint': None,
        'behind_nat': True,
        'allowed_ips': ['%s/32' % user['address']],
        'keepalive': 0,
        'links': [],
    }


def user_plan(plan, name):
    """The whole plan of user ``name``: what a client configuration is made
    of (``mesh_wgconf.client_config``)."""
    user = plan['users'][name]
    network = plan['network']
    entry = plan['access'][user['access']]
    keepalive = network['keepalive']
    return {
        'name': user['name'],
        'address': user['address'],
        'prefix': 32,
        'dns': list(entry['dns']),
        'mtu': network['mtu'],
        'expired': user['expired'],
        'public_key': user['public_key'],
        'peers': [dict(plan['site_peers'][peer_id], keepalive=keepalive) for peer_id in entry['site_peers']],
        'pending_keys': list(entry['pending_keys']),
    }


def cidrs(intervals):
    out = []
    for lo, hi in merge_intervals(intervals):
        out.extend(interval_to_cidrs(lo, hi))
    return out
