# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology's Graphviz source: what it draws and how labels are kept
short without cutting anything silently (the layout itself is checked with
the real Graphviz in tests/host/test_topology.py)."""

import random

from meshcase import build, inventory, key, site

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_graph import clean_svg, topology_dot, wrap


def _dot(inv, **kwargs):
    result = build(inv)
    return topology_dot(result['plan'], result['matrix'], **kwargs)


def test_wrap_never_loses_a_character_and_keeps_lines_short():
    rng = random.Random(3)
    for _case in range(300):
        text = ''.join(rng.choice('abc,/ 0123456789') for _i in range(rng.randint(0, 200)))
        lines = wrap(text, 20)
        assert all(len(line) <= 20 for line in lines)
        assert ''.join(lines).replace(' ', '') == text.replace(' ', '')


def test_users_with_the_same_access_share_a_node_and_one_user_can_be_drawn_alone():
    inv = inventory()
    inv['users'].append({'name': 'erin', 'groups': ['admins'], 'public_key': key(23)})
    text = _dot(inv)
    assert '"users:alice" [shape=ellipse' in text and 'label="alice, erin (2)"' in text
    assert '"users:erin"' not in text
    alone = _dot(inv, user='bob')
    assert '"users:bob"' in alone and '"users:alice"' not in alone


def test_links_of_two_sites_are_edges_of_three_a_hub_and_relayed_ones_say_via():
    inv = inventory()
    inv['links'].append({'name': 'trio', 'sites': ['hq', 'branch', 'shop']})
    text = _dot(inv)
    assert '"site:branch" -> "site:hq" [color="#1565c0", penwidth=2, fontcolor="#0d47a1", label="link hq-branch"];' in text
    assert '"link:trio" [shape=box' in text
    assert all('"site:%s" -> "link:trio"' % name in text for name in ('hq', 'branch', 'shop'))
    inv = inventory()
    site(inv, 'hq')['relay'] = True
    inv['sites']['gw-kiosk'] = {'name': 'kiosk', 'behind_nat': True}
    inv['links'].append({'name': 'tills', 'sites': ['shop', 'kiosk']})
    text = _dot(inv)
    assert 'label="link tills (via hq)", style=dashed' in text
    assert 'relay' in text and 'via hq' in text


def test_long_lists_are_counted_never_cut():
    inv = inventory()
    site(inv, 'hq')['resources'].extend({'name': 'host%d' % n, 'address': '10.1.0.%d' % (100 + n)}
                                        for n in range(8))
    text = _dot(inv)
    assert '+5 more resources (not shown)' in text       # 11 resources, 6 listed
    assert ' and ' in text and ' more' in text           # alice's grant edge to hq names 3 and counts the rest


def test_clean_svg_drops_the_external_dtd_only():
    svg = '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://x/svg11.dtd">\n<svg/>\n'
    assert clean_svg(svg) == '<?xml version="1.0"?>\n<svg/>\n'


def test_the_internet_grant_is_named_first_and_side_loaded_sites_say_so():
    inv = inventory()
    site(inv, 'hq')['exit'] = True
    inv['policies'].append({'name': 'net', 'groups': ['admins'], 'allow': ['internet']})
    inv['sites']['build01'] = {'name': 'build', 'router': False, 'endpoint': '198.51.100.30'}
    inv['links'].append({'name': 'monitoring', 'sites': ['build', 'hq']})
    text = _dot(inv)
    assert '"users:alice" -> "site:hq" [color="#6a1b9a", style=dashed, fontcolor="#6a1b9a", label="internet, ' in text
    assert '100.64.0.1, side-loaded<' in text or 'side-loaded</FONT>' in text
