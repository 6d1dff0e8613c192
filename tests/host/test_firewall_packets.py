# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's firewall and guard with real packets (see netlab.py).

Every deny here is one only the agent can enforce: the peer namespace routes
the whole site to the agent, as a client that widened its own AllowedIPs would.
"""

import base64
import datetime
import os
import time

import pytest

from netlab import Connection, NetLab, render_firewall, wait_for

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_nft import (
    expected_listing, listing_diff, live_listing,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan


def _key(n):
    return base64.b64encode(bytes([n]) * 32).decode('ascii')


INVENTORY = {
    'network': {'name': 'hostlab', 'cidr': '100.96.0.0/24'},
    'sites': {
        'gw-hq': {'name': 'hq', 'endpoint': '10.255.0.1', 'exit': True, 'resources': [
            {'name': 'lan', 'address': '10.10.0.0/24'},
            {'name': 'db', 'address': '10.10.0.5', 'ports': ['tcp/5432']},
            {'name': 'web', 'address': '10.10.0.80', 'ports': ['tcp/80', 'tcp/443']},
        ]},
        'gw-branch': {'name': 'branch', 'endpoint': '10.255.0.2', 'resources': [
            {'name': 'lan', 'address': '10.20.0.0/24'},
        ]},
    },
    # One way, with ports: the branch LAN opens connections to hq's db and web; the agents reach each other on ssh.
    'links': [{'name': 'apps', 'agents': ['tcp/22'],
               'sites': {'hq': {'expose': ['db', 'web:tcp/443']}, 'branch': {'connect': ['lan']}}}],
    'users': [
        {'name': 'alice', 'groups': ['admins'], 'public_key': _key(1)},
        {'name': 'bob', 'groups': ['dev'], 'public_key': _key(2)},
        {'name': 'carol', 'groups': ['ops'], 'public_key': _key(3)},
    ],
    'policies': [
        {'name': 'admins', 'groups': ['admins'], 'allow': ['hq', 'internet'], 'except': ['hq:agent']},
        {'name': 'dev', 'groups': ['dev'], 'allow': ['hq:web:tcp/443']},
        {'name': 'ops', 'groups': ['ops'], 'allow': ['hq:agent:tcp/22']},
    ],
}
FACTS = {'gw-hq': {'public_key': _key(100), 'interfaces': [
    {'name': 'eth0', 'address': '10.255.0.1', 'prefix': 24, 'default_route': True},
    {'name': 'eth1', 'address': '10.10.0.1', 'prefix': 24}]},
    'gw-branch': {'public_key': _key(101), 'interfaces': []}}
LAN_HOSTS = ['10.10.0.5', '10.10.0.80', '10.10.0.77']
BRANCH_HOST = '10.20.0.9'


def _compile(**changes):
    """The compile result of the inventory with ``changes``."""
    inventory = dict(INVENTORY, **changes)
    return compile_mesh(inventory, facts=FACTS)


@pytest.fixture(scope='module')
def plan():
    return _compile()


def start_lab(compiled, prefix, workdir):
    """A NetLab around hq's agent of ``compiled``, its planned ruleset loaded; the users and the branch send."""
    hq = agent_plan(compiled['plan'], 'gw-hq')
    leases = compiled['lease_state']['leases']
    sources = [leases['user/alice'], leases['user/bob'], leases['user/carol'], leases['agent/branch'], BRANCH_HOST]
    netlab = NetLab('%s%d' % (prefix, os.getpid() % 10000), hq, LAN_HOSTS, sources,
                    {'10.20.0.0/24': leases['agent/branch']}, workdir)
    netlab.firewall = render_firewall(hq, workdir)
    netlab.up(netlab.firewall)
    netlab.leases = leases
    return netlab


@pytest.fixture(scope='module')
def lab(plan, tmp_path_factory):
    netlab = start_lab(plan, 'mcht', str(tmp_path_factory.mktemp('netlab')))
    yield netlab
    netlab.down()


@pytest.fixture
def fresh(lab):
    """The planned ruleset loaded, no watcher running, the guard complete."""
    lab.stop_watch()
    lab.guard('up', 'mc0')
    yield lab
    lab.stop_watch()
    lab.load(lab.firewall)


def _user(lab, name):
    return lab.leases['user/' + name]


# ----------------------------------------------------------------------
# policy, enforced by the agent


