# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model's network and sites: the overlay network and its address space,
the sites with their endpoints and declared resources, what the agents
reported (keys, local resources), and references to a site's resources.

Everything here reads an inventory that ``mesh_schema.shape_and_clean``
has kept (see ``mesh_model.load_model``): every value has the kind the
schema says and no mapping has an unknown key, so what is checked here is
meaning: ranges, names, addresses, references.
"""

import base64
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, EVERYTHING, PRIVATE_RANGES, SPECIAL_RANGES, PortSet, addresses_within, contains,
    first_overlapping, format_cidr, format_ip, inside_one_of, looks_like_ipv4, overlaps, parse_cidr, parse_ip,
    prefix_interval,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import NAME_RE, NAME_RULE

HOST_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z')
ALL_DIGITS_RE = re.compile(r'[0-9.]*\Z')
RESERVED_RESOURCES = ('agent', 'internet', '*')
INTERNET = 'internet'     # the grant of an exit site's internet access; never a site's name
LOCAL_PREFIX = 'local-'

NETWORK_DEFAULTS = {
    'cidr': '100.65.0.0/22',
    'port': 51820,
    'interface': 'mc0',
    'mtu': 1420,
    'keepalive': 25,
    'dns': [],
    'allow_ping': True,
    'allow_public_cidr': False,
}


class Network:
    """``dns`` lists the address of every DNS server in inventory order, and
    ``dns_domains`` maps those that resolve only some domains (split DNS) to
    their domains (sorted, lower case); the others resolve every name."""

    def __init__(self, name, cidr, net, length, port, interface, mtu, keepalive, dns, allow_ping,
                 dns_domains=None):
        self.name = name
        self.cidr = cidr
        self.net = net
        self.length = length
        self.lo, self.hi = prefix_interval(net, length)
        self.port = port
        self.interface = interface
        self.mtu = mtu
        self.keepalive = keepalive
        self.dns = dns
        self.dns_domains = dns_domains or {}
        self.domain = None      # the zone of the mesh's own names (load_network)
        self.allow_ping = allow_ping
        self.mapping_pool = None    # (lo, hi, text): where mappings with published_as auto are given theirs

    @property
    def usable(self):
        """Leasable addresses: all but the network and broadcast addresses."""
        return self.hi - self.lo - 1

    def as_dict(self):
        return {'name': self.name, 'cidr': self.cidr, 'port': self.port, 'interface': self.interface,
                'mtu': self.mtu, 'keepalive': self.keepalive, 'dns': list(self.dns),
                'dns_domains': dict((address, list(domains)) for address, domains in self.dns_domains.items()),
                'allow_ping': self.allow_ping}


class Mapping:
    """A site's real prefix published to the rest of the mesh under another
    prefix of the same size, host part kept (1:1 network mapping)."""
    __slots__ = ('real', 'published', 'real_lo', 'real_hi', 'lo', 'hi')

    def __init__(self, real, published, real_lo, real_hi, lo, hi):
        self.real = real            # CIDR text, as inside the site
        self.published = published  # CIDR text, as the mesh sees it
        self.real_lo, self.real_hi = real_lo, real_hi
        self.lo, self.hi = lo, hi


class Resource:
    """A site resource. ``lo``/``hi``/``cidr`` are the addresses the mesh
    sees (users, peers, routes, the matrix): under a mapping, the published
    ones; ``real_lo``/``real_hi``/``real_cidr`` are those inside the site."""
    __slots__ = ('site', 'name', 'cidr', 'lo', 'hi', 'ports', 'kind', 'amap', 'real_lo', 'real_hi', 'real_cidr')

    def __init__(self, site, name, cidr, lo, hi, ports, kind):
        self.site = site
        self.name = name
        self.cidr = cidr
        self.real_cidr = cidr
        self.lo = self.real_lo = lo
        self.hi = self.real_hi = hi
        self.ports = ports
        self.kind = kind  # agent | declared | local
        # What a grant of the whole resource reaches: its addresses with its ports, capped where a
        # declared resource with ports lies inside it (see cap_resources).
        self.amap = [(lo, hi, ports)]

    @property
    def ref(self):
        return '%s:%s' % (self.site, self.name)

    @property
    def mapped(self):
        """Whether the mesh sees this resource under a mapped prefix (its real addresses differ)."""
        return self.kind != 'agent' and self.real_lo != self.lo


class Site:
    def __init__(self, host, name, router, endpoint, endpoint_port, behind_nat, port_forwarding, masquerade,
                 ignore_interfaces, include_interfaces=(), relay=False, via=None, exit=False, names=False):
        self.host = host
        self.name = name
        self.router = router
        self.endpoint = endpoint
        self.endpoint_port = endpoint_port
        self.behind_nat = behind_nat
        self.port_forwarding = port_forwarding
        self.masquerade = masquerade
        self.ignore_interfaces = ignore_interfaces
        self.include_interfaces = list(include_interfaces)
        self.relay = relay          # may relay for sites that cannot be dialled
        self.via = via              # the relay the inventory names for this site, or None
        self.exit = exit            # offers internet access to users granted `internet` (full tunnel)
        self.names = names          # its agent serves the mesh's names (mesh_names)
        self.resources = {}      # name -> Resource, declared and local and 'agent'
        self.public_key = None
        self.facts_known = False
        self.local_addresses = []   # the host's own IPv4 addresses (ints), as discovered
        self.attached = []          # (lo, hi, interface): the networks the host is on, used as resources or not
        self.discovery = []         # what discovery found: {interface, cidr, resource or None, why}
        self.mappings = []          # Mapping: real prefixes published under others

    def real_pieces(self, lo, hi):
        """The real addresses (inside the site) of the published interval
        ``(lo, hi)``, as intervals: split where a mapping begins or ends."""
        if not self.mappings:
            return [(lo, hi)]
        pieces = []
        cursor = lo
        for mapping in self.mappings:       # sorted by published address
            if mapping.hi < cursor or mapping.lo > hi:
                continue
            if mapping.lo > cursor:
                pieces.append((cursor, mapping.lo - 1))
            start, end = max(cursor, mapping.lo), min(hi, mapping.hi)
            pieces.append((start - mapping.lo + mapping.real_lo, end - mapping.lo + mapping.real_lo))
            cursor = end + 1
            if cursor > hi:
                return pieces
        pieces.append((cursor, hi))
        return pieces

    def real_amap(self, amap):
        """An access map of published addresses of this site, in its real addresses."""
        if not self.mappings:
            return amap
        return access.from_pieces([(rlo, rhi, ports) for lo, hi, ports in amap
                                   for rlo, rhi in self.real_pieces(lo, hi)])

    @property
    def dialable(self):
        """Peers and users can open a tunnel to this agent."""
        return bool(self.endpoint) and (not self.behind_nat or self.port_forwarding)

    @property
    def endpoint_text(self):
        if not self.dialable:
            return None
        host = self.endpoint
        return '%s:%d' % (host, self.endpoint_port)


def _bounded(problems, item, data, key, default, low, high):
    """The whole number ``data[key]`` (the schema checked its kind), or ``default`` when absent or out of
    ``low..high``."""
    value = data.get(key, default)
    if not low <= value <= high:
        problems.error(item, '%s must be an integer from %d to %d, not %r.' % (key, low, high, value),
                       'write a number without quotes, or leave %s out for the default %r.' % (key, default))
        return default
    return value


def validate_public_key(value):
    """True when ``value`` is a base64 WireGuard key (32 bytes)."""
    if not isinstance(value, str) or len(value) != 44 or not value.endswith('='):
        return False
    try:
        return len(base64.b64decode(value.encode('ascii'), validate=True)) == 32
    except (ValueError, TypeError):
        return False


# --------------------------------------------------------------------------
# the network


def load_network(problems, raw):
    """The Network of ``meshconnect_network`` (a mapping with a valid name)."""
    item = 'meshconnect_network'
    data = dict(NETWORK_DEFAULTS)
    data.update(raw)
    cidr = data['cidr']
    try:
        net, length = parse_cidr(cidr)
        if not 16 <= length <= 29:
            problems.error(item, 'cidr %s has prefix /%d.' % (cidr, length),
                           'use an IPv4 prefix from /16 to /29, e.g. 100.65.0.0/22.')
            net, length = 0, 29
    except AddressError as exc:
        problems.error(item, 'cidr is invalid: %s.' % exc, 'use an IPv4 prefix such as 100.65.0.0/22.')
        net, length = 0, 29
    port = _bounded(problems, item, data, 'port', 51820, 1, 65535)
    mtu = _bounded(problems, item, data, 'mtu', 1420, 1280, 9000)
    keepalive = _bounded(problems, item, data, 'keepalive', 25, 0, 3600)
    dns, dns_domains = _load_dns(problems, item, data['dns'] or [])
    network = Network(data['name'], format_cidr(net, length), net, length, port, data['interface'], mtu,
                      keepalive, dns, data['allow_ping'], dns_domains)
    _check_overlay_space(problems, item, cidr, network, data['allow_public_cidr'])
    network.domain = _zone(problems, item, data.get('domain'), data['name'])
    pool = data.get('mapping_pool')
    if pool is not None:
        try:
            net, length = parse_cidr(pool)
        except AddressError as exc:
            problems.error(item, 'mapping_pool is invalid: %s.' % exc, 'use an IPv4 prefix such as 10.200.0.0/16.')
            return network
        lo, hi = prefix_interval(net, length)
        if overlaps((lo, hi), (network.lo, network.hi)) or not inside_one_of((lo, hi), PRIVATE_RANGES):
            problems.error(item, 'mapping_pool %s overlaps the overlay %s, or is not private address space.'
                           % (pool, network.cidr), 'give a private prefix that no site uses, such as 10.200.0.0/16.')
            return network
        network.mapping_pool = (lo, hi, format_cidr(lo, length))
    return network


def _zone(problems, item, given, name):
    """The zone of the mesh's own names (``domain``, by default ``NAME.mesh``), lower case; None when the
    network's name makes none (an error then only if a site serves names)."""
    text = given if given is not None else '%s.mesh' % name
    if HOST_RE.match(text) and not ALL_DIGITS_RE.match(text) and '_' not in text:
        return text.lower()
    if given is not None:
        problems.error(item, 'domain %s is not a DNS name.' % show(given),
                       'write labels of letters, digits and hyphens joined by dots, e.g. corp.mesh.')
    return None


