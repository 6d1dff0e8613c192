# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection's action plugins share on the controller: reading a
play variable, the lock timeout, failing with a message.

Controller-only (it reads Ansible's task variables), so it lives in
``plugin_utils``; the pure core stays in ``module_utils``.
"""

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import show

DEFAULT_LOCK_TIMEOUT = 300


def play_var(templar, task_vars, name):
    """The templated value of variable ``name``, or None when it is not set."""
    if name not in task_vars:
        return None
    return templar.template(task_vars[name])


def lock_timeout(option, templar, task_vars):
    """``(seconds, None)`` from the task's ``lock_timeout`` option, else
    ``meshconnect_lock_timeout``, else 300; ``(None, message)`` when it is
    not a whole number of seconds (extra variables arrive as text)."""
    timeout = option
    if timeout is None:
        timeout = play_var(templar, task_vars, 'meshconnect_lock_timeout')
    if timeout is None:
        timeout = DEFAULT_LOCK_TIMEOUT
    if isinstance(timeout, str) and timeout.isascii() and timeout.isdigit():
        timeout = int(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        return None, 'meshconnect_lock_timeout must be a number of seconds, not %s' % show(timeout)
    return timeout, None


def fail(result, msg, errors=None):
    """``result`` marked failed with ``msg`` (and ``errors``, when given)."""
    result.update({'failed': True, 'msg': msg})
    if errors is not None:
        result['errors'] = errors
    return result
