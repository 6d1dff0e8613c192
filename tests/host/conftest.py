# -*- coding: utf-8 -*-
# Copyright (c) 2026 MeshConnect
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host tests: the agent's real firewall and guard, with real packets between
network namespaces on this machine (no Docker, no WireGuard: a veth pair
named like the mesh interface stands in for the tunnel).

They need root, nftables, iproute2, iputils-ping, util-linux and Graphviz; ``make
host`` (and ``make test``) installs them first. Missing tools fail the run
instead of skipping it, so that a green run means the tests ran.
"""

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'plugins'))
sys.path.insert(0, HERE)

# imported for its side effect: the collection importable, meshrun's collections root
import conftest_plugins  # noqa: E402,F401  pylint: disable=unused-import

NEEDED = ('nft', 'ip', 'ping', 'unshare', 'dot', 'chromium')


def pytest_sessionstart(session):
    missing = [tool for tool in NEEDED if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        pytest.exit('tests/host need root and %s (missing: %s); run them with `make host`'
                    % (', '.join(NEEDED), ', '.join(missing) or 'root'), returncode=3)
