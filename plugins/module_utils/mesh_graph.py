# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology as a Graphviz graph, and what Graphviz made of it.

``topology_dot`` writes the graph in the DOT language for Graphviz's ``dot``
(a layout engine, so that nothing here places anything by hand):

- a site is a node whose label lists its address, how it is reached, whether
  it relays or is an exit, and its resources (long lines wrap; past a few
  resources the rest is counted: ``+3 more resources``);
- a link of two sites is an edge between them, a link of three or more a
  small hub node with an edge to each member; a link carried by a relay is
  dashed and says ``via RELAY``;
- users with the same access are one node (``alice, erin (2)``), with an edge
  to each site their class reaches, labelled with what it reaches there
  (summarised with a count when long), ``via RELAY`` when relayed, and
  ``internet`` towards their exit site.  ``user`` draws one user alone.

``layout_problems`` reads Graphviz's own output positions (``dot -Tjson``) and
says where labels overlap or an edge crosses a box; ``clean_svg`` makes the
SVG self-contained.
"""

import re

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import reached, row_text, via

COLOURS = {
    'direct': '#2e7d32',        # dialable, not behind NAT
    'forwarded': '#ef6c00',     # behind NAT with a port forward
    'outbound': '#c62828',      # behind NAT, can only dial out
    'standalone': '#546e7a',    # side-loaded agent
}
KIND_TEXT = {'direct': 'direct', 'forwarded': 'NAT + port forward', 'outbound': 'NAT, dials out',
             'standalone': 'side-loaded'}
LINE = 40                   # characters of a label line before it wraps
SITE_RESOURCES = 6          # resources listed in a site's box; the rest are counted
EDGE_ITEMS = 3              # resources named on a grant edge; the rest are counted
FONT = 'DejaVu Sans'


def resource_text(res):
    """A resource of an agent plan as a site box lists it: name, address (the published one, and the real one
    inside the site where it is mapped), ports."""
    address = res['cidr'] if 'real' not in res else '%s = %s inside' % (res['cidr'], res['real'])
    return '%s %s%s' % (res['name'], address, '' if res['ports'] == 'all' else ' ' + res['ports'])


def escape(text):
    """``text`` for XML and Graphviz's HTML-like labels."""
    return (str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;'))


def _quoted(text):
    return '"%s"' % str(text).replace('\\', '\\\\').replace('"', '\\"')


def _quoted_lines(lines):
    """A DOT string of ``lines``, centred, one per line."""
    return '"%s"' % '\\n'.join(line.replace('\\', '\\\\').replace('"', '\\"') for line in lines)


def site_kind(agent):
    """How a site is reached: ``direct``, ``forwarded``, ``outbound`` or ``standalone``."""
    if not agent['router'] and not agent['dialable']:
        return 'outbound'
    if not agent['router']:
        return 'standalone'
    if not agent['dialable']:
        return 'outbound'
    return 'forwarded' if agent['behind_nat'] else 'direct'


def wrap(text, width=LINE):
    """``text`` in lines of at most ``width`` characters, broken after commas
    or spaces (a word longer than a line is broken inside): nothing is cut."""
    lines, line = [], ''
    for token in re.findall(r'[^ ,]+(?:, |,| )?|[ ,]+', text):
        while len(token) > width:
            if line:
                lines.append(line.rstrip())
                line = ''
            lines.append(token[:width])
            token = token[width:]
        if len(line) + len(token.rstrip()) > width and line:
            lines.append(line.rstrip())
            line = ''
        line += token
    if line.strip():
        lines.append(line.rstrip())
    return lines or ['']


def _site_label(agent, colour):
    kind = KIND_TEXT[site_kind(agent)]
    if not agent['router']:
        kind = 'side-loaded' if agent['dialable'] else 'side-loaded, dials out'
    marks = [agent['address'], kind]
    if agent.get('relay'):
        marks.append('relay')
    if agent.get('exit'):
        marks.append('exit')
    if agent.get('via'):
        marks.append('via %s' % agent['via'])
    if agent.get('names'):
        marks.append('names')
    rows = ['<TR><TD><B>%s</B></TD></TR>' % escape(agent['site'])]
    rows.extend('<TR><TD><FONT POINT-SIZE="9" COLOR="%s">%s</FONT></TD></TR>' % (colour, escape(line))
                for line in wrap(', '.join(marks)))
    resources = [r for r in agent['resources'] if r['kind'] != 'agent']
    for res in resources[:SITE_RESOURCES]:
        text = resource_text(res)
        rows.extend('<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9">%s</FONT></TD></TR>' % escape(line)
                    for line in wrap(text))
    if len(resources) > SITE_RESOURCES:
        rows.append('<TR><TD><FONT POINT-SIZE="9"><I>+%d more resources (not shown)</I></FONT></TD></TR>'
                    % (len(resources) - SITE_RESOURCES))
    return ('<<TABLE BORDER="2" COLOR="%s" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" STYLE="ROUNDED" '
            'BGCOLOR="#fafafa">%s</TABLE>>' % (colour, ''.join(rows)))


def _edge_label(items, relay):
    shown = items[:EDGE_ITEMS]
    text = ', '.join(shown)
    if len(items) > EDGE_ITEMS:
        text += ' and %d more' % (len(items) - EDGE_ITEMS)
    if relay:
        text += ' (via %s)' % relay
    return wrap(text, 28)


def links_of(agents):
    """``{link: (members, relay or None)}`` from the agents' peers."""
    links, relayed = {}, {}
    for agent in agents:
        for peer in agent['peers']:
            other = peer['name'].split(':', 1)[1]
            for link in peer.get('links', []):
                links.setdefault(link, set()).update([agent['site'], other])
            for link in peer.get('via_links', []):
                member, relay = (other, agent['site']) if agent['dialable'] else (agent['site'], other)
                links.setdefault(link, set()).add(member)
                relayed[link] = relay
    return dict((name, (sorted(members), relayed.get(name))) for name, members in links.items())


def _user_classes(plan, matrix, user=None):
    """``[(node id, label, class id)]``: users that reach the same share one node."""
    by_class = {}
    for name in sorted(plan['users']):
        if plan['users'][name]['expired'] or (user is not None and name != user):
            continue
        class_id = matrix['members'].get('user:' + name)
        if class_id:
            by_class.setdefault(class_id, []).append(name)
    out = []
    for class_id, names in sorted(by_class.items(), key=lambda item: item[1][0]):
        shown = ', '.join(names[:3]) + (' and %d more' % (len(names) - 3) if len(names) > 3 else '')
        label = shown if len(names) == 1 else '%s (%d)' % (shown, len(names))
        out.append(('users:%s' % names[0], wrap(label, 28), class_id))
    return out


def topology_dot(plan, matrix, user=None):
    """The DOT text of the topology of ``plan`` and the report's ``matrix``
    (``user``: that user alone, with the sites)."""
    agents = sorted(plan['agents'].values(), key=lambda a: a['site'])
    net = plan['network']
    out = ['digraph mesh {',
           '  graph [rankdir=LR, newrank=true, nodesep=0.45, ranksep=1.2, fontname=%s, fontsize=14, '
           'labelloc=t, label=%s];' % (_quoted(FONT), _quoted('%s  %s' % (net['name'], net['cidr']))),
           '  node [fontname=%s, fontsize=10];' % _quoted(FONT),
           '  edge [fontname=%s, fontsize=9, dir=none];' % _quoted(FONT)]
    for agent in agents:
        colour = COLOURS[site_kind(agent)]
        out.append('  %s [shape=plain, label=%s];' % (_quoted('site:' + agent['site']), _site_label(agent, colour)))
    hubs = []
    for name, (members, relay) in sorted(links_of(agents).items()):
        style = ', style=dashed' if relay else ''
        text = 'link %s%s' % (name, ' (via %s)' % relay if relay else '')
        if len(members) == 2:
            out.append('  %s -> %s [color="#1565c0", penwidth=2, fontcolor="#0d47a1", label=%s%s];'
                       % (_quoted('site:' + members[0]), _quoted('site:' + members[1]), _quoted(text), style))
            continue
        hub = 'link:' + name
        hubs.append(hub)
        out.append('  %s [shape=box, style="rounded,filled", fillcolor="#e3f2fd", color="#1565c0", '
                   'fontcolor="#0d47a1", fontsize=9, label=%s];' % (_quoted(hub), _quoted(text)))
        for member in members:
            out.append('  %s -> %s [color="#1565c0", penwidth=2%s];'
                       % (_quoted('site:' + member), _quoted(hub), style))
    if hubs:
        out.append('  { rank=max; %s }' % ' '.join(_quoted(hub) for hub in hubs))
    classes = _user_classes(plan, matrix, user)
    if classes:
        out.append('  { rank=min; %s }' % ' '.join(_quoted(node) for node, _label, _cid in classes))
    for node, label, class_id in classes:
        out.append('  %s [shape=ellipse, style=filled, fillcolor="#f3e5f5", color="#6a1b9a", label=%s];'
                   % (_quoted(node), _quoted_lines(label)))
        by_site = {}
        for ref, pieces in sorted(reached(matrix, class_id).items()):
            site, resource = ref.split(':', 1)
            text = row_text(matrix, ref, pieces)
            if resource == 'internet':
                by_site.setdefault(site, []).insert(0, 'internet')     # never hidden in a count
                continue
            by_site.setdefault(site, []).append(resource if text == 'all' else '%s %s' % (
                resource, 'part' if text.startswith('partial') else text))
        for site, items in sorted(by_site.items()):
            relay = via(matrix, 'user:x', site + ':x')
            out.append('  %s -> %s [color="#6a1b9a", style=dashed, fontcolor="#6a1b9a", label=%s];'
                       % (_quoted(node), _quoted('site:' + site), _quoted_lines(_edge_label(items, relay))))
    out.append('}')
    return '\n'.join(out) + '\n'


# ----------------------------------------------------------------------
# what Graphviz made of it


def clean_svg(text):
    """Graphviz's SVG without its XML declaration's DTD reference: one file
    that refers to nothing outside itself."""
    return re.sub(r'<!DOCTYPE[^>]*>\s*', '', text, count=1)


def _box(obj):
    """``(x0, y0, x1, y1)`` of a node from ``dot -Tjson`` (points)."""
    x, y = (float(v) for v in obj['pos'].split(','))
    half_w, half_h = float(obj['width']) * 36.0, float(obj['height']) * 36.0
    return (x - half_w, y - half_h, x + half_w, y + half_h)


def _overlap(a, b, margin=0.0):
    return a[0] + margin < b[2] and b[0] + margin < a[2] and a[1] + margin < b[3] and b[1] + margin < a[3]


def _text_boxes(ops):
    """Boxes of the text drawn by ``_ldraw_`` operations."""
    out, size = [], 10.0
    for op in ops or ():
        if op.get('op') == 'F':
            size = float(op.get('size', size))
        elif op.get('op') == 'T':
            x, y, width = float(op['pt'][0]), float(op['pt'][1]), float(op['width'])
            x0 = {'l': x, 'r': x - width}.get(op.get('align'), x - width / 2)
            out.append((x0, y - size * 0.25, x0 + width, y + size * 0.8))
    return out


def _bezier_points(ops, steps=12):
    points = []
    for op in ops or ():
        if op.get('op') in ('b', 'B'):
            ctrl = [(float(x), float(y)) for x, y in op['points']]
            for i in range(0, len(ctrl) - 3, 3):
                p0, p1, p2, p3 = ctrl[i:i + 4]
                for k in range(steps + 1):
                    t = k / float(steps)
                    u = 1 - t
                    points.append((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                                   u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
    return points


def layout_problems(layout):
    """What is wrong with a ``dot -Tjson`` layout, as sentences: nodes that
    overlap, a label that overlaps another label or a box, an edge that
    crosses a box other than its ends'."""
    objects = layout.get('objects', [])
    nodes = dict((obj['_gvid'], (obj['name'], _box(obj))) for obj in objects if 'pos' in obj and 'width' in obj)
    problems = []
    ids = sorted(nodes)
    for i, first in enumerate(ids):
        for second in ids[i + 1:]:
            if _overlap(nodes[first][1], nodes[second][1]):
                problems.append('boxes of %s and %s overlap' % (nodes[first][0], nodes[second][0]))
    labels = []     # (what, box, ends)
    for edge in layout.get('edges', []):
        ends = (edge['tail'], edge['head'])
        name = '%s -> %s' % (nodes[ends[0]][0], nodes[ends[1]][0])
        for box in _text_boxes(edge.get('_ldraw_')):
            labels.append(('label of %s' % name, box, ends))
        for point in _bezier_points(edge.get('_draw_')):
            for gvid, (node_name, box) in nodes.items():
                if gvid in ends:
                    continue
                if box[0] + 2 < point[0] < box[2] - 2 and box[1] + 2 < point[1] < box[3] - 2:
                    problems.append('edge %s crosses the box of %s' % (name, node_name))
                    break
            else:
                continue
            break
    for i, (what, box, _ends) in enumerate(labels):
        for gvid, (node_name, node_box) in nodes.items():
            if _overlap(box, node_box, 1.0):
                problems.append('%s overlaps the box of %s' % (what, node_name))
        for other, other_box, _other_ends in labels[i + 1:]:
            if _overlap(box, other_box, 1.0):
                problems.append('%s overlaps %s' % (what, other))
    return sorted(set(problems))
