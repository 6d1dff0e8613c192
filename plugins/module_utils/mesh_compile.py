# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh compiler: inventory in, per-agent and per-user plans out.

``compile_mesh()`` is the single entry point.  It is pure: the caller reads
the lease state and the previous snapshot from disk, passes them in, and
writes back what it returns.  The same input always gives the same output
(see ``canonical_json``).
"""

import contextlib
import gc
import hashlib
import json
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError, Problems
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_leases import allocate, state_document
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model import load_model, parse_grant
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, PORT_MAX, AddressError, PortSet, format_interval, format_ip, interval_to_cidrs,
    merge_intervals, parse_ip,
)

PLAN_VERSION = 2
DNS_PORTS = PortSet.parse(['udp/53', 'tcp/53'])


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(',', ':'))


def canonical_json(data):
    return _CANONICAL.encode(data)


def compile_mesh(inventory, facts=None, lease_state=None, previous=None, today=None, explain=None):
    """Compile ``inventory`` into plans.

    :param inventory: dict with ``network``, ``sites`` (agent host ->
        meshconnect_site), ``links``, ``users``, ``policies``, ``policy_tests``.
    :param facts: agent host -> {public_key, interfaces} (optional).
    :param lease_state: the lease document from the last run (optional).
    :param previous: the snapshot recorded by the last applied run (optional).
    :param today: ``datetime.date`` used for user expiry.
    :param explain: a flow such as ``"alice hq:db:tcp/5432"`` to explain.
    :raises MeshError: listing every problem, when the inventory is invalid.
    """
    problems = Problems()
    with _no_full_collections():
        model = load_model(inventory, facts, problems, today)
        problems.raise_if_any()
        return _Compiler(model, problems).run(lease_state, previous, explain)


@contextlib.contextmanager
def _no_full_collections():
    """Keep Python's cyclic garbage collector to its young generations
    while compiling.

    A compile builds a large graph of dicts, lists and tuples, and each full
    collection walks all of it, and the inventory, again (with 10,000 users
    they took a third of the time).  Young collections still run, and the
    collector's thresholds are restored afterwards.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class _Compiler:
    def __init__(self, model, problems):
        self.model = model
        self.net = model.network
        self.problems = problems
        self.class_peers = {}
        self.user_peers = {}
        self.site_maps = {}     # (site, map as a tuple) -> _SiteMap: equal maps of a site are one
        self.unions = {}        # (_SiteMap, _SiteMap) -> _SiteMap of their union

    # ------------------------------------------------------------------
    def run(self, lease_state, previous, explain):
        model = self.model
        members = ['agent/' + name for name in model.sites] + ['user/' + name for name in model.users]
        leases, lease_changes = allocate(self.net, members, lease_state, self.problems)
        self.problems.raise_if_any()
        for name, site in model.sites.items():
            address = parse_ip(leases['agent/' + name])
            site.address = address
            agent = site.resources['agent']
            agent.lo = agent.hi = address
            agent.cidr = '%s/32' % format_ip(address)
            agent.amap = [(address, address, EVERYTHING)]
        for name, user in model.users.items():
            user.address = parse_ip(leases['user/' + name])
            user.address_text = format_ip(user.address)

        self._evaluate_policies()
        self._links()
        self._dns()
        agents = dict((site.host, self._agent_plan(site)) for site in model.sites.values())
        users = dict((user.name, self._user_plan(user)) for user in model.users.values())
        self.problems.raise_if_any()

        matrix = self._matrix()
        report = {
            'summary': {
                'network': self.net.name,
                'cidr': self.net.cidr,
                'sites': len(model.sites),
                'links': len(model.links),
                'users': len(model.users),
                'active_users': sum(1 for u in model.users.values() if not u.expired),
                'policies': len(model.policies),
                'leases_used': len(leases),
                'leases_free': self.net.usable - len(leases),
            },
            'lease_changes': [{'action': a, 'member': m, 'address': ip} for a, m, ip in lease_changes],
            'tests': self._run_tests(),
            'discovery': self._discovery(),
            'diff': diff_snapshots(previous, matrix),
            'explain': self.explain(explain) if explain else None,
            # Sorted: loading follows the input order of users and policies.
            'warnings': sorted(self.problems.warnings),
        }
        plan = {
            'version': PLAN_VERSION,
            'network': self.net.as_dict(),
            'leases': leases,
            'agents': agents,
            'users': users,
        }
        plan['digest'] = self._digest(plan)
        return {
            'plan': plan,
            'report': report,
            'matrix': matrix,
            'lease_state': state_document(self.net, leases),
        }

    # ------------------------------------------------------------------
    # policies

    def _evaluate_policies(self):
        model = self.model
        self.policy_access = dict((p.name, access.policy_access(p, model.sites)) for p in model.policies)
        by_user = dict((name, []) for name in model.users)
        for policy in model.policies:
            names = set(policy.users)
            for group in policy.groups:
                names.update(model.groups.get(group, ()))
            for name in names:
                by_user[name].append(policy.name)
        self.user_policies = by_user

        undeliverable = {}
        for policy in model.policies:
            for site_name in self.policy_access[policy.name]:
                if not model.sites[site_name].dialable:
                    undeliverable.setdefault(site_name, []).append(policy.name)
        for site_name, names in sorted(undeliverable.items()):
            self.problems.warn("site '%s'" % site_name,
                               'cannot be dialled by users (no endpoint, or behind NAT without port '
                               'forwarding), so what policies %s grant there is not reachable.'
                               % ', '.join(sorted(set(names))),
                               'forward UDP %d to the agent and set endpoint and port_forwarding: true.'
                               % model.sites[site_name].endpoint_port)

        # Users with the same policies share one access class: site -> map
        # in ``classes``, the same as [_SiteMap] in ``class_maps``.
        self.classes = {}
        self.class_maps = {}
        self.user_class = {}
        policy_maps = {}    # policy -> [(site, _SiteMap)], dialable sites only
        for policy in model.policies:
            policy_maps[policy.name] = [(site_name, self._site_map(site_name, amap))
                                        for site_name, amap in self.policy_access[policy.name].items()
                                        if model.sites[site_name].dialable]
        for name, user in model.users.items():
            key = () if user.expired else tuple(sorted(by_user[name]))
            if key not in self.classes:
                self.class_maps[key] = self._class_access(key, policy_maps)
                self.classes[key] = dict((m.site, m.amap) for m in self.class_maps[key])
            self.user_class[name] = key
            if not user.expired and not self.classes[key]:
                self.problems.warn("user '%s'" % name, 'is granted nothing reachable; the client bundle has '
                                   'no peers.', 'add the user or a group of theirs to a policy.')

        # Site -> [(user's peer entry, user address, _SiteMap)]: the users
        # granted something there, in user order.
        self.site_users = dict((name, []) for name in model.sites)
        for name, user in model.users.items():
            site_maps = [site_map for site_map in self.class_maps[self.user_class[name]] if site_map.amap]
            if site_maps:
                peer = self._user_peer(user)
                for site_map in site_maps:
                    self.site_users[site_map.site].append((peer, user.address_text, site_map))

    def _site_map(self, site_name, amap):
        """The one _SiteMap of ``site_name`` with a map equal to ``amap``."""
        value = (site_name, tuple(amap))
        if value not in self.site_maps:
            self.site_maps[value] = _SiteMap(site_name, amap)
        return self.site_maps[value]

    def _class_access(self, key, policy_maps):
        """[_SiteMap] for the policies ``key``, in site order, dialable
        sites only: the maps ``access.merge_access`` gives for them.

        A site has few distinct maps, so the unions are kept in ``unions``.
        """
        by_site = {}
        for policy_name in key:
            for site_name, site_map in policy_maps[policy_name]:
                if site_name in by_site:
                    pair = (by_site[site_name], site_map)
                    if pair not in self.unions:
                        self.unions[pair] = self._site_map(site_name, access.union(pair[0].amap, site_map.amap))
                    site_map = self.unions[pair]
                by_site[site_name] = site_map
        return [by_site[site_name] for site_name in sorted(by_site)]

    # ------------------------------------------------------------------
    # links

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
        reach = self.principal_access.setdefault(principal, {})
        reach[s_name] = access.union(reach[s_name], amap) if s_name in reach else amap

    def _agent_ranges(self, site):
        """The addresses that are the agent itself: its overlay address and,
        for a side-loaded agent, the host's own addresses (its local resources)."""
        ranges = [(site.address, site.address)]
        if not site.router:
            ranges.extend((r.lo, r.hi) for r in site.resources.values() if r.kind == 'local')
        return merge_intervals(ranges)

    # ------------------------------------------------------------------
    # DNS

    def _dns(self):
        """Each class of users gets the network's DNS servers it can reach
        through the tunnel on udp/53 and tcp/53; the others are left out
        (a client must never be sent to a resolver it cannot reach)."""
        servers = [(text, parse_ip(text)) for text in self.net.dns]
        self.class_dns = {}
        missing = dict((text, []) for text, _addr in servers)
        for name in self.model.users:
            key = self.user_class[name]
            if key not in self.class_dns:
                granted = self.classes[key]
                self.class_dns[key] = [text for text, addr in servers
                                       if any(access.covers(amap, addr, addr, DNS_PORTS) for amap in granted.values())]
            if self.classes[key] and not self.model.users[name].expired:
                for text, _addr in servers:
                    if text not in self.class_dns[key]:
                        missing[text].append(name)
        for text, names in sorted(missing.items()):
            if names:
                shown = ', '.join(names[:10]) + (' and %d more' % (len(names) - 10) if len(names) > 10 else '')
                self.problems.warn("meshconnect_network dns server %s" % text,
                                   'is left out of the client configuration of %d user%s who cannot reach it on '
                                   'udp/53 and tcp/53 through the tunnel: %s.'
                                   % (len(names), 's' if len(names) > 1 else '', shown),
                                   'grant it to them in a policy (the resource holding %s, with udp/53,tcp/53), '
                                   'or remove it from meshconnect_network.dns.' % text)

    # ------------------------------------------------------------------
    # discovery

    def _discovery(self):
        """What the agents' discovery found, for the report: used or not, and why."""
        out = {}
        for name, site in self.model.sites.items():
            if site.discovery:
                out[name] = site.discovery
        return out

    # ------------------------------------------------------------------
    # agents

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
                'allowed_ips': _cidrs(intervals),
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
            by_map = {}     # _SiteMap -> user addresses; equal maps are one _SiteMap
            for peer, address, site_map in self.site_users[site.name]:
                if peer['public_key'] is None:
                    pending.append(peer['name'])
                peers.append(peer)
                if site_map not in by_map:
                    by_map[site_map] = []
                by_map[site_map].append(address)
            for site_map in sorted(by_map, key=lambda m: by_map[m][0]):
                if site_map.group is None:
                    site_map.group = _flow_group((), site_map.amap, net.allow_ping, agent_ranges)
                groups.append(dict(site_map.group, sources=by_map[site_map]))
        for lo, hi, amap in _decompose(self.site_grants[site.name]):
            groups.append(_flow_group([format_interval(lo, hi)], amap, net.allow_ping, agent_ranges))

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
            'routes': _cidrs(routes),
            'resources': [{'name': r.name, 'cidr': r.cidr, 'ports': r.ports.describe(), 'kind': r.kind}
                          for r in site.resources.values()],
            'local_addresses': [format_ip(a) for a in site.local_addresses],
            'firewall': {
                'groups': groups,
                # Anti-spoofing: what may enter the mesh from the site's own networks.
                'local_sources': [format_interval(lo, hi) for lo, hi in merge_intervals(local)],
            },
        }

    def _user_peer(self, user):
        cached = self.user_peers.get(user.name)
        if cached is None:
            cached = self.user_peers[user.name] = {
                'name': 'user:' + user.name,
                'kind': 'user',
                'address': user.address_text,
                'public_key': user.public_key,
                'endpoint': None,
                'behind_nat': True,
                'allowed_ips': ['%s/32' % user.address_text],
                'keepalive': 0,
                'links': [],
            }
        return cached

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

    # ------------------------------------------------------------------
    # users

    def _user_plan(self, user):
        key = self.user_class[user.name]
        if key not in self.class_peers:
            self.class_peers[key] = self._class_peers(user, key)
        peers, pending = self.class_peers[key]
        keepalive = self.net.keepalive
        return {
            'name': user.name,
            'address': user.address_text,
            'prefix': 32,
            'dns': list(self.class_dns[key]),
            'mtu': self.net.mtu,
            'expired': user.expired,
            'public_key': user.public_key,
            'peers': [{'name': name, 'site': site_name, 'public_key': public_key, 'endpoint': endpoint,
                       'allowed_ips': list(allowed_ips), 'keepalive': keepalive}
                      for name, site_name, public_key, endpoint, allowed_ips in peers],
            'pending_keys': list(pending),
        }

    def _class_peers(self, user, key):
        """``(peers, pending keys)`` of the users of one class; ``user`` is
        the first of them, named if the class routes overlapping addresses."""
        peers = []
        owner = []
        for site_map in self.class_maps[key]:
            if site_map.peer is None:
                site = self.model.sites[site_map.site]
                intervals = [(lo, hi) for lo, hi, _ps in site_map.amap]
                site_map.owner = [(lo, hi, site.name, site.name) for lo, hi in merge_intervals(intervals)]
                site_map.peer = ('site:' + site.name, site.name, site.public_key, site.endpoint_text,
                                 _cidrs(intervals))
            owner.extend(site_map.owner)
            peers.append(site_map.peer)
        self._check_overlaps("user '%s'" % user.name, owner,
                             'a client routes each address to one site; narrow the policies so that '
                             'overlapping LANs are not granted together.')
        return peers, sorted(peer[0] for peer in peers if peer[2] is None)

    # ------------------------------------------------------------------
    # report

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

    def _digest(self, plan):
        """``sha256(canonical_json(plan))``, hashed piece by piece.

        The pieces are the canonical JSON of each agent and user, joined as
        ``canonical_json`` joins them (sorted keys, no spaces), so the bytes
        hashed are the same; the whole text is never held in memory.  What
        is repeated is encoded once: the peer entry of a user (every agent
        listing the user has it) and the peers of a class of users (every
        user of the class has the same).
        """
        digest = hashlib.sha256()
        user_peer_texts = {}    # peer name -> text
        class_peers_texts = {}  # class -> text; a _SiteMap has the text of its peer

        def agent_text(agent):
            peers = []
            for peer in agent['peers']:
                if peer['kind'] != 'user':
                    peers.append(canonical_json(peer))
                    continue
                if peer['name'] not in user_peer_texts:
                    user_peer_texts[peer['name']] = canonical_json(peer)
                peers.append(user_peer_texts[peer['name']])
            return _canonical_with(agent, 'peers', '[' + ','.join(peers) + ']')

        def user_text(user):
            key = self.user_class[user['name']]
            if key not in class_peers_texts:
                # The user's peers, one per _SiteMap of the class, in order.
                texts = []
                for site_map, peer in zip(self.class_maps[key], user['peers']):
                    if site_map.text is None:
                        site_map.text = canonical_json(peer)
                    texts.append(site_map.text)
                class_peers_texts[key] = '[' + ','.join(texts) + ']'
            return _canonical_with(user, 'peers', class_peers_texts[key])

        def put(text):
            digest.update(text.encode('utf-8'))

        put('{')
        for index, key in enumerate(sorted(plan)):
            put('%s%s:' % (',' if index else '', json.dumps(key)))
            if key in ('agents', 'users') and plan[key]:
                encode = agent_text if key == 'agents' else user_text
                for inner, name in enumerate(sorted(plan[key])):
                    put('%s%s:%s' % (',' if inner else '{', json.dumps(name), encode(plan[key][name])))
                put('}')
            else:
                put(canonical_json(plan[key]))
        put('}')
        return digest.hexdigest()

    def _access_of(self, principal):
        """site -> access map of a test's or explain's source principal."""
        if principal[0] == 'user':
            return self.classes[self.user_class[principal[1]]]
        _kind, site_name, resource = principal
        site = self.model.sites[site_name]
        out = {}
        for (t_name, c_name), reach in self.principal_access.items():
            if t_name != site_name:
                continue
            if resource is not None and resource != c_name:
                # A packet from RESOURCE is also from every connector whose addresses hold it.
                res, conn = site.resources[resource], site.resources[c_name]
                if c_name == 'agent' or resource == 'agent' or not (conn.lo <= res.lo and res.hi <= conn.hi):
                    continue
            for s_name, amap in reach.items():
                out[s_name] = access.union(out[s_name], amap) if s_name in out else amap
        return out

    def _flow_verdict(self, principal, grant, want_allow):
        """``(passed, detail)`` for one test flow."""
        granted = self._access_of(principal)
        sites = self.model.sites
        site_names = list(sites) if grant.site == '*' else [grant.site]
        targets = []
        for site_name in site_names:
            site = sites[site_name]
            if grant.resource == '*':
                targets.extend(site.resources.values())
            elif grant.resource in site.resources:
                targets.append(site.resources[grant.resource])
        for res in targets:
            amap = granted.get(res.site, [])
            if want_allow:
                ok = access.covers(amap, res.lo, res.hi, grant.ports) if grant.ports else \
                    access.touches(amap, res.lo, res.hi)
                if grant.resource != '*' and not ok:
                    return False, '%s is not allowed (%s has %s)' % (
                        grant.text, res.ref, access.describe(amap, res.lo, res.hi) or 'no access')
                if grant.resource == '*' and ok:
                    return True, 'allowed'
            else:
                if access.touches(amap, res.lo, res.hi, grant.ports):
                    return False, '%s is allowed (%s has %s)' % (grant.text, res.ref,
                                                                 access.describe(amap, res.lo, res.hi))
        if want_allow and grant.resource == '*':
            return False, '%s is not allowed: nothing at the site is reachable' % grant.text
        return True, 'allowed' if want_allow else 'denied'

    def _run_tests(self):
        results = []
        for test in self.model.tests:
            for want_allow, grants in ((True, test.allow), (False, test.deny)):
                for grant in grants:
                    passed, detail = self._flow_verdict(test.principal, grant, want_allow)
                    results.append({
                        'test': test.index,
                        'from': test.source,
                        'expect': 'allow' if want_allow else 'deny',
                        'flow': grant.text,
                        'passed': passed,
                        'detail': detail,
                    })
        return results

    def explain(self, query):
        """Say which policy allows a flow, or why it is denied."""
        parts = [p for p in re.split(r'\s*->\s*|\s+', query.strip()) if p]
        if len(parts) != 2:
            return {'query': query, 'verdict': 'invalid',
                    'reasons': ['write the flow as "USER SITE:RESOURCE[:PROTO/PORT]", e.g. "alice hq:web:tcp/443"']}
        principal, target = parts
        try:
            grant = parse_grant(target)
        except (ValueError, AddressError) as exc:
            return {'query': query, 'verdict': 'invalid', 'reasons': [str(exc)]}
        model = self.model
        if grant.site not in model.sites or (grant.resource != '*' and
                                             grant.resource not in model.sites[grant.site].resources):
            return {'query': query, 'verdict': 'invalid', 'reasons': ['unknown site or resource %r' % target]}
        site = model.sites[grant.site]
        resources = list(site.resources.values()) if grant.resource == '*' else [site.resources[grant.resource]]
        if principal in model.users:
            return self._explain_user(query, model.users[principal], site, resources, grant)
        source_site, _sep, source_res = principal.partition(':')
        if source_site in model.sites and (not source_res or source_res in model.sites[source_site].resources):
            return self._explain_site(query, ('site', source_site, source_res or None), site, resources, grant)
        return {'query': query, 'verdict': 'invalid',
                'reasons': ['%r is neither a user nor a site (SITE or SITE:RESOURCE)' % principal]}

    def _explain_user(self, query, user, site, resources, grant):
        wanted = grant.ports
        reasons = []

        def allows(amap):
            return any(access.covers(amap, r.lo, r.hi, wanted) if wanted else access.touches(amap, r.lo, r.hi)
                       for r in resources)

        if user.expired:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['user %s expired on %s' % (user.name, user.expires.isoformat())]}
        applying = self.user_policies[user.name]
        allowed_by = []
        for policy in self.model.policies:
            granted = self.policy_access[policy.name].get(site.name, [])
            if policy.name not in applying:
                if allows(granted):
                    reasons.append("policy '%s' would allow it, but applies to %s, not to %s" % (
                        policy.name, _who(policy), user.name))
                continue
            if allows(granted):
                allowed_by.append(policy.name)
                terms = [g.text for g in policy.allow if g.site in ('*', site.name)]
                reasons.insert(0, "allowed by policy '%s' (allow %s)" % (policy.name, ', '.join(terms)))
                continue
            before = access.policy_access(_without_excepts(policy), self.model.sites).get(site.name, [])
            if allows(before):
                terms = [g.text for g in policy.deny if g.site in ('*', site.name)]
                reasons.append("policy '%s' allows %s but excepts it (except %s)" % (
                    policy.name, site.name, ', '.join(terms)))
            elif granted:
                reached = ['%s %s' % (r.ref, access.describe(granted, r.lo, r.hi))
                           for r in site.resources.values() if access.describe(granted, r.lo, r.hi)]
                reasons.append("policy '%s' reaches %s only as: %s" % (policy.name, site.name, '; '.join(reached)))
        if not applying:
            reasons.append('no policy applies to %s (groups: %s)' % (user.name, ', '.join(user.groups) or 'none'))
        if wanted is not None:
            for res in resources:
                if not res.ports.intersect(wanted):
                    reasons.append('resource %s serves only %s' % (res.ref, res.ports.describe()))
        if allowed_by and not site.dialable:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['site %s cannot be dialled by users (no endpoint, or behind NAT without port '
                                'forwarding)' % site.name] + reasons}
        if allowed_by:
            return {'query': query, 'verdict': 'allowed', 'reasons': reasons}
        if not reasons:
            reasons.append('no policy that applies to %s grants %s' % (user.name, grant.text))
        return {'query': query, 'verdict': 'denied', 'reasons': reasons}

    def _explain_site(self, query, principal, site, resources, grant):
        _kind, source_name, source_res = principal
        source = self.model.sites[source_name]
        if source.name == site.name:
            return {'query': query, 'verdict': 'invalid', 'reasons': ['a site does not reach itself over the mesh']}
        links = [link for link in self.model.links if source.name in link.members and site.name in link.members]
        if not links:
            return {'query': query, 'verdict': 'denied',
                    'reasons': ['no link joins %s and %s' % (source.name, site.name)]}
        wanted = grant.ports
        granted = self._access_of(principal).get(site.name, [])
        ok = any(access.covers(granted, r.lo, r.hi, wanted) if wanted else access.touches(granted, r.lo, r.hi)
                 for r in resources)
        who = source.name + (':' + source_res if source_res else '')
        reasons = []
        for link in links:
            src, dst = link.members[source.name], link.members[site.name]
            if any(r.kind == 'agent' for r in resources):
                reasons.append("link '%s' lets the agents reach each other on %s" % (link.name, link.agents.describe()))
            exposed = [r_name + (':' + ports.describe() if ports is not None else '') for r_name, ports in dst.expose]
            connectors = [c for c in src.connect
                          if source_res is None or c == source_res or (c != 'agent' and source_res != 'agent' and
                                                                       _holds(source.resources[c],
                                                                              source.resources[source_res]))]
            if not exposed:
                reasons.append("link '%s': %s exposes nothing" % (link.name, site.name))
            elif not connectors:
                reasons.append("link '%s': %s opens no connections on it (connect: %s)"
                               % (link.name, who, ', '.join(src.connect) or 'nothing'))
            else:
                reasons.append("link '%s': %s (%s) may open connections to %s exposed by %s"
                               % (link.name, who, ', '.join(connectors), ', '.join(exposed), site.name))
        for res in resources:
            reached = access.describe(granted, res.lo, res.hi)
            reasons.append('%s is reached as: %s' % (res.ref, reached) if reached else '%s is not reached' % res.ref)
        return {'query': query, 'verdict': 'allowed' if ok else 'denied', 'reasons': reasons}


