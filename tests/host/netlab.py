# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A site in network namespaces, for the agent's firewall and guard with real packets.

    peer ──p0 ═══ mc0── agent ──eth1 ═══ eth0── lan        (the site's LAN: its resources)
                          └──eth0 ═══ u0── up               (the uplink: the ISP's network)

``peer`` stands for the whole mesh: it holds the overlay addresses of users
and of other sites' agents, and the LAN addresses of other sites, so that a
probe can send from any of them. The agent's ``mc0`` is a veth, not a
WireGuard interface: the firewall and the guard only see the interface name.
The agent runs the real ruleset (rendered from the role's template by
``render_firewall``) and the real ``meshconnect-guard``.
"""

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GUARD = os.path.join(REPO, 'roles', 'agent', 'files', 'meshconnect_guard.py')
TEMPLATE = os.path.join(REPO, 'roles', 'agent', 'templates', 'firewall.nft.j2')
DEFAULTS = os.path.join(REPO, 'roles', 'agent', 'defaults', 'main.yml')

SERVER = r'''
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('0.0.0.0', port)); s.listen(64)
    while True:
        c, _ = s.accept()
        def echo(c=c):
            try:
                while True:
                    data = c.recv(4096)
                    if not data:
                        break
                    c.sendall(data)
            except OSError:
                pass
            c.close()
        threading.Thread(target=echo, daemon=True).start()
for p in sys.argv[1:]:
    threading.Thread(target=serve, args=(int(p),), daemon=True).start()
print('ready', flush=True)
threading.Event().wait()
'''

PROBE = r'''
import json, socket, sys
src, dst, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(); s.settimeout(timeout)
try:
    s.bind((src, 0)); s.connect((dst, port)); print('open')
except socket.timeout:
    print('timeout')
except ConnectionRefusedError:
    print('refused')
except OSError as exc:
    print('error %s' % exc.strerror)
'''

# Send one raw TCP SYN from a spoofed source (IP_HDRINCL), as a host on the uplink could.
SPOOF = r'''
import socket, struct, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def checksum(data):
    if len(data) % 2: data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff); total += total >> 16
    return ~total & 0xffff
s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(dst)
tcp = struct.pack('!HHIIBBHHH', 40000, port, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
pseudo = s_ip + d_ip + struct.pack('!BBH', 0, socket.IPPROTO_TCP, len(tcp))
tcp = tcp[:16] + struct.pack('!H', checksum(pseudo + tcp)) + tcp[18:]
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, socket.IPPROTO_TCP, 0, s_ip, d_ip)
ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(3):
    raw.sendto(ip + tcp, (dst, 0))
'''

# Count the IPv4 packets from a source that arrive on an interface, for a while.
SNIFF = r'''
import socket, struct, sys, time
iface, src, seconds = sys.argv[1], socket.inet_aton(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800)); s.bind((iface, 0)); s.settimeout(0.2)
print('ready', flush=True)
seen, end = 0, time.time() + seconds
while time.time() < end:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if frame[26:30] == src:
        seen += 1
print(seen, flush=True)
'''


def run(args, check=True, **kwargs):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(args), proc.returncode, proc.stderr.strip()))
    return proc


class NetLab:
    """Namespaces ``PREFIX-peer``, ``-agent``, ``-lan`` and ``-up``, wired as the module docstring draws."""

    def __init__(self, prefix, agent_plan, lan_hosts, peer_sources, peer_routes, workdir):
        self.prefix = prefix
        self.plan = agent_plan
        self.lan_hosts = lan_hosts            # LAN addresses the lan namespace answers on
        self.peer_sources = peer_sources      # overlay or remote addresses the peer namespace sends from
        self.peer_routes = peer_routes        # remote prefix -> overlay address of its agent (routed on the agent)
        self.workdir = workdir
        self.servers = []
        self.watcher = None
        self.guard_config = os.path.join(workdir, 'guard.json')

    def ns(self, name):
        return '%s-%s' % (self.prefix, name)

    def exec_args(self, name, args):
        return ['ip', 'netns', 'exec', self.ns(name)] + list(args)

    def sh(self, name, *args, **kwargs):
        return run(self.exec_args(name, args), **kwargs)

    # ------------------------------------------------------------------
    def up(self, firewall):
        self.down()
        for name in ('peer', 'agent', 'lan', 'up'):
            run(['ip', 'netns', 'add', self.ns(name)])
            self.sh(name, 'ip', 'link', 'set', 'lo', 'up')
        self._pair('peer', 'p0', 'agent', 'mc0')
        self._pair('agent', 'eth1', 'lan', 'eth0')
        self._pair('agent', 'eth0', 'up', 'u0')
        plan = self.plan
        overlay = plan['overlay']
        self.sh('agent', 'ip', 'addr', 'add', '%s/%d' % (plan['address'], plan['prefix']), 'dev', 'mc0')
        self.sh('agent', 'ip', 'addr', 'add', '10.10.0.1/24', 'dev', 'eth1')
        self.sh('agent', 'ip', 'addr', 'add', '10.255.0.1/24', 'dev', 'eth0')
        self.sh('agent', 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
        for prefix, via in sorted(self.peer_routes.items()):
            self.sh('agent', 'ip', 'route', 'add', prefix, 'via', via, 'dev', 'mc0')
        for address in self.peer_sources:
            self.sh('peer', 'ip', 'addr', 'add', '%s/32' % address, 'dev', 'p0')
        self.sh('peer', 'ip', 'route', 'add', overlay, 'dev', 'p0', 'scope', 'link')
        self.sh('peer', 'ip', 'route', 'add', '10.10.0.0/24', 'via', plan['address'], 'dev', 'p0', 'onlink')
        for address in self.lan_hosts:
            self.sh('lan', 'ip', 'addr', 'add', '%s/24' % address, 'dev', 'eth0')
        self.sh('lan', 'ip', 'route', 'add', 'default', 'via', '10.10.0.1')
        self.sh('up', 'ip', 'addr', 'add', '10.255.0.9/24', 'dev', 'u0')
        self.sh('up', 'ip', 'route', 'add', 'default', 'via', '10.255.0.1')
        with open(self.guard_config, 'w') as handle:
            json.dump({'firewall': firewall, 'mark': '0x01000000', 'priority': 1100, 'overlay': overlay}, handle)
        self.serve('lan', [22, 80, 443, 5432, 8080])
        self.guard('up', 'mc0')

    def _pair(self, left, left_if, right, right_if):
        tmp_left, tmp_right = '%s-%s' % (self.prefix[:6], left_if), '%s-%s' % (self.prefix[:6], right_if + 'x')
        run(['ip', 'link', 'add', tmp_left, 'type', 'veth', 'peer', 'name', tmp_right])
        run(['ip', 'link', 'set', tmp_left, 'netns', self.ns(left)])
        run(['ip', 'link', 'set', tmp_right, 'netns', self.ns(right)])
        self.sh(left, 'ip', 'link', 'set', tmp_left, 'name', left_if)
        self.sh(right, 'ip', 'link', 'set', tmp_right, 'name', right_if)
        self.sh(left, 'ip', 'link', 'set', left_if, 'up')
        self.sh(right, 'ip', 'link', 'set', right_if, 'up')

    def serve(self, name, ports):
        proc = subprocess.Popen(self.exec_args(name, [sys.executable, '-c', SERVER] + [str(p) for p in ports]),
                                stdout=subprocess.PIPE, universal_newlines=True)
        assert proc.stdout.readline().strip() == 'ready'
        self.servers.append(proc)

    def down(self):
        self.stop_watch()
        for proc in self.servers:
            proc.kill()
            proc.wait()
        self.servers = []
        for name in ('peer', 'agent', 'lan', 'up'):
            run(['ip', 'netns', 'del', self.ns(name)], check=False)

    # ------------------------------------------------------------------
    # the agent

    def guard(self, *args, check=True):
        env = dict(os.environ, MESHCONNECT_GUARD_CONFIG=self.guard_config)
        return run(self.exec_args('agent', ['/usr/bin/python3', GUARD] + list(args)), check=check, env=env)

    def load(self, path=None):
        if path is None:
            return self.guard('load')
        return self.sh('agent', 'nft', '-f', path)

    def start_watch(self):
        env = dict(os.environ, MESHCONNECT_GUARD_CONFIG=self.guard_config)
        self.watcher = subprocess.Popen(self.exec_args('agent', ['/usr/bin/python3', GUARD, 'watch', 'mc0']),
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        universal_newlines=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.sh('agent', 'nft', 'list', 'table', 'inet', 'meshconnect_guard', check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError('the watcher did not create its input guard')

    def stop_watch(self):
        if self.watcher is not None:
            self.watcher.kill()
            self.watcher.wait()
            self.watcher = None

    # ------------------------------------------------------------------
    # probes

    def tcp(self, src, dst, port, name='peer', timeout=0.8):
        """``open``, ``refused`` (both reached the target) or ``timeout`` (dropped)."""
        out = self.sh(name, sys.executable, '-c', PROBE, src, dst, str(port), str(timeout)).stdout.strip()
        return out

    def reaches(self, src, dst, port, name='peer'):
        return self.tcp(src, dst, port, name) in ('open', 'refused')

    def ping(self, src, dst, name='peer'):
        return self.sh(name, 'ping', '-n', '-c', '1', '-W', '1', '-I', src, dst, check=False).returncode == 0

    def spoof_seen(self, src, dst, port, sniff_on=('peer', 'p0')):
        """Send SYNs from ``up`` with the spoofed source ``src`` to ``dst`` (routed through the agent) and
        count how many arrive at ``sniff_on``."""
        sniffer = subprocess.Popen(self.exec_args(sniff_on[0], [sys.executable, '-c', SNIFF, sniff_on[1], src, '2']),
                                   stdout=subprocess.PIPE, universal_newlines=True)
        assert sniffer.stdout.readline().strip() == 'ready'
        self.sh('up', sys.executable, '-c', SPOOF, src, dst, str(port))
        count = int(sniffer.stdout.readline().strip())
        sniffer.wait()
        return count


class Connection:
    """One TCP connection held open from the peer namespace, to check that
    revoking a grant also stops what was already open."""

    CLIENT = r'''
import socket, sys
s = socket.socket(); s.settimeout(1.0); s.bind((sys.argv[1], 0)); s.connect((sys.argv[2], int(sys.argv[3])))
print('connected', flush=True)
for line in sys.stdin:
    try:
        s.sendall(line.encode()); data = s.recv(4096)
        print('ok' if data == line.encode() else 'bad', flush=True)
    except OSError:
        print('fail', flush=True)
'''

    def __init__(self, lab, src, dst, port):
        self.proc = subprocess.Popen(lab.exec_args('peer', [sys.executable, '-c', self.CLIENT, src, dst, str(port)]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
        assert self.proc.stdout.readline().strip() == 'connected'

    def echo(self):
        self.proc.stdin.write('ping\n')
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self):
        self.proc.kill()
        self.proc.wait()


def render_firewall(agent_plan, workdir, **role_vars):
    """The role's firewall template rendered for ``agent_plan`` by a real
    ansible-playbook run, checked with ``nft -c`` as the role does; returns the file's path."""
    import meshrun
    dest = os.path.join(workdir, 'firewall-%d.nft' % len(os.listdir(workdir)))
    extra = os.path.join(workdir, 'vars-%d.yml' % len(os.listdir(workdir)))
    with open(extra, 'w') as handle:
        json.dump(dict({'agent_management_addresses': [], 'agent_management_port_elements': [],
                        'agent_plan': agent_plan}, **role_vars), handle)
    playbook = meshrun.write_playbook(os.path.join(workdir, 'render.yml'), '''---
- name: Render the agent firewall
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [%s]
  tasks:
    - name: Render
      ansible.builtin.template:
        src: %s
        dest: %s
        mode: "0600"
        validate: nft -c -f %%s
''' % (DEFAULTS, TEMPLATE, dest))
    os.makedirs(os.path.join(workdir, 'inv'), exist_ok=True)
    with open(os.path.join(workdir, 'inv', 'hosts.yml'), 'w') as handle:
        handle.write('all: {hosts: {localhost: {ansible_connection: local, '
                     'ansible_python_interpreter: "%s"}}}\n' % sys.executable)
    result = meshrun.run_playbook(workdir, os.path.join(workdir, 'inv'), playbook, '-e', '@' + extra)
    assert result.rc == 0, result.log
    return dest


def wait_for(predicate, timeout=5.0, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
