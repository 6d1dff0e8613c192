# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model: validation and normalisation of what users write.

``load_model(inventory, facts, problems)`` turns plain dicts and lists (as
found in Ansible variables) into a :class:`Model`.  Every malformed or
inconsistent item is reported through ``problems`` with its name and a fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import bisect
import datetime
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, EVERYTHING, PortSet, cidr_interval, format_ip, overlaps, parse_cidr, parse_ip,
)

NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}\Z')
HOST_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z')
IFACE_RE = re.compile(r'^[A-Za-z0-9_.=+-]{1,15}\Z')
RESERVED_RESOURCES = ('agent', '*')
LOCAL_PREFIX = 'local-'

NETWORK_DEFAULTS = {
    'name': None,
    'cidr': '100.65.0.0/22',
    'port': 51820,
    'interface': 'mc0',
    'mtu': 1420,
    'keepalive': 25,
    'dns': [],
    'allow_ping': True,
}
SITE_KEYS = ('name', 'router', 'endpoint', 'endpoint_port', 'behind_nat', 'port_forwarding', 'masquerade',
             'resources', 'ignore_interfaces')
RESOURCE_KEYS = ('name', 'address', 'ports', 'description')
LINK_KEYS = ('name', 'sites', 'description')
USER_KEYS = ('name', 'groups', 'public_key', 'expires', 'email', 'description')
POLICY_KEYS = ('name', 'users', 'groups', 'allow', 'except', 'description')
TEST_KEYS = ('user', 'allow', 'deny')


class Network:
    def __init__(self, name, cidr, net, length, port, interface, mtu, keepalive, dns, allow_ping):
        self.name = name
        self.cidr = cidr
        self.net = net
        self.length = length
        self.lo = net
        self.hi = net | ((1 << (32 - length)) - 1)
        self.port = port
        self.interface = interface
        self.mtu = mtu
        self.keepalive = keepalive
        self.dns = dns
        self.allow_ping = allow_ping

    @property
    def usable(self):
        """Leasable addresses: all but the network and broadcast addresses."""
        return self.hi - self.lo - 1

    def as_dict(self):
        return {'name': self.name, 'cidr': self.cidr, 'port': self.port, 'interface': self.interface,
                'mtu': self.mtu, 'keepalive': self.keepalive, 'dns': list(self.dns),
                'allow_ping': self.allow_ping}


class Resource:
    __slots__ = ('site', 'name', 'cidr', 'lo', 'hi', 'ports', 'kind')

    def __init__(self, site, name, cidr, lo, hi, ports, kind):
        self.site = site
        self.name = name
        self.cidr = cidr
        self.lo = lo
        self.hi = hi
        self.ports = ports
        self.kind = kind  # agent | declared | local

    @property
    def ref(self):
        return '%s:%s' % (self.site, self.name)


class Site:
    def __init__(self, host, name, router, endpoint, endpoint_port, behind_nat, port_forwarding, masquerade,
                 ignore_interfaces):
        self.host = host
        self.name = name
        self.router = router
        self.endpoint = endpoint
        self.endpoint_port = endpoint_port
        self.behind_nat = behind_nat
        self.port_forwarding = port_forwarding
        self.masquerade = masquerade
        self.ignore_interfaces = ignore_interfaces
        self.resources = {}      # name -> Resource, declared and local and 'agent'
        self.public_key = None
        self.facts_known = False

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


class Link:
    def __init__(self, name, exposes):
        self.name = name
        self.exposes = exposes   # site name -> [resource names]


class User:
    def __init__(self, name, groups, public_key, expires):
        self.name = name
        self.groups = groups
        self.public_key = public_key
        self.expires = expires
        self.expired = False


class Grant:
    """One ``SITE[:RESOURCE[:PORTS]]`` term of a policy or test."""

    __slots__ = ('text', 'site', 'resource', 'ports')

    def __init__(self, text, site, resource, ports):
        self.text = text
        self.site = site          # a site name or '*'
        self.resource = resource  # a resource name or '*'
        self.ports = ports        # PortSet or None (= the resource's own ports)


