# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of an agent's nftables ruleset as the number of users grows (``make bench``, root).

For 10, 1,000 and 10,000 users (in four groups with two to four grants each:
about 50,000 set and map elements at the top), the agent plan is compiled, the role's firewall template rendered,
and the file checked (``nft -c``) and loaded into a fresh network namespace
(``unshare --net``), each timed (wall clock, best of three).  Then the loaded
ruleset is listed as the kernel holds it and the rules of each of our chains
counted: a packet traverses at most those rules, and users live only in sets
and maps (looked up, not traversed), so the count must not grow with users.
"""

from __future__ import absolute_import, division, print_function

import base64
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TESTS, 'plugins'))
sys.path.insert(0, os.path.join(TESTS, 'host'))

# imported for its side effect: the collection importable, meshrun's collections root
import conftest_plugins  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
from netlab import render_firewall  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import (  # noqa: E402
    compile_mesh,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import (  # noqa: E402
    agent_plan,
)

SIZES = (10, 1000, 10000)


def _key(n):
    return base64.b64encode(n.to_bytes(32, 'big')).decode('ascii')


def inventory(users):
    return {
        'network': {'name': 'bench', 'cidr': '100.64.0.0/16'},
        'sites': {
            'gw-hq': {'name': 'hq', 'endpoint': '10.255.0.1', 'resources': [
                {'name': 'lan', 'address': '10.10.0.0/16'},
                {'name': 'web', 'address': '10.10.0.80', 'ports': ['tcp/443']},
                {'name': 'db', 'address': '10.10.0.5', 'ports': ['tcp/5432']},
            ]},
            'gw-branch': {'name': 'branch', 'endpoint': '10.255.0.2', 'resources': [
                {'name': 'lan', 'address': '10.20.0.0/24'},
            ]},
        },
        'links': [{'name': 'hq-branch', 'sites': {'hq': ['web'], 'branch': ['lan']}}],
        'users': [{'name': 'u%d' % i, 'groups': ['g%d' % (i % 4)], 'public_key': _key(i + 1)}
                  for i in range(users)],
        'policies': [
            {'name': 'web-db', 'groups': ['g0', 'g1'], 'allow': ['hq:web', 'hq:db']},
            {'name': 'lan-ssh', 'groups': ['g2'], 'allow': ['hq:lan:tcp/22', 'branch:lan:tcp/22']},
            {'name': 'web-only', 'groups': ['g3'], 'allow': ['hq:web', 'branch:lan:udp/161']},
        ],
    }


def _best(args, runs=3):
    best = None
    for _run in range(runs):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def _listing(path):
    out = subprocess.run(['unshare', '--net', 'sh', '-c', 'nft -f "$1" && nft -j list table inet meshconnect',
                          'sh', path], check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    chains, elements = {}, 0
    for item in json.loads(out)['nftables']:
        if 'rule' in item:
            chain = item['rule']['chain']
            chains[chain] = chains.get(chain, 0) + 1
        for kind in ('set', 'map'):
            if kind in item:
                elements += len(item[kind].get('elem', []))
    return chains, elements


def main():
    for tool in ('nft', 'unshare'):
        if subprocess.run(['sh', '-c', 'command -v %s' % tool], stdout=subprocess.DEVNULL, check=False).returncode:
            sys.exit('bench_nft needs %s (make host-tools installs it)' % tool)
    workdir = tempfile.mkdtemp(prefix='meshconnect-bench-nft-')
    rows = []
    for users in SIZES:
        plan = agent_plan(compile_mesh(inventory(users))['plan'], 'gw-hq')
        path = render_firewall(plan, workdir)
        check = _best(['nft', '-c', '-f', path])
        load = _best(['unshare', '--net', 'nft', '-f', path])
        chains, elements = _listing(path)
        rows.append((users, elements, os.path.getsize(path), check, load, chains))
        print('%6d users: %6d set and map elements, ruleset %7d bytes, nft -c %.3f s, load %.3f s, '
              '%d rules in our chains' % (users, elements, os.path.getsize(path), check, load, sum(chains.values())))
    first, last = rows[0][5], rows[-1][5]
    flat = first == last
    verdict = 'identical (per-packet cost flat)' if flat else 'DIFFERENT: %r vs %r' % (first, last)
    print('rules per chain at %d and %d users: %s' % (SIZES[0], SIZES[-1], verdict))
    if not flat:
        sys.exit(1)


if __name__ == '__main__':
    main()
