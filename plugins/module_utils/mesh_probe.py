# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live verification: which flows to probe, what the plan expects of each,
and how the live agents differ from their plans (drift).

Expectations are read from what the plan makes the mesh enforce: the prober's
route into the mesh (client AllowedIPs, or its agent's peers), the owning
agent's AllowedIPs for the source (WireGuard drops what it does not expect)
and the owning agent's firewall sets.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_flows import group_allows
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan, user_plan
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, address_in, format_ip, parse_interval, parse_ip, parse_port_spec,
)


def probe_targets(plan, ports, principal=None, extra=None):
    """Every probe target of the mesh: each agent's overlay address, its
    addresses inside its site's resources (the agent, reached by another
    address: ``SITE:agent@ADDRESS``) and every single-address resource, with
    ICMP and each of ``ports`` (plus the resource's own TCP ports); every
    user's overlay address (ICMP), which nobody may reach; and ``extra``
    targets (``{name, address, site}``, such as a host on a site's uplink:
    ``site`` is where it is, whose own probers reach it without the mesh).  The
    prober's own targets are left out: its own site (``site:NAME``: that LAN
    is not reached over the mesh) or its own address (``user:NAME``).
    """
    kind, _sep, name = (principal or '').partition(':')
    exclude_site = name.partition(':')[0] if kind == 'site' else None
    exclude_user = name if kind == 'user' else None
    base = []
    for spec in ports:
        proto, lo, _hi = parse_port_spec(spec)
        if proto == 'tcp':
            base.append(lo)
    targets = []

    def add(target, address, own=()):
        targets.append({'target': target, 'address': address, 'proto': 'icmp', 'port': None})
        targets.extend({'target': target, 'address': address, 'proto': 'tcp', 'port': port}
                       for port in sorted(set(base) | set(own)))

    for agent in sorted(plan['agents'].values(), key=lambda a: a['site']):
        if agent['site'] == exclude_site:
            continue
        ranges = [r['cidr'] for r in agent['resources'] if r['cidr'] and r['kind'] != 'agent']
        for res in agent['resources']:
            if not res['cidr'].endswith('/32'):
                continue
            own = []
            if res['ports'] not in ('all', 'none'):
                for token in res['ports'].split(','):
                    if token.startswith('tcp/') and '-' not in token:
                        own.append(int(token[4:]))
            add('%s:%s' % (agent['site'], res['name']), res['cidr'][:-3], own)
        if agent['router']:
            netmap = agent.get('firewall', {}).get('netmap')
            for address in agent.get('local_addresses') or []:
                published = format_ip(translate(netmap, parse_ip(address), inward=False))
                if address_in(parse_ip(published), ranges):
                    add('%s:agent@%s' % (agent['site'], published), published)
    for user in sorted(plan['users'].values(), key=lambda u: u['name']):
        if user['name'] == exclude_user:
            continue
        targets.append({'target': 'user:%s' % user['name'], 'address': user['address'], 'proto': 'icmp',
                        'port': None})
    for entry in extra or []:
        if entry.get('site') is None or entry['site'] != exclude_site:
            add(entry['name'], entry['address'])
    return targets


def translate(netmap, value, inward=True):
    """``value`` (an address as an integer) through a site's 1:1 mappings
    (``[[published, real], ...]``): published to real (``inward``, as a
    packet from the mesh enters the site), or real to published."""
    for published, real in netmap or ():
        (flo, fhi), (tlo, _thi) = (parse_interval(published), parse_interval(real)) if inward else \
            (parse_interval(real), parse_interval(published))
        if flo <= value <= fhi:
            return value - flo + tlo
    return value


def _owner(plan, address):
    """``(host, to_agent)`` for the agent that owns ``address``: the agent
    itself (its overlay address or any of its own addresses, published where
    its site maps them) or a resource behind it; ``(None, False)`` when nobody
    does."""
    value = parse_ip(address)
    for host, agent in plan['agents'].items():
        real = format_ip(translate(agent.get('firewall', {}).get('netmap'), value))
        if agent['address'] == address or real in (agent.get('local_addresses') or []):
            return host, True
    for host, agent in plan['agents'].items():
        for res in agent['resources']:
            if res['cidr'] and address_in(value, [res['cidr']]):
                return host, not agent['router'] and res['kind'] == 'local'
    return None, False