def _holds(outer, inner):
    return outer.lo <= inner.lo and inner.hi <= outer.hi


# ----------------------------------------------------------------------
# helpers


class _SiteMap:
    """What a class of users may reach at one site, and what follows from
    it; classes share them: equal maps of a site are one _SiteMap."""

    __slots__ = ('site', 'amap', 'peer', 'owner', 'rows', 'text', 'group')

    def __init__(self, site, amap):
        self.site = site
        self.amap = amap
        self.peer = None    # a user's peer for the site, as _user_plan's tuple
        self.owner = None   # [(lo, hi, site, site)] for the user overlap check
        self.rows = None    # [(resource ref, matrix text)]
        self.text = None    # canonical JSON of the peer, for the digest
        self.group = None   # the firewall elements of the map (_flow_group without sources)


class _PolicyView:
    def __init__(self, policy):
        self.name = policy.name
        self.allow = policy.allow
        self.deny = []


def _without_excepts(policy):
    return _PolicyView(policy)


def _who(policy):
    parts = []
    if policy.users:
        parts.append('users ' + ', '.join(policy.users))
    if policy.groups:
        parts.append('groups ' + ', '.join(policy.groups))
    return ' and '.join(parts)


def _canonical_with(data, key, text):
    """``canonical_json(data)`` for a dict whose ``data[key]`` is already
    encoded as ``text``: the keys before and after it are encoded apart."""
    before = canonical_json(dict((k, v) for k, v in data.items() if k < key))[1:-1]
    after = canonical_json(dict((k, v) for k, v in data.items() if k > key))[1:-1]
    return '{' + ','.join(part for part in (before, json.dumps(key) + ':' + text, after) if part) + '}'