class Policy:
    def __init__(self, name, users, groups, allow, deny):
        self.name = name
        self.users = users
        self.groups = groups
        self.allow = allow
        self.deny = deny


class PolicyTest:
    def __init__(self, index, user, allow, deny):
        self.index = index
        self.user = user
        self.allow = allow
        self.deny = deny


class Model:
    def __init__(self, network, sites, links, users, policies, tests):
        self.network = network
        self.sites = sites          # name -> Site (sorted by name)
        self.links = links          # [Link] sorted by name
        self.users = users          # name -> User (sorted by name)
        self.policies = policies    # [Policy] sorted by name
        self.tests = tests          # [PolicyTest]
        self.groups = {}            # group -> [user names]
        for user in users.values():
            for group in user.groups:
                self.groups.setdefault(group, []).append(user.name)

    def site_by_host(self, host):
        for site in self.sites.values():
            if site.host == host:
                return site
        return None


# --------------------------------------------------------------------------
# generic field helpers


def _check_keys(problems, item, data, allowed):
    for key in sorted(data):
        if key not in allowed:
            problems.error(item, 'unknown key %r.' % (key,), 'use one of: %s.' % ', '.join(allowed))


def _bool(problems, item, data, key, default):
    value = data.get(key, default)
    if not isinstance(value, bool):
        problems.error(item, '%s must be true or false, not %r.' % (key, value),
                       'write true or false without quotes, or leave %s out.' % key)
        return default
    return value


def _int(problems, item, data, key, default, low, high):
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.error(item, '%s must be an integer from %d to %d, not %r.' % (key, low, high, value),
                       'write a number without quotes, or leave %s out for the default %r.' % (key, default))
        return default
    return value


def _list(problems, item, data, key):
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        problems.error(item, '%s must be a list, not %r.' % (key, value), 'write it as a YAML list.')
        return []
    return list(value)


def _name(problems, item, value, what):
    if not isinstance(value, str) or not NAME_RE.match(value):
        problems.error(item, '%s %r is not a valid name.' % (what, value),
                       'use 1-64 characters from letters, digits and _.@+- starting with a letter or digit.')
        return None
    return value


def _unique(problems, kind, names, fix):
    seen = set()
    for name in names:
        if name in seen:
            problems.error("%s '%s'" % (kind, name), 'is defined more than once.', fix)
        seen.add(name)


def validate_public_key(value):
    """True when ``value`` is a base64 WireGuard key (32 bytes)."""
    if not isinstance(value, str) or len(value) != 44 or not value.endswith('='):
        return False
    try:
        return len(base64.b64decode(value.encode('ascii'), validate=True)) == 32
    except (ValueError, TypeError):
        return False


def parse_date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.strptime(value, '%Y-%m-%d').date()
        except ValueError:
            pass
    raise ValueError(value)


def parse_grant(text):
    """Split ``SITE[:RESOURCE[:PORTS]]``; PORTS is comma separated.

    Raises ``AddressError`` or ``ValueError`` with a readable message.
    """
    if not isinstance(text, str) or not text:
        raise ValueError('%r is not a flow; write SITE, SITE:RESOURCE or SITE:RESOURCE:PROTO/PORT' % (text,))
    parts = text.split(':')
    if len(parts) > 3:
        raise ValueError('%r has too many ":"; write SITE, SITE:RESOURCE or SITE:RESOURCE:PROTO/PORT' % (text,))
    site = parts[0]
    resource = parts[1] if len(parts) > 1 else '*'
    for value in (site, resource):
        if value != '*' and not NAME_RE.match(value):
            raise ValueError('%r: %r is not a site or resource name (or *)' % (text, value))
    ports = None
    if len(parts) == 3:
        ports = PortSet.parse([spec.strip() for spec in parts[2].split(',')])
    return Grant(text, site, resource, ports)


# --------------------------------------------------------------------------
# sections