def _load_dns(problems, item, entries):
    """``(addresses, domains)`` of ``meshconnect_network.dns``: every server's
    address in order, and each per-domain server's address -> its domains
    (sorted, lower case).  An entry is an IPv4 address (a resolver for every
    name) or ``{address, domains}`` (a resolver only for those domains)."""
    addresses, domains = [], {}
    server_of = {}      # address -> the entry naming it
    domain_of = {}      # domain -> the entry listing it
    for index, entry in enumerate(entries):
        raw = entry['address'] if isinstance(entry, dict) else entry
        where = 'dns entry #%d' % (index + 1)
        try:
            address = format_ip(parse_ip(raw))
        except AddressError as exc:
            problems.error(item, '%s: address %s is invalid: %s.' % (where, show(raw), exc),
                           'give the IPv4 address of a DNS server, e.g. 10.50.0.53.')
            continue
        where = '%s (%s)' % (where, address)
        if address in server_of:
            problems.error(item, '%s is the same server as %s.' % (where, server_of[address]),
                           'list each server once; a server for some domains is one entry with all its domains.')
            continue
        server_of[address] = where
        if isinstance(entry, dict):
            names = _load_domains(problems, item, where, address, entry.get('domains'), domain_of)
            if names is None:
                continue
            domains[address] = names
        addresses.append(address)
    return addresses, domains


