# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Management access to an agent: who may reach the agent itself, on which ports.

Management sources reach only the agent (its input chain), never what is
behind it, and only on the management ports. The controller's own address
is added only when asked, and never when it is a mesh member's address (it
would give that member management access beyond its policy).
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, PortSet, cidr_interval, format_interval, format_ip, parse_cidr, parse_ip,
)


class ManagementError(ValueError):
    """A management setting cannot be honoured; the message says how to fix it."""


def _ranges(cidrs):
    out = []
    for text in cidrs:
        try:
            out.append(cidr_interval(text))
        except AddressError:
            continue
    return out


def management_access(plan, sources, ports, controller=None):
    """``{'addresses': [...], 'ports': ['tcp . 22', ...]}`` for the agent's
    ``mgmt`` and ``mgmt_ports`` sets.

    :param plan: the agent's plan (``overlay`` and ``peers`` are used).
    :param sources: ``agent_management_sources`` (IPv4 addresses or networks).
    :param ports: ``agent_management_ports`` (``tcp/22`` ...).
    :param controller: the controller's SSH source address to add, or None.
    :raises ManagementError: naming the entry and the fix.
    """
    if not isinstance(sources, (list, tuple)):
        raise ManagementError('agent_management_sources must be a list of IPv4 addresses or networks, not %r.'
                              % (sources,))
    addresses = []
    for entry in sources:
        try:
            net, length = parse_cidr(entry if isinstance(entry, str) else None)
        except AddressError as exc:
            raise ManagementError('agent_management_sources entry %r: %s. Fix: list IPv4 addresses or networks '
                                  'such as 192.0.2.10 or 192.0.2.0/24.' % (entry, exc))
        addresses.append(format_interval(*cidr_interval('%s/%d' % (format_ip(net), length))))
    if controller:
        try:
            value = parse_ip(controller)
        except AddressError:
            raise ManagementError('the controller connects from %r, which is not an IPv4 address; it cannot be '
                                  'added to the management allowlist. Fix: list the address in '
                                  'agent_management_sources, or set agent_management_add_controller: false.'
                                  % (controller,))
        owner = None
        overlay = plan.get('overlay')
        if overlay and _inside(value, [overlay]):
            owner = 'the overlay network %s' % overlay
        for peer in plan.get('peers') or []:
            if owner is None and _inside(value, peer.get('allowed_ips') or []):
                owner = "%s's routed ranges (%s)" % (peer['name'], ', '.join(peer['allowed_ips']))
        if owner is not None:
            raise ManagementError(
                'the controller connects to agent %s from %s, inside %s: adding it to the management allowlist '
                'would give that mesh member management access beyond its policy. Fix: grant it in a policy '
                '(for example %s:agent:tcp/22), or set agent_management_add_controller: false.'
                % (plan.get('site'), controller, owner, plan.get('site')))
        addresses.append(controller)
    if not isinstance(ports, (list, tuple)):
        raise ManagementError('agent_management_ports must be a list such as [tcp/22], not %r.' % (ports,))
    try:
        portset = PortSet.parse(list(ports))
    except AddressError as exc:
        raise ManagementError('agent_management_ports: %s.' % exc)
    elements = []
    for proto in ('tcp', 'udp'):
        for lo, hi in getattr(portset, proto):
            elements.append('%s . %s' % (proto, lo if lo == hi else '%d-%d' % (lo, hi)))
    return {'addresses': sorted(set(addresses), key=_sort_key), 'ports': elements}


def _sort_key(text):
    return parse_ip(text.split('/')[0].split('-')[0])


def _inside(value, cidrs):
    return any(lo <= value <= hi for lo, hi in _ranges(cidrs))
