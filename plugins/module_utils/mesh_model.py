# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory model: validation and normalisation of what users write.

``load_model(inventory, facts, problems)`` turns plain dicts and lists (as
found in Ansible variables) into a :class:`Model`.  Every malformed or
inconsistent item is reported through ``problems`` with its name and a fix.
"""

import base64
import bisect
import datetime
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import check_facts, shape_and_clean
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    MAX_ADDR, AddressError, EVERYTHING, PortSet, cidr_interval, format_ip, overlaps, parse_cidr, parse_ip,
    prefix_mask,
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
    'allow_public_cidr': False,
}
SITE_KEYS = ('name', 'router', 'endpoint', 'endpoint_port', 'behind_nat', 'port_forwarding', 'masquerade',
             'resources', 'ignore_interfaces', 'include_interfaces')
RESOURCE_KEYS = ('name', 'address', 'ports', 'description')
LINK_KEYS = ('name', 'sites', 'agents', 'description')
MEMBER_KEYS = ('expose', 'connect')
USER_KEYS = ('name', 'groups', 'public_key', 'expires', 'email', 'description')
POLICY_KEYS = ('name', 'users', 'groups', 'allow', 'except', 'description')
TEST_KEYS = ('user', 'site', 'allow', 'deny')

# Interfaces that are never a site's LAN unless the inventory says so (include_interfaces): tunnels,
# overlays and the bridges of container and VM runtimes.
# The overlay lives in private (RFC 1918) or shared (RFC 6598) address space unless allow_public_cidr says
# otherwise; these never, whatever it says, and no endpoint is in them: "this network", loopback,
# multicast, reserved and broadcast.
PRIVATE_RANGES = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10')
SPECIAL_RANGES = ('0.0.0.0/8', '127.0.0.0/8', '224.0.0.0/4', '240.0.0.0/4')

VIRTUAL_KINDS = frozenset(('wireguard', 'tun', 'tap', 'vxlan', 'geneve', 'gre', 'gretap', 'ip6gre', 'ip6gretap',
                           'ipip', 'ip6tnl', 'sit', 'vti', 'vti6', 'dummy', 'ifb', 'vrf', 'macsec', 'nlmon',
                           'bareudp', 'gtp'))
VIRTUAL_NAME_RE = re.compile(r'^(docker\d+|br-[0-9a-f]{12}|virbr\d+(-nic)?|lxcbr\d+|lxdbr\d+|incusbr\d+|cni\d+|'
                             r'podman\d+|cali.*|flannel.*|cilium_.*|kube-.*|tailscale\d+|zt.*|vnet\d+|veth.*)\Z')


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
    __slots__ = ('site', 'name', 'cidr', 'lo', 'hi', 'ports', 'kind', 'amap')

    def __init__(self, site, name, cidr, lo, hi, ports, kind):
        self.site = site
        self.name = name
        self.cidr = cidr
        self.lo = lo
        self.hi = hi
        self.ports = ports
        self.kind = kind  # agent | declared | local
        # What a grant of the whole resource reaches: its addresses with its ports, capped where a
        # declared resource with ports lies inside it (see cap_resources).
        self.amap = [(lo, hi, ports)]

    @property
    def ref(self):
        return '%s:%s' % (self.site, self.name)


class Site:
    def __init__(self, host, name, router, endpoint, endpoint_port, behind_nat, port_forwarding, masquerade,
                 ignore_interfaces, include_interfaces=()):
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
        self.resources = {}      # name -> Resource, declared and local and 'agent'
        self.public_key = None
        self.facts_known = False
        self.local_addresses = []   # the host's own IPv4 addresses (ints), as discovered
        self.discovery = []         # what discovery found: {interface, cidr, resource or None, why}

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


class LinkMember:
    """One site of a link: what it offers on the link and what may open connections from it."""

    __slots__ = ('site', 'expose', 'connect')

    def __init__(self, site, expose, connect):
        self.site = site
        self.expose = expose      # [(resource name, PortSet or None for the resource's own ports)]
        self.connect = connect    # [resource names, 'agent' included] that open connections to others' exposures


class Link:
    def __init__(self, name, members, agents):
        self.name = name
        self.members = members   # site name -> LinkMember, sorted by site
        self.agents = agents     # PortSet: what the members' agents reach of each other (EVERYTHING by default)

    @property
    def sites(self):
        return list(self.members)


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
    def __init__(self, index, principal, allow, deny):
        self.index = index
        self.principal = principal  # ('user', NAME) or ('site', SITE, RESOURCE or None)
        self.allow = allow
        self.deny = deny

    @property
    def source(self):
        """``user:NAME``, ``site:SITE`` or ``site:SITE:RESOURCE``."""
        return ':'.join(part for part in self.principal if part)


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
    network = Network(name, '%s/%d' % (format_ip(net), length), net, length, port, interface, mtu, keepalive,
                      dns, allow_ping)
    _check_overlay_space(problems, item, cidr, network, _bool(problems, item, data, 'allow_public_cidr', False))
    return network


def _in_ranges(lo, hi, ranges):
    """The first of ``ranges`` (CIDR strings) that ``lo..hi`` overlaps, or None."""
    for text in ranges:
        if overlaps((lo, hi), cidr_interval(text)):
            return text
    return None


def _inside_ranges(lo, hi, ranges):
    for text in ranges:
        rlo, rhi = cidr_interval(text)
        if rlo <= lo and hi <= rhi:
            return True
    return False


def _check_overlay_space(problems, item, cidr, network, allow_public):
    lo, hi = network.lo, network.hi
    special = _in_ranges(lo, hi, SPECIAL_RANGES)
    if special:
        problems.error(item, 'cidr %s overlaps %s, which is never routable as an overlay.' % (show(cidr), special),
                       'use private or shared address space, e.g. 100.65.0.0/22.')
    elif not allow_public and not _inside_ranges(lo, hi, PRIVATE_RANGES):
        problems.error(item, 'cidr %s is public address space: members would route someone else\'s addresses '
                       'into the mesh.' % show(cidr),
                       'use private or shared address space (RFC 1918: 10.0.0.0/8, 172.16.0.0/12, '
                       '192.168.0.0/16; RFC 6598: 100.64.0.0/10), e.g. 100.65.0.0/22; or set '
                       'meshconnect_network.allow_public_cidr: true if you own that space.')


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
            address = parse_ip(endpoint)
        except AddressError as exc:
            problems.error(item, 'endpoint is invalid: %s.' % exc,
                           'give the IPv4 address or host name peers dial, without a port.')
            endpoint = None
        else:
            if network.lo <= address <= network.hi:
                problems.error(item, 'endpoint %s is inside the overlay network %s: the tunnel would have to '
                               'carry its own packets.' % (endpoint, network.cidr),
                               'give the address peers dial on the underlay (public or LAN address of the agent).')
                endpoint = None
            elif _in_ranges(address, address, SPECIAL_RANGES):
                problems.error(item, 'endpoint %s is a loopback, multicast or reserved address that no peer can '
                               'dial.' % endpoint, 'give the address peers dial to reach the agent.')
                endpoint = None
    site = Site(
        host=host, name=name,
        router=_bool(problems, item, raw, 'router', True),
        endpoint=endpoint,
        endpoint_port=_int(problems, item, raw, 'endpoint_port', network.port, 1, 65535),
        behind_nat=_bool(problems, item, raw, 'behind_nat', False),
        port_forwarding=_bool(problems, item, raw, 'port_forwarding', False),
        masquerade=_bool(problems, item, raw, 'masquerade', False),
        ignore_interfaces=_interface_names(problems, item, raw, 'ignore_interfaces'),
        include_interfaces=_interface_names(problems, item, raw, 'include_interfaces'),
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


def _interface_names(problems, item, raw, key):
    names = []
    for value in _list(problems, item, raw, key):
        if not isinstance(value, str) or not IFACE_RE.match(value):
            problems.error(item, '%s entry %r is not an interface name.' % (key, value),
                           'list Linux interface names such as eth1 (up to 15 characters).')
            continue
        names.append(value)
    return names


def _skip_reason(network, site, entry, lo, hi, endpoint_ips):
    """Why a discovered interface address is not offered as a local resource, or None."""
    ifname = entry['name']
    if ifname == network.interface:
        return 'the overlay interface'
    if ifname in site.ignore_interfaces:
        return 'listed in ignore_interfaces'
    if overlaps((lo, hi), (network.lo, network.hi)):
        return 'inside the overlay network %s' % network.cidr
    if _endpoints_within(endpoint_ips, lo, hi):
        # The network peers use to dial agents is never routed into the mesh.
        return 'holds an agent endpoint (the network peers dial over)'
    if ifname in site.include_interfaces:
        return None
    kind = entry.get('kind')
    if kind in VIRTUAL_KINDS or VIRTUAL_NAME_RE.match(ifname):
        return 'virtual interface (%s); list it in include_interfaces to offer it' % (kind or 'container or VM bridge')
    if site.router and entry.get('default_route') is True:
        declared = [r for r in site.resources.values() if r.kind == 'declared' and overlaps((r.lo, r.hi), (lo, hi))]
        if not declared:
            return ('the uplink (interface of the default route) and no declared resource is inside it; '
                    'list it in include_interfaces if it is the LAN')
    return None


def _load_local_resources(problems, network, site, facts, endpoint_ips):
    """Turn discovered interfaces into ``local-<ifname>`` resources.

    ``endpoint_ips`` is the sorted list of the agents' endpoint addresses.
    What was found, used or not and why, is kept in ``site.discovery`` for the report.
    """
    addresses = set()
    for entry in facts.get('interfaces') or []:
        ifname = entry.get('name') if isinstance(entry, dict) else None
        try:
            if not isinstance(ifname, str) or not IFACE_RE.match(ifname):
                raise ValueError(ifname)
            addr = parse_ip(entry.get('address'))
            length = entry.get('prefix', 32)
            if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 32:
                raise ValueError(length)
        except (AddressError, TypeError, ValueError):
            problems.warn("site '%s'" % site.name, 'ignored a malformed discovered address %s.' % show(entry))
            continue
        addresses.add(addr)
        if site.router:
            mask = prefix_mask(length)
            lo, hi = addr & mask, (addr & mask) | (~mask & MAX_ADDR)
            cidr = '%s/%d' % (format_ip(lo), length)
        else:
            lo = hi = addr
            cidr = '%s/32' % format_ip(addr)
        name = LOCAL_PREFIX + ifname
        why = _skip_reason(network, site, entry, lo, hi, endpoint_ips)
        if why is None and name in site.resources:
            why = 'a second address of %s (one local resource per interface)' % ifname
        site.discovery.append({'interface': ifname, 'cidr': cidr, 'resource': None if why else name, 'why': why})
        if why is None:
            site.resources[name] = Resource(site.name, name, cidr, lo, hi, EVERYTHING, 'local')
    site.local_addresses = sorted(addresses)


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
        if res.kind != 'agent':
            res.amap = access.cap(res.amap, caps)


def load_model(inventory, facts, problems, today=None):
    """Validate ``inventory`` (see docs/inventory.md) and return a Model.

    ``facts`` maps agent inventory host names to what the agent reported
    (``public_key``, ``interfaces``); it may be empty.
    """
    # Shape first: nothing below reads a value of the wrong kind (see mesh_schema). What is malformed
    # is left out whole, and the rest is still validated, so that one run lists every problem.
    shape_errors, inventory = shape_and_clean(inventory)
    problems.errors.extend(shape_errors)
    fact_errors = check_facts(facts)
    problems.errors.extend('agent facts: ' + message for message in fact_errors)
    if inventory is None or fact_errors:
        problems.raise_if_any()
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
        cap_resources(site)

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


def _link_agents(problems, item, value):
    """The link's ``agents`` setting as a PortSet."""
    if value is None or value == 'all':
        return EVERYTHING
    if value == 'none':
        return PortSet()
    if isinstance(value, (list, tuple)) and value:
        try:
            return PortSet.parse(list(value))
        except AddressError as exc:
            problems.error(item, 'agents: %s.' % exc, 'list ports such as [tcp/22, udp/161], or write all or none.')
            return EVERYTHING
    problems.error(item, 'agents must be all, none or a list of ports, not %r.' % (value,),
                   'write agents: all (the default), agents: none, or agents: [tcp/22, ...].')
    return EVERYTHING


