# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall flow groups of an agent plan: the one owner of their format.

A *flow group* is what one set of sources may reach through an agent, as
data in the plan (``agent_plan.firewall.groups``)::

    {'sources': ['100.65.0.9', ...],                     # address, CIDR or A-B
     'ports': [[DST, PROTO, LO, HI], ...],               # forwarded, by port
     'other': [DST, ...], 'ping': [DST, ...],            # forwarded, any protocol / ping
     'agent_ports': [[PROTO, LO, HI], ...],              # to the agent itself
     'agent_other': bool, 'agent_ping': bool}

``flow_group`` writes it, ``nft_elements`` renders it as nftables set
elements (the role's template uses nothing else), and ``group_allows``
reads it back to say whether a packet passes (``mesh_probe``).  Nothing
parses the rendered text.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_access as access
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, address_in, format_interval,
)

KINDS = ('ports', 'other', 'ping', 'agent_ports', 'agent_other', 'agent_ping')


def flow_group(sources, amap, allow_ping, agent_ranges):
    """The flow group of ``sources`` sharing the access map ``amap``.

    Traffic to the agent itself (any address in ``agent_ranges``) is looked
    up in the input chain without a destination; forwarded traffic by
    destination.  Destinations in a map are disjoint, so the elements never
    overlap.
    """
    touched = [(lo, hi) for lo, hi in agent_ranges if access.touches(amap, lo, hi)]
    forward = access.subtract(amap, [(lo, hi, EVERYTHING) for lo, hi in touched]) if touched else amap
    agent = NOTHING
    for lo, hi in touched:
        for _plo, _phi, ps in access.restrict(amap, lo, hi):
            agent = agent.union(ps)
    ports, other, ping = [], [], []
    for lo, hi, ps in forward:
        dst = format_interval(lo, hi)
        for proto in ('tcp', 'udp'):
            ports.extend([dst, proto, plo, phi] for plo, phi in getattr(ps, proto))
        if ps.other:
            other.append(dst)
        elif allow_ping:
            ping.append(dst)
    agent_ports = [[proto, plo, phi] for proto in ('tcp', 'udp') for plo, phi in getattr(agent, proto)]
    return {'sources': list(sources), 'ports': ports, 'other': other, 'ping': ping,
            'agent_ports': agent_ports, 'agent_other': agent.other,
            'agent_ping': bool(agent) and not agent.other and allow_ping}


def _port_text(lo, hi):
    return str(lo) if lo == hi else '%d-%d' % (lo, hi)


def _suffixes(group, kind):
    """The part of each element after ``SRC``: a list of texts, or ``True``
    for a flag that admits the sources on their own."""
    value = group[kind]
    if kind == 'ports':
        return [' . %s . %s . %s' % (dst, proto, _port_text(lo, hi)) for dst, proto, lo, hi in value]
    if kind == 'agent_ports':
        return [' . %s . %s' % (proto, _port_text(lo, hi)) for proto, lo, hi in value]
    if kind in ('other', 'ping'):
        return [' . ' + dst for dst in value]
    return bool(value)


def nft_elements(groups, kind):
    """The nftables set elements of ``kind`` (one of ``KINDS``) for an
    agent's flow groups.

    ``ports`` elements are ``SRC . DST . PROTO . PORTS``, ``other`` and
    ``ping`` ones ``SRC . DST`` (forwarded traffic); ``agent_ports`` ones
    ``SRC . PROTO . PORTS``; ``agent_other`` and ``agent_ping`` ones ``SRC``.
    """
    if kind not in KINDS:
        raise ValueError('unknown flow element kind %r (one of %s)' % (kind, ', '.join(KINDS)))
    out = []
    for group in groups:
        if 'sources' not in group and 'classes' in group:
            raise ValueError('a group names its classes of users; give the groups of plan | meshconnect.mesh.agent_plan(HOST)')
        suffixes = _suffixes(group, kind)
        if suffixes is True:
            out.extend(group['sources'])
        elif suffixes:
            for source in group['sources']:
                out.extend(source + suffix for suffix in suffixes)
    return out


def group_allows(group, src, dst, proto, port, to_agent):
    """Whether ``group`` lets a packet from ``src`` to ``dst`` (integers)
    pass: ``proto`` is ``tcp``, ``udp`` or ``icmp`` (a ping; ``port`` None);
    ``to_agent`` when ``dst`` is the agent itself."""
    if not address_in(src, group['sources']):
        return False
    if to_agent:
        if proto == 'icmp':
            return bool(group['agent_other'] or group['agent_ping'])
        return any(e_proto == proto and lo <= port <= hi for e_proto, lo, hi in group['agent_ports'])
    if proto == 'icmp':
        return address_in(dst, group['other']) or address_in(dst, group['ping'])
    return any(e_proto == proto and lo <= port <= hi and address_in(dst, [d_text])
               for d_text, e_proto, lo, hi in group['ports'])
