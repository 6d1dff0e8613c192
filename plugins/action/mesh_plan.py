# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the mesh compiler (documentation in modules/mesh_plan.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh, snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import (
    key_path, load_public_key, new_key_pair, write_private_key,
)

ARGUMENT_SPEC = {
    'agents_group': {'type': 'str', 'default': 'meshconnect_agents'},
    'state_dir': {'type': 'path'},
    'record': {'type': 'bool', 'default': False},
    'record_snapshot': {'type': 'bool', 'default': True},
    'explain': {'type': 'str'},
    'fail_on_tests': {'type': 'bool', 'default': True},
    'generate_user_keys': {'type': 'bool', 'default': True},
    'today': {'type': 'str'},
}

INVENTORY_VARS = {
    'network': 'meshconnect_network',
    'links': 'meshconnect_links',
    'users': 'meshconnect_users',
    'policies': 'meshconnect_policies',
    'policy_tests': 'meshconnect_policy_tests',
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        check_mode = bool(self._task.check_mode)

        hostvars = task_vars.get('hostvars', {})
        hosts = list(task_vars.get('groups', {}).get(args['agents_group'], []))
        inventory = dict((key, self._var(task_vars, name)) for key, name in INVENTORY_VARS.items())
        inventory_dir = task_vars.get('inventory_dir') or task_vars.get('playbook_dir') or os.getcwd()
        if hosts and 'inventory_dir' in hostvars[hosts[0]]:
            inventory_dir = hostvars[hosts[0]]['inventory_dir'] or inventory_dir
        inventory_dir = os.path.abspath(inventory_dir)
        state_dir = args['state_dir'] or self._var(task_vars, 'meshconnect_state_dir')
        if not state_dir:
            network = inventory['network'] if isinstance(inventory['network'], dict) else {}
            state_dir = os.path.join(inventory_dir, state.DEFAULT_DIR, str(network.get('name') or 'default'))
        state_dir = os.path.abspath(os.path.expanduser(state_dir))
        problem = state.visible_to_inventory(state_dir, inventory_dir)
        if problem:
            return self._fail(result, problem)
        keys_dir = os.path.join(state_dir, state.KEYS)

        inventory['sites'] = {}
        live_facts = {}
        for host in hosts:
            host_vars = hostvars[host]
            inventory['sites'][host] = host_vars['meshconnect_site'] if 'meshconnect_site' in host_vars else {}
            facts = host_vars['ansible_facts'] if 'ansible_facts' in host_vars else {}
            discovered = facts.get('meshconnect_discovered')
            if discovered or facts.get('meshconnect_public_key'):
                live_facts[host] = {
                    'public_key': facts.get('meshconnect_public_key'),
                    'interfaces': list((discovered or {}).get('interfaces') or []),
                }

        lease_path = os.path.join(state_dir, state.LEASES)
        snapshot_path = os.path.join(state_dir, state.SNAPSHOT)
        facts_path = os.path.join(state_dir, state.FACTS)
        try:
            lease_state = state.read_json(lease_path)
            previous = state.read_json(snapshot_path)
            cached_facts = state.read_json(facts_path) or {}
        except state.StateError as exc:
            return self._fail(result, str(exc))
        facts = dict((host, cached_facts[host]) for host in hosts if host in cached_facts)
        facts.update(live_facts)

        written = []
        users = []
        new_keys = {}   # user -> (private, public): written only once the inventory compiles
        for entry in inventory['users'] or []:
            if isinstance(entry, dict) and entry.get('public_key') is None and isinstance(entry.get('name'), str):
                entry = dict(entry)
                public = load_public_key(keys_dir, entry['name'])
                if public is None and entry['name'] in new_keys:
                    public = new_keys[entry['name']][1]
                if public is None and args['generate_user_keys'] and not check_mode:
                    new_keys[entry['name']] = new_key_pair()
                    public = new_keys[entry['name']][1]
                entry['public_key'] = public
            users.append(entry)
        if inventory['users'] is not None:
            inventory['users'] = users

        today = datetime.datetime.now(datetime.timezone.utc).date()
        if args['today']:
            today = datetime.datetime.strptime(args['today'], '%Y-%m-%d').date()
        try:
            compiled = compile_mesh(inventory, facts=facts, lease_state=lease_state, previous=previous,
                                    today=today, explain=args['explain'])
        except MeshError as exc:
            return self._fail(result, str(exc), errors=exc.errors)

        report = compiled['report']
        report['matrix'] = compiled['matrix']
        for warning in report['warnings']:
            self._display.warning(warning)
        failed_tests = [t for t in report['tests'] if not t['passed']]
        if failed_tests and args['fail_on_tests']:
            # The plan is not usable: nothing is written (no lease, key or snapshot), and no plan returned.
            template = "  - test #%d from %s expects %s %s: %s"
            lines = [template % (t['test'], t['from'], t['expect'], t['flow'], t['detail']) for t in failed_tests]
            result.update({'report': report, 'state_dir': state_dir, 'written': []})
            return self._fail(result, 'policy tests failed:\n' + '\n'.join(lines))

        for name, (private, _public) in new_keys.items():
            write_private_key(keys_dir, name, private)
            written.append(key_path(keys_dir, name))

        diffs = []
        before = state.dumps(lease_state) if lease_state is not None else ''
        after = state.dumps(compiled['lease_state'])
        if before != after:
            diffs.append({'before_header': lease_path, 'after_header': lease_path, 'before': before, 'after': after})
            if not check_mode:
                state.write_json(lease_path, compiled['lease_state'])
                written.append(lease_path)
        recorded = snapshot(compiled)
        if args['record'] and not check_mode:
            if args['record_snapshot'] and state.write_json(snapshot_path, recorded):
                written.append(snapshot_path)
            if live_facts:
                merged = dict(cached_facts)
                merged.update(live_facts)
                if state.write_json(facts_path, merged):
                    written.append(facts_path)

        result.update({
            'changed': bool(diffs) or bool(written),
            'plan': compiled['plan'],
            'report': report,
            'snapshot': recorded,
            'snapshot_file': snapshot_path,
            'state_dir': state_dir,
            'written': written,
        })
        if diffs and self._task.diff:
            result['diff'] = diffs
        return result

    def _var(self, task_vars, name):
        if name not in task_vars:
            return None
        return self._templar.template(task_vars[name])

    @staticmethod
    def _fail(result, msg, errors=None):
        result.update({'failed': True, 'msg': msg})
        if errors is not None:
            result['errors'] = errors
        return result
