# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTML report in a real browser (headless Chromium, the Debian package):
plan.yml writes it for the example inventory; the page loads with nothing in
the console or the log (a fetch, a script or a style its
Content-Security-Policy refuses would be there), the table filters by user,
group, site and resource, a chosen row is explained, and a screenshot is kept
(``build/artifacts/report.png``, or ``$MESHCONNECT_ARTIFACTS``). Names and
texts that carry markup stay text, and a 50-site inventory's page stays
usable."""

import json
import os
import shutil

import pytest

from browser import Browser, chromium
from inventories import example_inventory, generated_inventory
from meshrun import REPO, run_playbook

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh, snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_html import SHOWN, report_html
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import reached

ARTIFACTS = os.environ.get('MESHCONNECT_ARTIFACTS') or os.path.join(REPO, 'build', 'artifacts')
HOSTILE = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'

ROWS = 'Array.from(document.querySelectorAll("#matrix-body tr")).map(function (tr) {' \
       ' return [tr.dataset.from, tr.dataset.to]; })'


@pytest.fixture(scope='module')
def browser():
    assert chromium(), 'Chromium is not installed: run make host (scripts/host-tools.sh installs it)'
    with Browser() as running:
        yield running


@pytest.fixture(scope='module')
def example(tmp_path_factory):
    """plan.yml on a copy of the example inventory: the report's path, and the compiled matrix."""
    work = tmp_path_factory.mktemp('report')
    inv = str(work / 'example')
    shutil.copytree(os.path.join(REPO, 'inventories', 'example'), inv,
                    ignore=shutil.ignore_patterns('.meshconnect'))
    run = run_playbook(str(work), inv, 'plan.yml')
    assert run.rc == 0, run.log
    path = os.path.join(inv, '.meshconnect', 'corp', 'report.html')
    assert 'report: %s' % path in run.stdout
    return path, compile_mesh(example_inventory())['matrix']


def _set(page, ident, value):
    page.eval('(function () { var n = document.getElementById(%s); n.value = %s;'
              ' n.dispatchEvent(new Event(n.tagName === "SELECT" ? "change" : "input")); }())'
              % (json.dumps(ident), json.dumps(value)))
    return [tuple(row) for row in page.eval(ROWS)]


def _expected(matrix, keep):
    return sorted((p, ref) for p, c in matrix['members'].items() for ref in reached(matrix, c) if keep(p, ref))


def test_the_report_loads_clean_filters_explains_and_is_kept_as_a_screenshot(browser, example):
    path, matrix = example
    page = browser.open(path)
    assert page.problems() == []
    everything = _expected(matrix, lambda p, ref: True)
    assert sorted(tuple(r) for r in page.eval(ROWS)) == everything
    assert page.eval('document.getElementById("matrix-count").textContent') == '%d flows match' % len(everything)
    # The picture is in the page and was decoded (an image the page could not show has no width).
    assert page.eval('document.querySelector("#picture img").naturalWidth') > 300

    assert sorted(_set(page, 'f-user', 'bob')) == _expected(matrix, lambda p, ref: p == 'user:bob')
    _set(page, 'f-user', '')
    developers = _set(page, 'f-group', 'developers')
    assert sorted(developers) == _expected(matrix, lambda p, ref: p in ('user:bob', 'user:chen'))
    _set(page, 'f-group', '')
    at_paris = _set(page, 'f-site', 'paris')
    assert sorted(at_paris) == _expected(matrix, lambda p, ref: ref.startswith('paris:') or
                                         p.startswith('site:paris:'))
    assert sorted(_set(page, 'f-resource', 'git')) == _expected(
        matrix, lambda p, ref: (ref.startswith('paris:') or p.startswith('site:paris:')) and 'git' in ref)
    _set(page, 'f-site', '')
    assert sorted(_set(page, 'f-resource', 'git')) == _expected(matrix, lambda p, ref: 'git' in ref)
    assert sorted(_set(page, 'f-user', 'chen')) == [('user:chen', 'dc:git')]
    # The filter is in the address, so that a link shows the same rows.
    assert page.eval('location.hash') == '#user=chen&resource=git'

    page.eval('document.querySelector("#matrix-body tr").click()')
    explained = page.eval('document.getElementById("explain").innerText')
    assert 'chen → dc:git: ALLOWED' in explained
    assert "allowed by policy 'developers-tools' (allow dc:git)" in explained
    assert page.problems() == []

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = page.screenshot(os.path.join(ARTIFACTS, 'report.png'))
    assert os.path.getsize(shot) > 20000


