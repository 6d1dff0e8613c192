# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible Vault as the codec of the private keys the controller keeps (``mesh_keys``).

It uses the vault secrets of the run (``--vault-id``, ``--vault-password-file``, ``--ask-vault-pass``, or
``ANSIBLE_VAULT_IDENTITY_LIST``): a key is encrypted with the run's encrypt identity
(``DEFAULT_VAULT_ENCRYPT_IDENTITY``) or, without one, its first secret, and opened with any of them.
Controller-only, so it lives in ``plugin_utils``.
"""

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.parsing.vault import match_encrypt_secret


class VaultCodec:
    """``encrypt`` and ``decrypt`` of text with the run's vault secrets; ``decrypt`` raises ValueError."""

    def __init__(self, vault):
        self._vault = vault
        self.vault_id, self._secret = match_encrypt_secret(vault.secrets, C.DEFAULT_VAULT_ENCRYPT_IDENTITY)

    def encrypt(self, text):
        data = self._vault.encrypt(text, secret=self._secret, vault_id=self.vault_id)
        return data.decode('ascii') if isinstance(data, bytes) else data

    def decrypt(self, text):
        try:
            data = self._vault.decrypt(text)
        except AnsibleError as exc:
            raise ValueError(str(exc).splitlines()[0] if str(exc) else 'it could not be decrypted')
        return data.decode('utf-8') if isinstance(data, bytes) else data


def vault_codec(loader):
    """The codec of the run's vault secrets, or None when the run has none."""
    vault = getattr(loader, '_vault', None)
    secrets = getattr(vault, 'secrets', None) or []
    if not secrets:
        return None
    try:
        return VaultCodec(vault)
    except AnsibleError:
        return None