def _firewall_allows(agent, src, dst, proto, port, to_agent):
    return any(group_allows(group, src, dst, proto, port, to_agent) for group in agent['firewall']['groups'])


def _route(peers, dst):
    """The peer that WireGuard sends ``dst`` to: the one whose AllowedIPs
    hold it most specifically, or None."""
    best, size = None, None
    for peer in peers:
        for text in peer['allowed_ips']:
            lo, hi = parse_interval(text)
            if lo <= dst <= hi and (size is None or hi - lo < size):
                best, size = peer, hi - lo
    return best


def _host_of(plan, site):
    for host, agent in plan['agents'].items():
        if agent['site'] == site:
            return host
    return None


def _whole_agent(plan, host, whole):
    if host not in whole:
        whole[host] = agent_plan(plan, host)
    return whole[host]


def _accepts(agent, sender, src):
    """Whether ``agent`` takes packets from ``src`` off its peer named ``sender`` (WireGuard's source check)."""
    return any(p['name'] == sender and address_in(src, p['allowed_ips']) for p in agent['peers'])


def _to_internet(plan, kind, name, src, dst, whole):
    """Whether a user's packet to ``dst``, which no site owns, leaves through the user's exit site."""
    if kind != 'user' or name not in plan['users'] or plan['users'][name]['expired']:
        return False
    if ('user', name) not in whole:
        whole[('user', name)] = user_plan(plan, name)
    first = _route(whole[('user', name)]['peers'], dst)
    if first is None or not first.get('exit'):
        return False
    exit_agent = _whole_agent(plan, _host_of(plan, first['site']), whole)
    firewall = exit_agent['firewall']
    return (_accepts(exit_agent, 'user:' + name, src) and address_in(src, firewall['exit_users'])
            and not address_in(dst, firewall['exit_excluded']))


def expected(plan, principal, source, address, proto, port, whole=None):
    """Whether the plan lets ``principal`` (``user:NAME`` or ``site:NAME``),
    sending from ``source``, reach ``address`` with ``proto``/``port``.
    ``whole`` keeps the agents' and users' whole plans (``agent_plan``,
    ``user_plan``) between calls.

    The packet follows the plan's routes: the sender's peer for the
    destination, then, when that peer is a relay, the relay's pairs and its
    peer for the destination's site; the destination's agent takes it only
    from the peer it came through, and its firewall has the last word.
    """
    kind, _sep, name = principal.partition(':')
    name = name.partition(':')[0]
    try:
        src, dst = parse_ip(source), parse_ip(address)
    except AddressError:
        return False
    host, to_agent = _owner(plan, address)
    whole = {} if whole is None else whole
    if host is None:
        return _to_internet(plan, kind, name, src, dst, whole)
    owner = _whole_agent(plan, host, whole)
    if kind == 'user':
        if name not in plan['users'] or plan['users'][name]['expired']:
            return False
        if ('user', name) not in whole:
            whole[('user', name)] = user_plan(plan, name)
        first = _route(whole[('user', name)]['peers'], dst)
        hop = first['site'] if first else None
    else:
        home = _host_of(plan, name)
        if home is None or owner['site'] == name:
            return False
        # A site's LAN host enters the mesh under its published address where its site maps it.
        src = translate(_whole_agent(plan, home, whole)['firewall'].get('netmap'), src, inward=False)
        first = _route([p for p in _whole_agent(plan, home, whole)['peers'] if p['kind'] == 'site'], dst)
        hop = first['name'][len('site:'):] if first else None
    if hop is None:
        return False
    sender = principal if kind == 'user' else 'site:' + name
    if hop != owner['site']:
        # Through a relay: it takes the packet from the sender, forwards the pair, and routes it to the owner.
        relay = _whole_agent(plan, _host_of(plan, hop), whole)
        pairs = relay['firewall'].get('relay') or []
        onward = _route([p for p in relay['peers'] if p['kind'] == 'site'], dst)
        if not (_accepts(relay, sender, src) and onward is not None and onward['name'] == 'site:' + owner['site']
                and any(address_in(src, [s_text]) and address_in(dst, [d_text]) for s_text, d_text in pairs)):
            return False
        sender = 'site:' + hop
    # The owner's firewall sees the destination after its mapping (the real address).
    real = translate(owner['firewall'].get('netmap'), dst)
    return _accepts(owner, sender, src) and _firewall_allows(owner, src, real, proto, port, to_agent)


