# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the agents reported, into the model: each agent's public key, and
its interfaces' addresses turned into ``local-<interface>`` resources (or
left out, with the reason kept for the report); agent keys shared with
another agent or a user.

The facts' outer shape (a mapping per host, ``public_key`` a string,
``interfaces`` a list) is checked by ``mesh_schema.check_facts``; each
discovered interface is checked here.
"""

import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_sites import (
    LOCAL_PREFIX, Resource, cap_resources, validate_public_key,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, EVERYTHING, addresses_within, format_cidr, overlaps, parse_ip, prefix_interval,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import IFACE_RE

# Interfaces that are never a site's LAN unless the inventory says so (include_interfaces): tunnels,
# overlays and the bridges of container and VM runtimes.
VIRTUAL_KINDS = frozenset(('wireguard', 'tun', 'tap', 'vxlan', 'geneve', 'gre', 'gretap', 'ip6gre', 'ip6gretap',
                           'ipip', 'ip6tnl', 'sit', 'vti', 'vti6', 'dummy', 'ifb', 'vrf', 'macsec', 'nlmon',
                           'bareudp', 'gtp'))
VIRTUAL_NAME_RE = re.compile(r'^(docker\d+|br-[0-9a-f]{12}|virbr\d+(-nic)?|lxcbr\d+|lxdbr\d+|incusbr\d+|cni\d+|'
                             r'podman\d+|cali.*|flannel.*|cilium_.*|kube-.*|tailscale\d+|zt.*|vnet\d+|veth.*)\Z')


def add_agent_facts(problems, network, sites, facts, endpoint_ips):
    """Each site's public key and local resources from what its agent
    reported (``facts``: agent host -> facts), then its ``agent`` resource;
    a site's resources end sorted by name and capped (``cap_resources``).

    ``endpoint_ips`` is the sorted list of the agents' endpoint addresses.
    """
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


def _skip_reason(network, site, entry, lo, hi, endpoint_ips):
    """Why a discovered interface address is not offered as a local resource, or None."""
    ifname = entry['name']
    if ifname == network.interface:
        return 'the overlay interface'
    if ifname in site.ignore_interfaces:
        return 'listed in ignore_interfaces'
    if overlaps((lo, hi), (network.lo, network.hi)):
        return 'inside the overlay network %s' % network.cidr
    if addresses_within(endpoint_ips, (lo, hi)):
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
        if ifname != network.interface:
            site.attached.append(prefix_interval(addr, length) + (ifname,))
        if site.router:
            lo, hi = prefix_interval(addr, length)
            cidr = format_cidr(lo, length)
        else:
            lo = hi = addr
            cidr = format_cidr(addr, 32)
        name = LOCAL_PREFIX + ifname
        why = _skip_reason(network, site, entry, lo, hi, endpoint_ips)
        if why is None and name in site.resources:
            why = 'a second address of %s (one local resource per interface)' % ifname
        site.discovery.append({'interface': ifname, 'cidr': cidr, 'resource': None if why else name, 'why': why})
        if why is None:
            site.resources[name] = Resource(site.name, name, cidr, lo, hi, EVERYTHING, 'local')
    site.local_addresses = sorted(addresses)


def check_agent_keys(problems, sites, users):
    """An agent's key must differ from every other agent's and user's key
    (cloned agents share one); users sharing keys are reported with the users."""
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