def _load_network(problems, raw):
    item = 'meshconnect_network'
    if not isinstance(raw, dict):
        problems.error(item, 'must be a mapping with at least a name.', "set meshconnect_network: {name: corp}.")
        raw = {}
    _check_keys(problems, item, raw, tuple(NETWORK_DEFAULTS))
    data = dict(NETWORK_DEFAULTS)
    data.update(raw)
    name = data['name']
    if name is None:
        problems.error(item, 'has no name.', 'add meshconnect_network.name, e.g. "corp".')
        name = 'unnamed'
    else:
        name = _name(problems, item, name, 'network name') or 'unnamed'
    cidr = data['cidr']
    net, length = 0, 32
    try:
        net, length = parse_cidr(cidr)
        if not 16 <= length <= 29:
            problems.error(item, 'cidr %s has prefix /%d.' % (cidr, length),
                           'use an IPv4 prefix from /16 to /29, e.g. 100.65.0.0/22.')
            net, length = 0, 29
    except AddressError as exc:
        problems.error(item, 'cidr is invalid: %s.' % exc, 'use an IPv4 prefix such as 100.65.0.0/22.')
        net, length = 0, 29
    port = _int(problems, item, data, 'port', 51820, 1, 65535)
    interface = data['interface']
    if not isinstance(interface, str) or not IFACE_RE.match(interface):
        problems.error(item, 'interface %r is not a valid Linux interface name.' % (interface,),
                       'use up to 15 characters such as mc0.')
        interface = 'mc0'
    mtu = _int(problems, item, data, 'mtu', 1420, 1280, 9000)
    keepalive = _int(problems, item, data, 'keepalive', 25, 0, 3600)
    dns = []
    for entry in _list(problems, item, data, 'dns'):
        try:
            dns.append(format_ip(parse_ip(entry)))
        except AddressError as exc:
            problems.error(item, 'dns entry is invalid: %s.' % exc, 'list IPv4 addresses of DNS servers.')
    allow_ping = _bool(problems, item, data, 'allow_ping', True)
    return Network(name, '%s/%d' % (format_ip(net), length), net, length, port, interface, mtu, keepalive,
                   dns, allow_ping)


def _load_resource(problems, network, site_name, index, raw, seen):
    item = "site '%s' resource #%d" % (site_name, index + 1)
    if not isinstance(raw, dict):
        problems.error(item, 'must be a mapping with name and address, not %r.' % (raw,),
                       'write it as {name: NAME, address: IP_OR_CIDR}.')
        return None
    name = raw.get('name')
    if name is not None:
        item = "site '%s' resource '%s'" % (site_name, name)
    _check_keys(problems, item, raw, RESOURCE_KEYS)
    name = _name(problems, item, name, 'resource name')
    if name is None:
        return None
    if name in RESERVED_RESOURCES or name.startswith(LOCAL_PREFIX):
        problems.error(item, 'the name %r is reserved (agent, local-*).' % name, 'rename the resource.')
        return None
    if name in seen:
        problems.error(item, 'is defined more than once in this site.', 'give each resource its own name.')
        return None
    seen.add(name)
    address = raw.get('address')
    try:
        lo, hi = cidr_interval(address)
    except AddressError as exc:
        problems.error(item, 'address is invalid: %s.' % exc,
                       'use an IPv4 address (10.0.0.5) or network (10.0.0.0/24).')
        return None
    if overlaps((lo, hi), (network.lo, network.hi)):
        problems.error(item, 'address %s overlaps the overlay network %s (%s).'
                       % (address, network.name, network.cidr),
                       'resources live on site LANs; use the LAN address, or move the overlay with '
                       'meshconnect_network.cidr.')
        return None
    ports = EVERYTHING
    specs = _list(problems, item, raw, 'ports')
    if specs:
        try:
            ports = PortSet.parse(specs)
        except AddressError as exc:
            problems.error(item, 'ports are invalid: %s.' % exc,
                           'list ports 1-65535 as proto/port or proto/low-high, e.g. [tcp/443, udp/1000-2000], '
                           'or leave ports out for every port.')
            return None
    net, length = parse_cidr(address)
    return Resource(site_name, name, '%s/%d' % (format_ip(net), length), lo, hi, ports, 'declared')