def _load_domains(problems, item, where, address, raw, domain_of):
    """The sorted, lower-case domains of the per-domain server ``where``, or None when it has none."""
    if not raw:
        problems.error(item, '%s has no domains.' % where,
                       'give the domains it resolves (domains: [corp.example]), or write the address alone '
                       '(- %s) for a resolver of every name.' % address)
        return None
    names = set()
    for text in raw:
        # Matched as written (ASCII only), then lower-cased: DNS names are case-insensitive.
        if not HOST_RE.match(text) or ALL_DIGITS_RE.match(text):
            problems.error(item, '%s: domain %s is not a DNS name.' % (where, show(text)),
                           'write labels of letters, digits and hyphens joined by dots, without a leading or '
                           'trailing dot and with a letter somewhere (wg-quick reads digits and dots as an '
                           'address), e.g. corp.example.')
            continue
        name = text.lower()
        if domain_of.get(name) == where:
            problems.error(item, '%s: domain %s is listed twice.' % (where, name), 'list it once.')
            continue
        if name in domain_of:
            problems.error(item, '%s: domain %s is listed by %s too.' % (where, name, domain_of[name]),
                           'give each domain to one server: remove it from one of the two entries.')
            continue
        domain_of[name] = where
        names.add(name)
    return sorted(names)


