# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""User key files and the controller state directory."""

import json
import os
import stat

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_state as state

pytest.importorskip('cryptography')
from ansible_collections.meshconnect.mesh.plugins.module_utils import mesh_keys as keys  # noqa: E402


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ----------------------------------------------------------------------
# state


def test_read_missing_file_is_none(tmp_path):
    assert state.read_json(str(tmp_path / 'leases.json')) is None


def test_write_then_read(tmp_path):
    path = str(tmp_path / 'sub' / 'leases.json')
    data = {'version': 1, 'leases': {'user/b': '100.64.0.2', 'user/a': '100.64.0.1'}}
    assert state.write_json(path, data) is True
    assert state.read_json(path) == data
    text = open(path).read()
    assert text == json.dumps(data, indent=2, sort_keys=True) + '\n'
    assert text.index('user/a') < text.index('user/b')
    assert _mode(path) == 0o644


def test_write_honours_the_mode(tmp_path):
    path = str(tmp_path / 'facts.json')
    state.write_json(path, {'a': 1}, mode=0o600)
    assert _mode(path) == 0o600


def test_unchanged_content_is_not_rewritten(tmp_path):
    path = str(tmp_path / 'plan.json')
    assert state.write_json(path, {'a': [1, 2]}) is True
    os.utime(path, (1000000000, 1000000000))
    inode = os.stat(path).st_ino
    assert state.write_json(path, {'a': [1, 2]}) is False
    assert os.stat(path).st_mtime == 1000000000
    assert os.stat(path).st_ino == inode
    assert state.write_json(path, {'a': [1, 3]}) is True
    assert state.read_json(path) == {'a': [1, 3]}


def test_write_replaces_the_file_atomically(tmp_path):
    path = str(tmp_path / 'leases.json')
    state.write_json(path, {'v': 1})
    inode = os.stat(path).st_ino
    # A reader holding the old file keeps seeing a complete old document.
    with open(path) as reader:
        state.write_json(path, {'v': 2})
        assert json.load(reader) == {'v': 1}
    assert os.stat(path).st_ino != inode
    assert state.read_json(path) == {'v': 2}
    assert os.listdir(str(tmp_path)) == ['leases.json']


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = str(tmp_path / 'leases.json')
    state.write_json(path, {'v': 1})

    def broken_rename(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(state.os, 'rename', broken_rename)
    with pytest.raises(OSError):
        state.write_json(path, {'v': 2})
    monkeypatch.undo()
    assert state.read_json(path) == {'v': 1}
    assert os.listdir(str(tmp_path)) == ['leases.json']


def test_unserialisable_data_leaves_the_old_file(tmp_path):
    path = str(tmp_path / 'leases.json')
    state.write_json(path, {'v': 1})
    with pytest.raises(TypeError):
        state.write_json(path, {'v': object()})
    assert state.read_json(path) == {'v': 1}


@pytest.mark.parametrize('text', ['{"version": 1,', 'not json', '\xff\xfe'])
def test_bad_json_is_a_state_error(tmp_path, text):
    path = tmp_path / 'leases.json'
    path.write_bytes(text.encode('latin-1'))
    with pytest.raises(state.StateError) as info:
        state.read_json(str(path))
    assert str(path) in str(info.value)
    assert 'restore it from version control' in str(info.value)


def test_unreadable_path_is_a_state_error(tmp_path):
    directory = tmp_path / 'leases.json'
    directory.mkdir()
    with pytest.raises(state.StateError) as info:
        state.read_json(str(directory))
    assert 'cannot read' in str(info.value)


def test_the_lock_never_follows_a_planted_link(tmp_path):
    victim = tmp_path / 'victim'
    victim.write_text('precious\n')
    state_dir = tmp_path / 'state'
    state_dir.mkdir()
    os.symlink(str(victim), str(state_dir / '.lock'))
    with pytest.raises(state.StateError, match='symbolic link'):
        with state.StateLock(str(state_dir), timeout=0):
            pass
    assert victim.read_text() == 'precious\n'


def test_a_second_writer_waits_then_gives_up_and_a_reader_is_not_a_writer(tmp_path):
    state_dir = str(tmp_path / 'state')
    told = []
    with state.StateLock(state_dir, exclusive=True):
        with pytest.raises(state.StateError, match='another run holds the lock'):
            with state.StateLock(state_dir, exclusive=True, timeout=0.5, notify=told.append):
                pass
        with pytest.raises(state.StateError):
            with state.StateLock(state_dir, exclusive=False, timeout=0.3):
                pass
    assert told and 'waiting for the lock' in told[0]
    with state.StateLock(state_dir, exclusive=False):
        with state.StateLock(state_dir, exclusive=False, timeout=0):
            pass    # readers share


@pytest.mark.parametrize('kind', ['fifo', 'directory', 'symlink'])
def test_a_key_path_that_is_not_a_regular_file_is_named_and_never_read(tmp_path, kind):
    keys_dir = tmp_path / 'keys'
    keys_dir.mkdir(mode=0o700)
    path = keys_dir / 'alice.key'
    if kind == 'fifo':
        os.mkfifo(str(path))            # reading it would block the run forever
    elif kind == 'directory':
        path.mkdir()
    else:
        target = tmp_path / 'elsewhere.key'
        target.write_text(keys.new_key_pair()[0] + '\n')
        os.symlink(str(target), str(path))
    with pytest.raises(keys.KeyFileError, match="user 'alice': the key file .* is not a regular file"):
        keys.load_public_key(str(keys_dir), 'alice')


def test_a_directory_created_by_another_run_meanwhile_is_no_error(tmp_path, monkeypatch):
    # Two first runs at once: both see no directory, the other one creates it first. Whatever creates a state
    # directory (the lock, a state file, the key directory) must then go on, not fail with "File exists".
    real_isdir = os.path.isdir
    created = set()

    def late_isdir(path):
        if path not in created and not real_isdir(path):
            os.makedirs(path)           # the other run wins the race
            created.add(path)
            return False
        return real_isdir(path)

    monkeypatch.setattr(os.path, 'isdir', late_isdir)
    state_dir = str(tmp_path / 'state')
    with state.StateLock(state_dir, exclusive=True, timeout=1):
        pass
    assert state.write_json(str(tmp_path / 'other' / 'leases.json'), {'version': 1})
    keys.ensure_key_dir(str(tmp_path / 'keys'))
    assert oct(os.stat(str(tmp_path / 'keys')).st_mode & 0o777) == '0o700'
