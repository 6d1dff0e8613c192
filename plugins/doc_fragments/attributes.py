# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment(object):
    """The attributes every module of the collection documents: what each one
    means lives here once; a module says only its support (and details)."""

    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    # For modules that only read: they change nothing, so check mode is the same run and there is no diff.
    READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
'''

    # For modules that change the host and show what they change.
    CHANGES = r'''
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
'''

    # For modules whose work runs on the controller (an action plugin of the same name).
    ACTION = r'''
options: {}
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
'''

    # For modules that return facts.
    FACTS = r'''
options: {}
attributes:
  facts:
    description: Action returns an C(ansible_facts) dictionary that will update existing host facts.
    support: full
'''
