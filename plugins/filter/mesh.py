# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the compile report into text (documentation in the .yml files beside)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.meshconnect.mesh.plugins.module_utils.mesh_report import matrix_table, report_text


def _matrix_table(matrix, limit=200):
    if not isinstance(matrix, dict):
        raise AnsibleFilterError('matrix_table expects the report matrix (a dict), got %s' % type(matrix).__name__)
    return matrix_table(matrix, int(limit))


def _report_text(report, limit=200):
    if not isinstance(report, dict):
        raise AnsibleFilterError('report_text expects the report of mesh_plan (a dict), got %s'
                                 % type(report).__name__)
    return report_text(report, int(limit))


class FilterModule:
    def filters(self):
        return {
            'matrix_table': _matrix_table,
            'report_text': _report_text,
        }
