"""Run playbooks the way users do, through ansible-runner, and read back the recap."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Recap:
    """The PLAY RECAP of one run, per host."""

    rc: int
    status: str
    stats: dict
    stdout: str

    def count(self, key: str, host: str = "localhost") -> int:
        return int((self.stats.get(key) or {}).get(host, 0))

    @property
    def failed(self) -> int:
        return sum((self.stats.get("failures") or {}).values()) + sum((self.stats.get("dark") or {}).values())

    @property
    def changed(self) -> int:
        return sum((self.stats.get("changed") or {}).values())


@pytest.fixture
def run_playbook(tmp_path):
    """Run ``playbooks/<name>`` with an inventory and extra vars; return its Recap."""
    ansible_runner = pytest.importorskip("ansible_runner")

    def run(playbook: str, inventory: str | Path, extravars: dict | None = None,
            tags: str | None = None, check: bool = False, limit: str | None = None) -> Recap:
        private = tmp_path / f"runner-{len(list(tmp_path.glob('runner-*')))}"
        private.mkdir()
        cmdline = []
        if check:
            cmdline += ["--check", "--diff"]
        result = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(REPO),
            playbook=str(REPO / "playbooks" / playbook),
            inventory=str(Path(inventory).resolve()),
            extravars=extravars or {},
            tags=tags,
            limit=limit,
            cmdline=" ".join(cmdline) or None,
            envvars={
                "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                "ANSIBLE_FORCE_COLOR": "0",
                "PATH": os.environ.get("PATH", ""),
                # The sovereign.cloud.report callback writes here, not into the user's home.
                "SOVEREIGN_REPORT_DIR": str(tmp_path / "run-reports"),
            },
            quiet=True,
        )
        stdout = result.stdout.read() if result.stdout else ""
        return Recap(rc=result.rc, status=result.status, stats=result.stats or {}, stdout=stdout)

    return run
