# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rotate.yml refuses a site that is not one of the mesh before touching any host (the rotation itself, with
real agents and a ping through it, runs in Molecule's mesh scenario)."""

import pytest

from meshrun import run_playbook, write_inventory


@pytest.mark.parametrize('extra', [(), ('-e', 'meshconnect_rotate=nowhere')], ids=['unset', 'unknown'])
def test_rotate_needs_one_site_of_the_mesh_and_touches_no_host_otherwise(tmp_path, extra):
    inv = write_inventory(str(tmp_path / 'inv'))
    run = run_playbook(str(tmp_path), inv, 'rotate.yml', *extra)
    assert run.rc != 0, run.log
    assert 'meshconnect_rotate must name one site of the mesh (one of: branch, hq)' in run.output
    assert 'Fix: -e meshconnect_rotate=SITE' in run.output
    # The agents (unreachable fakes) were never contacted.
    assert 'UNREACHABLE' not in run.output and 'gw-hq' not in run.recap()