def _check_overlay_space(problems, item, cidr, network, allow_public):
    interval = (network.lo, network.hi)
    special = first_overlapping(interval, SPECIAL_RANGES)
    if special:
        problems.error(item, 'cidr %s overlaps %s, which is never routable as an overlay.' % (show(cidr), special),
                       'use private or shared address space, e.g. 100.65.0.0/22.')
    elif not allow_public and not inside_one_of(interval, PRIVATE_RANGES):
        problems.error(item, 'cidr %s is public address space: members would route someone else\'s addresses '
                       'into the mesh.' % show(cidr),
                       'use private or shared address space (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, '
                       '192.168.0.0/16; RFC 6598: 100.64.0.0/10), e.g. 100.65.0.0/22; or set '
                       'meshconnect_network.allow_public_cidr: true if you own that space.')


# --------------------------------------------------------------------------
# sites and their declared resources


def load_sites(problems, network, raw_sites):
    """Agent host -> meshconnect_site (None or a mapping) into site name -> Site, sorted by name."""
    sites = {}
    for host in sorted(raw_sites):
        site = _load_site(problems, network, host, raw_sites[host] or {})
        if site is None:
            continue
        if site.name in sites:
            problems.error("site '%s'" % site.name, 'is used by agent hosts %s and %s.'
                           % (sites[site.name].host, host), 'give each agent its own meshconnect_site.name.')
            continue
        sites[site.name] = site
    if not sites:
        problems.error('meshconnect_agents', 'the inventory has no agent hosts.',
                       'put one host per site into the meshconnect_agents group.')
    return dict(sorted(sites.items()))


def _load_site(problems, network, host, raw):
    name = raw.get('name', host)
    if not NAME_RE.match(name):
        # Only a host name standing in for a missing name can fail: the schema checked a given name.
        problems.error("agent host '%s'" % host, 'site name %r is not a valid name.' % (name,),
                       'use %s.' % NAME_RULE)
        return None
    item = "site '%s'" % name
    endpoint = raw.get('endpoint')
    if endpoint is not None and not HOST_RE.match(endpoint):
        problems.error(item, 'endpoint %r is not a host name or IPv4 address.' % (endpoint,),
                       'give the name or address peers dial, without a port (see endpoint_port).')
        endpoint = None
    if endpoint is not None and looks_like_ipv4(endpoint):
        endpoint = _check_endpoint_address(problems, item, network, endpoint)
    site = Site(
        host=host, name=name,
        router=raw.get('router', True),
        endpoint=endpoint,
        endpoint_port=_bounded(problems, item, raw, 'endpoint_port', network.port, 1, 65535),
        behind_nat=raw.get('behind_nat', False),
        port_forwarding=raw.get('port_forwarding', False),
        masquerade=raw.get('masquerade', False),
        ignore_interfaces=list(raw.get('ignore_interfaces') or []),
        include_interfaces=raw.get('include_interfaces') or [],
        relay=raw.get('relay', False),
        via=raw.get('via'),
        exit=raw.get('exit', False),
        names=raw.get('names', False),
    )
    if site.behind_nat and not site.port_forwarding and endpoint:
        problems.warn(item, 'is behind NAT without port forwarding, so its endpoint %s is never dialled.'
                      % endpoint, 'set port_forwarding: true once UDP %d is forwarded to the agent.'
                      % site.endpoint_port)
    if site.masquerade and not site.router:
        problems.warn(item, 'masquerade has no effect on a side-loaded agent (router: false).')
    seen = set()
    for entry in raw.get('resources') or []:
        resource = _load_resource(problems, network, name, entry, seen)
        if resource is not None:
            site.resources[resource.name] = resource
    for entry in raw.get('mappings') or []:
        mapping = _load_mapping(problems, network, item, entry, site.mappings)
        if mapping is not None:
            site.mappings.append(mapping)
    return site


