# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge costs on a fresh demo lab (make bench-lab; Docker, about 5 minutes).

Rebuilds the demo lab of inventories/lab (lab-down.yml, lab-up.yml: a running demo is replaced), then times
  1. the first converge of playbooks/site.yml (packages installed, every file written, tunnels up),
  2. a re-run that has nothing to do (it must report changed=0 on every host), and its ratio to the first,
  3. one policy change applied live (tests/bench/lab-policy-change.yml, passed with -e: the inventory is not
     edited), while alice pings hq's app through her tunnel and hq every 0.2 s: wall time and packets lost,
  4. the change undone (site.yml without the overlay).
The lab is left up with the lab's own policy and the users' tunnels (`make demo-down` removes it).
The slowest tasks of the no-op re-run are printed from ansible.posix.profile_tasks.
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, 'inventories', 'lab')
OVERLAY = os.path.join(ROOT, 'tests', 'bench', 'lab-policy-change.yml')
PING_INTERVAL = 0.2


def playbook(path, *extra, quiet=True):
    """Run one playbook on the demo lab; return (seconds, output). Fails the bench on a failed run."""
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks', ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORCE_COLOR='0', PROFILE_TASKS_TASK_OUTPUT_LIMIT='8')
    cmd = ['ansible-playbook', '-i', INVENTORY, os.path.join(ROOT, path)] + list(extra)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-6000:])
        sys.exit('bench-lab: %s failed (rc %d)' % (' '.join(cmd[3:]), proc.returncode))
    if not quiet:
        sys.stdout.write(proc.stdout)
    return took, proc.stdout


def recap(output):
    """host -> changed count from the PLAY RECAP."""
    tail = output.split('PLAY RECAP')[-1]
    return dict((m.group(1), int(m.group(2))) for m in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)', tail, re.M))


def slowest(output, count=8):
    tail = output.split('TASKS RECAP')[-1].splitlines()
    rows = [line for line in tail if re.search(r'-{2,} +\d+\.\d+s$', line)]
    return rows[:count]


def docker(*args):
    return subprocess.run(['docker'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.strip()


def main():
    if '--no-rebuild' in sys.argv[1:]:    # the lab was just created and nothing converged on it yet
        print('bench-lab: on the demo lab as it is (inventories/lab)')
    else:
        print('bench-lab: rebuilding the demo lab (inventories/lab)')
        playbook('tests/lab/lab-down.yml')
        playbook('tests/lab/lab-up.yml')

    first, out1 = playbook('playbooks/site.yml')
    second, out2 = playbook('playbooks/site.yml')
    changed = recap(out2)
    if any(changed.values()):
        sys.exit('bench-lab: the re-run changed something: %s' % changed)
    print('first converge of site.yml:      %6.1f s (changed per host: %s)' % (
        first, ', '.join('%s %d' % item for item in sorted(recap(out1).items()))))
    print('no-op re-run:                    %6.1f s (changed=0 on every host)' % second)
    print('ratio no-op / first:             %6.0f %%' % (100.0 * second / first))
    print('slowest tasks of the no-op re-run (all hosts at once):')
    for row in slowest(out2):
        print('    ' + row)

    playbook('playbooks/users.yml')
    playbook('tests/lab/users-up.yml')
    target = docker('inspect', '-f', '{{ (index .NetworkSettings.Networks "mc-lab-hq-lan").IPAddress }}',
                    'mc-lab-hq-app')
    docker('exec', 'mc-lab-alice', 'sh', '-c',
           'rm -f /tmp/bench-ping.log; ping -n -i %s %s >/tmp/bench-ping.log 2>&1 & echo $! >/tmp/bench-ping.pid'
           % (PING_INTERVAL, target))
    time.sleep(2)
    live, out3 = playbook('playbooks/site.yml', '-e', '@' + OVERLAY)
    time.sleep(2)
    docker('exec', 'mc-lab-alice', 'sh', '-c', 'kill -INT "$(cat /tmp/bench-ping.pid)"; sleep 1')
    ping = docker('exec', 'mc-lab-alice', 'cat', '/tmp/bench-ping.log')
    stats = re.search(r'(\d+) packets transmitted, (\d+) received', ping)
    if not stats:
        sys.exit('bench-lab: no ping statistics from alice: %s' % ping[-500:])
    sent, received = int(stats.group(1)), int(stats.group(2))
    hq_changed = recap(out3).get('hq', 0)
    if not hq_changed:
        sys.exit('bench-lab: the policy change changed nothing on hq')
    print('live policy change (-e @%s): %6.1f s (changed per host: %s)' % (
        os.path.relpath(OVERLAY, ROOT), live,
        ', '.join('%s %d' % item for item in sorted(recap(out3).items()))))
    print('alice pinging hq-app (%s) through hq every %.1f s meanwhile: %d sent, %d lost' % (
        target, PING_INTERVAL, sent, sent - received))
    undo, _out4 = playbook('playbooks/site.yml')
    print('change undone (site.yml again):  %6.1f s' % undo)
    print('the demo lab is up; `make demo-down` removes it')
    if sent - received:
        sys.exit('bench-lab: the live change lost packets')


if __name__ == '__main__':
    main()