def test_users_reach_what_they_are_granted_and_nothing_else(fresh):
    lab = fresh
    alice, bob = _user(lab, 'alice'), _user(lab, 'bob')
    assert lab.reaches(alice, '10.10.0.77', 22)
    assert lab.ping(alice, '10.10.0.77')
    assert lab.reaches(alice, '10.10.0.5', 5432)
    # A resource with ports only ever allows those, inside a whole-site grant too.
    assert lab.tcp(alice, '10.10.0.5', 22) == 'timeout'
    assert lab.tcp(alice, '10.10.0.80', 8080) == 'timeout'
    assert lab.reaches(bob, '10.10.0.80', 443)
    for dst, port in (('10.10.0.80', 80), ('10.10.0.77', 443), ('10.10.0.5', 5432)):
        assert lab.tcp(bob, dst, port) == 'timeout', (dst, port)


def test_the_agent_is_the_agent_whatever_address_is_used(fresh):
    lab = fresh
    hq = lab.plan['address']
    alice, carol = _user(lab, 'alice'), _user(lab, 'carol')
    # alice has hq except hq:agent: neither the overlay address nor the LAN address 10.10.0.1 (inside hq:lan).
    assert lab.tcp(alice, hq, 22) == 'timeout'
    assert lab.tcp(alice, '10.10.0.1', 22) == 'timeout'
    assert not lab.ping(alice, '10.10.0.1')
    # carol has hq:agent:tcp/22: the agent on ssh, by any of its addresses, and nothing else.
    assert lab.tcp(carol, hq, 22) == 'refused'
    assert lab.tcp(carol, '10.10.0.1', 22) == 'refused'
    assert lab.tcp(carol, hq, 23) == 'timeout'
    assert lab.tcp(carol, '10.10.0.77', 22) == 'timeout'


def test_a_one_way_link_with_ports(fresh):
    lab = fresh
    branch_agent = lab.leases['agent/branch']
    assert lab.reaches(BRANCH_HOST, '10.10.0.5', 5432)
    assert lab.reaches(BRANCH_HOST, '10.10.0.80', 443)
    assert lab.tcp(BRANCH_HOST, '10.10.0.80', 80) == 'timeout'        # the exposure narrows web to tcp/443
    assert lab.tcp(BRANCH_HOST, '10.10.0.77', 22) == 'timeout'
    assert lab.tcp(branch_agent, lab.plan['address'], 22) == 'refused'  # agents: [tcp/22]
    assert lab.tcp(branch_agent, lab.plan['address'], 23) == 'timeout'
    assert lab.tcp(branch_agent, '10.10.0.5', 5432) == 'timeout'        # the agent does not connect


def test_a_masquerading_agent_passes_replies_and_keeps_denies(fresh, tmp_path):
    lab = fresh
    lab.load(render_firewall(dict(lab.plan, masquerade=True), str(tmp_path)))
    alice = _user(lab, 'alice')
    # The LAN host answers the agent's LAN address; the reply goes back into the mesh (marked after
    # the destination NAT), and what is denied stays denied.
    assert lab.reaches(alice, '10.10.0.77', 22)
    assert lab.ping(alice, '10.10.0.77')
    assert lab.tcp(alice, '10.10.0.5', 22) == 'timeout'
    assert lab.tcp('10.10.0.77', alice, 22, name='lan') == 'timeout'


def test_sites_never_open_connections_to_users(fresh):
    lab = fresh
    assert lab.tcp('10.10.0.77', _user(lab, 'alice'), 22, name='lan') == 'timeout'


def test_revoking_a_grant_stops_an_open_connection(fresh, plan, tmp_path):
    lab = fresh
    connection = Connection(lab, _user(lab, 'bob'), '10.10.0.80', 443)
    try:
        assert connection.echo() == 'ok'
        revoked = _compile(policies=[p for p in INVENTORY['policies'] if p['name'] != 'dev'])
        lab.load(render_firewall(agent_plan(revoked['plan'], 'gw-hq'), str(tmp_path)))
        assert connection.echo() == 'fail'
    finally:
        connection.close()


