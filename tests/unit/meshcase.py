# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventories and checkers shared by the unit tests (conftest puts this
directory on sys.path)."""

import base64
import copy
import datetime
import os

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan, user_plan
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import rows
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    PortSet, cidr_interval, parse_ip,
)

TODAY = datetime.date(2026, 3, 1)
# The checkout: tests/unit/meshcase.py is two levels below it.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def key(n):
    """A valid, distinct WireGuard public key for small integers ``n``."""
    return base64.b64encode(bytes([n]) * 32).decode('ascii')


_BASE = {
    'network': {'name': 'corp', 'cidr': '100.64.0.0/24'},
    'sites': {
        # hq and branch can be dialled; shop is behind NAT without a port forward.
        'gw-hq': {
            'name': 'hq',
            'endpoint': '203.0.113.1',
            'resources': [
                {'name': 'lan', 'address': '10.1.0.0/24'},
                {'name': 'db', 'address': '10.1.0.5', 'ports': ['tcp/5432']},
                {'name': 'web', 'address': '10.1.0.10', 'ports': ['tcp/80', 'tcp/443']},
            ],
        },
        'gw-branch': {
            'name': 'branch',
            'endpoint': 'branch.example.com',
            'resources': [
                {'name': 'lan', 'address': '10.2.0.0/24'},
                {'name': 'nas', 'address': '10.2.0.20', 'ports': ['tcp/445', 'udp/137-138']},
            ],
        },
        'gw-shop': {
            'name': 'shop',
            'behind_nat': True,
            'resources': [
                {'name': 'lan', 'address': '10.3.0.0/24'},
            ],
        },
    },
    'links': [
        {'name': 'hq-branch', 'sites': {'hq': ['lan'], 'branch': ['nas']}},
        {'name': 'shop-hq', 'sites': {'shop': ['lan'], 'hq': ['web']}},
    ],
    'users': [
        {'name': 'alice', 'groups': ['admins'], 'public_key': key(1)},
        {'name': 'bob', 'groups': ['dev'], 'public_key': key(2)},
        {'name': 'carol', 'groups': ['finance'], 'public_key': key(3)},
        {'name': 'dave', 'groups': [], 'public_key': key(4)},
    ],
    'policies': [
        {'name': 'admins-all', 'groups': ['admins'], 'allow': ['*'], 'except': ['hq:db']},
        {'name': 'dev-web', 'groups': ['dev'], 'allow': ['hq:web', 'branch:nas:tcp/445']},
        {'name': 'finance-db', 'groups': ['finance'], 'allow': ['hq:db']},
    ],
    'policy_tests': [],
}


def inventory(**changes):
    """A fresh copy of the base inventory with top-level keys replaced."""
    inv = copy.deepcopy(_BASE)
    inv.update(copy.deepcopy(changes))
    return inv


def site(inv, name):
    """The meshconnect_site dict of site ``name`` in ``inv``."""
    for raw in inv['sites'].values():
        if raw.get('name') == name:
            return raw
    raise KeyError(name)


def build(inv, **kwargs):
    kwargs.setdefault('today', TODAY)
    return compile_mesh(inv, **kwargs)


def errors_of(inv, **kwargs):
    kwargs.setdefault('today', TODAY)
    with pytest.raises(MeshError) as info:
        compile_mesh(inv, **kwargs)
    assert info.value.errors, 'MeshError without errors'
    # The exception text lists every error, for people reading a failed play.
    for error in info.value.errors:
        assert error in str(info.value)
    return info.value.errors


def assert_error(inv, *fragments, **kwargs):
    """compile_mesh fails and one error contains every fragment and a fix."""
    errors = errors_of(inv, **kwargs)
    matching = [e for e in errors if all(f in e for f in fragments)]
    assert matching, 'no error contains %r; errors were:\n%s' % (fragments, '\n'.join(errors))
    for error in matching:
        assert ' Fix: ' in error, 'error without a fix hint: %s' % error
    return matching


def agent(result, site_name):
    """The whole plan of the agent of ``site_name``, as the role applies it."""
    for host, plan in result['plan']['agents'].items():
        if plan['site'] == site_name:
            return agent_plan(result['plan'], host)
    raise KeyError(site_name)


def agents(result):
    """Every agent's whole plan, as the role applies it."""
    return [agent_plan(result['plan'], host) for host in sorted(result['plan']['agents'])]


def peer(plan, name):
    for entry in plan['peers']:
        if entry['name'] == name:
            return entry
    return None


# ----------------------------------------------------------------------
# nftables set elements back into integer boxes


