# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One place for the compiler's errors and warnings.

Every problem names the inventory item it concerns and says how to fix it.
Validation collects all problems before failing, so that one run shows
everything that is wrong with an inventory.
"""

try:
    import reprlib
except ImportError:  # pragma: no cover - Python 2 targets never load the compiler
    reprlib = None

# A message quotes at most this much of an offending value, and a run reports at most MAX_ERRORS
# problems: an inventory built to be huge when printed (nested YAML aliases) fails as fast as any other.
SHOW_CHARS = 60
MAX_ERRORS = 100


def _repr_limits():
    limits = reprlib.Repr()
    limits.maxlevel = 2
    limits.maxstring = SHOW_CHARS
    limits.maxother = SHOW_CHARS
    limits.maxlist = limits.maxtuple = limits.maxdict = limits.maxset = 4
    return limits


_REPR = _repr_limits() if reprlib else None


def show(value):
    """A short, bounded rendering of an inventory value for messages:
    ``'text'``, ``5``, ``[1, 2, ...]``; never longer than about SHOW_CHARS,
    whatever the size or depth of ``value``."""
    text = _REPR.repr(value) if _REPR else repr(value)
    if len(text) > SHOW_CHARS + 5:
        text = text[:SHOW_CHARS] + '...'
    return text


def describe(value):
    """The YAML kind of ``value`` for messages (``a mapping``, ``a number``, ...)."""
    if value is None:
        return 'empty (null)'
    if isinstance(value, bool):
        return 'a boolean (%s)' % ('true' if value else 'false')
    if isinstance(value, (int, float)):
        return 'a number (%s)' % show(value)
    if isinstance(value, str):
        return 'a string (%s)' % show(value)
    if isinstance(value, dict):
        return 'a mapping (%s)' % show(value)
    if isinstance(value, (list, tuple)):
        return 'a list (%s)' % show(value)
    return 'a %s (%s)' % (type(value).__name__, show(value))


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
        if len(self.errors) >= MAX_ERRORS:
            # Stop here: the work on a broken inventory stays bounded, and so does the message.
            self.errors.append('... stopped after %d errors; fix these and run again.' % MAX_ERRORS)
            raise MeshError(self.errors)

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
