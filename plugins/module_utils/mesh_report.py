# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain-text views of compiler output for people: the report and the matrix."""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import EMPTY, principals, reached, row_text, via


def resource_label(matrix, ref):
    """``ref``, and for a resource the mesh reaches under a mapped prefix, both its addresses."""
    real = (matrix.get('real') or {}).get(ref)
    return ref if real is None else '%s [%s = %s inside]' % (ref, matrix['resources'][ref], real)


def matrix_table(matrix, limit=200):
    """``from | to | ports`` table, one line per reachable resource."""
    lines, count, last = [], 0, None
    shown = []
    for src in principals(matrix):
        class_rows = reached(matrix, matrix['members'][src])
        if limit and count >= limit:
            count += len(class_rows)
            continue
        for dst in sorted(class_rows):
            if not limit or count < limit:
                relay = via(matrix, src, dst)
                shown.append((src, resource_label(matrix, dst),
                              row_text(matrix, dst, class_rows[dst]) + (' (via %s)' % relay if relay else '')))
            count += 1
    if not shown:
        return 'nothing is reachable'
    width_src = max(len('FROM'), max(len(r[0]) for r in shown))
    width_dst = max(len('TO'), max(len(r[1]) for r in shown))
    lines.append('%-*s  %-*s  %s' % (width_src, 'FROM', width_dst, 'TO', 'ALLOWED'))
    for src, dst, ports in shown:
        lines.append('%-*s  %-*s  %s' % (width_src, src if src != last else '', width_dst, dst, ports))
        last = src
    if limit and count > limit:
        lines.append('... %d more rows (see the registered report)' % (count - limit))
    return '\n'.join(lines)


def _who(principals_list, most=5):
    shown = ', '.join(principals_list[:most])
    more = len(principals_list) - most
    return shown + (' and %d more' % more if more > 0 else '')


def change_lines(report):
    """The leases, relays and agent keys this run gave, changed, pinned or released, a line each."""
    lines = []
    for change in report.get('lease_changes') or []:
        handed = ' (it changes hands: %s held it before)' % change['was'] if change.get('was') else ''
        lines.append('lease %s: %s %s%s' % (change['action'], change['member'], change['address'], handed))
    for change in report.get('key_changes') or []:
        if change['action'] == 'pinned':
            lines.append('agent key pinned: %s (%s) %s' % (change['site'], change['host'], change['key']))
        else:
            lines.append('agent key CHANGED: %s (%s) %s, was %s (accepted)'
                         % (change['site'], change['host'], change['key'], change['was']))
    for change in report.get('mapping_changes') or []:
        lines.append('lease mapping: %s %s published as %s' % (change['site'], change['prefix'], change['published_as']))
    for change in report.get('relay_changes') or []:
        if change['from'] is None:
            lines.append('relay chosen: %s via %s' % (change['site'], change['to']))
        elif change['to'] is None:
            lines.append('relay released: %s no longer via %s' % (change['site'], change['from']))
        else:
            lines.append('relay CHANGED: %s via %s (was via %s)' % (change['site'], change['to'], change['from']))
    return lines


def report_text(report, limit=200):
    """The whole report: summary, warnings, tests, matrix, diff, explain."""
    summary = report.get('summary', {})
    lines = ['network %s (%s): %d sites, %d links, %d users (%d active), %d policies; %d leases used, %d free' % (
        summary.get('network'), summary.get('cidr'), summary.get('sites', 0), summary.get('links', 0),
        summary.get('users', 0), summary.get('active_users', 0), summary.get('policies', 0),
        summary.get('leases_used', 0), summary.get('leases_free', 0))]
    lines.extend(change_lines(report))
    warnings = report.get('warnings') or []
    if warnings:
        lines.append('')
        lines.append('WARNINGS')
        lines.extend('  ' + w for w in warnings)
    tests = report.get('tests') or []
    if tests:
        failed = [t for t in tests if not t['passed']]
        lines.append('')
        lines.append('POLICY TESTS: %d passed, %d failed' % (len(tests) - len(failed), len(failed)))
        for test in tests:
            status = 'ok  ' if test['passed'] else 'FAIL'
            detail = '' if test['passed'] else '  (%s)' % test['detail']
            lines.append('  %s  %-8s %-5s %s%s' % (status, test['from'], test['expect'], test['flow'], detail))
    discovery = report.get('discovery') or {}
    if discovery:
        lines.append('')
        lines.append('DISCOVERED on the agents (local resources; what was skipped is never offered)')
        for site_name in sorted(discovery):
            for entry in discovery[site_name]:
                if entry['resource']:
                    lines.append('  %s: %s %s (interface %s)'
                                 % (site_name, entry['resource'], entry['cidr'], entry['interface']))
                else:
                    lines.append('  %s: skipped %s %s: %s'
                                 % (site_name, entry['interface'], entry['cidr'], entry['why']))
    lines.append('')
    lines.append('REACHABILITY (policy and links)')
    lines.append(matrix_table(report.get('matrix') or EMPTY, limit))
    diff = report.get('diff')
    lines.append('')
    if diff is None:
        lines.append('DIFF: no previous run recorded')
    elif not (diff['newly_allowed'] or diff['newly_denied']):
        lines.append('DIFF: no change in reachability since the last recorded run')
    else:
        lines.append('DIFF since the last recorded run')
        matrix = report.get('matrix') or EMPTY
        for entry in diff['newly_allowed']:
            lines.append('  + %s -> %s %s' % (_who(entry['from']), resource_label(matrix, entry['to']), entry['ports']))
        for entry in diff['newly_denied']:
            lines.append('  - %s -> %s %s' % (_who(entry['from']), resource_label(matrix, entry['to']), entry['ports']))
    explain = report.get('explain')
    if explain:
        lines.append('')
        lines.append('EXPLAIN %s: %s' % (explain['query'], explain['verdict'].upper()))
        lines.extend('  ' + reason for reason in explain['reasons'])
    return '\n'.join(lines)
