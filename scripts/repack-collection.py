# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pack an installed collection (one the ``ansible`` package on PyPI bundles) into a collection artifact that
``ansible-galaxy collection install`` accepts, for builds with no Galaxy server (scripts/collection-tarballs.sh).

The bundled copy lacks some files its FILES.json lists (CI settings, tests), so the file list is made anew from
what is there and MANIFEST.json is given its checksum; files are never changed.

    repack-collection.py INSTALLED_DIR OUTPUT_DIR    # prints the artifact's path
"""

import hashlib
import io
import json
import os
import sys
import tarfile


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def repack(source, output):
    with open(os.path.join(source, 'MANIFEST.json')) as handle:
        manifest = json.load(handle)
    entries = [{'name': '.', 'ftype': 'dir', 'chksum_type': None, 'chksum_sha256': None, 'format': 1}]
    members = []
    for root, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != '__pycache__')
        relative = os.path.relpath(root, source)
        if relative != '.':
            entries.append({'name': relative, 'ftype': 'dir', 'chksum_type': None, 'chksum_sha256': None,
                            'format': 1})
            members.append((relative, None))
        for name in sorted(files):
            path = name if relative == '.' else os.path.join(relative, name)
            if path in ('MANIFEST.json', 'FILES.json') or name.endswith('.pyc'):
                continue
            with open(os.path.join(source, path), 'rb') as handle:
                data = handle.read()
            entries.append({'name': path, 'ftype': 'file', 'chksum_type': 'sha256', 'chksum_sha256': _sha256(data),
                            'format': 1})
            members.append((path, data))
    files_json = json.dumps({'files': entries, 'format': 1}, indent=4).encode()
    manifest['file_manifest_file']['chksum_sha256'] = _sha256(files_json)
    manifest_json = json.dumps(manifest, indent=4).encode()
    info = manifest['collection_info']
    artifact = os.path.join(output, '%s-%s-%s.tar.gz' % (info['namespace'], info['name'], info['version']))
    with tarfile.open(artifact, 'w:gz') as archive:
        for name, data in [('MANIFEST.json', manifest_json), ('FILES.json', files_json)] + members:
            member = tarfile.TarInfo(name)
            if data is None:
                member.type, member.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(member)
            else:
                member.size, member.mode = len(data), 0o644
                archive.addfile(member, io.BytesIO(data))
    return artifact


if __name__ == '__main__':
    print(repack(sys.argv[1], sys.argv[2]))
