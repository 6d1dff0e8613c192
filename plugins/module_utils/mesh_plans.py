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
    EVERYWHERE, LINK_LOCAL, PRIVATE_RANGES, SPECIAL_RANGES, cidr_interval, format_interval, format_ip,
    interval_to_cidrs, merge_intervals, parse_interval,
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
        sites = self.model.sites
        peers = []
        owner = []          # (lo, hi, peer name, what) for the AllowedIPs overlap check
        routes = []
        pending = []
        linked = self.link_names[site.name]
        if self.relay_of and not site.dialable:
            linked = dict((t_name, names) for t_name, names in linked.items() if not self.pair_relay(site.name, t_name))
        tunnels = self.relay_tunnels.get(site.name, {})
        for t_name in sorted(set(linked) | set(tunnels)):
            peer = sites[t_name]
            intervals = [(peer.address, peer.address)]
            links = set(linked.get(t_name, ()))
            if t_name in linked:
                for r_name in sorted(self.peer_ranges[site.name].get(t_name, ())):
                    res = peer.resources[r_name]
                    intervals.append((res.lo, res.hi))
                    owner.append((res.lo, res.hi, t_name, res.ref))
                    routes.append((res.lo, res.hi))
            tunnel = tunnels.get(t_name)
            if tunnel is not None:
                for lo, hi, what in tunnel.ranges:
                    intervals.append((lo, hi))
                    if hi < net.lo or lo > net.hi:
                        owner.append((lo, hi, t_name, what))
                        routes.append((lo, hi))
            if peer.public_key is None:
                pending.append('site:' + t_name)
            entry = {
                'name': 'site:' + t_name,
                'kind': 'site',
                'address': format_ip(peer.address),
                'public_key': peer.public_key,
                'endpoint': peer.endpoint_text,
                'behind_nat': peer.behind_nat,
                'allowed_ips': cidrs(intervals),
                'keepalive': 0 if site.dialable else net.keepalive,
                'links': sorted(links),
            }
            if tunnel is not None and tunnel.relayed:
                # The sites whose traffic this tunnel carries through a relay, and the links it carries there
                # (this site and the peer are not both their members: one of them is the relay).
                entry['relays'] = sorted(tunnel.relayed)
                entry['via_links'] = sorted(tunnel.links)
            if tunnel is not None and tunnel.classes:
                # The users served here through the relay: their addresses are routed back to it.
                entry['classes'] = sorted(self.class_ids[key] for key in tunnel.classes)
            peers.append(entry)
        self._check_overlaps("site '%s'" % site.name, owner,
                             'WireGuard routes each address to one peer; expose non-overlapping resources '
                             'to this site, or split the links.')
        # A route into the mesh must not take the site's own addresses: published or real (its LAN).
        own = [(r.lo, r.hi, r.ref) for r in site.resources.values() if r.kind != 'agent']
        own.extend((r.real_lo, r.real_hi, r.ref) for r in site.resources.values() if r.mapped)
        for lo, hi, peer, ref in owner:
            clash = sorted(set(oref for olo, ohi, oref in own if lo <= ohi and olo <= hi))
            for oref in clash:
                self.problems.error("site '%s'" % site.name,
                                    'would route %s (%s) into the mesh, but it overlaps its own resource %s.'
                                    % (format_interval(lo, hi), ref, oref),
                                    "publish one of the two under a mapped prefix: add to site '%s' (or '%s') "
                                    'mappings: [{prefix: <its LAN>, published_as: <an unused prefix of the same '
                                    'size>}] (docs/inventory.md, Overlapping LANs); or renumber one LAN, or do not '
                                    'expose it on this link.' % (peer, site.name))
            # A network the agent is on (its uplink too): a route into the tunnel inside it would take the
            # agent's neighbours there, its gateway or the underlay its own tunnels run over. A broader route
            # leaves it local (the connected route is more specific), so that part is not reached from here.
            for alo, ahi, ifname in [] if clash else site.attached:
                if alo <= lo and hi <= ahi:
                    self.problems.error("site '%s'" % site.name,
                                        'would route %s (%s) into the mesh, but the agent is on %s itself '
                                        '(interface %s): its neighbours there, and maybe the tunnels themselves, '
                                        'would be sent into the tunnel.'
                                        % (format_interval(lo, hi), ref, format_interval(alo, ahi), ifname),
                                        'do not grant or expose those addresses through this agent; for a '
                                        "side-loaded agent's own address, list its interface in "
                                        "ignore_interfaces of the site it belongs to.")
                    break
                if lo <= ahi and alo <= hi:
                    self.problems.warn("site '%s'" % site.name,
                                       'routes %s (%s) into the mesh, but the agent is on %s itself (interface %s): '
                                       'that part stays on its own network and is not reached through the mesh from '
                                       'this site.' % (format_interval(lo, hi), ref, format_interval(alo, ahi), ifname),
                                       'narrow what is exposed or granted through this agent if that part matters.')

        agent_ranges = self._agent_ranges(site)
        groups = []
        if self.reachable(site.name):
            # The classes of users with equal access here are one group,
            # named by class (their users, addresses and peer entries are in
            # the plan's classes and users), with the site peer their
            # clients have for this site.
            by_map = self.site_groups[site.name]    # SiteMap -> [class]; equal maps are one SiteMap
            if self.class_pending and site.dialable:
                for keys in by_map.values():
                    for key in keys:
                        pending.extend(self.class_pending.get(key, ()))
            # Classes come in the order of their first users (by name): a
            # group's first class has its first user.
            ordered = [(self.class_users[keys[0]][0].address_text, site_map, keys)
                       for site_map, keys in by_map.items()]
            for _first, site_map, keys in sorted(ordered, key=lambda entry: entry[0]):
                if site_map.group is None:
                    # The firewall sees the real destination: a mapped one is translated before it.
                    site_map.group = flow_group((), site.real_amap(site_map.amap), net.allow_ping, agent_ranges)
                    del site_map.group['sources']
                groups.append(dict(site_map.group, classes=[self.class_ids[key] for key in keys],
                                   peer=site_map.peer))
        for lo, hi, amap in decompose(self.site_grants[site.name]):
            groups.append(flow_group([format_interval(lo, hi)], site.real_amap(amap), net.allow_ping, agent_ranges))

        relay = self._relay_plan(site)
        if relay is not None and self.class_pending:
            for key in self.relay_users.get(site.name, ()):
                pending.extend(self.class_pending.get(key, ()))
        exit_entry = self._exit_plan(site, pending) if site.exit else None
        # Before the translation to published addresses (postrouting): the real ones.
        local = [(r.real_lo, r.real_hi) for r in site.resources.values() if r.kind != 'agent']
        plan = {
            'site': site.name,
            'host': site.host,
            'address': format_ip(site.address),
            'prefix': net.length,
            'overlay': net.cidr,
            'interface': net.interface,
            'listen_port': net.port,
            'mtu': net.mtu,
            'router': site.router,
            # A relay forwards between tunnels even when it is side-loaded.
            'forwarding': site.router or relay is not None or site.exit,
            'masquerade': site.masquerade and site.router,
            'dialable': site.dialable,
            'endpoint': site.endpoint_text,
            'endpoint_port': site.endpoint_port,
            'behind_nat': site.behind_nat,
            'port_forwarding': site.port_forwarding,
            'peers': peers,
            'pending_keys': sorted(set(pending)),
            'routes': cidrs(routes),
            'resources': [dict({'name': r.name, 'cidr': r.cidr, 'ports': r.ports.describe(), 'kind': r.kind},
                               **({'real': r.real_cidr} if r.mapped else {}))
                          for r in site.resources.values()],
            'local_addresses': [format_ip(a) for a in site.local_addresses],
            'firewall': {
                'groups': groups,
                # Anti-spoofing: what may enter the mesh from the site's own networks.
                'local_sources': [format_interval(lo, hi) for lo, hi in merge_intervals(local)],
            },
        }
        if site.mappings:
            # 1:1 mappings, [published, real]: destinations translated on the way in, sources on the way out.
            plan['firewall']['netmap'] = [[m.published, m.real] for m in site.mappings]
        if site.name in self.relay_of:
            plan['via'] = self.relay_of[site.name]
        if relay is not None:
            plan['relay'] = relay
        if exit_entry is not None:
            plan['exit'] = exit_entry
        names = self._names_plan(site)
        if names is not None:
            plan['names'] = names
        return plan

    def _exit_plan(self, site, pending):
        """The ``exit`` entry of an exit site's agent plan: the classes of
        users granted its internet access (and their peer for it) and what is
        not the internet (the overlay, private and special ranges, and every
        resource of the mesh: the internet grant never reaches them)."""
        entries = {}    # peer -> [class IDs]
        for key, exit_site in self.class_internet.items():
            if exit_site == site.name and key in self.class_users:
                entries.setdefault(self.class_hub_peer[(key, site.name)], []).append(self.class_ids[key])
                pending.extend(self.class_pending.get(key, ()))
        if self.not_internet is None:
            ranges = [cidr_interval(text) for text in PRIVATE_RANGES + SPECIAL_RANGES + (LINK_LOCAL,)]
            ranges.append((self.net.lo, self.net.hi))
            ranges.extend((res.lo, res.hi) for other in self.model.sites.values() for res in other.resources.values()
                          if res.kind != 'agent')
            # The exit site's forward chain sees its own mapped resources by their real addresses.
            ranges.extend((res.real_lo, res.real_hi) for other in self.model.sites.values()
                          for res in other.resources.values() if res.mapped)
            self.not_internet = cidrs(ranges)
        return {'users': [{'classes': sorted(ids), 'peer': peer} for peer, ids in sorted(entries.items())],
                'excluded': list(self.not_internet)}

    def _may_clash(self, site_names):
        """Whether two of ``site_names`` may have resources with addresses in
        common (only then can what a client routes to them overlap, and the
        exact check run).

        One sweep over every site's resources cuts the address space into
        runs of overlapping ones; a run that holds two sites is shared.  Two
        sites in one shared run may overlap (the exact check says whether
        they do); sites that share no run never do.
        """
        if self.clashing is None:
            runs = []           # the sites of each run
            reach = -1
            for lo, hi, name in sorted((res.lo, res.hi, site.name) for site in self.model.sites.values()
                                       for res in site.resources.values()):
                if lo > reach:
                    runs.append(set())
                reach = max(reach, hi)
                runs[-1].add(name)
            self.clashing = {}  # site -> the shared runs it has resources in
            for number, names in enumerate(runs):
                if len(names) > 1:
                    for name in names:
                        self.clashing.setdefault(name, []).append(number)
        if not self.clashing:
            return False
        seen = {}               # shared run -> the first of site_names in it
        for name in site_names:
            for number in self.clashing.get(name, ()):
                if seen.setdefault(number, name) != name:
                    return True
        return False

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
        """``(users, classes, site_peers)``: each user's plan names its class
        (``class``); a class (``classes``) lists its users, its DNS servers
        and the sites whose keys are pending; a site peer (``site_peers``)
        is what a client needs to reach one site, shared by every class with
        the same access there.  Which site peers a class has is said once,
        by the agents' firewall groups (``classes`` and ``peer``):
        ``user_plans`` gives users' whole plans back."""
        users, classes, site_peers = {}, {}, {}
        self.class_hub_peer = {}    # (class, relay or exit site) -> the class's peer for it
        for key, members in self.class_users.items():
            self.class_ids[key] = self._user_class(key, members, classes, site_peers)
        for user in self.model.users.values():
            users[user.name] = {
                'name': user.name,
                'address': user.address_text,
                'expired': user.expired,
                'public_key': user.public_key,
                'class': self.class_ids[self.user_class[user.name]],
            }
            if user.revoked:
                users[user.name]['revoked'] = True
            if user.expires_at is not None and not user.expired:
                users[user.name]['expires_at'] = user.expires_at
        return users, classes, site_peers

    def _user_class(self, key, members, classes, site_peers):
        """The ID of class ``key`` in ``classes``; the first of its
        ``members`` is named if the class routes overlapping addresses."""
        pending = []
        relayed = {}    # relay -> the class's SiteMaps at the sites it relays
        if self.relay_of:
            for site_map in self.class_maps[key]:
                relay = self.relay_of.get(site_map.site)
                if relay is not None and site_map.amap:
                    relayed.setdefault(relay, []).append(site_map)
        exit_site = self.class_internet.get(key)
        hubs = set(relayed) | ({exit_site} if exit_site else set())
        for site_map in self.class_maps[key]:
            if hubs and (site_map.site in self.relay_of or site_map.site in hubs):
                continue    # reached through a relay, or a relay or exit whose peer carries more (below)
            if site_map.peer is None:
                site = self.model.sites[site_map.site]
                intervals = [(lo, hi) for lo, hi, _ps in site_map.amap]
                peer = {'name': 'site:' + site.name, 'site': site.name, 'public_key': site.public_key,
                        'endpoint': site.endpoint_text, 'allowed_ips': cidrs(intervals)}
                site_map.peer = add_by_digest(site_peers, peer)
                if site.public_key is None:
                    site_map.pending = peer['name']
            if site_map.pending:
                pending.append(site_map.pending)
        for hub in sorted(hubs):
            # One peer for a relay carries what the class reaches there and at the sites it relays; the
            # class's exit site gets everything else too (0.0.0.0/0: the peers of other sites are more specific).
            site = self.model.sites[hub]
            reached = [m for m in self.class_maps[key] if m.site == hub] + relayed.get(hub, [])
            intervals = [(lo, hi) for site_map in reached for lo, hi, _ps in site_map.amap]
            peer = {'name': 'site:' + hub, 'site': hub, 'public_key': site.public_key,
                    'endpoint': site.endpoint_text,
                    'allowed_ips': [EVERYWHERE] if hub == exit_site else cidrs(intervals)}
            if hub in relayed:
                peer['relays'] = sorted(site_map.site for site_map in relayed[hub])
            if hub == exit_site:
                peer['exit'] = True
            self.class_hub_peer[(key, hub)] = add_by_digest(site_peers, peer)
            if site.public_key is None:
                pending.append(peer['name'])
        if self._may_clash(site_map.site for site_map in self.class_maps[key]):
            owner = [(lo, hi, site_map.site, site_map.site) for site_map in self.class_maps[key]
                     for lo, hi in merge_intervals([(lo, hi) for lo, hi, _ps in site_map.amap])]
            self._check_overlaps("user '%s'" % members[0].name, owner,
                                 'a client routes each address to one site; narrow the policies so that '
                                 'overlapping LANs are not granted together.')
        entry = {'users': [user.name for user in members], 'dns': list(self.class_dns[key]),
                 'dns_domains': list(self.class_dns_domains[key]), 'pending_keys': sorted(pending)}
        return add_by_digest(classes, entry)


