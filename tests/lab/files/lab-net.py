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
             "forward_udp": {"port": 51820, "to": "10.20.0.2"}}}

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
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
