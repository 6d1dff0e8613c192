# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report as text: what it holds, and that no string of the
inventory, the state or the probes can become markup or script in it (the
page itself runs in headless Chromium in tests/host/test_report.py)."""

import base64
import copy
import hashlib
import json
import re
from html.parser import HTMLParser

from meshcase import build, inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_html import report_data, report_html
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_probe import probe_report
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import reached

HOSTILE = '</script><script>window.pwned=1</script><!--<img src=x onerror="window.pwned=2">&amp;\u2028'


class _Tags(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.tags, self.scripts, self._in_script, self.text = [], [], None, []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == 'script':
            self._in_script = dict(attrs)
            self.scripts.append([dict(attrs), ''])

    def handle_endtag(self, tag):
        if tag == 'script':
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self.scripts[-1][1] += data
        else:
            self.text.append(data)


def _parse(page):
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _report(**kwargs):
    result = build(inventory(), explain_rows=kwargs.pop('explain_rows', 1000), **kwargs)
    report = result['report']
    report['matrix'] = result['matrix']
    return result, report


def _names(result):
    return sorted(agent['site'] for agent in result['plan']['agents'].values())


def test_the_data_lists_each_class_once_and_every_principal_with_its_class():
    result, report = _report()
    data = report_data(report, sites=_names(result))
    members = dict(data['members'])
    assert set(members) == set(result['matrix']['members'])
    # Users with the same access share their class's rows; every row of the matrix is there.
    rows = dict((p, set(ref for g in data['classes'][c] for ref, _text in data['grants'][g]))
                for p, c in members.items())
    assert rows == dict((p, set(reached(result['matrix'], c))) for p, c in result['matrix']['members'].items())
    assert rows['user:alice'] >= {'hq:web', 'branch:nas'} and 'hq:db' not in rows['user:alice']
    assert {'hq:web', 'branch:nas'} <= rows['user:bob'] and 'hq:db' not in rows['user:bob']
    assert data['people']['bob'] == {'groups': ['dev'], 'expired': False}
    assert data['sites'] == ['branch', 'hq', 'shop']
    # Every row is explained, as allowed, with the policy that allows it.
    for principal, refs in rows.items():
        for ref in refs:
            verdict, reasons = data['explain'][principal][ref]
            assert verdict == 'allowed', (principal, ref)
            texts = [data['strings'][i] for i in reasons]
            if principal == 'user:bob':
                assert any("allowed by policy 'dev-web'" in t for t in texts), texts


def test_explanations_stop_at_the_limit_and_say_how_many_were_left_out():
    _result, report = _report(explain_rows=3)
    explanations = report['explanations']
    assert explanations['explained'] == 3 and explanations['rows'] > 3
    assert sum(len(refs) for refs in explanations['flows'].values()) == 3
    assert list(explanations['flows']) == ['user:alice']        # users first
    _result, report = _report(explain_rows=0)
    assert 'explanations' not in report and 'people' not in report


def test_newly_denied_flows_are_rows_of_their_own_and_explained():
    before = build(inventory())
    inv = inventory()
    inv['policies'][1]['allow'] = ['branch:nas:tcp/445']       # dev loses hq:web
    result = build(inv, previous=snapshot(before), explain_rows=1000)
    report = result['report']
    report['matrix'] = result['matrix']
    data = report_data(report)
    assert {'from': 'user:bob', 'to': 'hq:web', 'policy': 'denied'} in data['extra_rows']
    assert data['changed']['user:bob hq:web'].startswith('newly denied')
    verdict, _reasons = data['explain']['user:bob']['hq:web']
    assert verdict == 'denied'


def test_a_flow_that_gains_some_ports_and_loses_others_says_both():
    before = build(inventory())
    inv = inventory()
    inv['policies'][1]['allow'] = ['hq:web:tcp/80', 'branch:nas:tcp/445']     # dev: hq:web tcp/80 only
    inv['policies'].append({'name': 'dev-db', 'groups': ['dev'], 'allow': ['hq:db']})
    result = build(inv, previous=snapshot(before), explain_rows=1000)
    report = result['report']
    report['matrix'] = result['matrix']
    assert report_data(report)['changed']['user:bob hq:web'] == 'newly denied: tcp/443'
    assert report_data(report)['changed']['user:bob hq:db'] == 'newly allowed: tcp/5432'
    inv['policies'][1]['allow'] = ['hq:web:tcp/443', 'hq:web:tcp/8080', 'branch:nas:tcp/445']
    inv['sites']['gw-hq']['resources'][2]['ports'] = ['tcp/443', 'tcp/8080']
    result = build(inv, previous=snapshot(before), explain_rows=1000)
    report = result['report']
    report['matrix'] = result['matrix']
    both = report_data(report)['changed']['user:bob hq:web']
    assert 'newly allowed: ' in both and 'newly denied: ' in both, both


def test_probes_fill_the_observed_column_and_add_the_denied_flows_they_tried():
    result, report = _report()
    plan = result['plan']
    alice, bob = plan['users']['alice']['address'], plan['users']['bob']['address']
    web = '10.1.0.10'
    probes = probe_report(plan, {'laptop': {'as': 'user:bob', 'probes': [
        {'target': 'hq:web', 'address': web, 'proto': 'tcp', 'port': 443, 'source': bob, 'reachable': True},
        {'target': 'hq:db', 'address': '10.1.0.5', 'proto': 'tcp', 'port': 5432, 'source': bob,
         'reachable': True},
        {'target': 'user:alice', 'address': alice, 'proto': 'icmp', 'port': None, 'source': bob,
         'reachable': False},
    ]}})
    data = report_data(report, observed=probes)
    seen = data['observed']
    assert seen['probes'] == 3 and seen['mismatches'] == 1
    assert seen['by_flow']['user:bob hq:web']['probes'][0]['ok'] is True
    assert seen['by_flow']['user:bob hq:db']['mismatch'] is True
    assert {'from': 'user:bob', 'to': 'hq:db', 'policy': 'denied'} in data['extra_rows']
    assert {'from': 'user:bob', 'to': 'user:alice', 'policy': 'denied'} in data['extra_rows']
    # A site's probes are its agent's own flows.
    probes = {'rows': [{'from': 'site:hq (gw-hq)', 'principal': 'site:hq', 'host': 'gw-hq', 'to': 'branch:nas',
                        'flow': '10.2.0.20 tcp/445',
                        'expected': 'allow', 'observed': 'allow', 'ok': True}], 'mismatches': []}
    assert 'site:hq:agent branch:nas' in report_data(report, observed=probes)['observed']['by_flow']


def _poison(value):
    """Every string value of ``value`` with HOSTILE appended."""
    if isinstance(value, str):
        return value + HOSTILE
    if isinstance(value, list):
        return [_poison(v) for v in value]
    if isinstance(value, dict):
        return dict((k, _poison(v)) for k, v in value.items())
    return value


def test_no_string_of_the_inventory_state_or_probes_becomes_markup():
    before = build(inventory())
    damaged = snapshot(before)
    # A snapshot from elsewhere whose principals and resources carry markup: the diff names them.
    matrix = damaged['matrix']
    matrix['members'] = dict((_poison(p), c) for p, c in matrix['members'].items())
    result = build(inventory(), previous=damaged, explain='bob ' + HOSTILE, explain_rows=1000)
    report = result['report']
    report['matrix'] = result['matrix']
    assert any(HOSTILE in p for e in report['diff']['newly_denied'] for p in e['from'])
    report['explain']['reasons'].append(HOSTILE)
    for key in ('warnings', 'tests', 'lease_changes', 'relay_changes', 'summary', 'people'):
        report[key] = _poison(report[key])
    # Names are keys there: of users (people) and of principals and resources (explanations).
    report['people'] = dict((name + HOSTILE, who) for name, who in report['people'].items())
    report['explanations']['flows'] = dict(
        (principal + HOSTILE, dict((ref + HOSTILE, _poison(answer)) for ref, answer in refs.items()))
        for principal, refs in report['explanations']['flows'].items())
    report['tests'].append(_poison({'test': 1, 'from': 'x', 'expect': 'allow', 'flow': 'y', 'passed': False,
                                    'detail': 'z'}))
    report['relay_changes'].append(_poison({'site': 's', 'from': 'a', 'to': 'b'}))
    observed = {'rows': [_poison({'from': 'user:bob (laptop)', 'principal': 'user:bob', 'host': 'laptop',
                                  'to': 'hq:web', 'flow': 'tcp/443',
                                  'expected': 'allow', 'observed': 'allow'}) | {'ok': False}],
                'mismatches': [{}], 'allowed': 1, 'denied': 0}
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>window.pwned=3</script></svg>'
    page = report_html(report, svg=svg, observed=observed, digest=HOSTILE, sites=[HOSTILE])
    parsed = _parse(page)
    # Two scripts: the data (not run) and the page's own code, allowed by its digest in the CSP.
    assert [attrs.get('type') for attrs, _text in parsed.scripts] == ['application/json', None]
    assert not any(name.startswith('on') for _tag, attrs in parsed.tags for name in attrs)
    assert [attrs['src'][:26] for tag, attrs in parsed.tags if tag == 'img'] == ['data:image/svg+xml;base64,']
    assert '<script>window.pwned' not in page and '<img src=x' not in page and '<!--' not in page
    assert 'pwned' not in parsed.scripts[1][1]
    # The data survives whole: the page shows what the report says, character for character.
    data = json.loads(parsed.scripts[0][1])
    assert data == json.loads(json.dumps(report_data(report, observed, [HOSTILE])))
    assert all(text.endswith(HOSTILE) for text in data['strings'])
    assert any(HOSTILE in text for text in parsed.text)
    csp = [attrs['content'] for tag, attrs in parsed.tags if tag == 'meta' and attrs.get('http-equiv')][0]
    digest = base64.b64encode(hashlib.sha256(parsed.scripts[1][1].encode()).digest()).decode()
    assert "script-src 'sha256-%s'" % digest in csp and "default-src 'none'" in csp


def test_the_page_refers_to_nothing_outside_itself():
    result, report = _report()
    page = report_html(copy.deepcopy(report), svg='<svg xmlns="http://www.w3.org/2000/svg"/>',
                       digest=result['plan']['digest'], sites=_names(result))
    parsed = _parse(page)
    for tag, attrs in parsed.tags:
        for name in ('src', 'href', 'action', 'data'):
            value = attrs.get(name)
            assert value is None or value.startswith('data:'), (tag, attrs)
    assert not re.search(r'https?://(?!www\.w3\.org/2000/svg)', page)
    # The same report gives the same page (plan.yml's second run changes nothing).
    assert page == report_html(copy.deepcopy(report), svg='<svg xmlns="http://www.w3.org/2000/svg"/>',
                               digest=result['plan']['digest'], sites=_names(result))
