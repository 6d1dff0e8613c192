# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A relay's firewall with real packets: it forwards between tunnels only the
pairs some grant needs, drops the rest, and forwards nothing without its table.

    users ──u0 ═╗
                ╠══ br0 (ns wire) ══ mc0── relay (hq)
    shop  ──s0 ═╝

The relay's ``mc0`` is a veth on a bridge shared with the users' namespace
and the relayed site's, so that what the relay forwards leaves by the
interface it came in on, as between two WireGuard peers. The users route the
shop (its LAN and its agent) to the relay; the shop routes the users back to
it, as the compiled plans say.
"""

import base64
import json
import os
import subprocess
import sys

import pytest

from netlab import GUARD, PROBE, SERVER, render_firewall, run

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import agent_plan

SHOP_HOST = '10.30.0.9'


def _key(n):
    return base64.b64encode(bytes([n]) * 32).decode('ascii')


INVENTORY = {
    'network': {'name': 'relaylab', 'cidr': '100.97.0.0/24'},
    'sites': {
        'gw-hq': {'name': 'hq', 'endpoint': '10.255.1.1', 'relay': True,
                  'resources': [{'name': 'lan', 'address': '10.10.0.0/24'}]},
        'gw-shop': {'name': 'shop', 'behind_nat': True,
                    'resources': [{'name': 'lan', 'address': '10.30.0.0/24'},
                                  {'name': 'till', 'address': SHOP_HOST, 'ports': ['tcp/22']}]},
    },
    'links': [],
    'users': [
        {'name': 'alice', 'groups': ['shops'], 'public_key': _key(1)},
        {'name': 'bob', 'groups': ['office'], 'public_key': _key(2)},
    ],
    'policies': [
        {'name': 'shops', 'groups': ['shops'], 'allow': ['shop:till']},
        {'name': 'office', 'groups': ['office'], 'allow': ['hq:lan']},
    ],
}
FACTS = {'gw-hq': {'public_key': _key(100), 'interfaces': []}, 'gw-shop': {'public_key': _key(101), 'interfaces': []}}


class RelayLab:
    def __init__(self, prefix, workdir):
        self.prefix = prefix
        self.workdir = workdir
        self.compiled = compile_mesh(INVENTORY, facts=FACTS)
        self.leases = self.compiled['lease_state']['leases']
        self.plan = agent_plan(self.compiled['plan'], 'gw-hq')
        self.servers = []

    def ns(self, name):
        return '%s-%s' % (self.prefix, name)

    def sh(self, name, *args, **kwargs):
        return run(['ip', 'netns', 'exec', self.ns(name)] + list(args), **kwargs)

    def guard(self, *args, check=True):
        env = dict(os.environ, MESHCONNECT_GUARD_CONFIG=os.path.join(self.workdir, 'guard.json'))
        return run(['ip', 'netns', 'exec', self.ns('relay'), '/usr/bin/python3', GUARD] + list(args),
                   check=check, env=env)

    def up(self):
        self.down()
        for name in ('wire', 'relay', 'users', 'shop'):
            run(['ip', 'netns', 'add', self.ns(name)])
            self.sh(name, 'ip', 'link', 'set', 'lo', 'up')
        self.sh('wire', 'ip', 'link', 'add', 'br0', 'type', 'bridge')
        self.sh('wire', 'ip', 'link', 'set', 'br0', 'up')
        for index, (name, ifname) in enumerate((('relay', 'mc0'), ('users', 'u0'), ('shop', 's0'))):
            tmp = '%s-%d' % (self.prefix[:8], index)
            run(['ip', 'link', 'add', tmp, 'type', 'veth', 'peer', 'name', tmp + 'x'])
            run(['ip', 'link', 'set', tmp, 'netns', self.ns(name)])
            run(['ip', 'link', 'set', tmp + 'x', 'netns', self.ns('wire')])
            self.sh(name, 'ip', 'link', 'set', tmp, 'name', ifname)
            self.sh(name, 'ip', 'link', 'set', ifname, 'up')
            self.sh('wire', 'ip', 'link', 'set', tmp + 'x', 'master', 'br0', 'up')
            # No redirects: the relay must forward, never tell one peer to talk to the other directly.
            self.sh(name, 'sysctl', '-qw', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.all.accept_redirects=0',
                    'net.ipv4.conf.%s.send_redirects=0' % ifname)
        hq, shop = self.leases['agent/hq'], self.leases['agent/shop']
        self.sh('relay', 'ip', 'addr', 'add', '%s/%d' % (hq, self.plan['prefix']), 'dev', 'mc0')
        self.sh('relay', 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
        self.sh('relay', 'ip', 'route', 'add', '10.30.0.0/24', 'via', shop, 'dev', 'mc0')
        for name in ('alice', 'bob'):
            self.sh('users', 'ip', 'addr', 'add', '%s/32' % self.leases['user/' + name], 'dev', 'u0')
        self.sh('users', 'ip', 'route', 'add', '%s/32' % hq, 'dev', 'u0')
        for dst in ('10.30.0.0/24', '%s/32' % shop):
            self.sh('users', 'ip', 'route', 'add', dst, 'via', hq, 'dev', 'u0')
        self.sh('shop', 'ip', 'addr', 'add', '%s/32' % shop, 'dev', 's0')
        self.sh('shop', 'ip', 'addr', 'add', '%s/32' % SHOP_HOST, 'dev', 's0')
        self.sh('shop', 'ip', 'route', 'add', '%s/32' % hq, 'dev', 's0')
        self.sh('shop', 'ip', 'route', 'add', self.plan['overlay'], 'via', hq, 'dev', 's0')
        self.firewall = render_firewall(self.plan, self.workdir)
        with open(os.path.join(self.workdir, 'guard.json'), 'w') as handle:
            json.dump({'firewall': self.firewall, 'mark': '0x01000000', 'priority': 1100,
                       'overlay': self.plan['overlay']}, handle)
        server = subprocess.Popen(['ip', 'netns', 'exec', self.ns('shop'), sys.executable, '-c', SERVER, '22', '80'],
                                  stdout=subprocess.PIPE, universal_newlines=True)
        assert server.stdout.readline().strip() == 'ready'
        self.servers.append(server)
        self.guard('up', 'mc0')

    def down(self):
        for proc in self.servers:
            proc.kill()
            proc.wait()
        self.servers = []
        for name in ('wire', 'relay', 'users', 'shop'):
            run(['ip', 'netns', 'del', self.ns(name)], check=False)

    def tcp(self, user, dst, port):
        return self.sh('users', sys.executable, '-c', PROBE, self.leases['user/' + user], dst, str(port),
                       '0.8').stdout.strip()

    def denied(self):
        out = self.sh('relay', 'nft', '-j', 'list', 'counter', 'inet', 'meshconnect', 'mesh_denied').stdout
        return [item['counter']['packets'] for item in json.loads(out)['nftables'] if 'counter' in item][0]


@pytest.fixture(scope='module')
def relay(tmp_path_factory):
    lab = RelayLab('mcrl%d' % (os.getpid() % 10000), str(tmp_path_factory.mktemp('relaylab')))
    lab.up()
    yield lab
    lab.down()


def test_the_relay_forwards_a_granted_pair_between_tunnels(relay):
    assert relay.plan['forwarding'] is True
    assert relay.tcp('alice', SHOP_HOST, 22) == 'open'


def test_the_relay_drops_and_counts_a_pair_no_grant_needs(relay):
    before = relay.denied()
    # bob routes the shop to the relay (a client he edited): the relay forwards none of his pairs.
    assert relay.tcp('bob', SHOP_HOST, 22) == 'timeout'
    assert relay.tcp('bob', relay.leases['agent/shop'], 22) == 'timeout'
    # alice's pair is coarse (source . destination); her other destinations at the shop are not in it.
    assert relay.tcp('alice', '10.30.0.10', 22) == 'timeout'
    assert relay.denied() > before


def test_without_its_table_the_relay_forwards_nothing(relay):
    try:
        relay.sh('relay', 'nft', 'flush', 'ruleset')
        assert relay.tcp('alice', SHOP_HOST, 22) == 'timeout'
        assert relay.tcp('bob', SHOP_HOST, 22) == 'timeout'
    finally:
        relay.guard('load')
    assert relay.tcp('alice', SHOP_HOST, 22) == 'open'
