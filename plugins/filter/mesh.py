# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small transformations for reports and templates (documentation in the .yml files beside)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table, nft_elements, report_text


def _matrix_table(matrix, limit=200):
    if not isinstance(matrix, dict):
        raise AnsibleFilterError('matrix_table expects the report matrix (a dict), got %s' % type(matrix).__name__)
    return matrix_table(matrix, int(limit))


def _report_text(report, limit=200):
    if not isinstance(report, dict):
        raise AnsibleFilterError('report_text expects the report of mesh_plan (a dict), got %s'
                                 % type(report).__name__)
    return report_text(report, int(limit))


def _nft_elements(groups, kind):
    if kind not in ('ports', 'other', 'ping'):
        raise AnsibleFilterError("nft_elements: kind must be ports, other or ping, not %r" % (kind,))
    try:
        return nft_elements(groups, kind)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('nft_elements expects the firewall groups of an agent plan: %s' % exc)


class FilterModule:
    def filters(self):
        return {
            'matrix_table': _matrix_table,
            'nft_elements': _nft_elements,
            'report_text': _report_text,
        }