def _link_exposure(problems, item, sites, site_name, entry):
    """``(resource, PortSet or None)`` for one ``expose`` entry, or None."""
    text = entry if isinstance(entry, str) else None
    parts = text.split(':', 1) if text else [None]
    resource = parts[0]
    if resource in ('*', 'agent'):
        problems.error(item, 'site %r exposes %r; links expose named resources.' % (site_name, resource),
                       'list resource names; set the link\'s agents: (all, none or ports) for what agents reach '
                       'of each other.')
        return None
    if resource is None or not NAME_RE.match(resource):
        problems.error(item, 'site %r: exposure %r is not RESOURCE or RESOURCE:PORTS.' % (site_name, entry),
                       'write a resource name of %s, optionally with ports, e.g. db:tcp/5432.' % site_name)
        return None
    ports = None
    if len(parts) == 2:
        try:
            ports = PortSet.parse([spec.strip() for spec in parts[1].split(',')])
        except AddressError as exc:
            problems.error(item, 'site %r: exposure %r: %s.' % (site_name, entry, exc),
                           'write ports such as db:tcp/5432 or app:tcp/80,tcp/443.')
            return None
    if not _check_resource_ref(problems, item, sites, site_name, resource, 'exposure'):
        return None
    return resource, ports


def _link_connector(problems, item, sites, site_name, entry):
    if entry == 'agent':
        return entry
    if not isinstance(entry, str) or not NAME_RE.match(entry):
        problems.error(item, 'site %r: connect entry %r is not a resource name.' % (site_name, entry),
                       'list resources of %s (or agent) that open connections; ports belong to the other '
                       "members' expose." % site_name)
        return None
    if not _check_resource_ref(problems, item, sites, site_name, entry, 'connect entry'):
        return None
    return entry