def test_access_ends_at_its_expiry_instant_without_a_reload_open_connections_included(fresh, tmp_path):
    lab = fresh
    ends = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=12)
    # bob's grant is forwarded to the LAN, carol's ends at the agent itself (input).
    users = [dict(u, expires=ends.strftime('%Y-%m-%dT%H:%M:%SZ')) if u['name'] in ('bob', 'carol') else u
             for u in INVENTORY['users']]
    expiring = _compile(users=users)
    hq = agent_plan(expiring['plan'], 'gw-hq')
    bob, alice, carol = _user(lab, 'bob'), _user(lab, 'alice'), _user(lab, 'carol')
    assert sorted(hq['firewall']['expiring']) == sorted([[bob, int(ends.timestamp())], [carol, int(ends.timestamp())]])
    firewall = render_firewall(hq, str(tmp_path))
    lab.load(firewall)
    connection = Connection(lab, bob, '10.10.0.80', 443)
    try:
        assert ends.timestamp() - time.time() > 2, 'rendering took too long for this test'
        assert connection.echo() == 'ok'
        assert lab.reaches(bob, '10.10.0.80', 443)
        assert lab.tcp(carol, lab.plan['address'], 22) == 'refused'
        time.sleep(max(0.0, ends.timestamp() - time.time()) + 0.5)
        # Nothing was loaded since: the kernel compares the packet's time with bob's end.
        assert connection.echo() == 'fail'
        assert lab.tcp(bob, '10.10.0.80', 443) == 'timeout'
        assert lab.tcp(carol, lab.plan['address'], 22) == 'timeout'
        # The end is in the ruleset, not in runtime state: reloaded (a restart, the watcher after a flush), it holds.
        lab.load(firewall)
        assert lab.tcp(bob, '10.10.0.80', 443) == 'timeout'
        assert lab.reaches(alice, '10.10.0.80', 443)
    finally:
        connection.close()
    # The next compile leaves bob out (and the next site.yml removes his peer).
    later = compile_mesh(dict(INVENTORY, users=users), facts=FACTS, today=datetime.datetime.now(datetime.timezone.utc))
    assert later['plan']['users']['bob']['expired'] is True


def test_management_sources_reach_the_agent_only_on_the_management_ports(fresh, tmp_path):
    lab = fresh
    path = render_firewall(lab.plan, str(tmp_path), agent_management_addresses=[BRANCH_HOST],
                           agent_management_port_elements=['tcp . 22'])
    lab.load(path)
    assert lab.tcp(BRANCH_HOST, '10.10.0.1', 22) == 'refused'
    assert lab.tcp(BRANCH_HOST, '10.10.0.1', 23) == 'timeout'
    assert lab.tcp(BRANCH_HOST, '10.10.0.77', 22) == 'timeout'     # management is not forwarding


# ----------------------------------------------------------------------
# an exit site


def test_an_exit_site_lets_out_only_granted_users_and_only_to_the_internet(fresh):
    lab = fresh
    alice, bob = _user(lab, 'alice'), _user(lab, 'bob')
    # A host on the internet beyond the agent's uplink (198.18.0.9, a public-looking address).
    lab.sh('agent', 'ip', 'addr', 'replace', '198.18.0.1/24', 'dev', 'eth0')
    lab.sh('up', 'ip', 'addr', 'replace', '198.18.0.9/24', 'dev', 'u0')
    lab.sh('peer', 'ip', 'route', 'replace', '198.18.0.0/24', 'via', lab.plan['address'], 'dev', 'p0', 'onlink')
    lab.sh('peer', 'ip', 'route', 'replace', '10.255.0.0/24', 'via', lab.plan['address'], 'dev', 'p0', 'onlink')
    if not any('8443' in str(getattr(proc, 'args', '')) for proc in lab.servers):
        lab.serve('up', [8443])
    # The internet host has no route to the overlay: only masqueraded traffic gets answers.
    lab.sh('up', 'ip', 'route', 'del', 'default')
    try:
        # alice is granted the internet: out, masqueraded, and the replies come back (past anti-spoofing).
        assert lab.tcp(alice, '198.18.0.9', 8443) == 'open'
        assert lab.ping(alice, '198.18.0.9')
        # bob is not; and the internet grant never reaches private ranges (the uplink's 10.255.0.9 here).
        assert lab.tcp(bob, '198.18.0.9', 8443) == 'timeout'
        assert lab.tcp(alice, '10.255.0.9', 8443) == 'timeout'
        # Without the table nothing goes out.
        lab.sh('agent', 'nft', 'flush', 'ruleset')
        assert lab.tcp(alice, '198.18.0.9', 8443) == 'timeout'
    finally:
        lab.sh('up', 'ip', 'route', 'replace', 'default', 'via', '10.255.0.1')


# ----------------------------------------------------------------------
# anti-spoofing


def test_a_host_on_the_uplink_cannot_inject_packets_with_a_lan_source(fresh):
    lab = fresh
    # A host on the LAN really sending reaches the mesh (the control)...
    assert lab.reaches('10.10.0.77', BRANCH_HOST, 22, name='lan')
    # ...the same source forged on the uplink does not, and neither does a source the site does not own.
    assert lab.spoof_seen('10.10.0.77', BRANCH_HOST, 22) == 0
    assert lab.spoof_seen('10.99.0.1', BRANCH_HOST, 22) == 0


