# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A topology picture of a compiled mesh, as a self-contained SVG document.

Sites sit on a circle (their resources listed inside), links are drawn from a
small hub to each member site (dashed, "via RELAY", when a relay carries
them), relays and relayed sites say so, users stand in a column on the left with a
dashed line to every site their policies reach, labelled with what they reach.
The layout is deterministic: the same plan gives the same picture.
"""

import math

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_graph import (
    COLOURS, escape, links_of, resource_text, site_kind as _kind,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import rows

SITE_W, SITE_H = 210, 96


def topology_svg(plan, matrix):
    """SVG text for ``plan`` (from mesh_plan) and the report's ``matrix``."""
    agents = sorted(plan['agents'].values(), key=lambda a: a['site'])
    users = sorted((u for u in plan['users'].values() if not u['expired']), key=lambda u: u['name'])
    count = max(len(agents), 1)
    radius = max(220, int(count * (SITE_W + 40) / (2 * math.pi)))
    centre_x = 300 + radius + SITE_W // 2
    centre_y = 80 + radius + SITE_H // 2
    width = centre_x + radius + SITE_W // 2 + 40
    height = max(centre_y + radius + SITE_H // 2 + 90, 140 + 70 * len(users))

    pos = {}
    for index, agent in enumerate(agents):
        angle = -math.pi / 2 + 2 * math.pi * index / count
        pos[agent['site']] = (centre_x + radius * math.cos(angle), centre_y + radius * math.sin(angle))

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           '<text x="20" y="30" font-size="18" font-weight="bold">%s &#8212; %s</text>'
           % (escape(plan['network']['name']), escape(plan['network']['cidr']))]

    # Links: a hub per link, a line to each member site (dashed where a relay carries it).
    links = links_of(agents)
    for name, (members, relay) in sorted(links.items()):
        hub_x = sum(pos[m][0] for m in members) / len(members)
        hub_y = sum(pos[m][1] for m in members) / len(members)
        dash = ' stroke-dasharray="10 5"' if relay else ''
        for member in members:
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#1565c0" stroke-width="3" '
                       'opacity="0.7"%s/>' % (hub_x, hub_y, pos[member][0], pos[member][1], dash))
        out.append('<circle cx="%.1f" cy="%.1f" r="6" fill="#1565c0"/>' % (hub_x, hub_y))
        out.append('<text x="%.1f" y="%.1f" fill="#0d47a1" font-weight="bold">link %s%s</text>'
                   % (hub_x + 9, hub_y - 8, escape(name), escape(' (via %s)' % relay) if relay else ''))

    # Users and their grants (through a relay to the sites that cannot be dialled).
    via = dict((agent['site'], agent['via']) for agent in agents if agent.get('via'))
    for index, user in enumerate(users):
        ux, uy = 90, 110 + 70 * index
        reach = rows(matrix, 'user:' + user['name'])
        by_site = {}
        for target, ports in sorted(reach.items()):
            site, resource = target.split(':', 1)
            by_site.setdefault(site, []).append(resource if ports == 'all' else '%s (%s)' % (
                resource, 'part' if ports.startswith('partial') else ports))
        for site, items in sorted(by_site.items()):
            if site not in pos:
                continue
            sx, sy = pos[site]
            out.append('<line x1="%d" y1="%d" x2="%.1f" y2="%.1f" stroke="#6a1b9a" stroke-width="1.5" '
                       'stroke-dasharray="6 4" opacity="0.8"/>' % (ux + 30, uy, sx - SITE_W / 2, sy))
            label = ', '.join(items)
            if len(label) > 40:
                label = label[:37] + '...'
            if site in via:
                label += ' (via %s)' % via[site]
            # The label sits near the site end of the line, where lines fan out.
            lx = ux + 30 + 0.72 * (sx - SITE_W / 2 - ux - 30)
            ly = uy + 0.72 * (sy - uy)
            out.append('<text x="%.1f" y="%.1f" fill="#6a1b9a" font-size="9" text-anchor="end">%s</text>'
                       % (lx, ly - 3, escape(label)))
        out.append('<circle cx="%d" cy="%d" r="24" fill="#f3e5f5" stroke="#6a1b9a" stroke-width="2"/>' % (ux, uy))
        out.append('<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>'
                   % (ux, uy + 4, escape(user['name'])))
        out.append('<text x="%d" y="%d" text-anchor="middle" font-size="10" fill="#555">%s</text>'
                   % (ux, uy + 38, escape(user['address'])))

    # Sites on top.
    for agent in agents:
        x, y = pos[agent['site']]
        colour = COLOURS[_kind(agent)]
        dash = ' stroke-dasharray="8 4"' if _kind(agent) == 'outbound' else ''
        out.append('<rect x="%.1f" y="%.1f" width="%d" height="%d" rx="10" fill="#fafafa" stroke="%s" '
                   'stroke-width="3"%s/>' % (x - SITE_W / 2, y - SITE_H / 2, SITE_W, SITE_H, colour, dash))
        out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold" font-size="14">%s</text>'
                   % (x, y - SITE_H / 2 + 18, escape(agent['site'])))
        detail = '%s  %s' % (agent['address'], {'direct': 'direct', 'forwarded': 'NAT + port forward',
                                                'outbound': 'NAT, dials out', 'standalone': 'side-loaded'}[
                                                    _kind(agent)])
        if agent.get('relay'):
            detail += ', relay'
        if agent.get('exit'):
            detail += ', exit'
        if agent.get('via'):
            detail += ', via %s' % agent['via']
        out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s">%s</text>'
                   % (x, y - SITE_H / 2 + 33, colour, escape(detail)))
        resources = [r for r in agent['resources'] if r['kind'] != 'agent']
        for line, res in enumerate(resources[:4]):
            text = resource_text(res)
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>'
                       % (x, y - SITE_H / 2 + 50 + 12 * line, escape(text[:40])))
        if len(resources) > 4:
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">+%d more</text>'
                       % (x, y + SITE_H / 2 - 6, len(resources) - 4))

    legend_y = height - 24
    out.append('<text x="20" y="%d" font-size="11">' % legend_y +
               ' &#160; '.join('<tspan fill="%s">&#9632; %s</tspan>' % (COLOURS[k], label) for k, label in (
                   ('direct', 'direct'), ('forwarded', 'NAT + port forward'), ('outbound', 'NAT, dials out only'),
                   ('standalone', 'side-loaded'))) +
               ' &#160; <tspan fill="#1565c0">&#9644; site link</tspan>'
               ' &#160; <tspan fill="#6a1b9a">- - user grant</tspan></text>')
    out.append('</svg>')
    return '\n'.join(out) + '\n'