def _load_site(problems, network, host, raw):
    item = "agent host '%s'" % host
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.error(item, 'meshconnect_site must be a mapping.', 'see docs/inventory.md.')
        return None
    name = raw.get('name', host)
    if 'name' in raw:
        item = "site '%s'" % name
    _check_keys(problems, item, raw, SITE_KEYS)
    name = _name(problems, item, name, 'site name')
    if name is None:
        return None
    item = "site '%s'" % name
    endpoint = raw.get('endpoint')
    if endpoint is not None and (not isinstance(endpoint, str) or not HOST_RE.match(endpoint)):
        problems.error(item, 'endpoint %r is not a host name or IPv4 address.' % (endpoint,),
                       'give the name or address peers dial, without a port (see endpoint_port).')
        endpoint = None
    if isinstance(endpoint, str) and re.match(r'^[0-9.]+$', endpoint):
        try:
            parse_ip(endpoint)
        except AddressError as exc:
            problems.error(item, 'endpoint is invalid: %s.' % exc,
                           'give the IPv4 address or host name peers dial, without a port.')
            endpoint = None
    site = Site(
        host=host, name=name,
        router=_bool(problems, item, raw, 'router', True),
        endpoint=endpoint,
        endpoint_port=_int(problems, item, raw, 'endpoint_port', network.port, 1, 65535),
        behind_nat=_bool(problems, item, raw, 'behind_nat', False),
        port_forwarding=_bool(problems, item, raw, 'port_forwarding', False),
        masquerade=_bool(problems, item, raw, 'masquerade', False),
        ignore_interfaces=[str(x) for x in _list(problems, item, raw, 'ignore_interfaces')],
    )
    if site.behind_nat and not site.port_forwarding and endpoint:
        problems.warn(item, 'is behind NAT without port forwarding, so its endpoint %s is never dialled.'
                      % endpoint, 'set port_forwarding: true once UDP %d is forwarded to the agent.'
                      % site.endpoint_port)
    if site.masquerade and not site.router:
        problems.warn(item, 'masquerade has no effect on a side-loaded agent (router: false).')
    seen = set()
    for index, entry in enumerate(_list(problems, item, raw, 'resources')):
        resource = _load_resource(problems, network, name, index, entry, seen)
        if resource is not None:
            site.resources[resource.name] = resource
    return site


def _load_local_resources(problems, network, site, facts, endpoint_ips):
    """Turn discovered interfaces into ``local-<ifname>`` resources.

    ``endpoint_ips`` is the sorted list of the agents' endpoint addresses.
    """
    for entry in facts.get('interfaces') or []:
        ifname = entry.get('name')
        if not isinstance(ifname, str) or ifname in site.ignore_interfaces or ifname == network.interface:
            continue
        try:
            addr = parse_ip(entry.get('address'))
            length = int(entry.get('prefix', 32))
            net, _len = parse_cidr('%s/%d' % (format_ip(addr), length), strict=False)
        except (AddressError, TypeError, ValueError):
            problems.warn("site '%s'" % site.name, 'ignored a malformed discovered address %r.' % (entry,))
            continue
        if site.router:
            mask = ((1 << 32) - 1) << (32 - length) & ((1 << 32) - 1)
            lo, hi = net & mask, (net & mask) | (~mask & ((1 << 32) - 1))
            cidr = '%s/%d' % (format_ip(lo), length)
        else:
            lo = hi = addr
            cidr = '%s/32' % format_ip(addr)
        if overlaps((lo, hi), (network.lo, network.hi)):
            continue
        if _endpoints_within(endpoint_ips, lo, hi):
            # The network peers use to dial agents is never routed into the mesh.
            continue
        name = LOCAL_PREFIX + ifname
        if name in site.resources:
            continue
        site.resources[name] = Resource(site.name, name, cidr, lo, hi, EVERYTHING, 'local')