def _cidrs(intervals):
    out = []
    for lo, hi in merge_intervals(intervals):
        out.extend(interval_to_cidrs(lo, hi))
    return out


def _decompose(grants):
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


def _flow_group(sources, amap, allow_ping, agent_ranges):
    """nftables set elements for one group of sources sharing one map.

    Traffic to the agent itself (any address in ``agent_ranges``) is looked
    up in the input chain without a destination: ``agent_ports`` elements are
    ``PROTO . PORTS`` and ``agent_other``/``agent_ping`` say whether the
    sources may use other protocols or ping.  Forwarded traffic: ``ports``
    elements are ``DST . PROTO . PORTS``, ``other`` and ``ping`` elements are
    ``DST``.  The template prefixes each with ``SRC . ``.  Destinations in a
    map are disjoint, so the elements never overlap.
    """
    forward = access.subtract(amap, [(lo, hi, EVERYTHING) for lo, hi in agent_ranges])
    agent = NOTHING
    for lo, hi in agent_ranges:
        for _plo, _phi, ps in access.restrict(amap, lo, hi):
            agent = agent.union(ps)
    ports, other, ping = [], [], []
    for lo, hi, ps in forward:
        dst = format_interval(lo, hi)
        for proto in ('tcp', 'udp'):
            for plo, phi in getattr(ps, proto):
                ports.append('%s . %s . %s' % (dst, proto, plo if plo == phi else '%d-%d' % (plo, phi)))
        if ps.other:
            other.append(dst)
        elif allow_ping:
            ping.append(dst)
    agent_ports = []
    for proto in ('tcp', 'udp'):
        for plo, phi in getattr(agent, proto):
            agent_ports.append('%s . %s' % (proto, plo if plo == phi else '%d-%d' % (plo, phi)))
    return {'sources': list(sources), 'ports': ports, 'other': other, 'ping': ping,
            'agent_ports': agent_ports, 'agent_other': agent.other,
            'agent_ping': bool(agent) and not agent.other and allow_ping}


# ----------------------------------------------------------------------
# semantic diff


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


def snapshot(result):
    """What is recorded after an applied run, for the next run's diff."""
    return {'version': PLAN_VERSION, 'digest': result['plan']['digest'], 'matrix': result['matrix']}


__all__ = ['MeshError', 'canonical_json', 'compile_mesh', 'diff_snapshots', 'snapshot']