def _link_member(problems, item, sites, site_name, value):
    """A LinkMember from the plain form (a list: exposed, and with the agent
    opening connections) or the explicit form ({expose, connect})."""
    if value is None:
        value = []
    if isinstance(value, list):
        expose, connect, plain = value, None, True
    elif isinstance(value, dict):
        _check_keys(problems, '%s site %r' % (item, site_name), value, MEMBER_KEYS)
        expose, connect, plain = value.get('expose') or [], value.get('connect') or [], False
        for key, entries in (('expose', expose), ('connect', connect)):
            if not isinstance(entries, list):
                problems.error(item, 'site %r: %s must be a list.' % (site_name, key),
                               'write %s: [RESOURCE, ...].' % key)
        expose = expose if isinstance(expose, list) else []
        connect = connect if isinstance(connect, list) else []
    else:
        problems.error(item, 'the resources of site %r must be a list, or a mapping with expose and connect.'
                       % (site_name,),
                       'write %s: [RESOURCE, ...], %s: [] for its agent only, or %s: {expose: [...], '
                       'connect: [...]}.' % (site_name, site_name, site_name))
        return None
    exposures = []
    for entry in expose:
        exposure = _link_exposure(problems, item, sites, site_name, entry)
        if exposure is not None and exposure[0] not in [e[0] for e in exposures]:
            exposures.append(exposure)
    if plain:
        # The plain form: what a member exposes may also open connections, and so may its agent.
        connectors = ['agent'] + [name for name, _ports in exposures]
    else:
        connectors = []
        for entry in connect:
            name = _link_connector(problems, item, sites, site_name, entry)
            if name is not None and name not in connectors:
                connectors.append(name)
    return LinkMember(site_name, sorted(exposures, key=lambda e: e[0]), sorted(connectors))


