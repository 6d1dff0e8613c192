# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller-side state directory, next to the inventory.

By default ``INVENTORY_DIR/.meshconnect/NETWORK/``: hidden, because Ansible
reads every visible file of an inventory directory as inventory.

    leases.json   overlay leases (commit it; review it)
    facts.json    what agents reported last (public keys, interfaces)
    plan.json     the reachability snapshot of the last plan every agent applied
    applied.json  which plan (digest) each agent applied last: a limited or sliced run records its agents here
    device-keys.json  the public keys of the key pairs the controller made (commit it)
    keys/         private keys the controller made (generate_key), Vault-encrypted (0700, files 0600; never commit)
    bundles/      client bundles written by users.yml (0700, files 0600)
    .gitignore    keeps keys/, bundles/ and the lock out of version control
    .lock         taken by every run that reads or writes the state

What it guarantees: every file is written whole or not at all (a temporary
file, flushed to disk, renamed into place), and only when its content
changes; runs that write take an exclusive lock on the directory, runs that
only read a shared one, so two runs at once queue instead of racing; a file
that exists must be valid and complete, or the run stops and names it;
starting from nothing is only for a directory that holds no state yet.
"""

import errno
import json
import os
import socket
import tempfile
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - the controller is POSIX
    fcntl = None

DEFAULT_DIR = '.meshconnect'
LEASES = 'leases.json'
FACTS = 'facts.json'
SNAPSHOT = 'plan.json'
APPLIED = 'applied.json'
DEVICE_KEYS = 'device-keys.json'
KEYS = 'keys'
BUNDLES = 'bundles'
LOCK = '.lock'
GITIGNORE = '.gitignore'
GITIGNORE_LINES = ('keys/', 'bundles/', LOCK, '.*.tmp')
# Files whose presence means the directory has been used: without leases.json, it lost its leases.
STATE_FILES = (FACTS, SNAPSHOT, APPLIED, DEVICE_KEYS, KEYS, BUNDLES)
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


class StateError(Exception):
    pass


def visible_to_inventory(state_dir, inventory_dir):
    """A message when Ansible would parse ``state_dir`` as part of the
    inventory directory (it skips hidden entries), else None."""
    if not os.path.isdir(inventory_dir):
        return None
    relative = os.path.relpath(state_dir, inventory_dir)
    if relative == os.curdir or relative.startswith(os.pardir):
        return None if relative != os.curdir else (
            'the state directory %s is the inventory directory; use a hidden directory such as %s'
            % (state_dir, os.path.join(inventory_dir, DEFAULT_DIR)))
    if any(part.startswith('.') for part in relative.split(os.sep)):
        return None
    return ('the state directory %s lies inside the inventory directory %s, where Ansible would read its files '
            '(private keys included) as inventory; use a hidden directory such as %s, or one outside the inventory'
            % (state_dir, inventory_dir, os.path.join(inventory_dir, DEFAULT_DIR)))


def read_json(path):
    """The document (a mapping) at ``path``, or None when the file does not exist.

    A file that exists but is empty, not JSON, or JSON of another kind (null,
    a list) is damage: StateError names it.
    """
    try:
        with open(path, 'r') as handle:
            document = json.load(handle)
    except (IOError, OSError) as exc:
        if not os.path.lexists(path):
            return None
        raise StateError('cannot read %s: %s' % (path, exc))
    except ValueError as exc:
        raise StateError('%s is not valid JSON (%s). Fix: restore it from version control.' % (path, exc))
    if not isinstance(document, dict):
        raise StateError('%s is damaged: it holds %s, not a mapping. Fix: restore it from version control.'
                         % (path, 'null' if document is None else 'a %s' % type(document).__name__))
    return document


def dumps(data):
    return json.dumps(data, indent=2, sort_keys=True) + '\n'


def _flushed_temp(path, data, mode):
    """A temporary file beside ``path`` holding ``data`` with ``mode``, flushed to disk; its name."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix='.%s.' % os.path.basename(path),
                               suffix='.tmp')
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomic(path, data, mode):
    """Write bytes ``data`` to ``path`` whole or not at all: a temporary file
    in the same directory, created with ``mode``, flushed to disk, renamed
    over ``path``.  Readers see the old file or the new one, never a part."""
    tmp = _flushed_temp(path, data, mode)
    try:
        os.rename(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    _sync_dir(os.path.dirname(path) or '.')


def create_atomic(path, data, mode):
    """Like ``write_atomic``, but never replaces an existing ``path``
    (``OSError`` EEXIST): the file appears complete or not at all."""
    tmp = _flushed_temp(path, data, mode)
    try:
        os.link(tmp, path)
    finally:
        os.unlink(tmp)
    _sync_dir(os.path.dirname(path) or '.')


def _sync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def differs(path, data):
    """Whether the file at ``path`` does not hold exactly ``data`` (bytes); a missing file differs."""
    try:
        with open(path, 'rb') as handle:
            return handle.read() != data
    except (IOError, OSError):
        return True


def write_json(path, data, mode=0o644):
    """Write ``data`` if it differs from the file; return True when written."""
    text = dumps(data)
    try:
        with open(path, 'r') as handle:
            if handle.read() == text:
                return False
    except (IOError, OSError):
        pass
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755, exist_ok=True)
    write_atomic(path, text.encode('utf-8'), mode)
    return True