def test_a_link_with_a_filter_opens_the_report_filtered(browser, example):
    path, matrix = example
    page = browser.open(path + '#group=admins&site=dc')
    assert sorted(tuple(r) for r in page.eval(ROWS)) == _expected(
        matrix, lambda p, ref: p == 'user:alice' and ref.startswith('dc:'))
    assert page.problems() == []
    # A damaged address (a bad escape, an unknown filter, markup) leaves that part out and breaks nothing.
    page = browser.open(path + '#user=%zz&group=admins&f-x=1&<img src=x>=1')
    assert sorted(tuple(r) for r in page.eval(ROWS)) == _expected(matrix, lambda p, ref: p == 'user:alice')
    assert page.problems() == []


def test_markup_in_names_and_texts_stays_text_in_the_browser(browser, tmp_path):
    inv = example_inventory()
    before = compile_mesh(inv)
    damaged = snapshot(before)
    damaged['matrix']['members'] = dict((p + HOSTILE, c) for p, c in damaged['matrix']['members'].items())
    # Names that are also names of every JavaScript object's properties.
    some_class = sorted(damaged['matrix']['classes'])[0]
    damaged['matrix']['members'].update(('user:' + name, some_class) for name in ('__proto__', 'constructor'))
    result = compile_mesh(inv, previous=damaged, explain='bob ' + HOSTILE, explain_rows=1000)
    report = result['report']
    report['matrix'] = result['matrix']
    report['warnings'].append('warning ' + HOSTILE)
    report['people']['alice']['groups'].append('admins' + HOSTILE)
    path = str(tmp_path / 'hostile.html')
    with open(path, 'w') as handle:
        handle.write(report_html(report, svg='<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                                 '<script>window.pwned=3</script></svg>', digest=HOSTILE, sites=[HOSTILE]))
    page = browser.open(path)
    rows = _set(page, 'f-user', '__proto__')
    assert rows and set(p for p, _ref in rows) == {'user:__proto__'}
    page.eval('document.querySelector("#matrix-body tr").click()')
    assert 'not explained in this report' in page.eval('document.getElementById("explain").innerText')
    assert _set(page, 'f-group', 'admins') == []
    assert _set(page, 'f-only', 'changed') == []
    _set(page, 'f-only', '')
    _set(page, 'f-user', '')
    _set(page, 'f-group', 'admins' + HOSTILE)
    page.eval('document.querySelector("#matrix-body tr").click()')
    assert page.eval('typeof window.pwned') == 'undefined'
    assert page.problems() == []
    text = page.eval('document.body.innerText')
    assert 'warning ' + HOSTILE in text and 'bob ' + HOSTILE in text
    assert page.eval('document.querySelectorAll("script").length') == 2
    assert page.eval('document.querySelectorAll("img").length') == 1


def test_a_report_of_50_sites_and_200_users_draws_a_page_of_rows_and_counts_the_rest(browser, tmp_path):
    result = compile_mesh(generated_inventory(), explain_rows=10000)
    report = result['report']
    report['matrix'] = result['matrix']
    path = str(tmp_path / 'big.html')
    with open(path, 'w') as handle:
        handle.write(report_html(report, digest=result['plan']['digest']))
    page = browser.open(path)
    assert page.problems() == []
    total = len(_expected(result['matrix'], lambda p, ref: True))
    assert total > SHOWN
    assert len(page.eval(ROWS)) == SHOWN
    count = page.eval('document.getElementById("matrix-count").textContent')
    assert count == '%d flows match: the first %d are shown, narrow the filter for the other %d' % (
        total, SHOWN, total - SHOWN)
    rows = _set(page, 'f-user', 'user007')
    assert rows and set(p for p, _ref in rows) == {'user:user007'}
    # Flows to sites behind NAT go through the relay, and the table says so.
    matrix = result['matrix']
    _set(page, 'f-user', '')
    reached_by_users = set(ref.partition(':')[0] for p, ref in _expected(matrix, lambda p, ref: p[:5] == 'user:'))
    relayed = sorted(site for site, by in matrix['via'].items() if 'users' in by and site in reached_by_users)
    assert relayed
    for site in relayed[:3]:
        _set(page, 'f-site', site)
        cells = page.eval('Array.from(document.querySelectorAll("#matrix-body tr")).filter(function (tr) {'
                          ' return tr.dataset.from.indexOf("user:") === 0; }).map(function (tr) {'
                          ' return tr.children[4].textContent; })')
        assert cells and set(cells) == {matrix['via'][site]['users']}, site
