# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Access classes: users with the same policies share one class.

Part of the compiler (see ``mesh_compile``): ``AccessClasses`` is mixed into
its ``_Compiler`` and fills ``policy_access``, ``user_policies``,
``class_maps``, ``class_internet``, ``user_class``, ``class_users``, ``class_pending``, ``site_groups``,
``class_dns`` and ``class_dns_domains``.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import PortSet, format_ip, parse_ip

DNS_PORTS = PortSet.parse(['udp/53', 'tcp/53'])


class SiteMap:
    """What a class of users may reach at one site, and what follows from
    it; classes share them: equal maps of a site are one SiteMap."""

    __slots__ = ('site', 'amap', 'peer', 'pending', 'grant', 'group')

    def __init__(self, site, amap):
        self.site = site
        self.amap = amap
        self.peer = None    # the ID of a user's peer for the site in the plan's site_peers (mesh_plans)
        self.pending = None  # the peer's name when the site's key is not known yet
        self.grant = None   # the matrix grant ID of the map (mesh_reach; '' when it reaches nothing)
        self.group = None   # the firewall elements of the map (mesh_flows.flow_group without sources)


class AccessClasses:
    """What each user may reach, computed once per class of users."""

    def _evaluate_policies(self):
        model = self.model
        terms = {}
        self.policy_access = dict((p.name, access.policy_access(p, model.sites, terms)) for p in model.policies)
        # A user's policies: those naming the user and those of the user's groups.
        group_policies, named = {}, {}
        for policy in model.policies:
            for group in policy.groups:
                group_policies.setdefault(group, []).append(policy.name)
            for name in policy.users:
                named.setdefault(name, []).append(policy.name)
        by_user = {}
        for name, user in model.users.items():
            names = set(named.get(user.person, ()))
            for group in user.groups:
                names.update(group_policies.get(group, ()))
            by_user[name] = sorted(names)
        self.user_policies = by_user

        undeliverable = {}
        for policy in model.policies:
            for site_name in self.policy_access[policy.name]:
                if not self.reachable(site_name):
                    undeliverable.setdefault(site_name, []).append(policy.name)
        for site_name, names in sorted(undeliverable.items()):
            self.problems.warn("site '%s'" % site_name,
                               'cannot be dialled by users (no endpoint, or behind NAT without port '
                               'forwarding) and no site relays, so what policies %s grant there is not reachable.'
                               % ', '.join(sorted(set(names))),
                               'forward UDP %d to the agent and set endpoint and port_forwarding: true, or mark '
                               'a site that can be dialled relay: true.' % model.sites[site_name].endpoint_port)

        # Users with the same policies share one access class: its [SiteMap]
        # in ``class_maps`` (``class_access`` gives site -> map).
        self.class_maps = {}
        self.user_class = {}
        policy_maps = {}    # policy -> {site: SiteMap}, sites users can reach only
        for policy in model.policies:
            policy_maps[policy.name] = dict((site_name, self._site_map(site_name, amap))
                                            for site_name, amap in self.policy_access[policy.name].items()
                                            if self.reachable(site_name))
        group_maps = dict((group, self._fold([policy_maps[p] for p in names]))
                          for group, names in group_policies.items())
        # The exit site whose internet access a class has (class_internet; None when it has none).
        self.class_internet = {}
        internet = dict((policy.name, policy.internet) for policy in model.policies if policy.internet)
        for name, user in model.users.items():
            key = () if user.expired else tuple(by_user[name])
            if key not in self.class_maps:
                # What the user's groups grant, then what the user is granted by name.
                parts = [] if user.expired else (
                    [group_maps[g] for g in user.groups if g in group_maps]
                    + [policy_maps[p] for p in named.get(user.person, ())])
                by_site = self._fold(parts)
                self.class_maps[key] = [by_site[site_name] for site_name in sorted(by_site)]
                exits = sorted(set(internet[p] for p in key if p in internet)) if internet else []
                if len(exits) > 1:
                    self.problems.error("user '%s'" % name, 'is granted the internet through several exit sites '
                                        '(%s, by policies %s): a client has one default route.'
                                        % (', '.join(exits), ', '.join(p for p in key if p in internet)),
                                        'grant each user the internet through one exit site.')
                self.class_internet[key] = exits[0] if exits else None
            self.user_class[name] = key
            if not user.expired and not self.class_maps[key] and not self.class_internet[key]:
                self.problems.warn("user '%s'" % name, 'is granted nothing reachable; the client bundle has '
                                   'no peers.', 'add the user or a group of theirs to a policy.')

        # The users of each class, in user order; site -> {SiteMap: [class]}:
        # the classes granted something there by their map, in the order of
        # their first users.
        self.class_users = {}
        for name, user in model.users.items():
            key = self.user_class[name]
            if key not in self.class_users:
                self.class_users[key] = []
            self.class_users[key].append(user)
        # The peers of classes whose keys are not known yet (classes without any are left out).
        self.class_pending = {}
        for key, users in self.class_users.items():
            names = ['user:' + user.name for user in users if user.public_key is None]
            if names:
                self.class_pending[key] = names
        self.site_groups = dict((name, {}) for name in model.sites)
        for key in self.class_users:
            for site_map in self.class_maps[key]:
                if site_map.amap:
                    by_map = self.site_groups[site_map.site]
                    if site_map in by_map:
                        by_map[site_map].append(key)
                    else:
                        by_map[site_map] = [key]

    def class_access(self, key):
        """site -> access map of class ``key``."""
        return dict((m.site, m.amap) for m in self.class_maps[key])

    def _site_map(self, site_name, amap):
        """The one SiteMap of ``site_name`` with a map equal to ``amap``."""
        value = (site_name, tuple(amap))
        if value not in self.site_maps:
            self.site_maps[value] = SiteMap(site_name, amap)
        return self.site_maps[value]

    def _fold(self, parts):
        """``{site: SiteMap}``, the union of ``parts`` (each ``{site: SiteMap}``).

        A site has few distinct maps, so the unions are kept in ``unions``.
        """
        by_site = {}
        for maps in parts:
            merged = {}
            for site_name in by_site.keys() & maps.keys():
                pair = (by_site[site_name], maps[site_name])
                if pair[0] is pair[1]:
                    continue
                if pair not in self.unions:
                    self.unions[pair] = self._site_map(site_name, access.union(pair[0].amap, pair[1].amap))
                merged[site_name] = self.unions[pair]
            by_site.update(maps)
            by_site.update(merged)
        return by_site

    def _dns(self):
        """Each class of users gets the network's DNS servers it can reach
        through the tunnel on udp/53 and tcp/53; the others are left out
        (a client must never be sent to a resolver it cannot reach).  With a
        per-domain server come its domains (``class_dns_domains``: sorted),
        and only with it."""
        servers = [(text, parse_ip(text)) for text in self.net.dns]
        split = self.net.dns_domains
        self.class_dns = {}
        self.class_dns_domains = {}
        missing = dict((text, []) for text, _addr in servers)
        # Only a class's map of a site holding a server can reach it.
        reached = {}    # server -> the classes reaching it
        for text, addr in servers:
            reached[text] = set()
            for name, site in self.model.sites.items():
                if not any(res.lo <= addr <= res.hi for res in site.resources.values()):
                    continue
                for site_map, keys in self.site_groups[name].items():
                    if access.covers(site_map.amap, addr, addr, DNS_PORTS):
                        reached[text].update(keys)
        for key, users in self.class_users.items():
            found = [text for text, _addr in servers if key in reached[text]]
            self.class_dns[key] = found
            self.class_dns_domains[key] = sorted(set(name for text in found for name in split.get(text, ())))
            if self.class_maps[key]:
                for text, _addr in servers:
                    if text not in found:
                        missing[text].extend(user.name for user in users if not user.expired)
        for text, names in sorted(missing.items()):
            if names:
                names.sort()
                shown = ', '.join(names[:10]) + (' and %d more' % (len(names) - 10) if len(names) > 10 else '')
                domains = (' (and with it %s)' % ', '.join(split[text])) if text in split else ''
                agents = [site.name for site in self.model.sites.values() if site.names and
                          format_ip(site.address) == text]
                fix = ('grant %s:agent:udp/53,tcp/53 to them in a policy if they should have the mesh\'s names '
                       '(its agent serves them, names: true).' % agents[0]) if agents else (
                    'grant it to them in a policy (the resource holding %s, with udp/53,tcp/53), or remove it from '
                    'meshconnect_network.dns.' % text)
                self.problems.warn("meshconnect_network dns server %s" % text,
                                   'is left out%s of the client configuration of %d user%s who cannot reach it '
                                   'on udp/53 and tcp/53 through the tunnel: %s.'
                                   % (domains, len(names), 's' if len(names) > 1 else '', shown), fix)