def _load_mapping(problems, network, item, raw, earlier):
    """One entry of a site's ``mappings``, or None (with the error) when it cannot be used. An ``auto`` one
    has no published prefix yet (``mesh_mapping.assign`` gives it one)."""
    texts = (raw['prefix'], raw['published_as'])
    item = '%s mapping %s' % (item, texts[0])
    auto = texts[1] == 'auto'
    parsed = []
    for key, text in zip(('prefix', 'published_as'), texts[:1] if auto else texts):
        try:
            parsed.append(parse_cidr(text))
        except AddressError as exc:
            problems.error(item, '%s is invalid: %s.' % (key, exc), 'write a network, such as 192.168.1.0/24.')
            return None
    real, real_len = parsed[0]
    real_lo, real_hi = prefix_interval(real, real_len)
    if auto and network.mapping_pool is None:
        problems.error(item, 'is published_as auto, but the network has no mapping_pool to give it a prefix from.',
                       'set meshconnect_network.mapping_pool (a private prefix no site uses, such as '
                       '10.200.0.0/16), or give published_as.')
        return None
    lo = hi = published = None
    if not auto:
        published, published_len = parsed[1]
        if real_len != published_len:
            problems.error(item, 'publishes a /%d as the /%d %s: a 1:1 mapping keeps the host part, so both '
                           'prefixes have the same size.' % (real_len, published_len, texts[1]),
                           'publish it as a /%d.' % real_len)
            return None
        lo, hi = prefix_interval(published, published_len)
        published = format_cidr(published, published_len)
    if overlaps((real_lo, real_hi), (network.lo, network.hi)) or (
            lo is not None and overlaps((lo, hi), (network.lo, network.hi))):
        problems.error(item, 'overlaps the overlay network %s (%s).' % (network.name, network.cidr),
                       'publish the site under a prefix outside the overlay, and map only its LAN addresses.')
        return None
    if lo is not None:
        special = first_overlapping((lo, hi), SPECIAL_RANGES)
        if special:
            problems.error(item, 'published_as %s overlaps %s, which no host can use.' % (texts[1], special),
                           'publish it under a private prefix no site uses, such as one of 10.0.0.0/8.')
            return None
        if not inside_one_of((lo, hi), PRIVATE_RANGES):
            problems.error(item, 'published_as %s is not private address space: users and sites would route '
                           "someone else's addresses into the mesh." % texts[1],
                           'publish it inside %s.' % ', '.join(PRIVATE_RANGES))
            return None
    for other in earlier:
        if overlaps((real_lo, real_hi), (other.real_lo, other.real_hi)) or (
                lo is not None and other.lo is not None and overlaps((lo, hi), (other.lo, other.hi))):
            problems.error(item, 'overlaps the mapping of %s (published as %s) of this site.'
                           % (other.real, other.published or 'auto'), 'give each mapping its own prefixes.')
            return None
    return Mapping(format_cidr(real, real_len), published, real_lo, real_hi, lo, hi)


def check_mappings(problems, sites):
    """Published prefixes are the mesh's addresses for the mapped LANs: no
    two sites publish overlapping ones."""
    published = sorted(((mapping.lo, mapping.hi, site.name, mapping) for site in sites.values()
                        for mapping in site.mappings), key=lambda entry: entry[:3])
    for (lo, hi, name, mapping), (olo, ohi, oname, other) in zip(published, published[1:]):
        if overlaps((lo, hi), (olo, ohi)):
            problems.error("site '%s' mapping %s" % (oname, other.real),
                           'publishes %s, which overlaps %s that site %r publishes for %s.'
                           % (other.published, mapping.published, name, mapping.real),
                           'publish each mapped LAN under a prefix of its own.')


def map_resources(problems, site):
    """Give the site's declared and local resources inside a mapped prefix
    their published addresses (the real ones stay in ``real_*``)."""
    if not site.mappings:
        return
    site.mappings.sort(key=lambda mapping: mapping.lo)
    for res in list(site.resources.values()):
        if res.kind == 'agent':
            continue
        inside = [m for m in site.mappings if m.real_lo <= res.real_lo and res.real_hi <= m.real_hi]
        if inside:
            mapping = inside[0]
            shift = mapping.lo - mapping.real_lo
            res.lo, res.hi = res.real_lo + shift, res.real_hi + shift
            res.cidr = format_cidr(res.lo, parse_cidr(res.real_cidr)[1])
            res.amap = [(lo + shift, hi + shift, ports) for lo, hi, ports in res.amap]
            continue
        for mapping in site.mappings:
            if overlaps((res.real_lo, res.real_hi), (mapping.real_lo, mapping.real_hi)):
                problems.error("site '%s' resource '%s'" % (site.name, res.name),
                               '%s is partly inside the mapped prefix %s: the mesh could reach only part of '
                               'it, under two kinds of address.' % (res.real_cidr, mapping.real),
                               'map a prefix that holds the whole resource, or declare the resource inside it.')
                del site.resources[res.name]
                break
            if overlaps((res.real_lo, res.real_hi), (mapping.lo, mapping.hi)):
                problems.error("site '%s' resource '%s'" % (site.name, res.name),
                               '%s overlaps %s, under which the site publishes %s: the agent could not tell '
                               'them apart.' % (res.real_cidr, mapping.published, mapping.real),
                               'publish the mapping under a prefix that no resource of this site uses.')
                del site.resources[res.name]
                break