def load_model(inventory, facts, problems, today=None):
    """Validate ``inventory`` (see docs/inventory.md) and return a Model.

    ``facts`` maps agent inventory host names to what the agent reported
    (``public_key``, ``interfaces``); it may be empty.
    """
    facts = facts or {}
    network = _load_network(problems, inventory.get('network'))

    sites = {}
    raw_sites = inventory.get('sites') or {}
    for host in sorted(raw_sites):
        site = _load_site(problems, network, host, raw_sites[host])
        if site is None:
            continue
        if site.name in sites:
            problems.error("site '%s'" % site.name, 'is used by agent hosts %s and %s.'
                           % (sites[site.name].host, host), 'give each agent its own meshconnect_site.name.')
            continue
        sites[site.name] = site
    sites = dict(sorted(sites.items()))
    if not sites:
        problems.error('meshconnect_agents', 'the inventory has no agent hosts.',
                       'put one host per site into the meshconnect_agents group.')

    endpoint_owner = {}     # endpoint address -> site names
    for site in sites.values():
        if site.endpoint and re.match(r'^[0-9.]+$', site.endpoint):
            endpoint_owner.setdefault(parse_ip(site.endpoint), []).append(site.name)
    endpoint_ips = sorted(endpoint_owner)
    _check_endpoints_outside_resources(problems, sites, endpoint_ips, endpoint_owner)
    for site in sites.values():
        site_facts = facts.get(site.host)
        if site_facts:
            site.facts_known = True
            key = site_facts.get('public_key')
            if key is not None:
                if validate_public_key(key):
                    site.public_key = key
                else:
                    problems.error("site '%s'" % site.name, 'the agent reported an invalid public key.',
                                   'remove the damaged key file on the agent and re-run.')
            _load_local_resources(problems, network, site, site_facts, endpoint_ips)
        site.resources['agent'] = Resource(site.name, 'agent', None, 0, 0, EVERYTHING, 'agent')
        site.resources = dict(sorted(site.resources.items()))

    links = _load_links(problems, inventory.get('links'), sites)
    users = _load_users(problems, inventory.get('users'), today)
    _check_agent_keys(problems, sites, users)
    policies = _load_policies(problems, inventory.get('policies'), sites, users)
    tests = _load_tests(problems, inventory.get('policy_tests'), sites, users)
    return Model(network, sites, links, users, policies, tests)


def _endpoints_within(endpoint_ips, lo, hi):
    """The addresses of the sorted list ``endpoint_ips`` inside ``lo..hi``."""
    return endpoint_ips[bisect.bisect_left(endpoint_ips, lo):bisect.bisect_right(endpoint_ips, hi)]


def _check_endpoints_outside_resources(problems, sites, endpoint_ips, endpoint_owner):
    """A declared resource must not contain an agent's endpoint address: routed
    into the mesh, it would send the tunnel's own packets into the tunnel.
    (Discovered local resources that do are left out instead.)"""
    for site in sites.values():
        for res in site.resources.values():
            if res.kind != 'declared':
                continue
            for address in _endpoints_within(endpoint_ips, res.lo, res.hi):
                owners = ', '.join("'%s'" % name for name in endpoint_owner[address])
                problems.error("site '%s' resource '%s'" % (site.name, res.name),
                               '%s contains %s, the endpoint of site %s: routed into the mesh, it would carry '
                               'the tunnel to that site inside itself.' % (res.cidr, format_ip(address), owners),
                               'declare only the addresses behind the agent, leaving the endpoint out.')


def _check_agent_keys(problems, sites, users):
    """An agent's key must differ from every other agent's and user's key
    (cloned agents share one); users sharing keys are reported by _load_users."""
    owners = {}
    for site in sites.values():
        if site.public_key is not None:
            owners.setdefault(site.public_key, []).append("site '%s'" % site.name)
    for user in users.values():
        if user.public_key in owners:
            owners[user.public_key].append("user '%s'" % user.name)
    for key, names in sorted(owners.items()):
        if len(names) > 1:
            problems.error(', '.join(names), 'share one public key.',
                           'every agent and user needs its own key pair; remove the copied key file on the '
                           'agent (it makes a new one) or give the user a key of their own.')


def _check_resource_ref(problems, item, sites, site_name, resource, what):
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