# ----------------------------------------------------------------------
# fail closed


def test_a_flushed_ruleset_leaves_the_tunnel_carrying_nothing(fresh):
    lab = fresh
    alice, bob = _user(lab, 'alice'), _user(lab, 'bob')
    lab.sh('agent', 'nft', 'flush', 'ruleset')
    assert lab.guard('check', 'mc0', check=False).returncode == 1
    # Allowed flows stop with the denied ones: nothing is forwarded unfiltered, either way.
    assert lab.tcp(alice, '10.10.0.77', 22) == 'timeout'
    assert lab.tcp(bob, '10.10.0.80', 443) == 'timeout'
    assert lab.tcp(alice, '10.10.0.5', 22) == 'timeout'
    assert lab.tcp('10.10.0.77', alice, 22, name='lan') == 'timeout'
    lab.load()
    assert lab.reaches(alice, '10.10.0.77', 22)
    assert lab.tcp(alice, '10.10.0.5', 22) == 'timeout'


def test_the_watcher_restores_the_table_after_a_flush(fresh):
    lab = fresh
    alice = _user(lab, 'alice')
    lab.start_watch()
    for flush in (['nft', 'flush', 'ruleset'], ['nft', 'delete', 'table', 'inet', 'meshconnect']):
        lab.sh('agent', *flush)
        assert wait_for(lambda: lab.guard('check', 'mc0', check=False).returncode == 0), flush
        assert lab.reaches(alice, '10.10.0.77', 22), flush
        assert lab.tcp(alice, '10.10.0.5', 22) == 'timeout', flush
    # A removed guard rule comes back too.
    lab.sh('agent', 'ip', 'rule', 'del', 'pref', '1101')
    assert wait_for(lambda: lab.guard('check', 'mc0', check=False).returncode == 0, timeout=8)


def test_the_input_guard_keeps_the_agent_closed_while_the_table_cannot_come_back(fresh, tmp_path):
    lab = fresh
    carol = _user(lab, 'carol')
    broken = tmp_path / 'broken.nft'
    broken.write_text('table inet meshconnect { chain c { frobnicate } }\n')
    config = lab.guard_config
    original = open(config).read()
    try:
        open(config, 'w').write(original.replace(lab.firewall, str(broken)))
        lab.start_watch()
        lab.sh('agent', 'nft', 'flush', 'ruleset')
        # The watcher's own table survives the flush; the file cannot be loaded.
        assert lab.sh('agent', 'nft', 'list', 'table', 'inet', 'meshconnect_guard').returncode == 0
        assert lab.sh('agent', 'nft', 'list', 'table', 'inet', 'meshconnect', check=False).returncode != 0
        assert lab.tcp(carol, lab.plan['address'], 22) == 'timeout'
        assert lab.tcp(carol, '10.10.0.1', 22) == 'timeout'
        assert lab.tcp(_user(lab, 'alice'), '10.10.0.77', 22) == 'timeout'
        open(config, 'w').write(original)
        assert wait_for(lambda: lab.guard('check', 'mc0', check=False).returncode == 0, timeout=8)
        assert lab.tcp(carol, lab.plan['address'], 22) == 'refused'
    finally:
        open(config, 'w').write(original)


# ----------------------------------------------------------------------
# drift


def test_a_hand_added_element_shows_in_the_listing_comparison(fresh):
    lab = fresh

    def run(args):
        proc = lab.sh('agent', *args, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    expected = expected_listing(run, 'nft', 'unshare', lab.firewall)
    assert live_listing(run, 'nft') == expected
    lab.sh('agent', 'nft', 'add', 'element', 'inet', 'meshconnect', 'mgmt', '{ 0.0.0.0/0 }')
    diff = listing_diff(expected, live_listing(run, 'nft'))
    assert diff and any(line.startswith('+') and '0.0.0.0/0' in line for line in diff), diff
    # The digest in the comment did not change: only the listing shows it.
    lab.load()
    assert live_listing(run, 'nft') == expected


def test_the_guard_refuses_an_unknown_command_with_its_usage(fresh):
    for args in ([], ['reload-everything']):
        result = fresh.guard(*args, check=False)
        assert result.returncode == 2, args
        assert 'meshconnect-guard watch IFACE' in result.stderr, result.stderr
