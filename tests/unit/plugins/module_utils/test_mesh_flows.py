# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Random inventories against a brute-force reading of the policy language.

For every generated inventory the compiled firewall must

* hold no two overlapping elements in one nftables set (nftables refuses
  them), and
* allow exactly what the policies and links say, address by address: every
  element is allowed by the reference, and everything the reference allows
  (in particular every flow of report.matrix) is covered by the elements of
  the agent that owns the destination.

The reference below evaluates each address on its own, from the inventory
as written, without using the compiler's access maps.
"""

import datetime
import random

import pytest

from meshcase import (
    TODAY, agent, build, firewall_access, firewall_boxes, key, overlapping_boxes, parse_interval,
)
from meshcase import reach as matrix_rows

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan, user_plan
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    EVERYTHING, NOTHING, PortSet, format_ip, interval_to_cidrs, merge_intervals, parse_ip,
)

ITERATIONS = 300
SEED = 20260301
PORT_POOL = ['tcp/22', 'tcp/80', 'tcp/443', 'udp/53', 'tcp/53', 'tcp/5432', 'tcp/8000-8100', 'udp/1000-2000',
             'tcp/1-1024', 'udp/161']


class Res:
    def __init__(self, name, lo, hi, ports):
        self.name, self.lo, self.hi, self.ports = name, lo, hi, ports


# ----------------------------------------------------------------------
# generator


def _random_block(rng, base, smallest=24):
    length = rng.randint(smallest, 32)
    size = 1 << (32 - length)
    lo = base + rng.randrange(0, 256, size)
    return '%s/%d' % (format_ip(lo), length), lo, lo + size - 1


def _random_ports(rng):
    if rng.random() < 0.4:
        return None
    return rng.sample(PORT_POOL, rng.randint(1, 3))


def generate(rng):
    """``(inventory, facts, world)``; world is what the reference needs."""
    cidr = rng.choice(['100.64.0.0/24', '100.96.0.0/26', '100.70.4.0/22'])
    network = {'name': 'rnd', 'cidr': cidr, 'allow_ping': rng.random() < 0.7}
    sites, facts, world_sites = {}, {}, {}
    for i in range(rng.randint(2, 5)):
        name = 's%d' % i
        kind = rng.choice(['public', 'public', 'forwarded', 'nat', 'hidden'])
        raw = {'name': name, 'router': rng.random() < 0.75, 'masquerade': rng.random() < 0.3}
        endpoint_ip = None
        if kind == 'public':
            endpoint_ip = '198.51.100.%d' % (i + 1)
            raw['endpoint'] = endpoint_ip
        elif kind == 'forwarded':
            raw.update(endpoint='s%d.example.com' % i, behind_nat=True, port_forwarding=True)
        elif kind == 'nat':
            raw.update(behind_nat=True)
        resources = {}
        raw['resources'] = []
        for j in range(rng.randint(0, 4)):
            text, lo, hi = _random_block(rng, parse_ip('10.%d.0.0' % i))
            ports = _random_ports(rng)
            entry = {'name': 'r%d' % j, 'address': text}
            if ports:
                entry['ports'] = ports
            raw['resources'].append(entry)
            resources['r%d' % j] = Res('r%d' % j, lo, hi, PortSet.parse(ports) if ports else EVERYTHING)
        sites['host%d' % i] = raw
        info = {'name': name, 'router': raw['router'], 'dialable': kind in ('public', 'forwarded'),
                'resources': resources, 'endpoint_ip': endpoint_ip, 'facts': False}
        if rng.random() < 0.6:
            interfaces = []
            if endpoint_ip:
                interfaces.append({'name': 'eth0', 'address': endpoint_ip, 'prefix': 24, 'default_route': True})
            for k in range(rng.randint(0, 3)):
                prefix = rng.randint(24, 30)
                entry = {'name': 'eth%d' % (k + 1), 'address': '172.16.%d.%d' % (i, rng.randint(1, 254)),
                         'prefix': prefix}
                roll = rng.random()
                if roll < 0.2:
                    entry['default_route'] = True      # an uplink
                elif roll < 0.3:
                    entry['name'] = 'docker%d' % k     # a container bridge
                elif roll < 0.4:
                    entry['kind'] = 'vxlan'            # an overlay
                interfaces.append(entry)
            if interfaces and rng.random() < 0.2:
                raw['include_interfaces'] = [rng.choice(interfaces)['name']]
            facts['host%d' % i] = {'public_key': key(200 + i), 'interfaces': interfaces}
            info['facts'] = interfaces
        world_sites[name] = info
    endpoint_ips = [parse_ip(s['endpoint_ip']) for s in world_sites.values() if s['endpoint_ip']]
    for name, info in world_sites.items():
        include = sites['host%d' % int(name[1:])].get('include_interfaces', [])
        for entry in info['facts'] or []:
            addr, prefix = parse_ip(entry['address']), entry['prefix']
            if info['router']:
                lo = addr & ~((1 << (32 - prefix)) - 1)
                hi = lo + (1 << (32 - prefix)) - 1
            else:
                lo = hi = addr
            if any(lo <= ip <= hi for ip in endpoint_ips):
                continue
            if entry['name'] not in include:
                if entry['name'].startswith('docker') or entry.get('kind') == 'vxlan':
                    continue
                declared_inside = any(r.lo <= hi and lo <= r.hi for r in info['resources'].values()
                                      if not r.name.startswith('local-'))
                if info['router'] and entry.get('default_route') and not declared_inside:
                    continue
            info['resources']['local-' + entry['name']] = Res('local-' + entry['name'], lo, hi, EVERYTHING)

    names = sorted(world_sites)
    links = []
    for n in range(rng.randint(0, 3)):
        members = rng.sample(names, rng.randint(2, min(3, len(names))))
        hidden = [m for m in members if not world_sites[m]['dialable']]
        members = [m for m in members if world_sites[m]['dialable']] + hidden[:1]
        if len(members) < 2:
            continue
        link = {'name': 'link%d' % n, 'sites': {}}
        roll = rng.random()
        if roll < 0.2:
            link['agents'] = 'none'
        elif roll < 0.4:
            link['agents'] = rng.sample(PORT_POOL, 1)
        for m in members:
            own = sorted(world_sites[m]['resources'])
            exposed = []
            for r in rng.sample(own, rng.randint(0, len(own))):
                exposed.append(r + (':' + rng.choice(PORT_POOL) if rng.random() < 0.3 else ''))
            if rng.random() < 0.5:
                link['sites'][m] = exposed          # the plain form
            else:
                connect = rng.sample(own + ['agent'], rng.randint(0, len(own) + 1))
                link['sites'][m] = {'expose': exposed, 'connect': connect}
        links.append(link)

    groups = ['g1', 'g2', 'g3']
    users = []
    for n in range(rng.randint(1, 5)):
        user = {'name': 'u%d' % n, 'groups': rng.sample(groups, rng.randint(0, 2)), 'public_key': key(100 + n)}
        if rng.random() < 0.5:
            user['public_key'] = key(100 + n)
        if rng.random() < 0.15:
            user['expires'] = '2025-%02d-01' % rng.randint(1, 12)
        elif rng.random() < 0.2:
            user['expires'] = '2027-01-01'
        users.append(user)
    known_groups = sorted(set(g for u in users for g in u['groups']))

    def random_grant(with_ports=True):
        roll = rng.random()
        if roll < 0.08:
            return '*'
        s = rng.choice(names)
        if roll < 0.25:
            return s
        choices = sorted(world_sites[s]['resources']) + ['agent', '*']
        text = '%s:%s' % (s, rng.choice(choices))
        if with_ports and rng.random() < 0.35:
            text += ':' + ','.join(rng.sample(PORT_POOL, rng.randint(1, 2)))
        return text

    policies = []
    for n in range(rng.randint(1, 4)):
        policy = {'name': 'p%d' % n, 'allow': [random_grant() for _i in range(rng.randint(1, 3))]}
        if known_groups and rng.random() < 0.6:
            policy['groups'] = rng.sample(known_groups, rng.randint(1, len(known_groups)))
        if not policy.get('groups') or rng.random() < 0.3:
            policy['users'] = rng.sample([u['name'] for u in users], rng.randint(1, len(users)))
        if rng.random() < 0.5:
            policy['except'] = [random_grant() for _i in range(rng.randint(1, 2))]
        policies.append(policy)

    inventory = {'network': network, 'sites': sites, 'links': links, 'users': users, 'policies': policies}
    return inventory, facts, world_sites


# ----------------------------------------------------------------------
# reference


def _grant_parts(text):
    parts = text.split(':')
    site = parts[0]
    resource = parts[1] if len(parts) > 1 else '*'
    ports = PortSet.parse(parts[2].split(',')) if len(parts) > 2 else None
    return site, resource, ports


def _cap(world, site_name, addr, ports):
    """A declared resource with ports only ever allows those (their union
    where several hold ``addr``), whatever broader resource is granted."""
    limited = [r.ports for r in world[site_name]['resources'].values()
               if not r.name.startswith('local-') and r.ports != EVERYTHING and r.lo <= addr <= r.hi]
    if not limited:
        return ports
    cap = NOTHING
    for limit in limited:
        cap = cap.union(limit)
    return ports.intersect(cap)


def _matching(world, site_name, text, addr, agent_addr):
    """Resources of ``site_name`` named by grant ``text`` that hold ``addr``."""
    g_site, g_res, ports = _grant_parts(text)
    if g_site not in ('*', site_name):
        return []
    out = []
    resources = dict(world[site_name]['resources'])
    resources['agent'] = Res('agent', agent_addr, agent_addr, EVERYTHING)
    for res in resources.values():
        if g_res in ('*', res.name) and res.lo <= addr <= res.hi:
            out.append((res, ports))
    return out


def _agent_points(world, leases, owner):
    """Addresses that are the agent of ``owner``: its overlay address and, side-loaded, its own addresses."""
    points = [parse_ip(leases['agent/' + owner])]
    if not world[owner]['router']:
        points += [r.lo for r in world[owner]['resources'].values() if r.name.startswith('local-')]
    return points


def user_reference(inv, world, leases, user, site_name, addr):
    """What ``user`` may reach at ``addr`` of ``site_name``, from the policies."""
    if user.get('expires') and datetime.date(*map(int, user['expires'].split('-'))) < TODAY:
        return NOTHING
    if not world[site_name]['dialable']:
        return NOTHING
    agent_addr = parse_ip(leases['agent/' + site_name])
    total = NOTHING
    for policy in inv['policies']:
        if user['name'] not in policy.get('users', []) and not set(policy.get('groups', [])) & set(user['groups']):
            continue
        allowed = NOTHING
        for text in policy['allow']:
            for res, ports in _matching(world, site_name, text, addr, agent_addr):
                got = res.ports if ports is None else res.ports.intersect(ports)
                allowed = allowed.union(got if res.name == 'agent' else _cap(world, site_name, addr, got))
        denied = NOTHING
        for text in policy.get('except', []):
            for _res, ports in _matching(world, site_name, text, addr, agent_addr):
                denied = denied.union(EVERYTHING if ports is None else ports)
        total = total.union(allowed.subtract(denied))
    return total


def _member(value):
    """``(exposures [(name, PortSet or None)], connectors)`` of a link member as written."""
    if isinstance(value, dict):
        expose, connect = value.get('expose', []), list(value.get('connect', []))
    else:
        expose, connect = value, None
    exposures = []
    for text in expose:
        name, _sep, ports = text.partition(':')
        exposures.append((name, PortSet.parse(ports.split(',')) if ports else None))
    if connect is None:
        connect = ['agent'] + [name for name, _p in exposures]
    return exposures, connect


def site_reference(inv, world, leases, owner, src, addr):
    """What source address ``src`` (another site) may reach at ``addr`` of ``owner``."""
    total = NOTHING
    owner_agent = parse_ip(leases['agent/' + owner])
    for link in inv['links']:
        if owner not in link['sites']:
            continue
        agents = link.get('agents', 'all')
        agents = EVERYTHING if agents == 'all' else NOTHING if agents == 'none' else PortSet.parse(agents)
        exposures, _connect = _member(link['sites'][owner])
        for other, value in link['sites'].items():
            if other == owner:
                continue
            other_agent = parse_ip(leases['agent/' + other])
            if src == other_agent and addr == owner_agent:
                total = total.union(agents)
            _exposed, connect = _member(value)
            connected = any(src == other_agent if c == 'agent' else
                            world[other]['resources'][c].lo <= src <= world[other]['resources'][c].hi
                            for c in connect)
            if not connected:
                continue
            for r, ports in exposures:
                res = world[owner]['resources'][r]
                if res.lo <= addr <= res.hi:
                    got = res.ports if ports is None else res.ports.intersect(ports)
                    total = total.union(_cap(world, owner, addr, got))
    return total


def _segments(bounds):
    """Elementary intervals of a list of ``(lo, hi)``."""
    points = sorted(set([lo for lo, _hi in bounds] + [hi + 1 for _lo, hi in bounds]))
    out = []
    for k in range(len(points) - 1):
        lo, hi = points[k], points[k + 1] - 1
        if any(blo <= lo and hi <= bhi for blo, bhi in bounds):
            out.append((lo, hi))
    return out


# ----------------------------------------------------------------------
# matrix text back into pieces


def _parse_ports(text):
    if text == 'all':
        return EVERYTHING
    tcp, udp, other = [], [], False
    for token in text.split(','):
        if token == 'other-protocols':
            other = True
        elif token in ('tcp', 'udp'):
            (tcp if token == 'tcp' else udp).append((0, 65535))
        else:
            proto, rng = token.split('/')
            lo, _sep, hi = rng.partition('-')
            (tcp if proto == 'tcp' else udp).append((int(lo), int(hi or lo)))
    return PortSet(tcp, udp, other)


def matrix_pieces(text, lo, hi):
    """``report.matrix`` text for a resource ``lo..hi`` -> ``[(lo, hi, PortSet)]``."""
    if not text.startswith('partial: '):
        return [(lo, hi, _parse_ports(text))]
    body = text[len('partial: '):]
    if ' except ' in body:
        ports, holes = body.split(' except ')
        pieces = [(lo, hi)]
        for hole in holes.split(', '):
            hlo, hhi = parse_interval(hole)
            rest = []
            for plo, phi in pieces:
                if hhi < plo or hlo > phi:
                    rest.append((plo, phi))
                    continue
                if plo < hlo:
                    rest.append((plo, hlo - 1))
                if hhi < phi:
                    rest.append((hhi + 1, phi))
            pieces = rest
        return [(plo, phi, _parse_ports(ports)) for plo, phi in pieces]
    out = []
    for part in body.split('; '):
        ivl, ports = part.split(' ', 1)
        plo, phi = parse_interval(ivl)
        out.append((plo, phi, _parse_ports(ports)))
    return out


# ----------------------------------------------------------------------
# the property


def check(inv, facts, world):
    result = build(inv, facts=facts)
    plan = result['plan']
    leases = result['lease_state']['leases']
    allow_ping = inv['network']['allow_ping']
    users = dict((u['name'], u) for u in inv['users'])
    user_addr = dict((name, parse_ip(leases['user/' + name])) for name in users)

    # Local resources as expected from the facts.
    for name, info in world.items():
        got = dict((r['name'], parse_interval(r['cidr'])) for r in agent(result, name)['resources']
                   if r['kind'] == 'local')
        assert got == dict((r.name, (r.lo, r.hi)) for r in info['resources'].values()
                           if r.name.startswith('local-'))

    for owner, info in world.items():
        aplan = agent(result, owner)
        sets = firewall_boxes(aplan)

        # 1. nftables sets hold disjoint elements.
        for set_name, boxes in sets.items():
            if set_name == 'agent':
                continue
            assert not overlapping_boxes(boxes), (owner, set_name, overlapping_boxes(boxes)[:3])

        agent_addr = parse_ip(leases['agent/' + owner])
        agent_points = _agent_points(world, leases, owner)
        dst_bounds = [(r.lo, r.hi) for r in info['resources'].values()] + [(agent_addr, agent_addr)]
        for name in ('ports', 'other', 'ping'):
            dst_bounds.extend(box[1] for box in sets[name])
        dst_segments = _segments(dst_bounds)

        def reference_at(src, addr):
            for name, uaddr in user_addr.items():
                if uaddr == src:
                    return user_reference(inv, world, leases, users[name], owner, addr)
            return site_reference(inv, world, leases, owner, src, addr)

        def reference(src, addr):
            # The agent is the agent whatever address is used: its input chain looks up the source only.
            if addr in agent_points:
                total = NOTHING
                for point in agent_points:
                    total = total.union(reference_at(src, point))
                return total
            return reference_at(src, addr)

        # Source representatives: users, linked agents and their connectors.
        sources = set(user_addr.values())
        src_bounds = [(a, a) for a in sources]
        for link in inv['links']:
            if owner in link['sites']:
                for other, value in link['sites'].items():
                    a = parse_ip(leases['agent/' + other])
                    src_bounds.append((a, a))
                    src_bounds.extend((world[other]['resources'][c].lo, world[other]['resources'][c].hi)
                                      for c in _member(value)[1] if c != 'agent')
        for name, boxes in sets.items():
            if name != 'agent':
                src_bounds.extend(box[0] for box in boxes)
        src_segments = _segments(src_bounds)

        # 2. firewall == reference, segment by segment.
        for slo, _shi in src_segments:
            for dlo, dhi in dst_segments:
                if dlo != dhi and any(dlo <= a <= dhi for a in agent_points):
                    continue    # a segment holding an agent address is split below
                want = reference(slo, dlo)
                got, ping = firewall_access(sets, slo, dlo, dhi)
                assert got == want, (owner, format_ip(slo), format_ip(dlo), got.describe(), want.describe())
                assert ping == (allow_ping and bool(want) and not want.other), (owner, format_ip(slo), format_ip(dlo))
            for point in agent_points:
                want = reference(slo, point)
                got, ping = firewall_access(sets, slo, point, point)
                assert got == want, (owner, format_ip(slo), 'agent', got.describe(), want.describe())
                assert ping == (allow_ping and bool(want) and not want.other), (owner, format_ip(slo), 'agent')

        # 3. every element lies inside known sources and destinations.
        for name, boxes in sets.items():
            if name == 'agent':
                continue
            for box in boxes:
                assert any(s[0] <= box[0][0] and box[0][1] <= s[1] for s in merge_intervals(src_bounds))
                if name.startswith('agent_'):
                    continue
                assert any(d[0] <= box[1][0] and box[1][1] <= d[1] for d in merge_intervals(dst_bounds))

    # 4. user clients: one peer per dialable site with access; AllowedIPs exact.
    for name, user in users.items():
        expected = {}
        for owner, info in world.items():
            agent_addr = parse_ip(leases['agent/' + owner])
            bounds = [(r.lo, r.hi) for r in info['resources'].values()] + [(agent_addr, agent_addr)]
            reach = [(lo, hi) for lo, hi in _segments(bounds)
                     if user_reference(inv, world, leases, user, owner, lo)]
            if reach:
                cidrs = []
                for lo, hi in merge_intervals(reach):
                    cidrs.extend(interval_to_cidrs(lo, hi))
                expected[owner] = sorted(cidrs, key=parse_interval)
        got = dict((p['site'], p['allowed_ips']) for p in user_plan(plan, name)['peers'])
        assert got == expected, name
        on_agents = sorted(plan['agents'][host]['site'] for host in plan['agents']
                           if any(p['name'] == 'user:' + name for p in agent_plan(plan, host)['peers']))
        assert on_agents == sorted(expected), name

    # 5. report.matrix: exact for users, and every allowed flow is in the
    #    firewall of the agent that owns the destination.
    for src, row in matrix_rows(result).items():
        kind, name, connector = (src.split(':') + [None])[:3]
        for dst, text in row.items():
            owner, res_name = dst.split(':')
            if res_name == 'agent':
                lo = hi = parse_ip(leases['agent/' + owner])
            else:
                res = world[owner]['resources'][res_name]
                lo, hi = res.lo, res.hi
            if kind == 'user':
                src_addr = user_addr[name]
            elif connector == 'agent':
                src_addr = parse_ip(leases['agent/' + name])
            else:
                src_addr = world[name]['resources'][connector].lo
            sets = firewall_boxes(agent(result, owner))
            for plo, phi, ports in matrix_pieces(text, lo, hi):
                assert lo <= plo <= phi <= hi
                touching = [b[1] for b in sets['ports'] + sets['other'] if b[1][0] <= phi and plo <= b[1][1]]
                touching += [(a, a) for a in _agent_points(world, leases, owner) if plo <= a <= phi]
                for dlo, dhi in _segments([(plo, phi)] + touching):
                    if plo <= dlo and dhi <= phi:
                        got, _ping = firewall_access(sets, src_addr, dlo, dhi)
                        assert got.covers(ports), (src, dst, text)
            if kind == 'user':
                want = []
                for dlo, dhi in _segments([(lo, hi)] + [(r.lo, r.hi) for r in world[owner]['resources'].values()]):
                    if lo <= dlo and dhi <= hi:
                        ref = user_reference(inv, world, leases, users[name], owner, dlo)
                        if ref:
                            want.append((dlo, dhi, ref))
                got = matrix_pieces(text, lo, hi)
                assert _flatten(got) == _flatten(want), (src, dst, text)
    # ... and lists every resource the user reaches some part of.
    for name, user in users.items():
        row = matrix_rows(result).get('user:' + name, {})
        for owner, info in world.items():
            agent_addr = parse_ip(leases['agent/' + owner])
            resources = list(info['resources'].values()) + [Res('agent', agent_addr, agent_addr, EVERYTHING)]
            bounds = [(r.lo, r.hi) for r in resources]
            for res in resources:
                has = any(user_reference(inv, world, leases, user, owner, lo)
                          for lo, _hi in _segments(bounds) if res.lo <= lo <= res.hi)
                assert has == ('%s:%s' % (owner, res.name) in row), (name, owner, res.name)
    return result


def _flatten(pieces):
    """Merge adjacent pieces with equal ports, for comparing two descriptions."""
    out = []
    for lo, hi, ports in sorted(pieces, key=lambda p: p[0]):
        if out and out[-1][1] == lo - 1 and out[-1][2] == ports:
            out[-1] = (out[-1][0], hi, ports)
        else:
            out.append((lo, hi, ports))
    return out


def test_random_inventories_compile_to_exact_disjoint_firewalls():
    rng = random.Random(SEED)
    stats = {'links': 0, 'groups': 0, 'local': 0, 'partial': 0}
    for iteration in range(ITERATIONS):
        inv, facts, world = generate(rng)
        try:
            result = check(inv, facts, world)
        except AssertionError as exc:
            pytest.fail('iteration %d: %s\ninventory: %r\nfacts: %r' % (iteration, exc, inv, facts))
        stats['links'] += len(inv['links'])
        stats['groups'] += sum(len(a['firewall']['groups']) for a in result['plan']['agents'].values())
        stats['local'] += sum(1 for a in result['plan']['agents'].values() for r in a['resources']
                              if r['kind'] == 'local')
        stats['partial'] += sum(1 for row in matrix_rows(result).values() for text in row.values()
                                if text.startswith('partial'))
    # The generator exercises what it is meant to.
    assert all(value > ITERATIONS // 4 for value in stats.values()), stats


def test_the_checker_finds_overlapping_elements():
    # The disjointness checker itself must be able to fail.
    nothing = {'other': [], 'ping': [], 'agent_ports': [], 'agent_other': False, 'agent_ping': False}
    plan = {'address': '100.64.0.1', 'router': True, 'resources': [], 'firewall': {'groups': [
        dict(nothing, sources=['100.64.0.4'], ports=[['10.1.0.0/24', 'tcp', 1, 100]]),
        dict(nothing, sources=['100.64.0.0/30', '100.64.0.4'], ports=[['10.1.0.7', 'tcp', 100, 100]]),
    ]}}
    sets = firewall_boxes(plan)
    assert len(overlapping_boxes(sets['ports'])) == 1
    plan['firewall']['groups'][1]['ports'] = [['10.1.0.7', 'udp', 100, 100], ['10.1.0.7', 'tcp', 101, 200]]
    assert overlapping_boxes(firewall_boxes(plan)['ports']) == []
