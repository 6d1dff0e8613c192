# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller face of the client bundle writer (documentation in modules/client_bundle.py)."""

import io
import os

from ansible.plugins.action import ActionBase

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_bundle import (
    MANIFEST, RESOLVED_DIR, client_config, manifest_document, read_manifest, redact, wants_resolved,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_compile import PLAN_VERSION
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_errors import MeshError
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import (
    KeyFileError, ensure_key_dir, key_path, public_from_private, read_private_key,
)
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_model_access import file_stem
from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_plans import user_plans
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_action import fail, lock_timeout
from ansible_collections.meshconnect.mesh.plugins.plugin_utils.mesh_vault import vault_codec

try:
    import segno
    HAS_SEGNO = True
except ImportError:
    HAS_SEGNO = False

ARGUMENT_SPEC = {
    'plan': {'type': 'dict', 'required': True},
    'dest': {'type': 'path', 'required': True},
    'keys_dir': {'type': 'path', 'required': True},
    'state_dir': {'type': 'path'},
    'qr': {'type': 'bool', 'default': True},
    'prune': {'type': 'bool', 'default': True},
    'lock_timeout': {'type': 'int'},
    'preshared_key_secret': {'type': 'str', 'no_log': True},
}


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
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        check_mode = bool(self._task.check_mode)
        state_dir = args['state_dir'] or os.path.dirname(os.path.abspath(args['keys_dir']))
        timeout, problem = lock_timeout(args['lock_timeout'], self._templar, task_vars)
        if problem:
            return fail(result, problem)
        try:
            with state.StateLock(state_dir, exclusive=not check_mode, timeout=timeout, notify=self._display.display):
                return self._run_locked(result, args, check_mode)
        except (state.StateError, MeshError) as exc:
            return fail(result, str(exc))

    def _run_locked(self, result, args, check_mode):
        plan, dest = args['plan'], args['dest']
        if plan.get('version') != PLAN_VERSION or not all(
                isinstance(plan.get(key), dict) for key in ('users', 'classes', 'site_peers', 'agents', 'network')):
            return fail(result, 'plan is not a plan of this mesh_plan (version %d), so nothing was written. Fix: pass '
                        '"{{ REGISTERED.plan }}" of a meshconnect.mesh.mesh_plan task of the same run.' % PLAN_VERSION)
        # The plan says whether the mesh uses preshared keys (mesh_plan checked the secret).
        secret = args['preshared_key_secret'] or None
        if plan['network'].get('preshared_keys') and not secret:
            return fail(result, 'the plan uses preshared keys but no preshared_key_secret was given, so no bundle '
                        'was written. Fix: pass "{{ meshconnect_preshared_key_secret }}" (users.yml does).')
        if not plan['network'].get('preshared_keys'):
            secret = None
        if args['qr'] and not HAS_SEGNO:
            self._display.warning('the Python package segno is not installed on the controller: no QR codes written')

        manifest_path = os.path.join(dest, MANIFEST)
        ours = read_manifest(_read(manifest_path), dest)
        resolved_dir = os.path.join(dest, RESOLVED_DIR)
        if os.path.lexists(resolved_dir) and (os.path.islink(resolved_dir) or not os.path.isdir(resolved_dir)):
            return fail(result, '%s is not a directory, so nothing was written: client_bundle writes the '
                        'systemd-resolved variants of the bundles there. Fix: move it out of %s.'
                        % (resolved_dir, dest))
        prefix = RESOLVED_DIR + '/'
        fixed = state.repair_modes(
            state.private_paths(dest, names=ours | set([MANIFEST])) +
            state.private_paths(resolved_dir, names=set(n[len(prefix):] for n in ours if n.startswith(prefix))) +
            state.private_paths(args['keys_dir'], ('.key',)), check_mode)
        for path, old, new in fixed:
            self._display.warning('%s had mode %s; %s %s (bundles and keys are private)'
                                  % (path, old, 'it would be put back to' if check_mode else 'put back to', new))

        # Every key file is read before anything is written: a damaged one stops the run with nothing changed.
        private_keys, damaged = {}, []
        codec = vault_codec(self._loader)
        for name in sorted(plan['users']):
            path = key_path(args['keys_dir'], name)
            if not plan['users'][name]['expired'] and os.path.lexists(path):
                try:
                    private_keys[name] = read_private_key(path, name, codec)
                except KeyFileError as exc:
                    damaged.append(str(exc))
        if damaged:
            raise MeshError(damaged)

        written, removed, diffs, without, resolved, without_qr = [], [], [], [], [], []
        pending = set()
        wanted = set()
        if not check_mode:
            ensure_key_dir(dest)
        whole = user_plans(plan)
        for name in sorted(plan['users']):
            if plan['users'][name]['expired']:
                without.append('%s (%s)' % (name, 'revoked' if plan['users'][name].get('revoked') else 'expired'))
                continue
            user = whole[name]
            private_key = private_keys.pop(name, None)
            if private_key is not None:
                if public_from_private(private_key) != user['public_key']:
                    private_key = None  # the inventory names another device's key
            text = client_config(user, plan['network'], private_key, preshared_secret=secret)
            conf = '%s.conf' % file_stem(name)
            self._write_bundle(dest, conf, text, check_mode, wanted, written, diffs)
            if wants_resolved(user, plan['network']):
                # Stock wg-quick hands the domains to resolvconf as search domains; on Linux with
                # systemd-resolved this variant sends only them to the mesh.
                resolved.append(name)
                self._write_bundle(dest, prefix + conf, client_config(user, plan['network'], private_key, True,
                                                                      preshared_secret=secret),
                                   check_mode, wanted, written, diffs)
            if args['qr'] and HAS_SEGNO and private_key:
                png = '%s.png' % file_stem(name)
                if os.path.join(dest, conf) not in written and os.path.exists(os.path.join(dest, png)):
                    wanted.add(png)     # made from this very bundle: it fits
                else:
                    try:
                        code = segno.make(text, error='l', micro=False)
                    except segno.DataOverflowError:
                        # Too large for one QR code (about 2900 bytes): the .conf is the bundle; a stale .png goes.
                        code = None
                        without_qr.append(name)
                    if code is not None:
                        wanted.add(png)
                        written.append(os.path.join(dest, png))
                        if not check_mode:
                            buffer = io.BytesIO()
                            code.save(buffer, kind='png', scale=4, border=4)
                            state.write_atomic(os.path.join(dest, png), buffer.getvalue(),
                                               state.PRIVATE_FILE_MODE)
                    del code
            del private_key
            pending.update(peer['site'] for peer in user['peers'] if not peer.get('public_key'))
        if without_qr:
            self._display.warning('no QR code for %s: the bundle is too large for one; hand over the .conf file '
                                  '(the other bundles are not affected)' % ', '.join(without_qr))
        if pending:
            self._display.warning('sites %s have no known key yet and are left out of the bundles; run site.yml, '
                                  'then users.yml again' % ', '.join(sorted(pending)))
        kept = set(wanted)
        if args['prune']:
            # Only what this plugin wrote (the manifest) is ever removed; other files in dest are not ours.
            for entry in sorted(ours - wanted):
                path = os.path.join(dest, entry)
                if os.path.lexists(path):
                    removed.append(path)
                    if not check_mode:
                        os.unlink(path)
            # The variants' folder goes with the last variant it removed.
            if (not check_mode and any(entry.startswith(prefix) for entry in ours - wanted)
                    and os.path.isdir(resolved_dir) and not os.listdir(resolved_dir)):
                os.rmdir(resolved_dir)
        else:
            kept |= ours
        if not check_mode and os.path.isdir(dest):
            document = state.dumps(manifest_document(kept)).encode('utf-8')
            if _read(manifest_path) != document:
                state.write_atomic(manifest_path, document, state.PRIVATE_FILE_MODE)
        result.update({'changed': bool(written or removed) or (bool(fixed) and not check_mode),
                       'written': written, 'removed': removed, 'without_bundle': without, 'dest': dest,
                       'resolved': resolved, 'without_qr': without_qr,
                       'modes_fixed': [{'path': p, 'mode': o, 'fixed_to': n} for p, o, n in fixed]})
        if self._task.diff and diffs:
            result['diff'] = diffs
        return result

    @staticmethod
    def _write_bundle(dest, name, text, check_mode, wanted, written, diffs):
        """Write the configuration ``text`` to ``dest/name`` (0600, atomically) when it changed."""
        wanted.add(name)
        path = os.path.join(dest, name)
        before = _read(path)
        if before == text.encode('utf-8'):
            return
        written.append(path)
        diffs.append({'before_header': name, 'after_header': name,
                      'before': redact(before.decode('utf-8', 'replace')) if before else '',
                      'after': redact(text)})
        if not check_mode:
            if os.path.dirname(name):
                ensure_key_dir(os.path.dirname(path))      # the variants' folder, 0700 like dest
            state.write_atomic(path, text.encode('utf-8'), state.PRIVATE_FILE_MODE)
