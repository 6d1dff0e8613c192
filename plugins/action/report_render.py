# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the HTML report (documentation in modules/report_render.py)."""

import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_html import report_html
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_reach import checked
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_action import fail

ARGUMENT_SPEC = {
    'report': {'type': 'dict', 'required': True},
    'plan': {'type': 'dict'},
    'topology': {'type': 'path'},
    'observed': {'type': 'dict'},
    'dest': {'type': 'path', 'required': True},
}
MAX_PICTURE = 64 * 1024 * 1024      # bytes of SVG put into the page


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars or {})
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        report, plan = args['report'], args['plan'] or {}
        if checked(report.get('matrix')) is None:
            return fail(result, 'report must be the report of meshconnect.mesh.mesh_plan (with its matrix)')
        svg = None
        if args['topology']:
            try:
                with open(args['topology'], 'rb') as handle:
                    data = handle.read(MAX_PICTURE + 1)
            except OSError as exc:
                self._display.warning('the report has no picture: %s cannot be read (%s)'
                                      % (args['topology'], exc.strerror))
            else:
                if len(data) > MAX_PICTURE:
                    self._display.warning('the report has no picture: %s is larger than %d MiB'
                                          % (args['topology'], MAX_PICTURE >> 20))
                else:
                    svg = data.decode('utf-8', 'replace')
        sites = [agent.get('site') for agent in (plan.get('agents') or {}).values() if isinstance(agent, dict)]
        try:
            page = report_html(report, svg=svg, observed=args['observed'], digest=plan.get('digest'),
                               sites=[s for s in sites if isinstance(s, str)])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return fail(result, 'the report or the probe results are damaged: %s' % exc)
        dest = os.path.abspath(args['dest'])
        data = page.encode('utf-8')
        changed = state.differs(dest, data)
        if changed and not self._task.check_mode:
            state.write_atomic(dest, data, 0o644)
        result.update({'changed': changed, 'path': dest, 'size': len(data),
                       'explained': (report.get('explanations') or {}).get('explained', 0),
                       'rows': (report.get('explanations') or {}).get('rows', 0)})
        return result