# The latest instant an agent's firewall can hold (seconds; nftables keeps meta time in signed 64-bit
# nanoseconds, until 2262-04-11): the end of every expiry interval, and later ends are never reached.
AGENT_TIME_MAX = 9223372035


def agent_plan(plan, host):
    """The whole plan of the agent on ``host``, as the role applies it.

    In the plan, an agent's ``peers`` are its site peers, and a firewall
    group of users names their classes (``classes``, IDs in the plan's
    ``classes``, each listing its users) and their clients' site peer for
    this site (``peer``) instead of listing their addresses.  Here each such
    group gets its ``sources`` (the users' addresses, in name order) and
    ``peers`` a peer entry per user, after the site peers and in name order.

    A relay's ``relay`` entry becomes ``firewall.relay``, the ``[SOURCE,
    DESTINATION]`` pairs it forwards between tunnels (its users get peers
    too); a site peer that names ``classes`` (a relay, for users served
    here through it) routes their addresses back.  ``firewall.users`` lists
    every user address the agent knows of (nothing here opens connections
    to them).
    """
    agent = dict(plan['agents'][host])
    # What the agent derives its peers' preshared keys from (mesh_psk): the network's name, and whether to.
    agent['network'] = plan['network']['name']
    agent['preshared_keys'] = bool(plan['network'].get('preshared_keys'))
    users = plan['users']
    classes = plan['classes']
    names = set()
    known = set()       # users the agent serves or relays, and their addresses
    groups = []
    for group in agent['firewall']['groups']:
        if 'classes' in group:
            members = _members(classes, group['classes'])
            known.update(members)
            if agent['dialable']:
                names.update(members)
            group = dict(group, sources=[users[name]['address'] for name in members])
            del group['classes'], group['peer']
        groups.append(group)
    exit_users = []
    exit_entry = agent.pop('exit', None)
    if exit_entry:
        for entry in exit_entry['users']:
            members = _members(classes, entry['classes'])
            names.update(members)
            known.update(members)
            exit_users.extend(users[name]['address'] for name in members)
    pairs = []
    relay = agent.pop('relay', None)
    if relay:
        for entry in relay['users']:
            members = _members(classes, entry['classes'])
            names.update(members)
            known.update(members)
            pairs.extend([users[name]['address'], dst] for name in members for dst in entry['destinations'])
        pairs.extend(list(pair) for pair in relay['sites'])
    peers = []
    for peer in agent['peers']:
        if 'classes' in peer:
            members = _members(classes, peer['classes'])
            known.update(members)
            intervals = [parse_interval(text) for text in peer['allowed_ips']]
            intervals.extend(parse_interval(users[name]['address']) for name in members)
            peer = dict(peer, allowed_ips=cidrs(intervals))
            del peer['classes']
        peers.append(peer)
    agent['firewall'] = dict(agent['firewall'], groups=groups, relay=pairs,
                             users=[users[name]['address'] for name in sorted(known)],
                             expiring=[[users[name]['address'], users[name]['expires_at']] for name in sorted(known)
                                       if users[name].get('expires_at') is not None
                                       and users[name]['expires_at'] < AGENT_TIME_MAX],
                             exit_users=sorted(exit_users, key=parse_interval),
                             exit_excluded=list(exit_entry['excluded']) if exit_entry else [])
    agent['peers'] = peers + [_user_peer(users[name]) for name in sorted(names)]
    return agent


