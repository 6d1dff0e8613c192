# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report: one self-contained page for people and change reviews.

``report_html`` writes a single HTML file that fetches nothing (its
Content-Security-Policy forbids any fetch, and allows only its own script and
style, by their digests): the topology picture (an ``img`` of the SVG, as a
data URI, so that nothing in the picture can run), the reachability matrix as
a table filtered by user, group, site and resource, the semantic diff, the
policy tests, the warnings, and the ``explain`` answer of a flow chosen in the
table; with ``observed`` (``verify.yml``'s probe report), the probes' column.

Every string of the inventory, the state or the agents' facts reaches the
page as JSON data inside a ``script`` element of type ``application/json``
(``<``, ``>`` and ``&`` escaped, so that it cannot close the element) and is
written into the page as text, never as markup.

The table is built in the browser from the matrix's classes (a principal's
rows are its class's rows), so the page grows with distinct access and with
users, not with users times resources; at most ``SHOWN`` rows are drawn at
once, and the count says how many more match.
"""

import base64
import hashlib
import json

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import EMPTY, principals, reached, row_text
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import change_lines

SHOWN = 500     # table rows drawn at once (the count says how many more match the filter)

STYLE = """
body{font:14px/1.4 "DejaVu Sans",Arial,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#263238;color:#fff;padding:12px 20px}
header h1{font-size:20px;margin:0 0 4px}
.note-light{color:#cfd8dc}
main{padding:0 20px 40px}
section{background:#fff;border:1px solid #ddd;border-radius:4px;margin:16px 0;padding:8px 14px}
h2{font-size:16px;margin:6px 0 10px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #e3e3e3;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}
tr.row{cursor:pointer}
tr.row:hover{background:#eef5ff}
tr.chosen{background:#d6e8ff}
.allowed{color:#2e7d32}.denied{color:#c62828}.seen-denied{color:#555}.mismatch{color:#fff;background:#c62828;padding:0 3px}
.note{color:#555}.warn{color:#8a4b00}
.filters label{margin-right:14px;white-space:nowrap}
.filters input,.filters select{margin-left:4px}
#picture img{max-width:100%;height:auto;cursor:zoom-in}
#picture img.full{max-width:none;cursor:zoom-out}
#picture .frame{overflow:auto;max-height:80vh}
#explain{border-left:4px solid #1565c0;padding:4px 10px;margin:10px 0;background:#f5f9ff}
code{font-family:"DejaVu Sans Mono",monospace;font-size:13px}
ul{margin:4px 0;padding-left:20px}
"""

# Plain DOM calls only: every value is written with textContent (never innerHTML).
SCRIPT = r"""
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function $(id) { return document.getElementById(id); }
  // Names are data: a name such as __proto__ must find nothing but the report's own entries.
  function own(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined; }
  function siteOf(name) { return name.split(':')[0]; }
  function bare(principal) { return principal.replace(/^(user|site):/, ''); }
  var people = data.people || {};
  var principals = data.members.map(function (m) {
    var user = m[0].indexOf('user:') === 0 ? m[0].slice(5) : null;
    return {name: m[0], cls: m[1], user: user, site: user ? null : siteOf(m[0].slice(5)),
            groups: user && own(people, user) ? own(people, user).groups : []};
  });
  var extra = data.extra_rows || [];
  var observed = data.observed ? data.observed.by_flow : {};

  // Who (user or site, group) is looked at once per principal; where (site, resource) once per row.
  function fromMatches(f, p) {
    return !(f.user && bare(p.name).toLowerCase().indexOf(f.user) < 0) && !(f.group && p.groups.indexOf(f.group) < 0);
  }
  function toMatches(f, p, ref) {
    return !(f.site && siteOf(ref) !== f.site && p.site !== f.site) &&
      !(f.resource && ref.toLowerCase().indexOf(f.resource) < 0);
  }
  function wanted(f, key) {
    if (f.only === 'changed') { return Boolean(own(data.changed, key)); }
    if (f.only === 'mismatch') { return Boolean(own(observed, key) && own(observed, key).mismatch); }
    return true;
  }
  function filters() {
    return {user: $('f-user').value.trim().toLowerCase(), group: $('f-group').value, site: $('f-site').value,
            resource: $('f-resource').value.trim().toLowerCase(), only: $('f-only').value};
  }
  function rowsOf(f, limit) {
    var out = [], count = 0;
    principals.forEach(function (p) {
      if (!fromMatches(f, p)) { return; }
      (own(data.classes, p.cls) || []).forEach(function (grant) {
        (own(data.grants, grant) || []).forEach(function (r) {
          var key = p.name + ' ' + r[0];
          if (!toMatches(f, p, r[0]) || !wanted(f, key)) { return; }
          count += 1;
          if (out.length < limit) {
            out.push({from: p.name, groups: p.groups, to: r[0], policy: r[1], allowed: true,
                      via: own(own(data.via, siteOf(r[0])) || {}, p.user ? 'users' : p.site) || null});
          }
        });
      });
    });
    extra.forEach(function (r) {
      var who = r.from.indexOf('user:') === 0 ? own(people, r.from.slice(5)) : null;
      var p = {name: r.from, groups: who ? who.groups : [],
               site: r.from.indexOf('site:') === 0 ? siteOf(r.from.slice(5)) : null};
      var key = r.from + ' ' + r.to;
      if (!fromMatches(f, p) || !toMatches(f, p, r.to) || !wanted(f, key)) { return; }
      count += 1;
      if (out.length < limit) {
        out.push({from: r.from, groups: p.groups, to: r.to, policy: r.policy, allowed: r.policy === 'allowed', via: null});
      }
    });
    return {rows: out, count: count};
  }
  function observedCell(td, key) {
    var seen = own(observed, key);
    if (!seen) { td.appendChild(el('span', data.observed ? 'not probed' : '', 'note')); return; }
    seen.probes.forEach(function (probe, i) {
      if (i) { td.appendChild(document.createTextNode(', ')); }
      td.appendChild(el('span', probe.flow + ' ' + probe.observed,
                        probe.ok ? (probe.observed === 'allow' ? 'allowed' : 'seen-denied') : 'mismatch'));
    });
  }
  function draw() {
    var f = filters();
    var got = rowsOf(f, data.shown);
    var body = $('matrix-body');
    clear(body);
    got.rows.forEach(function (r) {
      var key = r.from + ' ' + r.to;
      var tr = el('tr', null, 'row');
      tr.dataset.from = r.from;
      tr.dataset.to = r.to;
      tr.appendChild(el('td', r.from));
      tr.appendChild(el('td', r.groups.join(', ')));
      tr.appendChild(el('td', r.to));
      tr.appendChild(el('td', r.policy, r.allowed ? 'allowed' : 'denied'));
      tr.appendChild(el('td', r.via || ''));
      tr.appendChild(el('td', own(data.changed, key) || ''));
      if (data.observed) { observedCell(tr.appendChild(el('td')), key); }
      tr.addEventListener('click', function () { explain(r, tr); });
      body.appendChild(tr);
    });
    var more = got.count - got.rows.length;
    $('matrix-count').textContent = got.count + (got.count === 1 ? ' flow matches' : ' flows match') +
      (more > 0 ? ': the first ' + got.rows.length + ' are shown, narrow the filter for the other ' + more : '');
    try {
      var parts = [];
      ['user', 'group', 'site', 'resource', 'only'].forEach(function (k) {
        if (f[k]) { parts.push(k + '=' + encodeURIComponent(f[k])); }
      });
      history.replaceState(null, '', '#' + parts.join('&'));
    } catch (e) { /* a page opened from some viewers cannot change its address */ }
  }
  function explain(r, tr) {
    Array.prototype.forEach.call(document.querySelectorAll('tr.chosen'), function (n) { n.classList.remove('chosen'); });
    tr.classList.add('chosen');
    var box = $('explain');
    clear(box);
    box.hidden = false;
    var answer = own(own(data.explain, r.from) || {}, r.to);
    var title = el('p');
    title.appendChild(el('strong', bare(r.from) + ' \u2192 ' + r.to + ': '));
    if (answer) {
      title.appendChild(el('span', answer[0].toUpperCase(), answer[0] === 'allowed' ? 'allowed' : 'denied'));
    } else {
      title.appendChild(el('span', r.allowed ? 'ALLOWED' : 'DENIED', r.allowed ? 'allowed' : 'denied'));
    }
    box.appendChild(title);
    box.appendChild(el('p', 'policy: ' + r.policy + (r.via ? ' (via ' + r.via + ')' : '')));
    if (answer) {
      var list = el('ul');
      answer[1].forEach(function (i) { list.appendChild(el('li', data.strings[i])); });
      box.appendChild(list);
    } else {
      // The report explains the flows the matrix allows (the first data.explained) and those newly denied.
      var why = r.allowed ? 'it explains the first ' + data.explained + ' of ' + data.explain_rows + ' flows' :
        'it explains the flows the policy allows, and those it newly denies';
      var to = /:internet$/.test(r.to) ? 'internet:' + siteOf(r.to) : r.to;
      var ask = data.sites.indexOf(siteOf(r.to)) >= 0 || /:internet$/.test(r.to) ?
        '; ask: ansible-playbook meshconnect.mesh.plan -e \'meshconnect_explain="' + bare(r.from) + ' ' + to + '"\'' : '';
      box.appendChild(el('p', 'not explained in this report (' + why + ')' + ask, 'note'));
    }
    var seen = own(observed, r.from + ' ' + r.to);
    if (seen) {
      var probes = el('ul');
      seen.probes.forEach(function (p) {
        probes.appendChild(el('li', 'probe from ' + p.host + ': ' + p.flow + ', policy ' + p.expected +
          ', observed ' + p.observed + (p.ok ? '' : ' (MISMATCH)')));
      });
      box.appendChild(el('p', 'what verify.yml probed:'));
      box.appendChild(probes);
    }
  }
  function options(select, values) {
    values.forEach(function (v) { var o = el('option', v); o.value = v; select.appendChild(o); });
  }
  var groups = {};
  Object.keys(people).forEach(function (u) { people[u].groups.forEach(function (g) { groups[g] = true; }); });
  options($('f-group'), Object.keys(groups).sort());
  options($('f-site'), data.sites);
  var names = $('f-users');
  principals.slice(0, 2000).forEach(function (p) { names.appendChild(el('option')).value = bare(p.name); });
  (location.hash || '').replace(/^#/, '').split('&').forEach(function (part) {
    var kv = part.split('='), input = /^[a-z]+$/.test(kv[0]) ? $('f-' + kv[0]) : null;
    if (kv.length !== 2 || !input) { return; }
    try { input.value = decodeURIComponent(kv[1]); } catch (e) { /* a damaged address: that filter is left out */ }
  });
  ['f-user', 'f-resource'].forEach(function (id) { $(id).addEventListener('input', draw); });
  ['f-group', 'f-site', 'f-only'].forEach(function (id) { $(id).addEventListener('change', draw); });
  $('f-clear').addEventListener('click', function () {
    ['f-user', 'f-group', 'f-site', 'f-resource', 'f-only'].forEach(function (id) { $(id).value = ''; });
    draw();
  });
  var img = document.querySelector('#picture img');
  if (img) { img.addEventListener('click', function () { img.classList.toggle('full'); }); }
  draw();
}());
"""


def _json_for_html(value):
    """JSON that cannot end the ``script`` element it sits in, nor open a comment."""
    text = json.dumps(value, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    return text.replace('&', '\\u0026').replace('<', '\\u003c').replace('>', '\\u003e') \
        .replace('\u2028', '\\u2028').replace('\u2029', '\\u2029')


def _text(value):
    return (str(value).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace('"', '&quot;').replace("'", '&#39;'))


def _digest(text):
    return 'sha256-' + base64.b64encode(hashlib.sha256(text.encode('utf-8')).digest()).decode('ascii')


def _observed(observed):
    """Probe rows (of ``mesh_probe.probe_report``) by ``PRINCIPAL REF`` flow (``site:SITE`` probes are the agent's
    own: ``site:SITE:agent``; ``SITE:agent@ADDRESS`` is the agent reached by another address)."""
    if not observed:
        return None
    by_flow = {}
    for row in observed.get('rows') or []:
        principal, host = row['principal'], row['host']
        if principal.startswith('site:') and principal.count(':') == 1:
            principal += ':agent'
        ref = str(row.get('to', '')).partition('@')[0]
        entry = by_flow.setdefault('%s %s' % (principal, ref), {'probes': [], 'mismatch': False})
        entry['probes'].append({'host': host, 'flow': row.get('flow'), 'expected': row.get('expected'),
                                'observed': row.get('observed'), 'ok': bool(row.get('ok'))})
        entry['mismatch'] = entry['mismatch'] or not row.get('ok')
    return {'by_flow': by_flow, 'probes': len(observed.get('rows') or []),
            'allowed': observed.get('allowed', 0), 'denied': observed.get('denied', 0),
            'mismatches': len(observed.get('mismatches') or [])}


def _explanations(report):
    """``({PRINCIPAL: {REF: [verdict, [string index, ...]]}}, strings)``: each reason is written once."""
    strings, index, out = [], {}, {}
    flows = (report.get('explanations') or {}).get('flows') or {}
    for principal in sorted(flows):
        for ref in sorted(flows[principal]):
            answer = flows[principal][ref]
            ids = []
            for reason in answer['reasons']:
                if reason not in index:
                    index[reason] = len(strings)
                    strings.append(reason)
                ids.append(index[reason])
            out.setdefault(principal, {})[ref] = [answer['verdict'], ids]
    return out, strings


def report_data(report, observed=None, sites=None):
    """What the page's script reads (JSON-ready)."""
    matrix = report.get('matrix') or EMPTY
    # The matrix's own factoring: a class is a list of grants (one per site), a grant the rows of one site.
    grants = dict((grant_id, [[ref, row_text(matrix, ref, pieces)] for ref, pieces in sorted(grant.items())])
                  for grant_id, grant in matrix['grants'].items())
    classes = dict((class_id, sorted(grant_ids, key=lambda g: grants[g][0][0]))
                   for class_id, grant_ids in matrix['classes'].items())
    members = [[principal, matrix['members'][principal]] for principal in principals(matrix)]
    changed, extra = {}, []
    diff = report.get('diff')
    for word, side in (('allowed', 'newly_allowed'), ('denied', 'newly_denied')):
        for entry in (diff or {}).get(side) or []:
            for principal in entry['from']:
                key = '%s %s' % (principal, entry['to'])
                # A flow can gain some ports and lose others: both are said.
                changed[key] = (changed[key] + '; ' if key in changed else '') + 'newly %s: %s' % (word, entry['ports'])
    for entry in (diff or {}).get('newly_denied') or []:
        for principal in entry['from']:
            if entry['to'] not in reached(matrix, matrix['members'].get(principal)):
                extra.append({'from': principal, 'to': entry['to'], 'policy': 'denied'})
    seen = _observed(observed)
    if seen:
        listed = set('%s %s' % (r['from'], r['to']) for r in extra)
        for key in sorted(seen['by_flow']):
            principal, _sep, ref = key.partition(' ')
            if key not in listed and ref not in reached(matrix, matrix['members'].get(principal)):
                allowed = any(p['expected'] == 'allow' for p in seen['by_flow'][key]['probes'])
                extra.append({'from': principal, 'to': ref, 'policy': 'allowed' if allowed else 'denied'})
    explain, strings = _explanations(report)
    explanations = report.get('explanations') or {}
    return {
        'summary': report.get('summary') or {},
        'people': report.get('people') or {},
        'sites': sorted(set(sites or []) | set(ref.partition(':')[0] for ref in matrix['resources'])),
        'grants': grants,
        'classes': classes,
        'members': members,
        'via': matrix.get('via') or {},
        'extra_rows': extra,
        'changed': changed,
        'explain': explain,
        'strings': strings,
        'explain_rows': explanations.get('rows', 0),
        'explained': explanations.get('explained', 0),
        'observed': seen,
        'shown': SHOWN,
    }


def _section(title, body, ident=None):
    return '<section%s><h2>%s</h2>%s</section>' % (' id="%s"' % ident if ident else '', _text(title), body)


def _list(items, cls=None):
    if not items:
        return ''
    return '<ul>%s</ul>' % ''.join('<li%s>%s</li>' % (' class="%s"' % cls if cls else '', _text(i)) for i in items)


def _diff_html(diff):
    if diff is None:
        return '<p class="note">no previous run recorded: every flow is new</p>'
    if not (diff['newly_allowed'] or diff['newly_denied']):
        return '<p>no change in reachability since the last recorded run</p>'
    rows = []
    for sign, key in (('+ allowed', 'newly_allowed'), ('\u2212 denied', 'newly_denied')):
        for entry in diff[key]:
            rows.append('<tr><td class="%s">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
                'allowed' if key == 'newly_allowed' else 'denied', _text(sign), _text(', '.join(entry['from'])),
                _text(entry['to']), _text(entry['ports'])))
    return ('<table><thead><tr><th>change</th><th>from</th><th>to</th><th>flows</th></tr></thead><tbody>%s'
            '</tbody></table>' % ''.join(rows))


def _tests_html(tests):
    if not tests:
        return '<p class="note">no policy tests (meshconnect_policy_tests)</p>'
    failed = sum(1 for t in tests if not t['passed'])
    rows = ''.join('<tr><td class="%s">%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        'allowed' if t['passed'] else 'denied', 'ok' if t['passed'] else 'FAIL', _text(t['from']),
        _text(t['expect']), _text(t['flow']), _text(t['detail'])) for t in tests)
    return ('<p>%d passed, %d failed</p><table><thead><tr><th></th><th>from</th><th>expects</th><th>flow</th>'
            '<th>result</th></tr></thead><tbody>%s</tbody></table>' % (len(tests) - failed, failed, rows))


def report_html(report, svg=None, observed=None, digest=None, sites=None):
    """The whole page (text). ``report`` is mesh_plan's report (with ``matrix``, and ``explanations`` and
    ``people`` when it was asked to explain rows); ``svg`` the topology picture; ``observed`` verify.yml's probe
    report; ``digest`` the plan's digest; ``sites`` every site's name."""
    data = report_data(report, observed, sites)
    summary = data['summary']
    title = 'MeshConnect %s' % summary.get('network', '')
    head_line = ('%s: %d sites, %d links, %d users (%d active), %d policies; %d leases used, %d free' % (
        summary.get('cidr', ''), summary.get('sites', 0), summary.get('links', 0), summary.get('users', 0),
        summary.get('active_users', 0), summary.get('policies', 0), summary.get('leases_used', 0),
        summary.get('leases_free', 0)))
    source = 'plan.yml and verify.yml (observed: what the probes saw)' if observed else 'plan.yml'
    parts = ['<header><h1>%s</h1><div>%s</div><div class="note-light">written by %s%s</div></header><main>' % (
        _text(title), _text(head_line), _text(source), _text('; plan %s' % digest[:16]) if digest else '')]
    warnings, changes = report.get('warnings') or [], change_lines(report)
    if warnings or changes:
        parts.append(_section('Warnings and changes', _list(warnings, 'warn') + (
            '<details><summary>%d lease and relay changes</summary>%s</details>' % (len(changes), _list(changes))
            if changes else ''), 'warnings'))
    if svg:
        uri = 'data:image/svg+xml;base64,' + base64.b64encode(svg.encode('utf-8')).decode('ascii')
        parts.append(_section('Topology', '<div class="frame"><img alt="topology of the mesh" src="%s"></div>'
                              '<p class="note">sites and their resources, links, users grouped by access; '
                              'click the picture to zoom</p>' % uri, 'picture'))
    else:
        parts.append(_section('Topology', '<p class="note">no picture (run plan.yml)</p>', 'picture'))
    seen = data['observed']
    observed_th = '<th>observed</th>' if seen else ''
    counts = ''
    if seen:
        counts = '<p>%d probes: %d allowed, %d denied, <span class="%s">%d differ from the plan</span></p>' % (
            seen['probes'], seen['allowed'], seen['denied'], 'mismatch' if seen['mismatches'] else 'allowed',
            seen['mismatches'])
    parts.append(_section('Reachability', counts + (
        '<div class="filters">'
        '<label>user or site <input id="f-user" list="f-users" size="16" placeholder="alice"></label>'
        '<datalist id="f-users"></datalist>'
        '<label>group <select id="f-group"><option value="">any</option></select></label>'
        '<label>site <select id="f-site"><option value="">any</option></select></label>'
        '<label>resource <input id="f-resource" size="16" placeholder="hq:web"></label>'
        '<label>show <select id="f-only"><option value="">every flow</option>'
        '<option value="changed">changed since the last run</option>%s</select></label>'
        '<button id="f-clear" type="button">clear</button></div>'
        '<p id="matrix-count" class="note"></p>'
        '<div id="explain" hidden></div>'
        '<p class="note">choose a row to see why it is allowed or denied</p>'
        '<table id="matrix"><thead><tr><th>from</th><th>groups</th><th>to</th><th>policy</th><th>via</th>'
        '<th>since the last run</th>%s</tr></thead><tbody id="matrix-body"></tbody></table>') % (
            '<option value="mismatch">observed differs from the plan</option>' if seen else '', observed_th),
        'reachability'))
    parts.append(_section('Changes in reachability since the last recorded run', _diff_html(report.get('diff')),
                          'diff'))
    parts.append(_section('Policy tests', _tests_html(report.get('tests')), 'tests'))
    explain = report.get('explain')
    if explain:
        parts.append(_section('Explain %s: %s' % (explain['query'], explain['verdict'].upper()),
                              _list(explain['reasons']), 'explain-query'))
    parts.append('</main>')
    style, script = STYLE.strip(), SCRIPT.strip()
    policy = ("default-src 'none'; img-src data:; style-src '%s'; script-src '%s'; base-uri 'none'; "
              "form-action 'none'" % (_digest(style), _digest(script)))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta http-equiv="Content-Security-Policy" content="%s">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<title>%s</title><style>%s</style></head><body>%s'
            '<script type="application/json" id="report-data">%s</script><script>%s</script></body></html>\n' % (
                _text(policy), _text(title), style, ''.join(parts), _json_for_html(data), script))
