# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh's own names, served by the agents of sites with ``names: true``.

Part of the compiler (see ``mesh_compile``): ``Names`` is mixed into its
``_Compiler``.  The zone is ``meshconnect_network.domain`` (by default
``NETWORK.mesh``); in it every site is ``SITE.ZONE`` (its agent's overlay
address), every active user ``USER.ZONE`` (the user's lease) and every
declared single-address resource ``RESOURCE.SITE.ZONE``.

Each serving agent is a per-domain DNS server for the zone (split DNS, see
``mesh_classes._dns``): users whose grants reach it on udp/53 and tcp/53 get
it, with the zone, in their bundles; the others never do.  The agent's
resolver (dnsmasq, installed by the role) answers on the overlay address
only, for the zone only: it forwards nothing.
"""

import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import format_ip

LABEL_RE = re.compile(r'[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z')


class Names:
    """The zone, its servers and its records."""

    def _name_servers(self):
        """Add every serving agent to the network's DNS servers, as a server of the zone only."""
        model = self.model
        self.name_records = None
        servers = [site for site in model.sites.values() if site.names]
        if not servers:
            return
        zone = self.net.domain
        if zone is None:
            self.problems.error('meshconnect_network', 'the network name %s makes no DNS zone for the names that '
                                '%s serve.' % (self.net.name, ', '.join(site.name for site in servers)),
                                'set meshconnect_network.domain, e.g. corp.mesh.')
            return
        for address, domains in self.net.dns_domains.items():
            if zone in domains:
                serving = ', '.join(site.name for site in servers)
                self.problems.error('meshconnect_network', 'dns server %s is given the domain %s, which the agents '
                                    'of %s serve (names: true).' % (address, zone, serving),
                                    'remove %s from that dns entry, or set meshconnect_network.domain to another '
                                    'zone for the mesh\'s own names.' % zone)
                return
        for site in servers:
            text = format_ip(site.address)
            if text not in self.net.dns:
                self.net.dns.append(text)
                self.net.dns_domains[text] = [zone]

    def _records(self):
        """``[[NAME, ADDRESS], ...]`` of the zone, sorted by name; names that
        are not DNS labels, or that another member holds, are left out with a
        warning."""
        if self.name_records is not None:
            return self.name_records
        model = self.model
        zone = self.net.domain
        records = {}
        skipped = []
        clashes = []

        def add(labels, address, what):
            if not all(LABEL_RE.match(label) for label in labels):
                skipped.append(what)
                return
            name = '.'.join(labels + [zone])
            if name in records:
                clashes.append('%s (%s has it)' % (what, records[name][1]))
                return
            records[name] = (address, what)

        for site in model.sites.values():
            add([site.name.lower()], format_ip(site.address), 'site %s' % site.name)
        for site in model.sites.values():
            for res in site.resources.values():
                if res.kind == 'declared' and res.lo == res.hi:
                    add([res.name.lower(), site.name.lower()], format_ip(res.lo), 'resource %s' % res.ref)
        for user in model.users.values():
            if not user.expired:
                # alice, or a device: laptop.alice
                add(user.name.lower().split('/')[::-1], user.address_text, 'user %s' % user.name)
        if skipped:
            more = ' (and %d more)' % (len(skipped) - 10) if len(skipped) > 10 else ''
            self.problems.warn('meshconnect_network domain %s' % zone,
                               'has no name for %s%s: a name in DNS is letters, digits and hyphens.'
                               % (', '.join(skipped[:10]), more),
                               'rename them if they should be found by name.')
        if clashes:
            self.problems.warn('meshconnect_network domain %s' % zone,
                               'has one name for two members; left out: %s.' % ', '.join(clashes[:10]),
                               'rename one of them (sites come first, then resources, then users).')
        self.name_records = [[name, records[name][0]] for name in sorted(records)]
        return self.name_records

    def _names_plan(self, site):
        """The ``names`` entry of a serving agent's plan, or None."""
        if not site.names or self.net.domain is None:
            return None     # no zone: _name_servers named the error
        return {'zone': self.net.domain, 'address': format_ip(site.address), 'records': self._records()}
