# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An agent's live network state, read the same way by every host module.

Owns the commands that read it (``ip -j ...`` and ``wg show IF FIELD``), the
parsing of their output, and the one rule for which routes through the
overlay interface count: ``wg_sync`` repairs exactly those routes and
``agent_state`` reports exactly those as drift.

``run(args)`` is the caller's command runner (``module.run_command``): it
returns ``(rc, out, err)``.  Parsers take the text or decoded JSON and run
nothing.

``wg show IF dump`` is not used: it prints the private key, and these
readers never read it (``public-key`` says whether there is one).
"""

import json

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_wgconf import normalise_cidr

NO_VALUE = '(none)'


class LiveError(Exception):
    """A command printed something that cannot be parsed."""

    def __init__(self, args, rc, err):
        self.command = list(args)
        self.rc = rc
        self.err = (err or '').strip()
        Exception.__init__(self, '%s failed: %s' % (' '.join(self.command[:4]), self.err))


class CommandFailed(LiveError):
    """A command exited with a non-zero status (for ``ip``: often, no such device)."""


def run_text(run, args):
    """The output of ``args``; ``CommandFailed`` when it exits non-zero."""
    rc, out, err = run(args)
    if rc != 0:
        raise CommandFailed(args, rc, err)
    return out or ''


def parse_json(text, args=('ip', '-j')):
    """Decoded ``ip -j`` output (``[]`` for none); ``LiveError`` when it is not JSON."""
    try:
        return json.loads(text or '[]')
    except ValueError as exc:
        raise LiveError(args, 0, 'output is not JSON (%s)' % exc)


def ip_json(run, ip, args):
    """``ip -j ARGS`` decoded; ``CommandFailed`` or ``LiveError`` when it cannot be read."""
    command = [ip, '-j'] + list(args)
    return parse_json(run_text(run, command), command)


def ip_json_or_none(run, ip, args):
    """``ip -j ARGS`` decoded, or None when it cannot be read."""
    try:
        return ip_json(run, ip, args)
    except LiveError:
        return None


# ----------------------------------------------------------------------
# ip: links, addresses, routes

def link_kinds(links):
    """Interface name -> link kind (``tun``, ``bridge``, ``wireguard``..., None for a plain device),
    in the order of ``ip -j -d link show``."""
    kinds = {}
    for link in links or []:
        kinds[link.get('ifname')] = (link.get('linkinfo') or {}).get('info_kind')
    return kinds


def is_up(link):
    """Whether an ``ip -j link|addr`` entry is administratively up."""
    return 'UP' in (link.get('flags') or [])


def ipv4_addr_info(link):
    """The IPv4 entries of a link's ``addr_info`` (IPv6 ones are left out), in ip's order."""
    return [info for info in link.get('addr_info') or [] if info.get('family') == 'inet' and info.get('local')]


def ipv4_cidrs(link):
    """A link's IPv4 addresses as ``a.b.c.d/len``, in ip's order."""
    return ['%s/%s' % (info['local'], info['prefixlen']) for info in ipv4_addr_info(link)]


def route_devices(routes):
    """The devices of ``ip -j route`` entries (for example the holders of the default route)."""
    return set(route.get('dev') for route in routes or [] if route.get('dev'))


def counted_route(route):
    """Whether a route through the overlay interface is one of ours.

    The single rule shared by ``wg_sync`` (which adds the missing ones and
    removes the others) and ``agent_state`` (which reports them for drift):
    an IPv4 route of the main table that the kernel did not add for an
    address of the interface, and not a default route.
    """
    dst = route.get('dst')
    if dst in (None, 'default') or ':' in dst:
        return False
    return route.get('protocol') != 'kernel' and route.get('table', 'main') == 'main'


def counted_routes(routes):
    """The routes that count, as normalised ``a.b.c.d/len`` prefixes."""
    return set(normalise_cidr(route['dst']) for route in routes or [] if counted_route(route))


def interface_routes(run, ip, iface):
    """The routes of the main table through ``iface`` that count (``counted_route``)."""
    return counted_routes(ip_json(run, ip, ['-4', 'route', 'show', 'dev', iface]))


def interface_link(run, ip, iface):
    """``{'mtu': int, 'addresses': ['a.b.c.d/len', ...]}`` of an existing interface.

    ``CommandFailed`` when it does not exist.  ``ip -4 addr`` leaves out a
    link without an IPv4 address, so such an interface is read with
    ``ip link`` instead (no addresses).
    """
    links = ip_json(run, ip, ['-4', 'addr', 'show', 'dev', iface])
    if not links:
        links = ip_json(run, ip, ['link', 'show', 'dev', iface])
    if not links:
        raise LiveError([ip, 'link', 'show', 'dev', iface], 0, 'no such interface listed')
    return {'mtu': links[0].get('mtu'), 'addresses': ipv4_cidrs(links[0])}


def route_source(run, ip, address, ipv4=False):
    """The source address the host would use towards ``address`` (a routing
    lookup: no packet is sent), or None."""
    routes = ip_json_or_none(run, ip, (['-4'] if ipv4 else []) + ['route', 'get', address])
    if routes:
        return routes[0].get('prefsrc')
    return None


# ----------------------------------------------------------------------
# wg show IF FIELD

def wg_show(run, wg, iface, what):
    """The output of ``wg show IFACE WHAT``; ``CommandFailed`` when it exits non-zero."""
    return run_text(run, [wg, 'show', iface, what])


def parse_pairs(text):
    """``wg show IF endpoints|latest-handshakes|...``: public key -> value, as printed."""
    table = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) == 2:
            table[parts[0]] = parts[1]
    return table


def parse_handshakes(text):
    """``wg show IF latest-handshakes``: public key -> epoch seconds (0: never)."""
    return dict((key, int(value)) for key, value in parse_pairs(text).items() if value.isdigit())


def parse_endpoints(text):
    """``wg show IF endpoints``: public key -> ``host:port``, None for ``(none)``."""
    return dict((key, None if value == NO_VALUE else value) for key, value in parse_pairs(text).items())


def parse_public_key(text):
    """``wg show IF public-key``: the key, or None when the interface has no private key."""
    key = (text or '').strip()
    return key if key and key != NO_VALUE else None


def parse_listen_port(text):
    """``wg show IF listen-port``: the port, or None."""
    port = (text or '').strip()
    return int(port) if port.isdigit() else None


def parse_peers(allowed_text, endpoints_text, keepalive_text):
    """``wg show IF allowed-ips``, ``endpoints`` and ``persistent-keepalive``: public key ->
    ``{'allowed_ips': frozenset, 'endpoint': str|None, 'keepalive': int}``, as
    ``mesh_wgconf.peer_changes`` compares them."""
    endpoints = parse_endpoints(endpoints_text)
    keepalives = parse_pairs(keepalive_text)
    peers = {}
    for key, allowed in parse_pairs(allowed_text).items():
        keepalive = keepalives.get(key, 'off')
        peers[key] = {
            'allowed_ips': frozenset(normalise_cidr(c) for c in allowed.split() if c != NO_VALUE),
            'endpoint': endpoints.get(key),
            'keepalive': 0 if keepalive in ('off', NO_VALUE) else int(keepalive),
        }
    return peers


def wg_peers(run, wg, iface):
    """``parse_peers`` of the live interface; ``CommandFailed`` when ``wg`` cannot read it."""
    return parse_peers(wg_show(run, wg, iface, 'allowed-ips'), wg_show(run, wg, iface, 'endpoints'),
                       wg_show(run, wg, iface, 'persistent-keepalive'))


def wg_preshared_keys(run, wg, iface):
    """``wg show IF preshared-keys``: public key -> the peer's preshared key, or None when it has none.
    The keys are secrets: compare them, never return or print them."""
    return dict((key, None if value == NO_VALUE else value)
                for key, value in parse_pairs(wg_show(run, wg, iface, 'preshared-keys')).items())


__all__ = ['CommandFailed', 'LiveError', 'counted_route', 'counted_routes', 'interface_link', 'interface_routes',
           'ip_json', 'ip_json_or_none', 'ipv4_addr_info', 'ipv4_cidrs', 'is_up', 'link_kinds', 'parse_endpoints',
           'parse_handshakes', 'parse_json', 'parse_listen_port', 'parse_pairs', 'parse_peers', 'parse_public_key', 'route_devices',
           'route_source', 'run_text', 'wg_peers', 'wg_preshared_keys', 'wg_show']
