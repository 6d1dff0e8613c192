# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the mesh compiler (documentation in modules/mesh_plan.py)."""

import datetime
import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import compile_mesh, snapshot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import (
    DEVICE_KEYS_VERSION, KeyFileError, KeyLockedError, device_keys_problems, is_encrypted, key_path, load_public_key,
    new_key_pair, read_private_key, write_private_key,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_pins import check_accepted, key_changes
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import change_lines
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_psk import MIN_SECRET, secret_problem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_schema import (
    MAX_EXPANDED, check_facts, expanded_size, shape_and_clean,
)
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_action import fail, lock_timeout, play_var
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_vault import vault_codec

ARGUMENT_SPEC = {
    'agents_group': {'type': 'str', 'default': 'meshconnect_agents'},
    'state_dir': {'type': 'path'},
    'record': {'type': 'bool', 'default': False},
    'record_snapshot': {'type': 'bool', 'default': True},
    'explain': {'type': 'str'},
    'explain_rows': {'type': 'int', 'default': 0},
    'fail_on_tests': {'type': 'bool', 'default': True},
    'generate_user_keys': {'type': 'bool', 'default': True},
    'today': {'type': 'str'},
    'readonly': {'type': 'bool'},
    'lock_timeout': {'type': 'int'},
}

# Magic variables that are Ansible's own views of the whole inventory, not values of it.
UNCHECKED_VARS = frozenset(('hostvars', 'groups', 'vars', 'omit', 'ansible_facts', 'play_hosts',
                            'ansible_play_hosts', 'ansible_play_hosts_all', 'ansible_play_batch'))

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
        # A value built to explode when expanded (nested YAML aliases) is refused before anything renders
        # it: the mesh variables, and any variable they could name in a template, of this play and of every
        # agent (sizes of values shared between hosts, such as group_vars, are computed once).
        sizes = {}
        bombs = self._bombs(task_vars, sizes, '')
        raw_hosts = {}
        for host in hosts:
            host_vars = hostvars[host]
            raw = getattr(host_vars, '_vars', None)
            if raw is None and hasattr(hostvars, 'raw_get'):
                raw = hostvars.raw_get(host)
            raw_hosts[host] = raw
            bombs.extend(self._bombs(raw if isinstance(raw, dict) else {}, sizes, "host '%s': " % host))
        if bombs:
            msg = ('%s expand%s to more than %d values through YAML aliases (a "billion laughs"); nothing was '
                   'rendered. Fix: write the values out, or use aliases only for small, flat values.'
                   % (', '.join(bombs[:10]) + (' and %d more' % (len(bombs) - 10) if len(bombs) > 10 else ''),
                      's' if len(bombs) == 1 else '', MAX_EXPANDED))
            return self._fail(result, msg)
        del raw_hosts, sizes
        inventory = dict((key, self._var(task_vars, name)) for key, name in INVENTORY_VARS.items())
        inventory['sites'] = {}
        for host in hosts:
            host_vars = hostvars[host]
            inventory['sites'][host] = host_vars['meshconnect_site'] if 'meshconnect_site' in host_vars else {}
        # Nothing below reads an inventory value (the network's name for the state directory, users' names
        # for their key files) before its shape is checked.
        shape, clean = shape_and_clean(inventory)
        if shape:
            errors = list(shape)
            if clean is not None:
                try:    # what is well formed is still validated, so that one run lists every problem
                    compile_mesh(clean)
                except MeshError as exc:
                    errors.extend(e for e in exc.errors if e not in errors)
            return self._fail(result, str(MeshError(errors)), errors=errors)

        # Preshared keys: the secret is only checked here (never returned); the plan says whether it is used.
        secret = self._var(task_vars, 'meshconnect_preshared_key_secret')
        preshared = secret not in (None, '')
        problem = secret_problem(secret) if preshared else None
        del secret
        if problem:
            errors = ['meshconnect_preshared_key_secret %s. Fix: set it to a random text of at least %d characters '
                      'in Ansible Vault, or leave it out (no preshared keys).' % (problem, MIN_SECRET)]
            return self._fail(result, str(MeshError(errors)), errors=errors)

        inventory_dir = task_vars.get('inventory_dir') or task_vars.get('playbook_dir') or os.getcwd()
        if hosts and 'inventory_dir' in hostvars[hosts[0]]:
            inventory_dir = hostvars[hosts[0]]['inventory_dir'] or inventory_dir
        inventory_dir = os.path.abspath(inventory_dir)
        state_dir = args['state_dir'] or self._var(task_vars, 'meshconnect_state_dir')
        if not state_dir:
            state_dir = os.path.join(inventory_dir, state.DEFAULT_DIR, inventory['network']['name'])
        state_dir = os.path.abspath(os.path.expanduser(state_dir))
        problem = state.visible_to_inventory(state_dir, inventory_dir)
        if problem:
            return self._fail(result, problem)

        timeout, problem = lock_timeout(args['lock_timeout'], self._templar, task_vars)
        if problem:
            return self._fail(result, problem)
        # Read-only state (a job on a fresh checkout of the inventory's repository): nothing is written, and a
        # change the state needs fails the run with what to commit (see _needs_commit).
        readonly = args['readonly']
        if readonly is None:
            readonly = self._var(task_vars, 'meshconnect_state_readonly')
        readonly = bool(readonly) and str(readonly).lower() not in ('false', 'no', '0')
        if not readonly and not state.writable(state_dir):
            readonly = True
            self._display.warning('%s cannot be written: the state is read-only for this run' % state_dir)
        try:
            if readonly:    # no lock file either: readers of a read-only directory need none
                return self._run_locked(result, args, task_vars, inventory, hosts, state_dir, True, preshared,
                                        readonly=True)
            # Runs that write (not in check mode) hold the state directory alone; readers share it.
            with state.StateLock(state_dir, exclusive=not check_mode, timeout=timeout,
                                 notify=self._display.display):
                return self._run_locked(result, args, task_vars, inventory, hosts, state_dir, check_mode,
                                        preshared)
        except state.StateError as exc:
            return self._fail(result, str(exc))

    def _run_locked(self, result, args, task_vars, inventory, hosts, state_dir, check_mode, preshared,
                    readonly=False):
        hostvars = task_vars.get('hostvars', {})
        keys_dir = os.path.join(state_dir, state.KEYS)
        live_facts = {}
        for host in hosts:
            host_vars = hostvars[host]
            facts = host_vars['ansible_facts'] if 'ansible_facts' in host_vars else {}
            discovered = facts.get('meshconnect_discovered')
            if discovered or facts.get('meshconnect_public_key'):
                live_facts[host] = {
                    'public_key': facts.get('meshconnect_public_key'),
                    'interfaces': list((discovered or {}).get('interfaces') or []),
                }

        state.check_complete(state_dir)
        lease_path = os.path.join(state_dir, state.LEASES)
        snapshot_path = os.path.join(state_dir, state.SNAPSHOT)
        facts_path = os.path.join(state_dir, state.FACTS)
        lease_state = state.read_json(lease_path)
        previous = state.read_json(snapshot_path)
        state.check_document(snapshot_path, previous, {'version': int, 'digest': str, 'matrix': dict})
        # site.yml records the agents here after they applied the plan: damage is named before any host is touched.
        applied_path = os.path.join(state_dir, state.APPLIED)
        state.check_applied(applied_path, state.read_json(applied_path))
        cached_facts = state.read_json(facts_path)
        damage = check_facts(cached_facts)
        if damage:
            raise state.StateError('%s is damaged: %s. Fix: restore it from version control (it pins the agents\' '
                                   'keys); removed, the next site.yml run pins whatever keys the agents report.'
                                   % (facts_path, damage[0]))
        cached_facts = cached_facts or {}
        # An agent key that differs from its pin stops the run here, before any host is configured.
        site_of = dict((host, (inventory['sites'].get(host) or {}).get('name') or host) for host in hosts)
        accepted = self._var(task_vars, 'meshconnect_accept_agent_keys')
        problems = check_accepted(accepted, set(site_of.values()))
        key_report, changed_keys = key_changes(cached_facts, live_facts, accepted if not problems else None,
                                               site_of)
        problems.extend(changed_keys)
        if problems:
            return self._fail(result, str(MeshError(problems)), errors=problems)
        facts = dict((host, cached_facts[host]) for host in hosts if host in cached_facts)
        facts.update(live_facts)

        written = []
        fixed = state.repair_modes(state.private_paths(keys_dir, ('.key',)), check_mode)
        for path, old, new in fixed:
            self._display.warning('%s had mode %s; %s %s (private keys are for this controller only)'
                                  % (path, old, 'it would be put back to' if check_mode else 'put back to', new))

        new_keys = {}   # device -> (private, public): written only once the inventory compiles
        plain = []      # devices whose key file older versions wrote in plain text: encrypted once it compiles
        needed = []     # what a read-only run would have to write (see _needs_commit)
        damaged = []
        codec = vault_codec(self._loader)
        # The public halves of the controller's key pairs, committed with the leases: a run without the vault
        # password or without the private keys (a read-only checkout, an agent in pull mode) reads them there.
        device_keys_path = os.path.join(state_dir, state.DEVICE_KEYS)
        recorded = state.read_json(device_keys_path)
        damage = device_keys_problems(recorded) if recorded is not None else []
        if damage:
            raise state.StateError('%s is damaged: %s. Fix: restore it from version control; removed, the next run '
                                   'that can open the key files records them again.' % (device_keys_path, damage[0]))
        recorded = (recorded or {}).get('keys') or {}
        publics = {}    # device -> public key of the controller's key pair, recorded after the compile

        def with_key(peer, entry):
            """``entry`` (a user or a device) with the public key of the controller's key pair for ``peer``,
            for the devices that ask the controller for one (generate_key)."""
            if entry.get('public_key') is not None or not entry.get('generate_key'):
                return entry
            entry = dict(entry)
            path = key_path(keys_dir, peer)
            try:
                public = load_public_key(keys_dir, peer, codec)
            except KeyLockedError as exc:
                # Not opened here (no vault password): the public half recorded beside the leases will do.
                public = recorded.get(peer)
                if public is None:
                    damaged.append(str(exc))
            except KeyFileError as exc:
                damaged.append(str(exc))
                public = None
            else:
                if public is not None and peer in recorded and recorded[peer] != public:
                    damaged.append("user '%s': %s records the public key %s, but the key file %s holds another "
                                   "key pair (%s). Fix: restore from version control the one that is right; "
                                   "removing the entry has it recorded from the key file."
                                   % (peer, device_keys_path, recorded[peer], path, public))
                if public is not None and not is_encrypted(path):
                    plain.append(peer)
                if public is None and peer in recorded:
                    # The private key is not in this checkout (it stays where the pair was made): the device
                    # keeps its recorded key, and its bundle here is a template without the private key.
                    public = recorded[peer]
            if public is None and peer in new_keys:
                public = new_keys[peer][1]
            if public is None and readonly:
                needed.append('%s needs the key pair the controller makes (generate_key), which a read-only run '
                              'cannot write; better, give the device its own public_key' % peer)
            if public is None and args['generate_user_keys'] and not check_mode and not damaged:
                if codec is None:
                    damaged.append("user '%s': generate_key needs a vault password, to keep the key pair the "
                                   "controller makes encrypted. Fix: run with --vault-id (or --ask-vault-pass, or "
                                   "ANSIBLE_VAULT_IDENTITY_LIST), or give the device its own public_key." % peer)
                    return entry
                new_keys[peer] = new_key_pair()
                public = new_keys[peer][1]
            if public is not None:
                publics[peer] = public
                # The controller's key pair is the device's key now (the compiler sees a device with its key).
                entry['public_key'] = public
                del entry['generate_key']
            return entry

        users = []
        for entry in inventory['users'] or []:
            if entry.get('devices'):
                entry = dict(entry, devices=[with_key('%s/%s' % (entry['name'], device['name']), device)
                                             for device in entry['devices']])
            else:
                entry = with_key(entry['name'], entry)
            users.append(entry)
        if damaged:
            return self._fail(result, str(MeshError(damaged)), errors=damaged)
        if inventory['users'] is not None:
            inventory['users'] = users

        # Now, to the second: access given until an instant ends at it (a date: when that day ends, UTC).
        today = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        if args['today']:
            today = datetime.datetime.strptime(args['today'], '%Y-%m-%d').date()
        try:
            compiled = compile_mesh(inventory, facts=facts, lease_state=lease_state, previous=previous,
                                    today=today, explain=args['explain'],
                                    explain_rows=max(0, args['explain_rows']))
        except MeshError as exc:
            return self._fail(result, str(exc), errors=exc.errors)

        if preshared:
            compiled['plan']['network']['preshared_keys'] = True     # checked above; the secret stays in Vault
        report = compiled['report']
        report['matrix'] = compiled['matrix']
        report['key_changes'] = key_report
        for warning in report['warnings']:
            self._display.warning(warning)
        failed_tests = [t for t in report['tests'] if not t['passed']]
        if failed_tests and args['fail_on_tests']:
            # The plan is not usable: nothing is written (no lease, key or snapshot), and no plan returned.
            template = "  - test #%d from %s expects %s %s: %s"
            lines = [template % (t['test'], t['from'], t['expect'], t['flow'], t['detail']) for t in failed_tests]
            result.update({'report': report, 'state_dir': state_dir, 'written': []})
            return self._fail(result, 'policy tests failed:\n' + '\n'.join(lines))

        if readonly:
            failed = self._needs_commit(result, report, needed, state_dir, lease_state, compiled['lease_state'])
            if failed:
                return failed
        if not check_mode and state.ensure_gitignore(state_dir):
            written.append(os.path.join(state_dir, state.GITIGNORE))
        diffs = []
        before = state.dumps(lease_state) if lease_state is not None else ''
        after = state.dumps(compiled['lease_state'])
        if before != after:
            diffs.append({'before_header': lease_path, 'after_header': lease_path, 'before': before, 'after': after})
            if not check_mode:
                state.write_json(lease_path, compiled['lease_state'])
                written.append(lease_path)
        for name, (private, _public) in sorted(new_keys.items()):
            write_private_key(keys_dir, name, private, codec)
            written.append(key_path(keys_dir, name))
        if (publics or recorded) and not check_mode and state.write_json(
                device_keys_path, {'version': DEVICE_KEYS_VERSION, 'keys': publics}):
            written.append(device_keys_path)
        for name in plain:
            path = key_path(keys_dir, name)
            if codec is None or check_mode:
                self._display.warning('%s holds the private key of %s in plain text; %s' % (
                    path, name, 'a run without --check encrypts it' if codec else
                    'run with a vault password (--vault-id) to have it encrypted'))
                continue
            write_private_key(keys_dir, name, read_private_key(path, name), codec, replace=True)
            written.append(path)
            self._display.warning('%s held the private key of %s in plain text; it is encrypted now (Ansible '
                                  'Vault, id %s)' % (path, name, codec.vault_id))
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
            'paths': self._paths(task_vars, state_dir),
            'changed': bool(diffs) or bool(written) or (bool(fixed) and not check_mode),
            'plan': compiled['plan'],
            'report': report,
            'snapshot': recorded,
            'snapshot_file': snapshot_path,
            'previous_digest': previous['digest'] if previous is not None else '',
            'state_dir': state_dir,
            'readonly': readonly,
            'written': written,
            'modes_fixed': [{'path': path, 'mode': old, 'fixed_to': new} for path, old, new in fixed],
        })
        if diffs and self._task.diff:
            result['diff'] = diffs
        return result

    @staticmethod
    def _bombs(variables, sizes, prefix):
        found = []
        for name in sorted(variables, key=str):
            value = variables[name]
            if name in UNCHECKED_VARS or not isinstance(value, (dict, list)):
                continue
            if expanded_size(value, sizes=sizes) > MAX_EXPANDED:
                found.append(prefix + str(name))
        return found

    def _paths(self, task_vars, state_dir):
        """Every path of the state, so that playbooks never build one."""
        bundles = self._var(task_vars, 'meshconnect_bundle_dir')
        topology = self._var(task_vars, 'meshconnect_topology_file')
        report = self._var(task_vars, 'meshconnect_report_file')
        return {
            'state_dir': state_dir,
            'leases': os.path.join(state_dir, state.LEASES),
            'facts': os.path.join(state_dir, state.FACTS),
            'snapshot': os.path.join(state_dir, state.SNAPSHOT),
            'keys_dir': os.path.join(state_dir, state.KEYS),
            'bundles_dir': os.path.abspath(os.path.expanduser(bundles)) if bundles else os.path.join(
                state_dir, state.BUNDLES),
            'topology_file': os.path.abspath(os.path.expanduser(topology)) if topology else os.path.join(
                state_dir, 'topology.svg'),
            'report_file': os.path.abspath(os.path.expanduser(report)) if report else os.path.join(
                state_dir, 'report.html'),
        }

    def _needs_commit(self, result, report, needed, state_dir, before, after):
        """In a read-only run, the failure that names every change the state needs (new or released leases,
        first pins of agent keys, key pairs to make), or None when it needs none."""
        changes = list(needed)
        if before != after:
            changes.extend(line for line in change_lines(report) if line.startswith('lease '))
            if not [line for line in changes if line.startswith('lease ')]:
                changes.append('%s changes (its released addresses)' % state.LEASES)
        changes.extend(line for line in change_lines(report) if line.startswith(('agent key pinned', 'agent key CHANGED')))
        if not changes:
            return None
        result['readonly'] = True
        result['needed_changes'] = changes
        if before != after:
            result['diff'] = [{'before_header': os.path.join(state_dir, state.LEASES),
                               'after_header': os.path.join(state_dir, state.LEASES),
                               'before': state.dumps(before) if before is not None else '',
                               'after': state.dumps(after)}]
        return self._fail(result, 'the state in %s is read-only for this run, and the inventory needs changes to '
                          'it:\n%s\nFix: run meshconnect.mesh.plan (or site.yml) on the inventory where the state '
                          'can be written (its repository), review the change to the state directory as a diff, '
                          'commit it, and run this job again.' % (state_dir, '\n'.join('  - ' + c for c in changes)))

    def _var(self, task_vars, name):
        return play_var(self._templar, task_vars, name)

    @staticmethod
    def _fail(result, msg, errors=None):
        return fail(result, msg, errors)