def _entries(problems, raw, variable, kind, plural, shape, keys):
    """Yield ``(index, item, entry)`` for each entry of the inventory list
    ``variable`` (``raw``): ``item`` names it in messages, by its name when it
    has one (``kind 'NAME'``), else by position (``kind #N``).  A value that
    is not a list, entries that are not mappings and unknown keys are
    reported here.
    """
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.error(variable, 'must be a list of %s.' % plural,
                       'write one entry per %s, each starting with "- " (see docs/inventory.md).' % kind)
        return
    for index, entry in enumerate(raw):
        item = '%s #%d' % (kind, index + 1)
        if not isinstance(entry, dict):
            problems.error(item, 'must be a mapping with %s, not %r.' % (shape, entry),
                           'write it as "key: value" lines under its "- ".')
            continue
        if 'name' in keys and 'name' in entry:
            item = "%s '%s'" % (kind, entry['name'])
        _check_keys(problems, item, entry, keys)
        yield index, item, entry


def _load_links(problems, raw, sites):
    links = []
    names = []
    for _index, item, entry in _entries(problems, raw, 'meshconnect_links', 'link', 'links', 'name and sites',
                                        LINK_KEYS):
        name = _name(problems, item, entry.get('name'), 'link name')
        if name is None:
            continue
        names.append(name)
        members = entry.get('sites')
        if isinstance(members, list):
            # A plain list of sites: agents only.
            members = dict((site, []) for site in members if isinstance(site, str))
        if not isinstance(members, dict):
            problems.error(item, 'sites must map each site to the resources it exposes.',
                           'write sites: {hq: [lan], branch: []}.')
            continue
        exposes = {}
        for site_name in sorted(members, key=str):
            resources = members[site_name] or []
            if not isinstance(resources, list):
                problems.error(item, 'the resources of site %r must be a list.' % (site_name,),
                               'write %s: [RESOURCE, ...], or %s: [] for its agent only.' % (site_name, site_name))
                continue
            if site_name not in sites:
                problems.error(item, 'names unknown site %r.' % (site_name,),
                               'use one of: %s.' % ', '.join(sites))
                continue
            kept = []
            for resource in resources:
                if resource in ('*', 'agent'):
                    problems.error(item, 'site %r exposes %r; links expose named resources.'
                                   % (site_name, resource),
                                   'list resource names; agents always reach each other.')
                    continue
                if _check_resource_ref(problems, item, sites, site_name, resource, 'exposure'):
                    if resource not in kept:
                        kept.append(resource)
            exposes[site_name] = sorted(kept)
        if len(members) < 2:
            problems.error(item, 'has %d site; a link joins two or more sites.' % len(members),
                           'add another site or remove the link.')
            continue
        ordered = sorted(exposes)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1:]:
                if not sites[first].dialable and not sites[second].dialable:
                    problems.error(item, "neither '%s' nor '%s' can be dialled (no endpoint, or behind NAT "
                                   'without port forwarding), so no tunnel can form between them.'
                                   % (first, second),
                                   'forward UDP to one of them and set port_forwarding: true and endpoint, '
                                   'or give one a public endpoint.')
        links.append(Link(name, exposes))
    _unique(problems, 'link', names, 'give each link its own name.')
    return sorted(links, key=lambda link: link.name)


def _load_users(problems, raw, today):
    users = {}
    keys = {}
    for _index, item, entry in _entries(problems, raw, 'meshconnect_users', 'user', 'users', 'at least a name',
                                        USER_KEYS):
        name = _name(problems, item, entry.get('name'), 'user name')
        if name is None:
            continue
        if name in users:
            problems.error(item, 'is defined more than once.', 'merge the two entries.')
            continue
        groups = []
        for group in _list(problems, item, entry, 'groups'):
            if _name(problems, item, group, 'group name') and group not in groups:
                groups.append(group)
        key = entry.get('public_key')
        if key is not None and not validate_public_key(key):
            problems.error(item, 'public_key is not a WireGuard public key (44 base64 characters).',
                           'paste the output of `wg pubkey`, or omit it to have a key pair generated.')
            key = None
        expires = None
        if entry.get('expires') is not None:
            try:
                expires = parse_date(entry['expires'])
            except ValueError:
                problems.error(item, 'expires %r is not a date.' % (entry['expires'],), 'write YYYY-MM-DD.')
        user = User(name, sorted(groups), key, expires)
        if expires is not None and today is not None and expires < today:
            user.expired = True
            problems.warn(item, 'expired on %s and is left out of every configuration.' % expires.isoformat(),
                          'extend expires or remove the user.')
        if key is not None:
            keys.setdefault(key, []).append(name)
        users[name] = user
    for key, names in sorted(keys.items()):
        if len(names) > 1:
            problems.error('users %s' % ', '.join("'%s'" % n for n in names), 'share one public key.',
                           'every device needs its own key pair.')
    return dict(sorted(users.items()))