def probe_report(plan, results):
    """Compare probe results with the plan.

    ``results`` maps a prober (host name) to ``{'as': principal, 'probes':
    [{target, address, proto, port, source, reachable}]}``.  Returns rows and
    the mismatches.
    """
    rows, mismatches = [], []
    whole = {}
    for host in sorted(results):
        entry = results[host]
        if not entry:
            continue    # the prober did not answer (verify.yml reports that host as failed)
        principal = entry['as']
        for probe in entry['probes']:
            want = expected(plan, principal, probe.get('source') or '0.0.0.0', probe['address'], probe['proto'],
                            probe['port'], whole)
            row = {
                'from': '%s (%s)' % (principal, host),
                'principal': principal,
                'host': host,
                'to': probe['target'],
                'flow': '%s %s' % (probe['address'], 'ping' if probe['proto'] == 'icmp' else
                                   '%s/%s' % (probe['proto'], probe['port'])),
                'expected': 'allow' if want else 'deny',
                'observed': 'allow' if probe['reachable'] else 'deny',
            }
            row['ok'] = row['expected'] == row['observed']
            rows.append(row)
            if not row['ok']:
                mismatches.append(row)
    return {'rows': rows, 'mismatches': mismatches,
            'allowed': sum(1 for r in rows if r['observed'] == 'allow'),
            'denied': sum(1 for r in rows if r['observed'] == 'deny')}


def probe_table(report):
    """The observed matrix next to the policy, as text."""
    rows = report['rows']
    if not rows:
        return 'no probes'
    width = [max(len(r[k]) for r in rows) for k in ('from', 'to', 'flow')]
    lines = ['%-*s  %-*s  %-*s  %-7s %-8s' % (width[0], 'FROM', width[1], 'TO', width[2], 'FLOW', 'POLICY',
                                              'OBSERVED')]
    last = None
    for row in rows:
        lines.append('%-*s  %-*s  %-*s  %-7s %-8s%s' % (
            width[0], row['from'] if row['from'] != last else '', width[1], row['to'], width[2], row['flow'],
            row['expected'], row['observed'], '' if row['ok'] else '  <-- MISMATCH'))
        last = row['from']
    lines.append('%d probes: %d allowed, %d denied, %d differ from the plan'
                 % (len(rows), report['allowed'], report['denied'], len(report['mismatches'])))
    return '\n'.join(lines)


