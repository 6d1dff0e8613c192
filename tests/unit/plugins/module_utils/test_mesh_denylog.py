# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deny log names who was denied what from the plan alone."""

import datetime

from meshcase import build, inventory

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_denylog import attribute, parse

NOW = datetime.datetime(2026, 12, 2, 13, 40, 0)


def _line(src, dst, proto='TCP', dpt=5432):
    return ('Dec  2 13:33:43 hq meshconnect-deny IN=mc0 OUT=eth1 SRC=%s DST=%s LEN=60 PROTO=%s SPT=40000 DPT=%d'
            % (src, dst, proto, dpt))


def test_denies_are_named_by_user_agent_and_resource():
    plan = build(inventory())['plan']
    bob = plan['users']['bob']['address']
    hq_host = [host for host, agent in plan['agents'].items() if agent['site'] == 'hq'][0]
    branch = [agent for agent in plan['agents'].values() if agent['site'] == 'branch'][0]['address']
    text = '\n'.join([_line(bob, '10.1.0.5'), _line(branch, '10.1.0.10', dpt=22), _line('192.0.2.9', '10.1.0.77')])
    rows = attribute(plan, {hq_host: parse(text, NOW)})
    named = sorted((row['agent'], row['from'], row['to'], row['flow']) for row in rows)
    assert named == [
        ('hq', '192.0.2.9', 'hq:lan', 'tcp/5432'),              # nobody the plan knows: the address
        ('hq', 'site:branch:agent', 'hq:web', 'tcp/22'),        # an agent, by its overlay address
        ('hq', 'user:bob', 'hq:db', 'tcp/5432'),                # a user, by the address leased to them
    ]
