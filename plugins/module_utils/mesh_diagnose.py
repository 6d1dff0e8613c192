# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Name the likely cause when an expected WireGuard handshake did not happen."""

HANDSHAKE_FRESH = 180  # seconds: WireGuard re-handshakes every 2 minutes while traffic flows


def diagnose(peer, age, own):
    """Return None when the handshake is fine, else the likely cause.

    ``peer``: {name, endpoint, behind_nat, port_forwarding} as planned.
    ``age``: seconds since the last handshake, or None for never.
    ``own``: {endpoint, endpoint_port, behind_nat, port_forwarding, listen_port} of this agent
    (``endpoint_port`` is the port peers dial, which a NAT router may forward to ``listen_port``).
    """
    if age is not None and age <= HANDSHAKE_FRESH:
        return None
    if peer.get('endpoint'):
        host, _sep, port = peer['endpoint'].rpartition(':')
        if peer.get('behind_nat'):
            return ('no handshake with %s: this agent dials %s but gets no answer. %s is behind NAT: check that UDP '
                    '%s reaches its agent (the port forward on its router, or the firewall or security group of a '
                    '1:1 NAT; a closed port forward is the usual cause), then that the endpoint is right and the '
                    'agent is running.' % (peer['name'], peer['endpoint'], peer['name'], port))
        return ('no handshake with %s: this agent dials %s but gets no answer. Check that the endpoint is right '
                '(%s resolves to the peer), that UDP %s is open to it, and that its agent is running.'
                % (peer['name'], peer['endpoint'], host, port))
    if own.get('endpoint'):
        dialled = own.get('endpoint_port') or own.get('listen_port')
        why = ('this agent is behind NAT: check that UDP %s, the port peers dial, reaches it (the port forward on '
               'its router, or the firewall or security group of a 1:1 NAT; a closed port forward is the usual '
               'cause)' % dialled) if own.get('behind_nat') else \
            'check that UDP %s reaches this agent at %s' % (dialled, own['endpoint'])
        return ('no handshake with %s: it should dial this agent at %s but has not. %s, and that %s is running '
                'and can reach the internet.' % (peer['name'], own['endpoint'], why[0].upper() + why[1:],
                                                 peer['name']))
    return ('no handshake with %s: neither side can dial the other (fix the inventory: one of them needs an '
            'endpoint).' % peer['name'])