def drift(agent, live):
    """Differences between an agent's plan and its live state (``agent_state``)."""
    out = []
    if not live.get('up'):
        return ['interface %s is not up' % agent['interface']]
    if live.get('address') != '%s/%d' % (agent['address'], agent['prefix']):
        out.append('address is %s, plan says %s/%d' % (live.get('address'), agent['address'], agent['prefix']))
    if live.get('listen_port') != agent['listen_port']:
        out.append('listen port is %s, plan says %s' % (live.get('listen_port'), agent['listen_port']))
    if live.get('mtu') != agent['mtu']:
        out.append('MTU is %s, plan says %s' % (live.get('mtu'), agent['mtu']))
    if not live.get('private_key'):
        out.append('the interface has no private key')
    planned = dict((p['public_key'], p) for p in agent['peers'] if p['public_key'])
    peers = live.get('peers', {})
    for key, peer in sorted(planned.items(), key=lambda kv: kv[1]['name']):
        if key not in peers:
            out.append('peer %s is missing' % peer['name'])
        elif sorted(peers[key]['allowed_ips']) != sorted(peer['allowed_ips']):
            out.append('peer %s has AllowedIPs %s, plan says %s' % (peer['name'], ', '.join(sorted(
                peers[key]['allowed_ips'])), ', '.join(sorted(peer['allowed_ips']))))
    for key in sorted(set(peers) - set(planned)):
        out.append('peer %s is not in the plan' % key)
    routes = set(live.get('routes', []))
    for cidr in sorted(set(agent['routes']) - routes):
        out.append('route %s is missing' % cidr)
    for cidr in sorted(routes - set(agent['routes'])):
        out.append('route %s is not in the plan' % cidr)
    if live.get('forwarding') is not None and live['forwarding'] != agent['forwarding']:
        out.append('forwarding is %s, plan says %s' % ('on' if live['forwarding'] else 'off',
                                                       'on' if agent['forwarding'] else 'off'))
    if not live.get('firewall_loaded'):
        out.append('the nftables table inet meshconnect is not loaded')
    elif live.get('firewall_drift'):
        out.append('the live nftables table differs from %s: %s' % (live.get('firewall_file', 'its file'),
                                                                    '; '.join(live['firewall_drift'])))
    elif live.get('firewall_digest') != live.get('firewall_file_digest'):
        out.append('the live nftables table differs from %s' % live.get('firewall_file', 'its file'))
    if live.get('guard') is None and 'guard' in live:
        out.append('the guard (meshconnect-guard) is not installed')
    elif live.get('guard'):
        out.append('the routing guard is incomplete: %s' % '; '.join(live['guard']))
    if live.get('firewall_service') is False:
        out.append('meshconnect-firewall.service (which restores the table after a flush) is not running')
    return out


def relays_down(plan, live):
    """Relays that are down and what that cuts, as sentences for people.

    ``live`` maps an agent host to what ``verify.yml`` read of it:
    ``{'up': interface up, 'handshakes': {peer name: bool}}``, or ``{}``
    when the host did not answer.  A relay is down when its host did not
    answer, its interface is down, or none of the sites it relays that
    answered has a handshake with it.
    """
    agents = plan['agents']
    host_of = dict((agent['site'], host) for host, agent in agents.items())
    relayed = {}    # relay -> the sites it relays
    for agent in agents.values():
        if agent.get('via'):
            relayed.setdefault(agent['via'], []).append(agent['site'])
    out = []
    for relay in sorted(relayed):
        host = host_of[relay]
        seen = live.get(host) or {}
        sites = sorted(relayed[relay])
        if not seen:
            cause = 'its host %s did not answer' % host
        elif not seen.get('up'):
            cause = 'its interface is down'
        else:
            reports = [(s, (live.get(host_of[s]) or {}).get('handshakes') or {}) for s in sites]
            answered = [(s, h) for s, h in reports if h]
            if not answered or any(h.get('site:' + relay) for _s, h in answered):
                continue
            cause = 'no handshake with it from %s' % ', '.join(s for s, _h in answered)
        entry = agents[host].get('relay') or {}
        users = sorted(set(name for item in entry.get('users', ()) for class_id in item['classes']
                           for name in plan['classes'][class_id]['users']))
        links = sorted(set(link for peer in agents[host]['peers'] for link in peer.get('via_links', ())))
        cut = ['access to %s for users (%s)' % (', '.join(sites), ', '.join(users) if users else 'none is granted it')]
        if links:
            cut.append('the relayed links %s' % ', '.join(links))
        out.append('relay %s is down (%s): it cuts %s. To move its sites to another relay, set '
                   'meshconnect_site.via: RELAY on %s (a site that can be dialled, with relay: true), then run '
                   'plan.yml, site.yml and users.yml.' % (relay, cause, ' and '.join(cut), ', '.join(sites)))
    return out
