# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the topology picture (documentation in modules/topology_render.py)."""

import os
import shutil
import subprocess

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_graph import clean_svg, topology_dot
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import EMPTY, checked
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_topology import topology_svg
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_action import fail

ARGUMENT_SPEC = {
    'plan': {'type': 'dict', 'required': True},
    'matrix': {'type': 'dict', 'required': True},
    'dest': {'type': 'path', 'required': True},
    'user': {'type': 'str'},
    'engine': {'type': 'str', 'default': 'auto', 'choices': ['auto', 'graphviz', 'builtin']},
}
TIMEOUT = 300           # seconds Graphviz may take for one picture
AUTO_EDGES = 2500       # engine auto: larger pictures take Graphviz minutes (6,600 edges: 86 s); built-in instead
AUTO_TIMEOUT = 60


def _render(dot_text, fmt, timeout):
    proc = subprocess.run(['dot', '-T' + fmt], input=dot_text.encode('utf-8'), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError('dot -T%s failed: %s' % (fmt, proc.stderr.decode('utf-8', 'replace').strip()[:500]))
    return proc.stdout


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars or {})
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        plan, user = args['plan'], args['user']
        matrix = args['matrix'] or EMPTY
        if checked(matrix) is None or not isinstance(plan.get('agents'), dict):
            return fail(result, 'plan and matrix must be the plan and report.matrix of meshconnect.mesh.mesh_plan')
        if user is not None and user not in (plan.get('users') or {}):
            return fail(result, 'user %r is not a user of the plan. Fix: name one of meshconnect_users, or leave '
                        'user out for every user.' % user)
        svg_path = os.path.abspath(args['dest'])
        stem = svg_path[:-4] if svg_path.endswith('.svg') else svg_path
        paths = {'svg': svg_path, 'png': stem + '.png', 'dot': stem + '.dot'}
        dot_found = shutil.which('dot') is not None
        engine = args['engine']
        if engine == 'graphviz' and not dot_found:
            return fail(result, "engine is graphviz but Graphviz's dot is not installed on the controller. Fix: "
                        'install Graphviz (apt-get install graphviz), or use engine auto.')
        try:
            dot_text = topology_dot(plan, matrix, user)
        except (KeyError, TypeError, ValueError) as exc:
            return fail(result, 'the plan or matrix is damaged: %s' % exc)
        edges = dot_text.count(' -> ')
        wanted = engine
        engine = 'graphviz' if engine != 'builtin' and dot_found else 'builtin'
        if wanted == 'auto' and edges > AUTO_EDGES:
            engine = 'builtin'
            result['warning'] = ('the picture has %d edges, too many for Graphviz to lay out in reasonable time '
                                 '(more than %d): drew the built-in picture. Draw one user (user), or force '
                                 'engine graphviz.' % (edges, AUTO_EDGES))
        files = None
        if engine == 'graphviz':
            try:
                timeout = AUTO_TIMEOUT if wanted == 'auto' else TIMEOUT
                files = {'svg': clean_svg(_render(dot_text, 'svg', timeout).decode('utf-8')).encode('utf-8'),
                         'png': _render(dot_text, 'png', timeout), 'dot': dot_text.encode('utf-8')}
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                if wanted != 'auto':
                    return fail(result, 'Graphviz could not draw the topology: %s' % exc)
                engine = 'builtin'
                result['warning'] = 'Graphviz could not draw the topology (%s): drew the built-in picture.' % exc
        if files is None:
            try:
                files = {'svg': topology_svg(plan, matrix).encode('utf-8'), 'dot': dot_text.encode('utf-8')}
            except (KeyError, TypeError, ValueError) as exc:
                return fail(result, 'the plan or matrix is damaged: %s' % exc)
        if result.get('warning'):
            self._display.warning(result['warning'])
        changed = [kind for kind, data in sorted(files.items()) if state.differs(paths[kind], data)]
        # A picture of an earlier run that this one does not draw (no Graphviz now) would mislead: removed.
        stale = [paths[kind] for kind in ('png',) if kind not in files and os.path.exists(paths[kind])]
        if not self._task.check_mode:
            for kind in changed:
                state.write_atomic(paths[kind], files[kind], 0o644)
            for path in stale:
                os.unlink(path)
        result.update({'changed': bool(changed or stale), 'engine': engine, 'edges': edges,
                       'svg': paths['svg'], 'png': paths['png'] if 'png' in files else None, 'dot': paths['dot']})
        return result