def _load_grants(problems, item, entries, sites, what):
    grants = []
    for entry in entries:
        try:
            grant = parse_grant(entry)
        except (ValueError, AddressError) as exc:
            problems.error(item, '%s: %s.' % (what, exc),
                           'write SITE, SITE:RESOURCE or SITE:RESOURCE:PORTS with PORTS such as tcp/443 or '
                           'tcp/80,udp/1000-2000 (ports 1-65535).')
            continue
        if grant.site != '*':
            if not _check_resource_ref(problems, item, sites, grant.site, grant.resource, '%s %r' % (what,
                                                                                                     entry)):
                continue
        elif grant.resource != '*':
            problems.error(item, '%s %r: a resource needs a site.' % (what, entry),
                           'write SITE:%s, or * for every site.' % grant.resource)
            continue
        grants.append(grant)
    return grants


def _load_policies(problems, raw, sites, users):
    policies = []
    groups = set(g for user in users.values() for g in user.groups)
    names = []
    for _index, item, entry in _entries(problems, raw, 'meshconnect_policies', 'policy', 'policies',
                                        'name, users or groups, and allow', POLICY_KEYS):
        name = _name(problems, item, entry.get('name'), 'policy name')
        if name is None:
            continue
        names.append(name)
        who_users = _list(problems, item, entry, 'users')
        who_groups = _list(problems, item, entry, 'groups')
        for user in who_users:
            if user not in users:
                problems.error(item, 'names unknown user %r.' % (user,), 'add the user to meshconnect_users '
                               'or fix the spelling.')
        for group in who_groups:
            if group not in groups:
                problems.error(item, 'names unknown group %r (no user is in it).' % (group,),
                               'add the group to a user or fix the spelling; known groups: %s.'
                               % (', '.join(sorted(groups)) or 'none'))
        if not who_users and not who_groups:
            problems.error(item, 'applies to nobody.', 'list users or groups.')
        allow = _load_grants(problems, item, _list(problems, item, entry, 'allow'), sites, 'allow')
        deny = _load_grants(problems, item, _list(problems, item, entry, 'except'), sites, 'except')
        if not entry.get('allow'):
            problems.error(item, 'allows nothing.', 'list what it grants under allow, e.g. ["hq:web:tcp/443"].')
        policies.append(Policy(name, sorted(set(who_users)), sorted(set(who_groups)), allow, deny))
    _unique(problems, 'policy', names, 'give each policy its own name.')
    return sorted(policies, key=lambda policy: policy.name)


def _load_tests(problems, raw, sites, users):
    tests = []
    for index, item, entry in _entries(problems, raw, 'meshconnect_policy_tests', 'policy test', 'tests',
                                       'user, allow and/or deny', TEST_KEYS):
        user = entry.get('user')
        if user not in users:
            problems.error(item, 'names unknown user %r.' % (user,), 'use a user from meshconnect_users.')
            continue
        item = "policy test #%d (user '%s')" % (index + 1, user)
        allow = _load_grants(problems, item, _list(problems, item, entry, 'allow'), sites, 'allow')
        deny = _load_grants(problems, item, _list(problems, item, entry, 'deny'), sites, 'deny')
        tests.append(PolicyTest(index + 1, user, allow, deny))
    return tests