def check_exits(problems, sites):
    """The names of the sites that offer internet access (``exit: true``),
    by name: each can be dialled, and no site is named ``internet``."""
    exits = []
    for site in sites.values():
        if site.name == INTERNET:
            problems.error("site '%s'" % site.name, "the name 'internet' is reserved: policies grant `internet` "
                           'for the internet access of exit sites.', 'rename the site (meshconnect_site.name).')
        if not site.exit:
            continue
        if not site.dialable:
            problems.error("site '%s'" % site.name, 'is marked exit: true but cannot be dialled (no endpoint, or '
                           'behind NAT without port forwarding): users send all their traffic to an exit site '
                           'directly.', 'give it an endpoint users can dial, or remove exit: true.')
            continue
        exits.append(site.name)
    return exits


def check_relays(problems, sites):
    """The names of the sites that may relay, in the order relays are
    chosen (by name): each can be dialled; a site's ``via`` names one of
    them, and only a site that cannot be dialled has one."""
    candidates = []
    for site in sites.values():
        if site.relay and not site.dialable:
            problems.error("site '%s'" % site.name, 'is marked relay: true but cannot be dialled (no endpoint, or '
                           'behind NAT without port forwarding), so no site could reach it to be relayed.',
                           'give it an endpoint peers can dial (and port_forwarding: true behind NAT), or remove '
                           'relay: true.')
        elif site.relay:
            candidates.append(site.name)
    for site in sites.values():
        if site.via is None:
            continue
        item = "site '%s'" % site.name
        if site.via not in sites:
            problems.error(item, 'via names unknown site %r.' % site.via,
                           'use one of the sites marked relay: true: %s.' % (', '.join(candidates) or 'none yet'))
        elif site.via not in candidates:
            problems.error(item, 'via names %r, which is not a relay (relay: true, and it can be dialled).'
                           % site.via, 'use one of: %s, or mark %s relay: true.'
                           % (', '.join(candidates) or 'no site is a relay yet', site.via))
        elif site.dialable:
            problems.warn(item, 'can be dialled, so it needs no relay: via %s is not used.' % site.via,
                          'remove via, or keep it for when the site loses its port forward.')
    return candidates


def _check_endpoint_address(problems, item, network, endpoint):
    """``endpoint`` (written as an IPv4 address) when peers can dial it, else None."""
    try:
        address = parse_ip(endpoint)
    except AddressError as exc:
        problems.error(item, 'endpoint is invalid: %s.' % exc,
                       'give the IPv4 address or host name peers dial, without a port.')
        return None
    if contains((network.lo, network.hi), (address, address)):
        problems.error(item, 'endpoint %s is inside the overlay network %s: the tunnel would have to '
                       'carry its own packets.' % (endpoint, network.cidr),
                       'give the address peers dial on the underlay (public or LAN address of the agent).')
        return None
    if first_overlapping((address, address), SPECIAL_RANGES):
        problems.error(item, 'endpoint %s is a loopback, multicast or reserved address that no peer can '
                       'dial.' % endpoint, 'give the address peers dial to reach the agent.')
        return None
    return endpoint


