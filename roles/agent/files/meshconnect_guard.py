# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meshconnect-guard: the agent's fail-closed guard (installed by meshconnect.mesh.agent).

    meshconnect-guard load             load the firewall file (atomic; only table inet meshconnect)
    meshconnect-guard up IFACE         wg-quick PreUp: load the firewall, then put the routing guard in place
    meshconnect-guard rules IFACE      put the routing guard in place (idempotent); prints what it changed
    meshconnect-guard check IFACE      exit 0 when the table is loaded and the guard is complete; print JSON
    meshconnect-guard watch IFACE      run forever: restore the table and the guard whenever they go missing

Settings come from /etc/meshconnect/guard.json (written by the role):
firewall (the ruleset file), mark (the packet mark bit our table sets),
priority (the first of six policy routing rule priorities) and overlay (the
mesh's prefix).

The routing guard. The table marks every packet that arrives on the mesh
interface, and every packet headed for the overlay, with `mark`. These
policy routing rules, which no nftables flush touches, let only marked
packets through:

    P+0  iif IFACE fwmark M/M goto P+5     marked traffic from the mesh is routed normally
    P+1  iif IFACE blackhole               unmarked traffic from the mesh is never forwarded
    P+2  iif lo goto P+5                   the agent's own traffic is not concerned
    P+3  to OVERLAY fwmark M/M goto P+5    marked traffic towards the overlay is routed normally
    P+4  to OVERLAY blackhole              unmarked traffic from the site never reaches a user
    P+5  nop

So when the table is gone (a flushed ruleset, a firewall file that failed to
load at boot), the tunnel forwards nothing in either direction.

The input guard. While `watch` runs (meshconnect-firewall.service), it holds
a table of its own, `inet meshconnect_guard`, created with `flags owner`: no
other process can delete it and `nft flush ruleset` leaves it in place. It
drops unmarked traffic from the mesh to the agent itself, so that the agent's
own services stay closed to the mesh until the table is back.

Standard library only (python3-nftables for the input guard, when present).
"""

import json
import os
import select
import subprocess
import sys
import time

CONFIG = os.environ.get('MESHCONNECT_GUARD_CONFIG', '/etc/meshconnect/guard.json')
TABLE = ('inet', 'meshconnect')
STAMP_DIR = '/run/meshconnect'
CHECK_EVERY = 5.0


def log(message):
    sys.stdout.write('meshconnect-guard: %s\n' % message)
    sys.stdout.flush()


def run(args, check=True):
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(args), proc.stderr.strip()))
    return proc


def settings():
    with open(CONFIG) as handle:
        config = json.load(handle)
    config['mark'] = int(str(config['mark']), 0)
    config['priority'] = int(config['priority'])
    return config


# ----------------------------------------------------------------------
# the table


def table_loaded():
    return run(['nft', 'list', 'table'] + list(TABLE), check=False).returncode == 0


def load(config):
    """Load the ruleset file: one atomic transaction that replaces only our table."""
    run(['nft', '-f', config['firewall']])
    os.makedirs(STAMP_DIR, exist_ok=True)
    with open(os.path.join(STAMP_DIR, 'firewall.loaded'), 'w') as handle:
        handle.write('%.3f\n' % time.time())


# ----------------------------------------------------------------------
# the routing guard


def wanted_rules(config, iface):
    """``[(priority, selector, action)]`` in the shape ``ip -j rule`` reports them."""
    p, mark, overlay = config['priority'], config['mark'], config['overlay']
    marked = {'fwmark': hex(mark), 'fwmask': hex(mark)}
    net, _sep, length = overlay.partition('/')
    to_overlay = {'dst': net, 'dstlen': int(length)}
    return [
        (p, dict(marked, iifname=iface), ('goto', p + 5)),
        (p + 1, {'iifname': iface}, ('blackhole', None)),
        (p + 2, {'iifname': 'lo'}, ('goto', p + 5)),
        (p + 3, dict(marked, **to_overlay), ('goto', p + 5)),
        (p + 4, to_overlay, ('blackhole', None)),
        (p + 5, {}, ('nop', None)),
    ]


def _rule_args(rule):
    priority, selector, (action, target) = rule
    args = ['pref', str(priority)]
    if 'iifname' in selector:
        args += ['iif', selector['iifname']]
    if 'dst' in selector:
        args += ['to', '%s/%d' % (selector['dst'], selector['dstlen'])]
    if 'fwmark' in selector:
        args += ['fwmark', '%s/%s' % (selector['fwmark'], selector['fwmask'])]
    args += [action] + ([str(target)] if target is not None else [])
    return args


def _normalise(entry):
    """``(priority, selector, action)`` of one ``ip -j rule`` entry."""
    selector = {}
    if entry.get('iif'):
        selector['iifname'] = entry['iif']
    if entry.get('dst') not in (None, 'all'):
        selector['dst'] = entry['dst']
        selector['dstlen'] = int(entry.get('dstlen', 32))
    if 'fwmark' in entry:
        selector['fwmark'] = hex(int(str(entry['fwmark']), 0))
        selector['fwmask'] = hex(int(str(entry.get('fwmask', '0xffffffff')), 0))
    for key in ('src', 'oif', 'table', 'srclen', 'tos', 'ipproto', 'sport', 'dport', 'uidrange', 'l3mdev'):
        if key in entry and not (key == 'src' and entry[key] == 'all'):
            selector[key] = entry[key]     # anything else makes the rule foreign
    if 'goto' in entry:
        action = ('goto', int(entry['goto']))
    elif entry.get('action') in ('blackhole', 'unreachable', 'prohibit'):
        action = (entry['action'], None)
    elif 'nop' in entry:
        action = ('nop', None)
    else:
        action = ('lookup', None)
    return (int(entry.get('priority', 0)), selector, action)


def _delete_args(entry):
    """``ip rule del`` arguments that match one ``ip -j rule`` entry exactly enough."""
    args = ['pref', str(entry['priority'])]
    if entry.get('iif'):
        args += ['iif', entry['iif']]
    if entry.get('oif'):
        args += ['oif', entry['oif']]
    if entry.get('src') not in (None, 'all'):
        args += ['from', '%s/%s' % (entry['src'], entry.get('srclen', 32))]
    if entry.get('dst') not in (None, 'all'):
        args += ['to', '%s/%s' % (entry['dst'], entry.get('dstlen', 32))]
    if 'fwmark' in entry:
        args += ['fwmark', '%s/%s' % (entry['fwmark'], entry.get('fwmask', '0xffffffff'))]
    if 'goto' in entry:
        args += ['goto', str(entry['goto'])]
    elif entry.get('action') in ('blackhole', 'unreachable', 'prohibit'):
        args += [entry['action']]
    elif 'nop' in entry:
        args += ['nop']
    elif 'table' in entry:
        args += ['table', str(entry['table'])]
    return args


def live_rules(config):
    """``[(normalised rule, ip -j entry)]`` at our six priorities."""
    out = run(['ip', '-j', '-4', 'rule', 'show']).stdout
    first = config['priority']
    return [(_normalise(e), e) for e in json.loads(out or '[]') if first <= int(e.get('priority', 0)) <= first + 5]


def guard_problems(config, iface):
    """What is wrong with the routing guard, as text (empty when complete)."""
    wanted = wanted_rules(config, iface)
    live = live_rules(config)
    got = [rule for rule, _entry in live]
    problems = ['missing: %s' % ' '.join(_rule_args(rule)) for rule in wanted if rule not in got]
    problems += ['foreign: %s' % ' '.join(_delete_args(entry)) for rule, entry in live if rule not in wanted]
    return problems


def ensure_rules(config, iface):
    """Make the six rules exactly the wanted ones. Missing rules go in first,
    blackholes before the gotos that let marked traffic past them, so that
    the guard never opens; foreign rules at our priorities are removed last."""
    wanted = wanted_rules(config, iface)
    live = live_rules(config)
    got = [rule for rule, _entry in live]
    changes = []
    for index in (5, 1, 4, 0, 2, 3):
        rule = wanted[index]
        if rule not in got:
            run(['ip', '-4', 'rule', 'add'] + _rule_args(rule))
            changes.append('added rule %s' % ' '.join(_rule_args(rule)))
    for rule, entry in live:
        if rule not in wanted:
            run(['ip', '-4', 'rule', 'del'] + _delete_args(entry))
            changes.append('removed rule %s' % ' '.join(_delete_args(entry)))
    return changes


def interface_exists(iface):
    return os.path.exists('/sys/class/net/%s' % iface)


# ----------------------------------------------------------------------
# commands


def cmd_check(config, iface):
    report = {'table_loaded': table_loaded(), 'guard': guard_problems(config, iface)}
    print(json.dumps(report, sort_keys=True))
    return 0 if report['table_loaded'] and not report['guard'] else 1


GUARD_TABLE = 'meshconnect_guard'


def input_guard(config, iface):
    """The input guard: a table owned by this process (``flags owner``, Linux
    5.12 and newer), which no other process can delete and ``nft flush
    ruleset`` leaves alone. It drops what arrives from the mesh for the agent
    itself unless our table marked it, so that the agent's own services stay
    closed to the mesh while our table is missing. It lives as long as this
    process (the libnftables context holds its netlink socket); None when the
    kernel or python3-nftables cannot do it."""
    try:
        import nftables
    except ImportError:
        log('python3-nftables is not installed: no input guard while the table is missing')
        return None
    context = nftables.Nftables()
    mark = '0x%08x' % config['mark']
    commands = '\n'.join([
        'add table inet %s { flags owner; }' % GUARD_TABLE,
        'add chain inet %s input { type filter hook input priority filter - 10; policy accept; }' % GUARD_TABLE,
        'add rule inet %s input iifname "%s" meta mark and %s != %s drop' % (GUARD_TABLE, iface, mark, mark),
    ])
    rc, _out, err = context.cmd(commands)
    if rc != 0:
        log('no input guard (a kernel older than 5.12 has no owned tables): %s' % err.strip())
        return None
    return context


def cmd_watch(config, iface):
    """Restore the table (and the routing guard) whenever they go missing: at
    once on the nftables event that removed the table, and every few seconds
    anyway; hold the input guard meanwhile."""
    monitor = subprocess.Popen(['nft', 'monitor', 'tables'], stdout=subprocess.PIPE, universal_newlines=True,
                               bufsize=1)
    guard = input_guard(config, iface)
    log('watching table %s %s (firewall %s)%s' % (TABLE + (config['firewall'],) +
                                                  (', input guard held' if guard else '',)))
    try:
        while True:
            ready, _w, _x = select.select([monitor.stdout], [], [], CHECK_EVERY)
            if ready:
                line = monitor.stdout.readline()
                if not line:
                    raise RuntimeError('nft monitor ended')
                if 'delete table %s %s' % TABLE not in line:
                    continue
            if not table_loaded():
                try:
                    config = settings()     # the role may have rewritten them since
                    load(config)
                    log('table %s %s was removed (a flushed ruleset?); restored it from %s'
                        % (TABLE + (config['firewall'],)))
                except RuntimeError as exc:
                    log('table %s %s is missing and cannot be restored: %s; the tunnel carries nothing until '
                        'it is' % (TABLE + (exc,)))
            if interface_exists(iface):
                for change in ensure_rules(config, iface):
                    log('routing guard repaired: %s' % change)
    finally:
        monitor.kill()
        del guard


def main(argv):
    if not argv or argv[0] not in ('load', 'up', 'rules', 'check', 'watch'):
        sys.stderr.write('usage:\n' + __doc__.split('\n\n')[1] + '\n')
        return 2
    command = argv[0]
    config = settings()
    iface = argv[1] if len(argv) > 1 else None
    if command != 'load' and not iface:
        sys.stderr.write('meshconnect-guard %s needs the interface name\n' % command)
        return 2
    try:
        if command == 'load':
            load(config)
        elif command == 'up':
            # wg-quick PreUp: no table, no tunnel.
            load(config)
            ensure_rules(config, iface)
        elif command == 'rules':
            for change in ensure_rules(config, iface):
                print(change)
        elif command == 'check':
            return cmd_check(config, iface)
        elif command == 'watch':
            cmd_watch(config, iface)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        sys.stderr.write('meshconnect-guard %s: %s\n' % (command, exc))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
