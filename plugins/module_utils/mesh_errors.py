# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One place for the compiler's errors and warnings.

Every problem names the inventory item it concerns and says how to fix it.
Validation collects all problems before failing, so that one run shows
everything that is wrong with an inventory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class MeshError(Exception):
    """The inventory cannot be compiled; ``errors`` lists every reason."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(MeshError, self).__init__(self.__str__())

    def __str__(self):
        count = len(self.errors)
        head = 'the mesh inventory has %d error%s' % (count, '' if count == 1 else 's')
        return head + ':\n' + '\n'.join('  - ' + error for error in self.errors)


class Problems:
    """Collects errors and warnings while validating and compiling."""

    def __init__(self):
        self.errors = []
        self.warnings = []

    def error(self, item, problem, fix=None):
        self.errors.append(_format(item, problem, fix))

    def warn(self, item, problem, fix=None):
        self.warnings.append(_format(item, problem, fix))

    def raise_if_any(self):
        if self.errors:
            raise MeshError(self.errors)


def _format(item, problem, fix):
    text = '%s: %s' % (item, problem)
    if fix:
        text += ' Fix: ' + fix
    return text
