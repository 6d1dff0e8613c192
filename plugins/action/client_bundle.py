# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the client bundle writer (documentation in modules/client_bundle.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_bundle import client_config, redact
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import (
    ensure_key_dir, key_path, public_from_private, read_private_key,
)

try:
    import segno
    HAS_SEGNO = True
except ImportError:
    HAS_SEGNO = False

ARGUMENT_SPEC = {
    'plan': {'type': 'dict', 'required': True},
    'dest': {'type': 'path', 'required': True},
    'keys_dir': {'type': 'path', 'required': True},
    'qr': {'type': 'bool', 'default': True},
    'prune': {'type': 'bool', 'default': True},
}


def _write_private(path, data):
    """Write bytes to ``path`` with mode 0600 from the first byte on."""
    tmp = path + '.tmp'
    if os.path.exists(tmp):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
    os.rename(tmp, path)


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        check_mode = bool(self._task.check_mode)
        plan, dest = args['plan'], args['dest']
        if args['qr'] and not HAS_SEGNO:
            self._display.warning('the Python package segno is not installed on the controller: no QR codes written')

        written, removed, diffs, without = [], [], [], []
        pending = set()
        wanted = set()
        if not check_mode:
            ensure_key_dir(dest)
        for name in sorted(plan['users']):
            user = plan['users'][name]
            if user['expired']:
                without.append('%s (expired)' % name)
                continue
            private_key = None
            path = key_path(args['keys_dir'], name)
            if os.path.exists(path):
                private_key = read_private_key(path)
                if public_from_private(private_key) != user['public_key']:
                    private_key = None  # the inventory names another device's key
            text = client_config(user, plan['network'], private_key)
            conf = os.path.join(dest, '%s.conf' % name)
            wanted.add(conf)
            before = _read(conf)
            if before != text.encode('utf-8'):
                written.append(conf)
                diffs.append({'before_header': conf, 'after_header': conf,
                              'before': redact(before.decode('utf-8')) if before else '', 'after': redact(text)})
                if not check_mode:
                    _write_private(conf, text.encode('utf-8'))
            if args['qr'] and HAS_SEGNO and private_key:
                png = os.path.join(dest, '%s.png' % name)
                wanted.add(png)
                if conf in written or not os.path.exists(png):
                    written.append(png)
                    if not check_mode:
                        buffer = io.BytesIO()
                        segno.make(text, error='l', micro=False).save(buffer, kind='png', scale=4, border=4)
                        _write_private(png, buffer.getvalue())
            del private_key
            pending.update(peer['site'] for peer in user['peers'] if not peer.get('public_key'))
        if pending:
            self._display.warning('sites %s have no known key yet and are left out of the bundles; run site.yml, '
                                  'then users.yml again' % ', '.join(sorted(pending)))
        if args['prune'] and os.path.isdir(dest):
            for entry in sorted(os.listdir(dest)):
                path = os.path.join(dest, entry)
                if entry.endswith(('.conf', '.png')) and path not in wanted:
                    removed.append(path)
                    if not check_mode:
                        os.unlink(path)
        result.update({'changed': bool(written or removed), 'written': written, 'removed': removed,
                       'without_bundle': without, 'dest': dest})
        if self._task.diff and diffs:
            result['diff'] = diffs
        return result
