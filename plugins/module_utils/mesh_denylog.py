# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agents' deny log: read it, and say who was denied what.

The table's deny chain logs dropped mesh traffic (rate-limited) with the
prefix ``meshconnect-deny`` to an NFLOG group; ulogd writes one line per
packet, for example::

    Dec  2 03:36:42 hq meshconnect-deny  IN=mc0 OUT=eth1 MAC= SRC=100.65.0.5 DST=10.10.0.20 LEN=60 ...
    PROTO=TCP SPT=46704 DPT=5432 ...

``attribute`` names the source (a user, or a site's agent or resource) and
the destination (a resource of the site, or its agent) from the plan.
"""

import datetime
import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_net import (
    AddressError, cidr_interval, parse_ip,
)

PREFIX = 'meshconnect-deny'
LINE_RE = re.compile(r'^(?P<stamp>[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d) \S+ ' + PREFIX + r' +(?P<fields>.*)$')
FIELD_RE = re.compile(r'([A-Z]+)=(\S*)')


def parse_line(line, now):
    """One deny log line -> ``{time, in, out, src, dst, proto, port}``, or None.

    ``now`` (a ``datetime.datetime``) gives the year, which the log does not write.
    """
    match = LINE_RE.match(line.strip())
    if not match:
        return None
    try:
        stamp = datetime.datetime.strptime('%d %s' % (now.year, ' '.join(match.group('stamp').split())),
                                           '%Y %b %d %H:%M:%S')
    except ValueError:
        return None
    if stamp > now + datetime.timedelta(days=1):
        stamp = stamp.replace(year=now.year - 1)
    fields = dict(FIELD_RE.findall(match.group('fields')))
    if 'SRC' not in fields or 'DST' not in fields:
        return None
    proto = fields.get('PROTO', '').lower() or 'other'
    port = None
    if proto in ('tcp', 'udp') and fields.get('DPT', '').isdigit():
        port = int(fields['DPT'])
    elif proto == 'icmp' and fields.get('TYPE') == '8':
        proto = 'ping'
    return {'time': (stamp - datetime.datetime(1970, 1, 1)).total_seconds(), 'in': fields.get('IN') or None,
            'out': fields.get('OUT') or None, 'src': fields['SRC'], 'dst': fields['DST'], 'proto': proto, 'port': port}


def parse(text, now, since=None):
    """Every deny of ``text`` at or after ``since`` (epoch seconds, local time as logged)."""
    out = []
    for line in text.splitlines():
        entry = parse_line(line, now)
        if entry is not None and (since is None or entry['time'] >= since):
            out.append(entry)
    return out


def _ranges(plan):
    """``[(lo, hi, name)]`` of every principal and resource the plan knows, most specific first."""
    out = []
    for name, user in plan.get('users', {}).items():
        value = parse_ip(user['address'])
        out.append((value, value, 'user:%s' % name))
    for agent in plan.get('agents', {}).values():
        value = parse_ip(agent['address'])
        out.append((value, value, 'site:%s:agent' % agent['site']))
        for text in agent.get('local_addresses') or []:
            value = parse_ip(text)
            out.append((value, value, 'site:%s:agent' % agent['site']))
        for res in agent.get('resources') or []:
            if res.get('cidr'):
                try:
                    lo, hi = cidr_interval(res['cidr'])
                except AddressError:
                    continue
                out.append((lo, hi, 'site:%s:%s' % (agent['site'], res['name'])))
    return sorted(out, key=lambda item: (item[1] - item[0], item[2]))


def _name(ranges, address):
    try:
        value = parse_ip(address)
    except AddressError:
        return address
    for lo, hi, name in ranges:
        if lo <= value <= hi:
            return name
    return address


def attribute(plan, results):
    """Rows ``{agent, from, to, flow, count, first, last}`` for the denies
    of ``results`` (agent host -> parsed entries), most recent last."""
    ranges = _ranges(plan)
    agents = dict((host, agent['site']) for host, agent in plan.get('agents', {}).items())
    rows = {}
    for host in sorted(results):
        for entry in results[host] or []:
            source = _name(ranges, entry['src'])
            target = _name(ranges, entry['dst'])
            if target.startswith('site:'):
                target = target[len('site:'):]
            flow = entry['proto'] if entry['port'] is None else '%s/%d' % (entry['proto'], entry['port'])
            key = (agents.get(host, host), source, target, flow)
            row = rows.get(key)
            if row is None:
                row = rows[key] = {'agent': key[0], 'from': source, 'to': target, 'flow': flow, 'count': 0,
                                   'first': entry['time'], 'last': entry['time']}
            row['count'] += 1
            row['first'] = min(row['first'], entry['time'])
            row['last'] = max(row['last'], entry['time'])
    return sorted(rows.values(), key=lambda r: (r['last'], r['agent'], r['from'], r['to'], r['flow']))


def deny_table(rows):
    """The attributed denies as text, for people."""
    if not rows:
        return ['no denied mesh traffic logged']
    lines = []
    for row in rows:
        when = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=row['last'])
        lines.append('%s  %s denied %s -> %s %s (%d packet%s)' % (
            when.strftime('%Y-%m-%d %H:%M:%S'), row['agent'], row['from'], row['to'], row['flow'], row['count'],
            '' if row['count'] == 1 else 's'))
    return lines
