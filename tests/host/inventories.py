# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventories the picture and report tests draw: the example inventory as
mesh_plan reads it, and a generated one of 50 sites, 200 users in 12 access
classes and 30 links."""

import base64
import json
import os
import random
import subprocess
import sys

from meshrun import REPO


def example_inventory():
    """The example inventory, as mesh_plan reads it (ansible-inventory renders its variables)."""
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-inventory')
    out = subprocess.run([binary, '-i', os.path.join(REPO, 'inventories', 'example'), '--list'],
                         stdout=subprocess.PIPE, check=True, universal_newlines=True).stdout
    data = json.loads(out)
    hostvars = data['_meta']['hostvars']
    agents = data['meshconnect_agents']['hosts']
    first = hostvars[agents[0]]
    return {'network': first['meshconnect_network'], 'links': first.get('meshconnect_links', []),
            'users': first.get('meshconnect_users', []), 'policies': first.get('meshconnect_policies', []),
            'policy_tests': first.get('meshconnect_policy_tests', []),
            'sites': dict((host, hostvars[host].get('meshconnect_site')) for host in agents)}


def generated_inventory(n_sites=50, n_users=200, n_classes=12, n_links=30):
    """Sites with one to four services besides their LAN, a fifth of them behind NAT (relayed by site00), links
    of two and of three sites, and users in groups that are granted a few sites or services each."""
    rng = random.Random(7)
    sites = {}
    for i in range(n_sites):
        name = 'site%02d' % i
        resources = [{'name': 'lan', 'address': '10.%d.0.0/24' % i}]
        for k in range(rng.randint(1, 4)):
            resources.append({'name': 'svc%d' % k, 'address': '10.%d.0.%d' % (i, 10 + k),
                              'ports': ['tcp/%d' % (8000 + k)] + (['udp/%d' % (9000 + k)] if k % 2 else [])})
        site = {'name': name, 'resources': resources}
        if i % 5 == 4:
            site['behind_nat'] = True
        else:
            site['endpoint'] = '198.18.0.%d' % (i + 1)
        sites['gw-' + name] = site
    sites['gw-site00']['relay'] = True
    names = sorted(site['name'] for site in sites.values())
    links = [{'name': 'link%02d' % j, 'sites': dict((member, ['lan']) for member in
                                                    rng.sample(names, 3 if j % 4 == 0 else 2))}
             for j in range(n_links)]
    users = [{'name': 'user%03d' % u, 'groups': ['team%02d' % (u % n_classes)],
              'public_key': base64.b64encode(u.to_bytes(2, 'big') * 16).decode()} for u in range(n_users)]
    policies = [{'name': 'team%02d' % c, 'groups': ['team%02d' % c],
                 'allow': [site if rng.random() < 0.5 else site + ':svc0' for site in rng.sample(names, rng.randint(1, 4))]}
                for c in range(n_classes)]
    return {'network': {'name': 'big', 'cidr': '100.66.0.0/22'}, 'sites': sites, 'links': links, 'users': users,
            'policies': policies, 'policy_tests': []}
