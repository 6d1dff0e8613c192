# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the mesh compiler on synthetic inventories (``make bench``).

Compiles a deterministic, realistic inventory at half, full and five times
full size and prints one line per size::

    1000 sites, 10000 users, 2000 policies, 200 links: compile 1.23 s, peak 210 MiB

then, from one size to the next, the ratio of the compile times beside the
growth of the inventory (its canonical JSON, facts included), of the plan
and of the matrix: the time should grow like the inventory and not faster.

Each size runs in a fresh child process (``--child``) so that the peak is
that size's own: it is the child's peak resident set size as the kernel
reports it (``ru_maxrss``), interpreter, generated inventory and compiler
output included; nothing is subtracted.  Only ``compile_mesh`` is timed
(wall clock, the best of three runs in the child); generating the
inventory is not.  Each compile is a first run: no lease state and no
previous snapshot, so every lease (11,000 at full size, in a /16) is new.

The inventory scales as a whole: sites, users, policies, links and groups
(sites / 5, in regions of 25 sites) grow together, so that twice the size
means twice the users per region, not twice the sites reachable per user.
Its shape: data centres that most teams use, offices and stores (some
behind NAT, with or without a port forward), side-loaded servers; every
LAN is unique and carved from 10.0.0.0/8; users in one to three teams,
some with expiry dates (a few expired); policies granting teams or named
users a site, a resource or some ports of a resource, some with
``except``, and a few administrators with ``*``; links joining two to four
sites; a few policy tests; agent facts with public keys and interfaces.
It compiles without errors (the benchmark checks) and warns about what a
real inventory of this size would warn about.
"""

from __future__ import absolute_import, division, print_function

import argparse
import base64
import datetime
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# (sites, users, policies, links): half size first, then full size.
SIZES = [(500, 5000, 1000, 100), (1000, 10000, 2000, 200), (5000, 50000, 10000, 1000)]
EXPLAIN_ROWS = 10000     # flows plan.yml explains for the HTML report (meshconnect_report_explain_rows)
RUNS = 3     # compile_mesh runs this many times per child; the fastest (wall clock) is reported
LARGE_RUNS = 1  # at the largest size, once (its generation alone takes a while)
OVERLAP_SIZES = (5000, 5000, 1000, 0)   # sites, users, policies, links of the overlap stress
SEED = 20260601
TODAY = datetime.date(2026, 6, 1)

REGION_SIZE = 25
DEPARTMENTS = ('ops', 'sales', 'it', 'facilities', 'finance')
ADMINS = 5
FIRST_NAMES = ('anna', 'ben', 'chen', 'dana', 'elif', 'femi', 'gus', 'hana', 'ivan', 'jo', 'kai', 'lena',
               'mo', 'nina', 'omar', 'pia', 'quinn', 'raj', 'sara', 'tom', 'uma', 'vic', 'wen', 'yusuf', 'zoe')
LAST_NAMES = ('adams', 'berg', 'costa', 'diallo', 'evans', 'fischer', 'garcia', 'haddad', 'ito', 'jensen',
              'kowalski', 'larsen', 'martin', 'nguyen', 'okafor', 'petit', 'rossi', 'silva', 'tanaka', 'weber')
LINK_PURPOSES = ('backup', 'erp', 'monitoring', 'replication', 'voip', 'cctv', 'pos-sync', 'printing')


# ----------------------------------------------------------------------
# synthetic inventory


def _key(rng):
    """A WireGuard public key: 32 random bytes, base64 (44 characters, ends in '=')."""
    return base64.b64encode(bytes(rng.getrandbits(8) for _byte in range(32))).decode('ascii')


def _ip(value):
    return '%d.%d.%d.%d' % ((value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255)


def _cidr(value, length):
    return '%s/%d' % (_ip(value), length)


def _site_shape(rng, index, kind):
    """``(declared resources, address block)`` of one site.

    Site ``index`` owns the block 10.0.0.0/8 + index * 4096, a /20 that no
    other site touches; every resource lies inside it.
    """
    block = (10 << 24) + index * 4096
    if kind == 'dc':
        lan = ('servers', block, 20)
        extras = [
            ('git', block + 0x105, 32, ['tcp/22', 'tcp/443']),
            ('dns', block + 53, 32, ['udp/53', 'tcp/53']),
            ('ldap', block + 0x20a, 32, ['tcp/389', 'tcp/636']),
            ('db', block + 0x310, 28, ['tcp/5432', 'tcp/3306']),
            ('monitoring', block + 0x40b, 32, ['tcp/3000', 'tcp/9090']),
            ('backup', block + 0x500, 24, None),
        ]
    elif kind == 'office':
        length = rng.choice((22, 23))
        lan = ('lan', block, length)
        extras = [
            ('printer', block + 40, 32, ['tcp/631', 'tcp/9100']),
            ('nas', block + 20, 32, ['tcp/445', 'udp/137-138']),
            ('voip', block + 192, 26, ['udp/5060', 'udp/10000-20000']),
            ('wifi', block + 0x800, 24, None),
        ]
    elif kind == 'store':
        lan = ('lan', block, 24)
        extras = [
            ('pos', block + 32, 27, ['tcp/443', 'tcp/8443']),
            ('cameras', block + 128, 26, ['tcp/554']),
            ('nvr', block + 10, 32, ['tcp/443', 'tcp/554']),
            ('scale', block + 20, 32, ['tcp/9100', 'udp/161']),
        ]
    else:  # a side-loaded server: services on the host itself
        host = block + 10
        lan = None
        extras = [
            ('app', host, 32, ['tcp/443']),
            ('ssh', host, 32, ['tcp/22']),
            ('metrics', host, 32, ['tcp/9100']),
            ('api', host, 32, ['tcp/8080-8089']),
            ('syslog', host, 32, ['udp/514', 'tcp/6514']),
        ]
    count = rng.randint(2, 5)
    if kind == 'dc':
        # Every data centre has a database server (dc-0000's is the payroll database).
        chosen = [lan + (None,), extras[3]] + rng.sample(extras[:3] + extras[4:], count - 2)
    elif lan is not None:
        chosen = [lan + (None,)] + rng.sample(extras, count - 1)
    else:
        chosen = rng.sample(extras, count)
    resources = []
    for res_name, address, length, ports in chosen:
        entry = {'name': res_name, 'address': _cidr(address, length) if length < 32 else _ip(address)}
        if ports:
            entry['ports'] = ports
        resources.append(entry)
    return resources, block


def _sites(rng, count, regions):
    """``(inventory sites, facts, [site descriptions])``."""
    raw, facts, described = {}, {}, []
    for index in range(count):
        roll = rng.random()
        if index % 100 == 0:
            kind = 'dc'
        elif roll < 0.08:
            kind = 'server'
        elif roll < 0.28:
            kind = 'office'
        else:
            kind = 'store'
        name = '%s-%04d' % (kind, index)
        host = ('%s.corp.example' if kind == 'server' else 'gw-%s.corp.example') % name
        resources, block = _site_shape(rng, index, kind)
        site = {'name': name}
        endpoint_ip = None
        roll = rng.random()
        if kind in ('dc', 'server') or (kind == 'store' and roll < 0.3):
            endpoint_ip = (198 << 24) + (18 << 16) + index + 1     # 198.18.0.0/15, one per site
            site['endpoint'] = _ip(endpoint_ip)
        elif kind == 'office' and roll < 0.5:
            site['endpoint'] = '%s.sites.corp.example' % name
        elif roll < 0.65:
            site['endpoint'] = '%s.sites.corp.example' % name
            site['behind_nat'] = True
            site['port_forwarding'] = True
            if rng.random() < 0.3:
                site['endpoint_port'] = 41820
        else:
            site['behind_nat'] = True
            if rng.random() < 0.05:
                # An endpoint that is never dialled (warned about).
                site['endpoint'] = '%s.sites.corp.example' % name
        if kind == 'server':
            site['router'] = False
        elif kind == 'dc' and rng.random() < 0.5:
            site['masquerade'] = True
        interfaces = [{'name': 'mc0', 'address': '100.64.0.1', 'prefix': 16}]     # the mesh itself: skipped
        if endpoint_ip is not None:
            # The uplink holds the endpoint, so it is never routed into the mesh.
            interfaces.append({'name': 'eth0', 'address': _ip(endpoint_ip), 'prefix': 24})
        else:
            site['ignore_interfaces'] = ['eth0']
            interfaces.append({'name': 'eth0', 'address': '192.168.1.2', 'prefix': 24})
        interfaces.append({'name': 'eth1', 'address': _ip(block + (10 if kind == 'server' else 1)),
                           'prefix': 24})
        site['resources'] = resources
        raw[host] = site
        facts[host] = {'public_key': _key(rng), 'interfaces': interfaces}
        dialable = 'endpoint' in site and (not site.get('behind_nat') or site.get('port_forwarding'))
        described.append({'name': name, 'kind': kind, 'region': index * regions // count,
                          'dialable': dialable, 'resources': resources})
    return raw, facts, described


def _links(rng, count, sites):
    """Hub and spokes: a dialable hub (often a data centre) with one to
    three other sites, at most one of which cannot be dialled."""
    dialable = [s for s in sites if s['dialable']]
    hubs = [s for s in dialable if s['kind'] == 'dc'] * 8 + dialable
    possible = len(dialable) + (1 if len(dialable) < len(sites) else 0)
    links = []
    for index in range(count if possible >= 2 else 0):
        members = [rng.choice(hubs)]
        size = min(rng.randint(2, 4), possible)
        blind = 0
        while len(members) < size:
            other = rng.choice(sites)
            if other in members or (not other['dialable'] and blind):
                continue
            blind += 0 if other['dialable'] else 1
            members.append(other)
        exposes = {}
        one_way = rng.random() < 0.5
        for position, site in enumerate(members):
            names = [r['name'] for r in site['resources']]
            chosen = sorted(rng.sample(names, rng.randint(0, min(2, len(names)))))
            if not one_way:
                exposes[site['name']] = chosen
            elif position == 0:
                # One way: the hub offers some resources, the spokes open connections to them.
                exposes[site['name']] = {'expose': chosen}
            else:
                exposes[site['name']] = {'connect': chosen + ['agent']}
        links.append({'name': '%s-%03d' % (rng.choice(LINK_PURPOSES), index), 'sites': exposes,
                      'description': 'hub %s' % members[0]['name']})
    return links


def _users(rng, count, groups):
    """Users in one to three teams, mostly of one region; the first few are admins."""
    by_region = {}
    for group in groups:
        by_region.setdefault(group[1], []).append(group[0])
    users = []
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = '%s.%s%d' % (first, last, index)
        primary, region = rng.choice(groups)
        teams = [primary]
        for _extra in range(rng.choice((0, 0, 1, 1, 2))):
            pool = by_region[region] if rng.random() < 0.6 else [g[0] for g in groups]
            team = rng.choice(pool)
            if team not in teams:
                teams.append(team)
        if index < ADMINS:
            teams.append('admins')
        user = {'name': name, 'groups': teams, 'email': '%s@corp.example' % name, 'public_key': _key(rng)}
        roll = rng.random()
        if index <= ADMINS:
            pass    # administrators (and the NOC lead after them) do not expire
        elif roll < 0.01:
            user['expires'] = (TODAY - datetime.timedelta(days=rng.randint(1, 200))).isoformat()  # expired
        elif roll < 0.03:
            user['expires'] = (TODAY + datetime.timedelta(days=rng.randint(1, 400))).isoformat()
        users.append(user)
    return users


def _term(rng, site):
    """``SITE``, ``SITE:RESOURCE`` or ``SITE:RESOURCE:PORTS``."""
    roll = rng.random()
    if roll < 0.3:
        return site['name']
    res = rng.choice(site['resources'])
    if roll < 0.7:
        return '%s:%s' % (site['name'], res['name'])
    ports = res.get('ports') or ['tcp/22', 'tcp/443', 'tcp/3389', 'udp/161']
    return '%s:%s:%s' % (site['name'], res['name'], ','.join(rng.sample(ports, rng.randint(1, min(2, len(ports))))))


def _policies(rng, count, sites, groups, users):
    """Ten or so policies per team, for sites of the team's region and data
    centres; some for named users; some with ``except``.

    sites[0], a data centre, holds the payroll database: only administrators
    reach that site, and not its database.
    """
    regions = {}
    for site in sites[1:]:
        regions.setdefault(site['region'], []).append(site)
    dcs = [s for s in sites[1:] if s['kind'] == 'dc'] or sites[1:]
    policies = [
        {'name': 'admins-everything', 'groups': ['admins'], 'allow': ['*'], 'except': ['%s:db' % sites[0]['name']]},
        {'name': 'noc-lead-everything', 'users': [users[ADMINS]['name']], 'allow': ['*']},
    ]
    for index in range(len(policies), count):
        group, region = groups[index % len(groups)]
        roll = rng.random()
        policy = {'name': '%s-%04d' % (group, index)}
        if roll < 0.15:
            # Named users (contractors, on-call) get narrow access.
            policy['users'] = sorted(set(rng.choice(users)['name'] for _pick in range(rng.randint(1, 5))))
        else:
            policy['groups'] = [group]
            if roll < 0.25:
                policy['groups'].append(rng.choice(groups)[0])
        local = regions[region]
        # Teams use their region's data centre and the first one (head office).
        central = (dcs[region % len(dcs)], dcs[region % len(dcs)], dcs[0])
        allow = []
        for _term_index in range(rng.randint(1, 3)):
            site = rng.choice(central) if rng.random() < 0.2 else rng.choice(local)
            allow.append(_term(rng, site))
        policy['allow'] = allow
        if rng.random() < 0.1:
            # All of a site but one resource, or but some ports of it.
            site = rng.choice(local)
            res = rng.choice(site['resources'][1:] or site['resources'])
            policy['allow'].append(site['name'])
            policy['except'] = ['%s:%s' % (site['name'], res['name'])]
            if rng.random() < 0.3:
                policy['except'][0] += ':tcp/22'
        policies.append(policy)
    return policies


def _policy_tests(rng, count, sites, users, policies):
    """Tests a reviewer would write: a team member reaches what a policy of
    the team grants; an administrator reaches a data centre."""
    members = {}
    for user in users:
        if 'expires' not in user:
            for group in user['groups']:
                members.setdefault(group, []).append(user['name'])
    tests = [{'user': users[0]['name'], 'allow': ['%s:servers' % sites[0]['name'], '*'],
              'deny': ['%s:db:tcp/5432' % sites[0]['name']]}]
    dialable = set(s['name'] for s in sites if s['dialable'])
    candidates = [p for p in policies if p.get('groups') and p['groups'][0] in members and 'except' not in p
                  and p['allow'][0].split(':')[0] in dialable]
    for policy in rng.sample(candidates, min(count - 1, len(candidates))):
        # Something of the first term's resource is reachable (its declared ports may narrow the term).
        tests.append({'user': rng.choice(members[policy['groups'][0]]),
                      'allow': [':'.join(policy['allow'][0].split(':')[:2])]})
    return tests


def make_inventory(n_sites, n_users, n_policies, n_links, seed=SEED):
    """``(inventory, facts)`` as ``mesh_plan`` passes them to ``compile_mesh``."""
    rng = random.Random('%d/%d/%d/%d/%d' % (seed, n_sites, n_users, n_policies, n_links))
    n_regions = max(1, n_sites // REGION_SIZE)
    groups = [('%s-r%02d' % (dept, region), region) for region in range(n_regions) for dept in DEPARTMENTS]
    raw_sites, facts, sites = _sites(rng, n_sites, n_regions)
    users = _users(rng, n_users, groups)
    policies = _policies(rng, n_policies, sites, groups, users)
    inventory = {
        'network': {'name': 'corp', 'cidr': '100.64.0.0/16', 'dns': ['10.0.0.53', '10.0.100.53']},
        'sites': raw_sites,
        'links': _links(rng, n_links, sites),
        'users': users,
        'policies': policies,
        'policy_tests': _policy_tests(rng, max(2, n_policies // 40), sites, users, policies),
    }
    return inventory, facts


# ----------------------------------------------------------------------
# measurement


def _import_compiler():
    """Import ``compile_mesh`` from this checkout, as tests/unit/conftest.py does."""
    candidates = [p for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS')
                  for p in os.environ.get(var, '').split(os.pathsep) if p]
    candidates.append(os.path.join(REPO, 'build', 'collections'))
    root = temporary = None
    for candidate in candidates:
        link = os.path.join(candidate, 'ansible_collections', 'meshconnect', 'mesh')
        if os.path.isdir(link) and os.path.samefile(link, REPO):
            root = candidate
            break
    if root is None:
        root = temporary = tempfile.mkdtemp(prefix='meshconnect-bench-')
        os.makedirs(os.path.join(root, 'ansible_collections', 'meshconnect'))
        os.symlink(REPO, os.path.join(root, 'ansible_collections', 'meshconnect', 'mesh'))
    sys.path.insert(0, root)
    try:
        # mesh_compile imports every module it uses: the link is not needed afterwards.
        from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_compile
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)
    return mesh_compile.compile_mesh


def child(sizes):
    """Compile one size; print ``{"seconds": ..., "peak_mib": ..., "plan_mb": ..., "matrix_mb": ..., ...}``."""
    compile_mesh = _import_compiler()
    from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_digest import canonical_json
    inventory, facts = make_inventory(*sizes)
    best = None
    runs = LARGE_RUNS if sizes == SIZES[-1] else RUNS
    for run in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = compile_mesh(inventory, facts=facts, today=TODAY)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
        failed = [t for t in result['report']['tests'] if not t['passed']]
        if failed:
            raise SystemExit('policy tests of the synthetic inventory fail: %r' % failed[:3])
        if run < runs - 1:
            del result
    # The peak is taken before the sizes below are measured (encoding them is not part of a compile).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_bytes = peak if sys.platform == 'darwin' else peak * 1024   # bytes on macOS, KiB elsewhere
    matrix = result['matrix']
    # The HTML report of plan.yml: the compile explaining its first EXPLAIN_ROWS flows, then the page.
    from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_html import report_html
    gc.collect()
    start = time.perf_counter()
    explained = compile_mesh(inventory, facts=facts, today=TODAY, explain_rows=EXPLAIN_ROWS)
    explain_seconds = time.perf_counter() - start
    report = explained['report']
    report['matrix'] = explained['matrix']
    start = time.perf_counter()
    page = report_html(report)
    html_seconds = time.perf_counter() - start
    print(json.dumps({'seconds': best, 'explain_seconds': explain_seconds, 'html_seconds': html_seconds,
                      'html_mb': len(page.encode('utf-8')) / 1e6, 'peak_mib': peak_bytes / 1048576.0,
                      'inventory_mb': len(canonical_json([inventory, facts])) / 1e6,
                      'plan_mb': len(canonical_json(result['plan'])) / 1e6,
                      'matrix_mb': len(canonical_json(matrix)) / 1e6,
                      'grant_rows': sum(len(grant) for grant in matrix['grants'].values()),
                      'classes': len(matrix['classes']), 'members': len(matrix['members'])}))


def overlap():
    """Every site also declares all of 10.0.0.0/8 (careless or hostile): each user then routes overlapping
    ranges, and the compile must refuse it as fast as a sound inventory compiles, not search every pair of
    overlapping resources."""
    compile_mesh = _import_compiler()
    from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
    inventory, facts = make_inventory(*OVERLAP_SIZES)
    for site in inventory['sites'].values():
        site['resources'].append({'name': 'everything', 'address': '10.0.0.0/8'})
    start = time.perf_counter()
    try:
        compile_mesh(inventory, facts=facts, today=TODAY)
    except MeshError as exc:
        print('%d sites each also declaring 10.0.0.0/8: refused in %.2f s (%d errors listed)'
              % (OVERLAP_SIZES[0], time.perf_counter() - start, len(exc.errors)))
        return
    raise SystemExit('an inventory whose sites all overlap compiled without an error')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--child', nargs=4, type=int, metavar=('SITES', 'USERS', 'POLICIES', 'LINKS'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--overlap', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    if args.overlap:
        overlap()
        return 0
    measured_all = []
    for sizes in SIZES:
        out = subprocess.check_output([sys.executable, os.path.abspath(__file__), '--child']
                                      + [str(n) for n in sizes])
        measured = json.loads(out.decode('utf-8').strip().splitlines()[-1])
        measured_all.append(measured)
        print('%d sites, %d users, %d policies, %d links: compile %.2f s, peak %d MiB; plan %.1f MB, '
              'matrix %.1f MB (%d grant rows, %d classes, %d principals)'
              % (sizes + (measured['seconds'], round(measured['peak_mib']), measured['plan_mb'],
                          measured['matrix_mb'], measured['grant_rows'], measured['classes'], measured['members'])))
        print('  HTML report: compile explaining %d flows %.2f s, page %.2f s, %.1f MB'
              % (EXPLAIN_ROWS, measured['explain_seconds'], measured['html_seconds'], measured['html_mb']))
        sys.stdout.flush()
    out = subprocess.check_output([sys.executable, os.path.abspath(__file__), '--overlap'])
    print(out.decode('utf-8').strip().splitlines()[-1])
    for label, small, large in (('full/half', 0, 1), ('x5/full', 1, 2)):
        ratio = dict((key, measured_all[large][key] / measured_all[small][key])
                     for key in ('seconds', 'inventory_mb', 'plan_mb', 'matrix_mb'))
        print('time ratio %s: %.2f (inventory x%.2f, plan x%.2f, matrix x%.2f)'
              % (label, ratio['seconds'], ratio['inventory_mb'], ratio['plan_mb'], ratio['matrix_mb']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
