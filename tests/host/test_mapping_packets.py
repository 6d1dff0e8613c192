# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""1:1 network mapping on the agent, with real packets (see netlab.py): hq's LAN 10.10.0.0/24 is published to
the mesh as 10.99.0.0/24. The mesh reaches each LAN host under its published address, host part kept; the
policy still holds, filtered by the real addresses after the translation; the real addresses asked for directly
from the mesh are refused; a LAN host's connection into the mesh leaves under its published address."""

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan

from test_firewall_packets import BRANCH_HOST, FACTS, INVENTORY, LAN_HOSTS, start_lab

PUBLISHED = '10.99.0.0/24'


def _published(real):
    return '10.99.0.' + real.rsplit('.', 1)[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    inventory = dict(INVENTORY, sites=dict(INVENTORY['sites']))
    inventory['sites']['gw-hq'] = dict(inventory['sites']['gw-hq'],
                                       mappings=[{'prefix': '10.10.0.0/24', 'published_as': PUBLISHED}])
    compiled = compile_mesh(inventory, facts=FACTS)
    assert agent_plan(compiled['plan'], 'gw-hq')['firewall']['netmap'] == [[PUBLISHED, '10.10.0.0/24']]
    netlab = start_lab(compiled, 'mcmp', str(tmp_path_factory.mktemp('netmap')))
    # The peer routes the published prefix to the agent, as a client's AllowedIPs do.
    netlab.sh('peer', 'ip', 'route', 'add', PUBLISHED, 'via', netlab.plan['address'], 'dev', 'p0', 'onlink')
    yield netlab
    netlab.down()


def test_the_mesh_reaches_each_lan_host_under_its_published_address(lab):
    alice = lab.leases['user/alice']
    for host, port in zip(LAN_HOSTS, (5432, 80, 8080)):      # db and web are declared with their ports only
        assert lab.tcp(alice, _published(host), port) == 'open', host
    # Host part kept: an address with no host behind it reaches nobody.
    assert lab.tcp(alice, '10.99.0.123', 8080) == 'timeout'


def test_policy_holds_on_the_real_addresses_after_the_translation(lab):
    bob = lab.leases['user/bob']                 # hq:web:tcp/443 only
    assert lab.tcp(bob, _published('10.10.0.80'), 443) == 'open'
    assert lab.tcp(bob, _published('10.10.0.80'), 80) == 'timeout'
    assert lab.tcp(bob, _published('10.10.0.5'), 5432) == 'timeout'
    carol = lab.leases['user/carol']             # the agent's ssh only
    assert lab.tcp(carol, _published('10.10.0.77'), 22) == 'timeout'
    # The branch's LAN reaches the db it is linked to, under its published address only.
    assert lab.tcp(BRANCH_HOST, _published('10.10.0.5'), 5432) == 'open'
    assert lab.tcp(BRANCH_HOST, _published('10.10.0.77'), 5432) == 'timeout'


def test_the_real_addresses_are_refused_from_the_mesh(lab):
    # A client that routes the real prefix to the agent (its own AllowedIPs edited) reaches nothing by it.
    alice = lab.leases['user/alice']
    assert lab.tcp(alice, '10.10.0.77', 8080) == 'timeout'
    assert lab.tcp(BRANCH_HOST, '10.10.0.5', 5432) == 'timeout'


def test_a_lan_host_enters_the_mesh_under_its_published_address(lab):
    # The peer has no route back to the real LAN: a connection from it works only under its published address.
    lab.serve('peer', [7000])
    lab.sh('peer', 'ip', 'route', 'del', '10.10.0.0/24')
    try:
        assert lab.tcp('10.10.0.77', BRANCH_HOST, 7000, name='lan') == 'open'
    finally:
        lab.sh('peer', 'ip', 'route', 'add', '10.10.0.0/24', 'via', lab.plan['address'], 'dev', 'p0', 'onlink')
