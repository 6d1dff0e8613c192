# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""device-keys.json, the committed record of the public halves of the controller's key pairs: what makes one
unusable (mesh_keys.device_keys_problems)."""

import pytest

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_keys import DEVICE_KEYS_VERSION, device_keys_problems

KEY = 'UltV2CQCdo7Gn2UCutNxGNuqqFZOs1dMOehelsAkE1g='


def test_a_record_of_public_keys_is_fine():
    assert device_keys_problems({'version': DEVICE_KEYS_VERSION, 'keys': {'alice/laptop': KEY}}) == []
    assert device_keys_problems({'version': DEVICE_KEYS_VERSION, 'keys': {}}) == []


@pytest.mark.parametrize('document,problem', [
    ([], 'not a mapping'),
    ({'keys': {}}, 'its version is None'),
    ({'version': 2, 'keys': {}}, 'its version is 2'),
    ({'version': DEVICE_KEYS_VERSION}, '"keys" is NoneType'),
    ({'version': DEVICE_KEYS_VERSION, 'keys': [KEY]}, '"keys" is list'),
    ({'version': DEVICE_KEYS_VERSION, 'keys': {'alice': KEY[:-4]}}, "public key of 'alice'"),
    ({'version': DEVICE_KEYS_VERSION, 'keys': {'alice': None}}, "public key of 'alice'"),
    ({'version': DEVICE_KEYS_VERSION, 'keys': {'alice': KEY + '\n'}}, "public key of 'alice'"),
    ({'version': DEVICE_KEYS_VERSION, 'keys': {'bob': 'é' * 44}}, "public key of 'bob'"),
])
def test_a_damaged_record_says_what_is_wrong(document, problem):
    problems = device_keys_problems(document)
    assert problems and problem in problems[0], problems


@pytest.mark.parametrize('key', [KEY.replace('=', ''), 'A' * 43 + '!', 'QUJD', 32 * 'x'])
def test_public_keys_are_32_bytes_of_strict_base64(key):
    assert device_keys_problems({'version': DEVICE_KEYS_VERSION, 'keys': {'alice': key}})