def _members(classes, class_ids):
    """The users of the classes ``class_ids`` (IDs in the plan's ``classes``), by name."""
    return sorted(name for class_id in class_ids for name in classes[class_id]['users'])


def is_whole(agent):
    """Whether ``agent`` is a whole agent plan (``agent_plan``), not the
    plan's own entry whose user groups name their classes."""
    groups = (agent.get('firewall') or {}).get('groups') or []
    return 'relay' not in agent and 'exit' not in agent and not any(isinstance(group, dict) and 'classes' in group for group in groups)


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


def user_plans(plan, names=None):
    """``{name: whole plan}`` of the users ``names`` (all when None): what
    a client configuration is made of (``mesh_wgconf.client_config``).

    A class's site peers are those of the agents' firewall groups naming
    it, one per site, in site order, or the peer a relay names for it (none
    for the sites it relays): one pass over the agents gives them for every
    class.
    """
    site_peers = plan['site_peers']
    class_peers = {}
    for agent in plan['agents'].values():
        # A class relayed by this agent, or using it as its exit, has one peer for it, carrying what it
        # reaches here too.
        relayed = dict((class_id, entry['peer'])
                       for entry in (agent.get('relay') or {}).get('users', []) + (agent.get('exit') or {}).get('users', [])
                       for class_id in entry['classes'])
        for group in agent['firewall']['groups']:
            for class_id in group.get('classes', ()):
                if group['peer'] is not None and class_id not in relayed:
                    class_peers.setdefault(class_id, []).append(group['peer'])
        for class_id, peer_id in relayed.items():
            class_peers.setdefault(class_id, []).append(peer_id)
    network = plan['network']
    keepalive = network['keepalive']
    out = {}
    for name in (plan['users'] if names is None else names):
        user = plan['users'][name]
        entry = plan['classes'][user['class']]
        peer_ids = sorted(class_peers.get(user['class'], ()), key=lambda peer_id: site_peers[peer_id]['site'])
        out[name] = {
            'name': user['name'],
            'address': user['address'],
            'prefix': 32,
            'dns': list(entry['dns']),
            'dns_domains': list(entry['dns_domains']),
            'mtu': network['mtu'],
            'expired': user['expired'],
            'public_key': user['public_key'],
            'peers': [dict(site_peers[peer_id], keepalive=keepalive) for peer_id in peer_ids],
            'pending_keys': list(entry['pending_keys']),
        }
    return out


def user_plan(plan, name):
    """The whole plan of user ``name`` (``user_plans`` of one user)."""
    return user_plans(plan, [name])[name]


def cidrs(intervals):
    out = []
    for lo, hi in merge_intervals(intervals):
        out.extend(interval_to_cidrs(lo, hi))
    return out