def parse_interval(text):
    """``a.b.c.d``, ``a.b.c.d/len`` or ``a.b.c.d-e.f.g.h`` -> ``(lo, hi)``."""
    if '-' in text:
        lo, hi = text.split('-')
        lo, hi = parse_ip(lo), parse_ip(hi)
        assert lo < hi, 'range %s is empty or a single address' % text
        return lo, hi
    return cidr_interval(text)


def firewall_boxes(plan):
    """set name -> list of boxes for every element the agent's firewall holds.

    A ``ports`` box is ``((src_lo, src_hi), (dst_lo, dst_hi), proto, (p_lo, p_hi))``;
    ``other`` and ``ping`` boxes are ``((src_lo, src_hi), (dst_lo, dst_hi))``.
    Traffic to the agent itself is looked up without a destination: its
    boxes use the agent's addresses (``agent``) as the destination.
    """
    sets = {'ports': [], 'other': [], 'ping': [], 'agent_ports': [], 'agent_other': [], 'agent_ping': []}
    agent_addresses = [(parse_ip(plan['address']),) * 2]
    if not plan['router']:
        agent_addresses += [cidr_interval(r.get('real', r['cidr'])) for r in plan['resources'] if r['kind'] == 'local']
    sets['agent'] = agent_addresses
    for group in plan['firewall']['groups']:
        assert group['sources'], 'firewall group without sources: %r' % (group,)
        for source in group['sources']:
            src = parse_interval(source)
            for dst, proto, p_lo, p_hi in group['ports']:
                assert proto in ('tcp', 'udp') and 0 <= p_lo <= p_hi <= 65535, group['ports']
                sets['ports'].append((src, parse_interval(dst), proto, (p_lo, p_hi)))
            for name in ('other', 'ping'):
                for element in group[name]:
                    sets[name].append((src, parse_interval(element)))
            for proto, p_lo, p_hi in group['agent_ports']:
                assert proto in ('tcp', 'udp') and 0 <= p_lo <= p_hi <= 65535, group['agent_ports']
                sets['agent_ports'].append((src, proto, (p_lo, p_hi)))
            for name in ('agent_other', 'agent_ping'):
                if group[name]:
                    sets[name].append((src,))
    return sets


def _ivl_overlap(a, b):
    return a[0] <= b[1] and b[0] <= a[1]


def boxes_overlap(a, b):
    if len(a) == 4:
        return (_ivl_overlap(a[0], b[0]) and _ivl_overlap(a[1], b[1]) and a[2] == b[2]
                and _ivl_overlap(a[3], b[3]))
    return _ivl_overlap(a[0], b[0]) and _ivl_overlap(a[1], b[1])


def overlapping_boxes(boxes):
    """Pairs of overlapping boxes (sweep over the source start)."""
    out = []
    boxes = sorted(boxes)
    for i, first in enumerate(boxes):
        for second in boxes[i + 1:]:
            if second[0][0] > first[0][1]:
                break
            if boxes_overlap(first, second):
                out.append((first, second))
    return out


def firewall_access(sets, src, dst_lo, dst_hi):
    """PortSet the firewall allows from address ``src`` to every address of
    ``dst_lo..dst_hi`` (asserts the destination is not split by an element),
    plus whether ping is allowed there.  A destination that is the agent
    (any of its addresses) is answered from the agent's own sets."""
    tcp, udp, other, ping = [], [], False, False
    if any(lo <= dst_lo and dst_hi <= hi for lo, hi in sets['agent']):
        for (slo, shi), proto, ports in sets['agent_ports']:
            if slo <= src <= shi:
                (tcp if proto == 'tcp' else udp).append(ports)
        other = any(slo <= src <= shi for ((slo, shi),) in sets['agent_other'])
        ping = any(slo <= src <= shi for ((slo, shi),) in sets['agent_ping'])
        return PortSet(tcp, udp, other), ping
    for (slo, shi), (dlo, dhi), proto, ports in sets['ports']:
        if slo <= src <= shi and _ivl_overlap((dlo, dhi), (dst_lo, dst_hi)):
            assert dlo <= dst_lo and dst_hi <= dhi, 'element splits the queried destination'
            (tcp if proto == 'tcp' else udp).append(ports)
    for name in ('other', 'ping'):
        for (slo, shi), (dlo, dhi) in sets[name]:
            if slo <= src <= shi and _ivl_overlap((dlo, dhi), (dst_lo, dst_hi)):
                assert dlo <= dst_lo and dst_hi <= dhi, 'element splits the queried destination'
                if name == 'other':
                    other = True
                else:
                    ping = True
    return PortSet(tcp, udp, other), ping


def reach(result):
    """The matrix of a compile as people read it: principal -> resource -> text."""
    matrix = result['matrix']
    return dict((principal, rows(matrix, principal)) for principal in matrix['members'])


def user(result, name):
    """The whole plan of user ``name`` (what a client configuration is made of)."""
    return user_plan(result['plan'], name)