def has_state(state_dir):
    """True when ``state_dir`` holds state (any file of a run), so that a
    missing leases.json means lost leases, not a new network."""
    if not os.path.isdir(state_dir):
        return False
    return any(os.path.exists(os.path.join(state_dir, name)) for name in (LEASES,) + STATE_FILES)


def writable(state_dir):
    """Whether this run can write the state directory (or create it): False on a read-only file system or
    without the permission (root writes wherever the file system lets it)."""
    path = state_dir
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        return False
    try:
        return not os.statvfs(path).f_flag & os.ST_RDONLY
    except (OSError, AttributeError):
        return True


def check_complete(state_dir):
    """Raise StateError when the directory holds state but no leases.json."""
    if has_state(state_dir) and not os.path.exists(os.path.join(state_dir, LEASES)):
        present = [name for name in STATE_FILES if os.path.exists(os.path.join(state_dir, name))]
        raise StateError(
            '%s has no %s, but holds %s from earlier runs: its leases are lost, and a new lease file would give '
            'members new addresses. Fix: restore %s from version control; to renumber every member on purpose, '
            'move the whole directory away and run again.'
            % (state_dir, LEASES, ', '.join(present), os.path.join(state_dir, LEASES)))


def check_document(path, document, required):
    """Raise StateError unless ``document`` is a mapping with each key of
    ``required`` (key -> type or tuple of types)."""
    if document is None:
        return
    if not isinstance(document, dict):
        raise StateError('%s is damaged: it holds %s, not a mapping. Fix: restore it from version control.'
                         % (path, type(document).__name__))
    for key, kinds in sorted(required.items()):
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        if key not in document:
            raise StateError('%s is incomplete: it has no "%s". Fix: restore it from version control.'
                             % (path, key))
        value = document[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise StateError('%s is damaged: "%s" is %s. Fix: restore it from version control.'
                             % (path, key, 'null' if value is None else type(value).__name__))


def ensure_gitignore(state_dir, check_mode=False):
    """Make ``state_dir/.gitignore`` list keys/, bundles/ and the lock; True when it changed."""
    path = os.path.join(state_dir, GITIGNORE)
    try:
        with open(path, 'r') as handle:
            text = handle.read()
    except (IOError, OSError):
        text = None
    lines = (text or '').splitlines()
    missing = [line for line in GITIGNORE_LINES if line not in lines]
    if not missing:
        return False
    if not check_mode:
        head = ('# Written by meshconnect.mesh: private keys, client bundles and the run lock never go to '
                'version control.\n' if text is None else text if text.endswith('\n') or not text else text + '\n')
        write_atomic(path, (head + '\n'.join(missing) + '\n').encode('utf-8'), 0o644)
    return True


def repair_modes(paths_and_modes, check_mode=False):
    """Put each existing path back to its mode (private dirs 0700, files 0600);
    return ``[(path, old_mode, new_mode)]`` of what was (or would be) fixed."""
    fixed = []
    for path, mode in paths_and_modes:
        try:
            current = os.lstat(path).st_mode & 0o777
        except OSError:
            continue
        if os.path.islink(path):
            raise StateError('%s is a symbolic link; private state must be a real file or directory. Fix: '
                             'replace the link with the file it points to.' % path)
        if current != mode:
            if not check_mode:
                os.chmod(path, mode)
            fixed.append((path, '%04o' % current, '%04o' % mode))
    return fixed


def private_paths(directory, suffixes=(), names=()):
    """``directory`` (0700) and its files ending in ``suffixes`` or listed in
    ``names`` (0600), for repair_modes."""
    out = [(directory, PRIVATE_DIR_MODE)]
    if os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            if (suffixes and name.endswith(suffixes)) or name in names:
                out.append((os.path.join(directory, name), PRIVATE_FILE_MODE))
    return out


class StateLock:
    """An advisory lock (flock) on ``state_dir/.lock``: exclusive for runs
    that write, shared for runs that only read.  While another run holds it,
    ``notify(message)`` is called once and the lock is retried until
    ``timeout`` seconds have passed; then StateError says who holds it.  The
    kernel releases the lock when its holder ends, crashed or not.
    """

    def __init__(self, state_dir, exclusive=True, timeout=300, notify=None, poll=0.2):
        self.state_dir = state_dir
        self.exclusive = exclusive
        self.timeout = timeout
        self.notify = notify
        self.poll = poll
        self.handle = None

    @property
    def path(self):
        return os.path.join(self.state_dir, LOCK)

    def __enter__(self):
        if fcntl is None:   # pragma: no cover
            return self
        if not os.path.isdir(self.state_dir):
            if not self.exclusive:
                return self     # nothing to read yet, nothing to lock
            os.makedirs(self.state_dir, 0o755, exist_ok=True)     # another run may create it meanwhile
        # Never through a symbolic link: the lock file is written (who holds it), and a link planted in
        # the state directory must not make a run write elsewhere.
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0), 0o644)
        except OSError as exc:
            raise StateError('cannot open the lock %s (%s). Fix: remove it if it is a symbolic link or not a '
                             'file; it holds no state.' % (self.path, exc.strerror or exc))
        self.handle = os.fdopen(fd, 'r+')
        flags = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.time() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(self.handle.fileno(), flags)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            holder = self._holder()
            if time.time() >= deadline:
                self.handle.close()
                self.handle = None
                raise StateError('another run holds the lock on %s (%s) for more than %d s. Fix: wait for that run '
                                 'to finish and run again, or raise the lock timeout (meshconnect_lock_timeout); '
                                 'the lock goes away by itself when that run ends.'
                                 % (self.state_dir, holder, self.timeout))
            if not told and self.notify:
                self.notify('waiting for the lock on %s, held by %s (up to %d s)'
                            % (self.state_dir, holder, self.timeout))
                told = True
            time.sleep(self.poll)
        if self.exclusive:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.write('pid %d on %s since %s\n' % (os.getpid(), socket.gethostname(),
                                                           time.strftime('%Y-%m-%d %H:%M:%S')))
            self.handle.flush()
        return self

    def _holder(self):
        try:
            with open(self.path, 'r') as handle:
                text = handle.read(200).strip()
            return 'last taken by %s' % text if text else 'a run that only reads'
        except (IOError, OSError):
            return 'another run'

    def __exit__(self, *exc_info):
        if self.handle is not None:
            self.handle.close()     # releases the lock
            self.handle = None
        return False


def is_digest(value):
    return isinstance(value, str) and len(value) == 64 and all(c in '0123456789abcdef' for c in value)


def check_applied(path, document):
    """Raise StateError unless ``document`` (applied.json) maps agent names to plan digests."""
    check_document(path, document, {'agents': dict})
    if document is None:
        return
    for name, digest in sorted(document['agents'].items()):
        if not is_digest(digest):
            raise StateError('%s is damaged: agent "%s" has %s, not a plan digest. Fix: restore it from version '
                             'control, or remove it (the next run that every agent applies writes it whole).'
                             % (path, name, json.dumps(digest)))


def merge_applied(document, agents, applied, digest):
    """The applied.json after the agents ``applied`` applied plan ``digest``,
    and whether every one of ``agents`` (the inventory's) now runs it.

    Agents no longer in ``agents`` are dropped; the others keep the plan
    they applied last."""
    before = (document or {}).get('agents', {})
    after = dict((name, before[name]) for name in agents if name in before)
    for name in applied:
        after[name] = digest
    return {'agents': after}, all(after.get(name) == digest for name in agents)
