# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply the lab network settings of this container: static routes and NAT.

    mc-lab-net /etc/mc-lab-net.json

Installed as /usr/local/sbin/mc-lab-net; run at boot by mc-lab-net.service
and by tests/lab/lab-up.yml. Idempotent: prints one "changed: ..." line per
change and nothing else when all is in place. The configuration (written by
lab-up.yml) looks like

    {"routes": [{"dst": "default", "via": "10.20.0.254"},
                {"dst": "10.10.0.0/24", "via": "10.20.0.2"}],
     "nat": {"wan_subnet": "172.30.0.0/24", "masquerade": "10.20.0.0/24",
             "forward_udp": {"port": 51820, "to": "10.20.0.2"}},
     "twin": {"gateway": "192.168.50.1/24", "address": "192.168.50.10/24"}}

``twin`` gives an agent's container a second LAN that Docker could not make
(two sites' LANs with the same prefix): a network namespace ``twin`` behind a
veth pair, ``twin0`` on the container's side with ``gateway``, ``eth0`` in
the namespace with ``address`` and its default route through the gateway.

Docker names interfaces in the order the networks were attached, which can
change when a container restarts: the WAN interface is found by its subnet at
every run, never assumed. The NAT rules live in their own nftables table
(ip mc_lab_nat), replaced atomically; no other table is touched (Docker's
embedded DNS keeps its rules in this network namespace too).
"""

import ipaddress
import json
import subprocess
import sys

TABLE = 'mc_lab_nat'


def run(args, stdin=None, check=True):
    proc = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    if check and proc.returncode != 0:
        sys.exit('lab-net: %s failed (rc=%d): %s' % (' '.join(args), proc.returncode, proc.stderr.strip()))
    return proc


def ip_json(*args):
    return json.loads(run(['ip', '-j'] + list(args)).stdout or '[]')


def ensure_route(dst, via):
    """``ip route replace`` unless ``dst`` is already routed (only) via ``via``."""
    current = ip_json('-4', 'route', 'show', 'table', 'main', 'exact', dst)
    gateways = [route.get('gateway') for route in current]
    if gateways == [via]:
        return
    run(['ip', '-4', 'route', 'replace', dst, 'via', via])
    print('changed: route %s via %s (was %s)' % (dst, via, ', '.join(str(gw) for gw in gateways) or 'none'))


def interface_in(subnet):
    """The interface holding an IPv4 address inside ``subnet``."""
    net = ipaddress.ip_network(subnet)
    for link in ip_json('-4', 'addr', 'show'):
        for addr in link.get('addr_info', []):
            if addr.get('family') == 'inet' and ipaddress.ip_address(addr['local']) in net:
                return link['ifname']
    sys.exit('lab-net: no interface has an address in %s' % subnet)


def nat_ruleset(nat, wan):
    lines = [
        '# Written by lab-net.py (tests/lab): the NAT router of a lab site. WAN interface: %s.' % wan,
        'table ip %s' % TABLE,
        'delete table ip %s' % TABLE,
        'table ip %s {' % TABLE,
        '\tchain prerouting {',
        '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    ]
    forward = nat.get('forward_udp')
    if forward:
        lines.append('\t\tiifname "%s" udp dport %d dnat to %s' % (wan, int(forward['port']), forward['to']))
    lines += [
        '\t}',
        '\tchain postrouting {',
        '\t\ttype nat hook postrouting priority srcnat; policy accept;',
        '\t\toifname "%s" ip saddr %s masquerade' % (wan, nat['masquerade']),
        '\t}',
        # Like a home router: from the WAN only replies and forwarded ports reach the LAN.
        '\tchain forward {',
        '\t\ttype filter hook forward priority filter; policy accept;',
        '\t\tiifname "%s" ct state established,related accept' % wan,
        '\t\tiifname "%s" ct status dnat accept' % wan,
        '\t\tiifname "%s" drop' % wan,
        '\t}',
        '}',
    ]
    return '\n'.join(lines) + '\n'


def ensure_nat(nat):
    wan = interface_in(nat['wan_subnet'])
    before = run(['nft', 'list', 'table', 'ip', TABLE], check=False)
    run(['nft', '-f', '-'], stdin=nat_ruleset(nat, wan))
    after = run(['nft', 'list', 'table', 'ip', TABLE])
    if before.returncode != 0 or before.stdout != after.stdout:
        print('changed: nftables table ip %s (WAN %s)' % (TABLE, wan))


def ensure_twin(twin):
    exists = run(['ip', 'netns', 'exec', 'twin', 'true'], check=False).returncode == 0
    if not exists:
        run(['ip', 'netns', 'add', 'twin'])
    if run(['ip', 'link', 'show', 'twin0'], check=False).returncode != 0:
        run(['ip', 'link', 'add', 'twin0', 'type', 'veth', 'peer', 'name', 'twin0p'])
        run(['ip', 'link', 'set', 'twin0p', 'netns', 'twin'])
        run(['ip', 'netns', 'exec', 'twin', 'ip', 'link', 'set', 'twin0p', 'name', 'eth0'])
        print('changed: namespace twin behind twin0')
    run(['ip', 'link', 'set', 'twin0', 'up'])
    for args in (['lo', 'up'], ['eth0', 'up']):
        run(['ip', 'netns', 'exec', 'twin', 'ip', 'link', 'set'] + args)
    if twin['gateway'] not in run(['ip', '-o', 'addr', 'show', 'dev', 'twin0']).stdout:
        run(['ip', 'addr', 'add', twin['gateway'], 'dev', 'twin0'])
        print('changed: twin0 %s' % twin['gateway'])
    inside = run(['ip', 'netns', 'exec', 'twin', 'ip', '-o', 'addr', 'show', 'dev', 'eth0']).stdout
    if twin['address'] not in inside:
        run(['ip', 'netns', 'exec', 'twin', 'ip', 'addr', 'add', twin['address'], 'dev', 'eth0'])
        print('changed: twin eth0 %s' % twin['address'])
    gateway = twin['gateway'].split('/')[0]
    routes = run(['ip', 'netns', 'exec', 'twin', 'ip', 'route', 'show', 'default']).stdout
    if 'via %s ' % gateway not in routes + ' ':
        run(['ip', 'netns', 'exec', 'twin', 'ip', 'route', 'replace', 'default', 'via', gateway])
        print('changed: twin default via %s' % gateway)


def main(argv):
    if len(argv) != 1:
        sys.stderr.write('usage: mc-lab-net CONFIG.json\n')
        return 2
    with open(argv[0]) as handle:
        config = json.load(handle)
    for route in config.get('routes') or []:
        ensure_route(route['dst'], route['via'])
    if config.get('nat'):
        ensure_nat(config['nat'])
    if config.get('twin'):
        ensure_twin(config['twin'])
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