def _load_resource(problems, network, site_name, raw, seen):
    name = raw['name']
    item = "site '%s' resource '%s'" % (site_name, name)
    if name in RESERVED_RESOURCES or name.startswith(LOCAL_PREFIX):
        problems.error(item, 'the name %r is reserved (agent, internet, local-*).' % name, 'rename the resource.')
        return None
    if name in seen:
        problems.error(item, 'is defined more than once in this site.', 'give each resource its own name.')
        return None
    seen.add(name)
    address = raw['address']
    try:
        net, length = parse_cidr(address)
    except AddressError as exc:
        problems.error(item, 'address is invalid: %s.' % exc,
                       'use an IPv4 address (10.0.0.5) or network (10.0.0.0/24).')
        return None
    lo, hi = prefix_interval(net, length)
    if overlaps((lo, hi), (network.lo, network.hi)):
        problems.error(item, 'address %s overlaps the overlay network %s (%s).'
                       % (address, network.name, network.cidr),
                       'resources live on site LANs; use the LAN address, or move the overlay with '
                       'meshconnect_network.cidr.')
        return None
    ports = EVERYTHING
    specs = raw.get('ports') or []
    if specs:
        try:
            ports = PortSet.parse(specs)
        except AddressError as exc:
            problems.error(item, 'ports are invalid: %s.' % exc,
                           'list ports 1-65535 as proto/port or proto/low-high, e.g. [tcp/443, udp/1000-2000], '
                           'or leave ports out for every port.')
            return None
    return Resource(site_name, name, format_cidr(net, length), lo, hi, ports, 'declared')


# --------------------------------------------------------------------------
# endpoints, resources as grants reach them, references


def check_endpoints(problems, sites):
    """The sorted endpoint addresses of the sites (those written as addresses).

    A declared resource must not contain an agent's endpoint address: routed
    into the mesh, it would send the tunnel's own packets into the tunnel.
    (Discovered local resources that do are left out instead.)"""
    owners = {}     # endpoint address -> site names
    for site in sites.values():
        if site.endpoint and looks_like_ipv4(site.endpoint):
            owners.setdefault(parse_ip(site.endpoint), []).append(site.name)
    endpoint_ips = sorted(owners)
    for site in sites.values():
        for mapping in site.mappings:
            if mapping.lo is None:
                continue    # published_as auto: its prefix is chosen clear of the endpoints
            for address in addresses_within(endpoint_ips, (mapping.lo, mapping.hi)):
                names = ', '.join("'%s'" % name for name in owners[address])
                problems.error("site '%s' mapping %s" % (site.name, mapping.real),
                               'publishes %s, which contains %s, the endpoint of site %s: routed into the mesh, '
                               'it would carry the tunnel to that site inside itself.'
                               % (mapping.published, format_ip(address), names),
                               'publish the mapping under a prefix that holds no endpoint.')
        for res in site.resources.values():
            if res.kind != 'declared':
                continue
            for address in addresses_within(endpoint_ips, (res.lo, res.hi)):
                names = ', '.join("'%s'" % name for name in owners[address])
                problems.error("site '%s' resource '%s'" % (site.name, res.name),
                               '%s contains %s, the endpoint of site %s: routed into the mesh, it would carry '
                               'the tunnel to that site inside itself.' % (res.cidr, format_ip(address), names),
                               'declare only the addresses behind the agent, leaving the endpoint out.')
    return endpoint_ips


def cap_resources(site):
    """A resource with ports only ever allows those: inside any broader
    resource of its site (a LAN, a discovered subnet), the addresses of a
    declared resource with ports are capped to the ports declared there
    (to their union where several such resources share an address)."""
    limited = [(r.lo, r.hi, r.ports) for r in site.resources.values()
               if r.kind == 'declared' and r.ports != EVERYTHING]
    if not limited:
        return
    caps = access.from_pieces(limited)
    for res in site.resources.values():
        if res.kind != 'agent' and access.touches(caps, res.lo, res.hi):
            res.amap = access.cap(res.amap, caps)


def check_resource_ref(problems, item, sites, site_name, resource, what):
    """Whether ``site_name:resource`` names a known resource (``*``: any); an unknown one is an error,
    a local resource of an agent that has not reported yet a warning."""
    site = sites.get(site_name)
    if site is None:
        problems.error(item, '%s names unknown site %r.' % (what, site_name),
                       'use one of: %s.' % (', '.join(sites) or 'no sites defined'))
        return False
    if resource == '*' or resource in site.resources:
        return True
    if resource.startswith(LOCAL_PREFIX) and not site.facts_known:
        problems.warn(item, '%s names %s:%s, a local resource not known until the agent reports its '
                      'interfaces; it is left out of this plan.' % (what, site_name, resource))
        return False
    problems.error(item, '%s names unknown resource %r of site %r.' % (what, resource, site_name),
                   'use one of: %s, or declare it under meshconnect_site.resources of %s.'
                   % (', '.join(site.resources), site_name))
    return False