def _load_links(problems, raw, sites):
    links = []
    names = []
    for _index, item, entry in _entries(problems, raw, 'meshconnect_links', 'link', 'links', 'name and sites',
                                        LINK_KEYS):
        name = _name(problems, item, entry.get('name'), 'link name')
        if name is None:
            continue
        names.append(name)
        raw_members = entry.get('sites')
        if isinstance(raw_members, list):
            # A plain list of sites: agents only.
            raw_members = dict((site, []) for site in raw_members if isinstance(site, str))
        if not isinstance(raw_members, dict):
            problems.error(item, 'sites must map each site to the resources it exposes.',
                           'write sites: {hq: [lan], branch: []}, or sites: {hq: {expose: [db]}, '
                           'shop: {connect: [app]}} for a one-way link.')
            continue
        members = {}
        for site_name in sorted(raw_members, key=str):
            if site_name not in sites:
                problems.error(item, 'names unknown site %r.' % (site_name,),
                               'use one of: %s.' % ', '.join(sites))
                continue
            member = _link_member(problems, item, sites, site_name, raw_members[site_name])
            if member is not None:
                members[site_name] = member
        if len(raw_members) < 2:
            problems.error(item, 'has %d site; a link joins two or more sites.' % len(raw_members),
                           'add another site or remove the link.')
            continue
        agents = _link_agents(problems, item, entry.get('agents'))
        ordered = sorted(members)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1:]:
                if not sites[first].dialable and not sites[second].dialable:
                    problems.error(item, "neither '%s' nor '%s' can be dialled (no endpoint, or behind NAT "
                                   'without port forwarding), so no tunnel can form between them.'
                                   % (first, second),
                                   'forward UDP to one of them and set port_forwarding: true and endpoint, '
                                   'or give one a public endpoint.')
        for site_name, member in members.items():
            others = [m for m in members.values() if m.site != site_name]
            if member.expose and not any(m.connect for m in others):
                problems.warn(item, 'site %r exposes %s, but no other member opens connections on this link.'
                              % (site_name, ', '.join(r for r, _p in member.expose)),
                              "add connect: [...] to a member (or use the plain form, which connects what it "
                              'exposes and its agent).')
        links.append(Link(name, members, agents))
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


