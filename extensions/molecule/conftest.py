"""Shared testinfra set-up for every molecule scenario.

Molecule hands testinfra its inventory with the containers.podman connection, which testinfra
can only drive through one ``ansible`` run per command (1-3 s each). The hosts are local podman
containers named after their platform, so ``podman exec`` reaches the same host ~20x faster.
"""

from __future__ import annotations

import shutil

import pytest
import testinfra


@pytest.fixture(scope="module")
def host(_testinfra_host):
    backend = _testinfra_host.backend
    if backend.NAME == "ansible" and shutil.which("podman"):
        return testinfra.get_host(f"podman://{backend.host}")
    return _testinfra_host
