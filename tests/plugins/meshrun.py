# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the collection's playbooks with ``ansible-playbook`` on throw-away inventories.

Every inventory is written into a temporary directory, so mesh_plan's default
state directory (``INVENTORY_DIR/.meshconnect/NETWORK``, see ``state_dir``)
lands there too.  Agent hosts are fakes that cannot be reached (TEST-NET-1
addresses over SSH with a 1 s timeout): a task that tried to touch one would
show up as UNREACHABLE.

``conftest.py`` makes the collection importable (the mechanism of
``tests/unit/conftest.py``) and sets ``COLLECTIONS_ROOT`` before tests run.
"""

import copy
import os
import re
import shutil
import stat
import subprocess
import sys

import yaml

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOKS = os.path.join(REPO, 'playbooks')
VAULT_PASSWORD_FILE = os.path.join(HERE, 'vault-password')
COLLECTIONS_ROOT = None     # set by conftest.py

# Fixed, valid WireGuard public keys (32 bytes in base64), for users that must not get a generated key.
CAROL_KEY = 'Q2Fyb2xDYXJvbENhcm9sQ2Fyb2xDYXJvbENhcm9sISE='
DAVE_KEY = 'RGF2ZURhdmVEYXZlRGF2ZURhdmVEYXZlRGF2ZURhdmU='

AGENTS = {
    'gw-hq': '192.0.2.1',
    'gw-branch': '192.0.2.2',
    'gw-lab': '192.0.2.3',
}

BASE = {
    'network': {'name': 'testnet', 'cidr': '100.96.0.0/24', 'port': 51820, 'interface': 'mc0'},
    'sites': {
        'gw-hq': {
            'name': 'hq',
            'endpoint': '198.51.100.1',
            'resources': [
                {'name': 'lan', 'address': '10.10.0.0/24'},
                {'name': 'db', 'address': '10.10.0.5', 'ports': ['tcp/5432']},
                {'name': 'web', 'address': '10.10.0.80', 'ports': ['tcp/80', 'tcp/443']},
            ],
        },
        'gw-branch': {
            'name': 'branch',
            'endpoint': '198.51.100.2',
            'resources': [
                {'name': 'lan', 'address': '10.20.0.0/24'},
            ],
        },
    },
    'links': [
        {'name': 'hq-branch', 'sites': {'hq': ['lan'], 'branch': ['lan']}},
    ],
    'users': [
        {'name': 'alice', 'groups': ['admins'], 'generate_key': True},
        {'name': 'bob', 'groups': ['developers'], 'generate_key': True},
        {'name': 'carol', 'groups': ['developers'], 'public_key': CAROL_KEY},
    ],
    'policies': [
        {'name': 'admins-everything', 'groups': ['admins'], 'allow': ['*']},
        {'name': 'developers-web', 'groups': ['developers'], 'allow': ['hq:web:tcp/443']},
    ],
    'policy_tests': [
        {'user': 'alice', 'allow': ['hq:db:tcp/5432', 'branch:lan']},
        {'user': 'bob', 'allow': ['hq:web:tcp/443'], 'deny': ['hq:db', 'branch']},
    ],
}

GROUP_VARS = {
    'network': 'meshconnect_network',
    'links': 'meshconnect_links',
    'users': 'meshconnect_users',
    'policies': 'meshconnect_policies',
    'policy_tests': 'meshconnect_policy_tests',
}


def state_dir(inventory_dir, network='testnet'):
    """Where mesh_plan keeps the state of ``network`` by default."""
    return os.path.join(inventory_dir, mesh_state.DEFAULT_DIR, network)


def inventory(**changes):
    """A deep copy of ``BASE`` with top-level keys replaced."""
    inv = copy.deepcopy(BASE)
    inv.update(copy.deepcopy(changes))
    return inv


def write_inventory(directory, inv=None):
    """Write ``inv`` as an inventory directory (hosts.yml, group_vars, host_vars); return its path."""
    inv = inventory() if inv is None else inv
    os.makedirs(os.path.join(directory, 'group_vars', 'all'), exist_ok=True)
    os.makedirs(os.path.join(directory, 'host_vars'), exist_ok=True)
    hosts = {}
    for host in inv['sites']:
        hosts[host] = {
            'ansible_host': AGENTS[host],
            'ansible_connection': 'ssh',
            'ansible_user': 'nobody',
            'ansible_port': 22,
            'ansible_ssh_timeout': 1,
            'ansible_timeout': 1,
            'ansible_ssh_retries': 0,
            'ansible_ssh_args': '-o ControlMaster=no',    # no master process left behind
        }
    _dump(os.path.join(directory, 'hosts.yml'), {'all': {'children': {'meshconnect_agents': {'hosts': hosts}}}})
    mesh = dict((var, inv[key]) for key, var in GROUP_VARS.items() if key in inv)
    _dump(os.path.join(directory, 'group_vars', 'all', 'mesh.yml'), mesh)
    for host, site in inv['sites'].items():
        _dump(os.path.join(directory, 'host_vars', '%s.yml' % host), {'meshconnect_site': site})
    return directory


def _dump(path, data):
    with open(path, 'w') as handle:
        handle.write('---\n')
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=True)


class Run:
    """The outcome of one ``ansible-playbook`` run."""

    def __init__(self, args, proc):
        self.args = args
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.output = proc.stdout + '\n' + proc.stderr

    @property
    def log(self):
        """Everything about the run, as assertion messages show it (pytest shortens the repr of objects)."""
        return 'ansible-playbook exited %d: %s\n--- stdout\n%s\n--- stderr\n%s' % (
            self.rc, ' '.join(self.args), self.stdout, self.stderr)

    def __repr__(self):
        return 'Run(rc=%d, args=%r)' % (self.rc, self.args)

    def recap(self):
        """host -> {ok: N, changed: N, unreachable: N, failed: N, ...} from the PLAY RECAP."""
        _head, sep, tail = self.stdout.partition('PLAY RECAP')
        assert sep, 'no PLAY RECAP in the output:\n' + self.log
        out = {}
        for line in tail.splitlines()[1:]:
            match = re.match(r'^(\S+)\s+:\s+(.*)$', line)
            if not match:
                continue
            out[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', match.group(2)))
        return out

    def task_status(self, task_name, host='localhost'):
        """``ok``, ``changed``, ``failed``, ... reported for ``host`` by the task named ``task_name``."""
        marker = 'TASK [%s]' % task_name
        _head, sep, tail = self.stdout.partition(marker)
        assert sep, 'task %r did not run:\n%s' % (task_name, self.log)
        match = re.search(r'^(ok|changed|failed|fatal|skipping|unreachable|FAILED - RETRYING): \[%s\]'
                          % re.escape(host), tail, re.M)
        assert match, 'no status of %s in task %r:\n%s' % (host, task_name, self.log)
        return match.group(1)


def ansible_playbook():
    """The ``ansible-playbook`` of the interpreter running the tests, else the one on PATH."""
    candidate = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    if os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which('ansible-playbook')
    if not found:
        raise RuntimeError('ansible-playbook not found: run the tests from the venv (make unit)')
    return found


def run_playbook(workdir, inventory_dir, playbook, *extra, **kwargs):
    """Run ``playbook`` (a path, or a name in playbooks/) against ``inventory_dir``; never raises on failure."""
    if not os.path.isabs(playbook):
        playbook = os.path.join(PLAYBOOKS, playbook)
    assert COLLECTIONS_ROOT, 'conftest.py did not set meshrun.COLLECTIONS_ROOT'
    executable = ansible_playbook()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('ANSIBLE_'))
    env.update({
        'PATH': os.path.dirname(executable) + os.pathsep + os.environ.get('PATH', ''),
        'ANSIBLE_CONFIG': os.path.join(REPO, 'ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS_ROOT,
        'ANSIBLE_HOME': os.path.join(workdir, '.ansible-home'),
        'ANSIBLE_LOCAL_TEMP': os.path.join(workdir, '.ansible-tmp'),
        'ANSIBLE_REMOTE_TMP': os.path.join(workdir, '.ansible-remote-tmp'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        # The controller keeps the keys it makes (generate_key) encrypted with this (test-only) vault password.
        'ANSIBLE_VAULT_PASSWORD_FILE': VAULT_PASSWORD_FILE,
        'PYTHONDONTWRITEBYTECODE': '1',
    })
    env.update(kwargs.pop('env', {}))
    env = dict((k, v) for k, v in env.items() if v is not None)     # None: leave the variable unset
    assert not kwargs, 'unknown arguments %r' % kwargs
    args = [executable, '-i', inventory_dir, playbook] + list(extra)
    proc = subprocess.run(args, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=180, check=False)
    return Run(args, proc)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot_tree(root):
    """relative path -> (mode, bytes) of every file and directory under ``root``.

    The run lock (``.lock``, taken by every run, even one that fails) is not state: it is left out,
    and so is a directory that holds nothing else.
    """
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            out[os.path.relpath(path, root)] = (mode(path), None)
        for name in filenames:
            if name == '.lock':
                continue
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as handle:
                out[os.path.relpath(path, root)] = (mode(path), handle.read())
    for rel in sorted((k for k, v in out.items() if v[1] is None), key=len, reverse=True):
        if not any(other.startswith(rel + os.sep) for other in out):
            del out[rel]
    return out


def write_playbook(path, text):
    with open(path, 'w') as handle:
        handle.write(text)
    return path


def open_key_file(path):
    """The private key in a key file the controller wrote, opened with the tests' vault password."""
    from ansible.parsing.vault import VaultLib, VaultSecret
    with open(VAULT_PASSWORD_FILE, 'rb') as handle:
        secret = VaultSecret(handle.read().strip())
    with open(path, 'rb') as handle:
        data = handle.read()
    return VaultLib([('default', secret)]).decrypt(data).decode('ascii').strip()
