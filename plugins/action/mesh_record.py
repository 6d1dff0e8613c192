# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the snapshot recorder (documentation in modules/mesh_record.py)."""

import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import checked
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_action import fail, lock_timeout

ARGUMENT_SPEC = {
    'snapshot': {'type': 'dict', 'required': True},
    'state_dir': {'type': 'path', 'required': True},
    'replaces': {'type': 'str', 'required': True},
    'lock_timeout': {'type': 'int'},
    'agents': {'type': 'list', 'elements': 'str'},
    'applied': {'type': 'list', 'elements': 'str'},
}
REQUIRED_TOGETHER = [['agents', 'applied']]


def snapshot_problem(snapshot):
    """What makes ``snapshot`` something other than a snapshot of mesh_plan, or None."""
    if not isinstance(snapshot.get('version'), int) or isinstance(snapshot.get('version'), bool):
        return 'its version is %s, not a number' % show(snapshot.get('version'))
    digest = snapshot.get('digest')
    if not state.is_digest(digest):
        return 'its digest is %s, not a plan digest' % show(digest)
    if sorted(snapshot) != ['digest', 'matrix', 'version'] or checked(snapshot.get('matrix')) is None:
        return 'it is not version, digest and a reachability matrix'
    return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                        required_together=REQUIRED_TOGETHER)
        check_mode = bool(self._task.check_mode)
        state_dir = os.path.abspath(args['state_dir'])
        path = os.path.join(state_dir, state.SNAPSHOT)
        result['snapshot_file'] = path
        problem = snapshot_problem(args['snapshot'])
        if problem:
            return fail(result, 'snapshot is not the snapshot returned by mesh_plan: %s. Fix: pass '
                        '"{{ REGISTERED.snapshot }}" of a meshconnect.mesh.mesh_plan task.' % problem)
        if args['agents'] is not None:
            unknown = sorted(set(args['applied']) - set(args['agents']))
            if unknown or not args['agents']:
                return fail(result, 'applied names %s, which agents does not list. Fix: pass the play\'s '
                            '"{{ ansible_play_hosts }}" as applied and "{{ groups[\'meshconnect_agents\'] }}" '
                            'as agents.' % (', '.join(unknown) or 'agents, but agents is empty'))
        if not state.has_state(state_dir):
            if check_mode:
                # mesh_plan in check mode writes no state either: a first run would record this snapshot.
                result.update({'changed': True, 'digest': args['snapshot']['digest']})
                return result
            return fail(result, '%s holds no mesh state. Fix: pass the state_dir returned by mesh_plan.' % state_dir)
        timeout, problem = lock_timeout(args['lock_timeout'], self._templar, task_vars)
        if problem:
            return fail(result, problem)
        try:
            with state.StateLock(state_dir, exclusive=not check_mode, timeout=timeout, notify=self._display.display):
                return self._record(result, args, path, check_mode)
        except state.StateError as exc:
            return fail(result, str(exc))

    def _record(self, result, args, path, check_mode):
        snapshot = args['snapshot']
        digest = snapshot['digest']
        current = state.read_json(path)
        state.check_document(path, current, {'version': int, 'digest': str, 'matrix': dict})
        recorded = current['digest'] if current is not None else ''
        if recorded not in (args['replaces'], digest):
            if current is None:
                why = ('it was removed after this run compiled against plan %s, so the next diff would not be '
                       'against what the agents ran before' % args['replaces'][:16])
            else:
                why = ('it records plan %s, not %s that this run compiled against: another run recorded its plan '
                       'meanwhile, and recording this one over it would make the next diff wrong'
                       % (recorded[:16], args['replaces'][:16] or 'none'))
            return fail(result, '%s: %s. Nothing was written. Fix: run site.yml again.' % (path, why))
        applied_path = os.path.join(os.path.dirname(path), state.APPLIED)
        before = state.read_json(applied_path)
        state.check_applied(applied_path, before)
        if args['agents'] is None:
            # Applied by every agent: those applied.json lists now run it.
            agents = sorted((before or {}).get('agents', {}))
            whole = True
            after = {'agents': dict((name, digest) for name in agents)}
        else:
            agents = sorted(set(args['agents']))
            after, whole = state.merge_applied(before, agents, sorted(set(args['applied'])), digest)
        writes = []
        if state.dumps(after) != state.dumps(before if before is not None else {'agents': {}}):
            writes.append((applied_path, after))
        if whole and (current is None or state.dumps(current) != state.dumps(snapshot)):
            writes.append((path, snapshot))
        if not check_mode:
            for where, document in writes:
                state.write_json(where, document)
        result.update({
            'changed': bool(writes),
            'digest': digest,
            'recorded': whole,
            'applied_by': sorted(name for name in agents if after['agents'].get(name) == digest),
            'pending': sorted(name for name in agents if after['agents'].get(name) != digest),
            'applied_file': applied_path,
        })
        if writes and self._task.diff:
            result['diff'] = [self._diff(where, before if where == applied_path else current, document)
                              for where, document in writes]
        return result

    @staticmethod
    def _diff(path, before, after):
        def lines(document):
            if document is None:
                return ''
            if 'agents' in document:
                return ''.join('%s plan %s\n' % item for item in sorted(document['agents'].items()))
            return 'plan %s\n' % document['digest']
        return {'before_header': path, 'after_header': path, 'before': lines(before), 'after': lines(after)}