def _test_principal(problems, item, entry, sites, users):
    """``('user', NAME)`` or ``('site', SITE, RESOURCE or None)`` for a policy test, or None."""
    user, site = entry.get('user'), entry.get('site')
    if (user is None) == (site is None):
        problems.error(item, 'needs either user or site (the source of the flows).',
                       'write user: NAME for a remote user, or site: SITE[:RESOURCE] for traffic over links.')
        return None
    if user is not None:
        if user not in users:
            problems.error(item, 'names unknown user %r.' % (user,), 'use a user from meshconnect_users.')
            return None
        return ('user', user)
    site_name, _sep, resource = site.partition(':') if isinstance(site, str) else (None, None, None)
    if site_name not in sites:
        problems.error(item, 'names unknown site %r.' % (site,), 'use one of: %s.' % ', '.join(sites))
        return None
    if resource and not _check_resource_ref(problems, item, sites, site_name, resource, 'site'):
        return None
    return ('site', site_name, resource or None)


def _load_tests(problems, raw, sites, users):
    tests = []
    for index, item, entry in _entries(problems, raw, 'meshconnect_policy_tests', 'policy test', 'tests',
                                       'user or site, allow and/or deny', TEST_KEYS):
        principal = _test_principal(problems, item, entry, sites, users)
        if principal is None:
            continue
        item = "policy test #%d (%s '%s')" % (index + 1, principal[0], ':'.join(p for p in principal[1:] if p))
        allow = _load_grants(problems, item, _list(problems, item, entry, 'allow'), sites, 'allow')
        deny = _load_grants(problems, item, _list(problems, item, entry, 'deny'), sites, 'deny')
        tests.append(PolicyTest(index + 1, principal, allow, deny))
    return tests
