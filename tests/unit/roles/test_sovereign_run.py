"""sovereign_run.py (the scheduled_runs role's runner) against a fake ``ansible-runner`` command that
writes the artifacts a real one writes (rc, status, job_events): failures, the notifier under cron,
a file inventory's group_vars, unreadable settings. The real ansible-runner runs in
tests/integration/test_scheduled_runs.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNNER = REPO / "roles" / "scheduled_runs" / "files" / "sovereign_run.py"

FAKE = r'''#!{python}
"""Fake ansible-runner for the unit tests: `run DIR -p PLAYBOOK --ident ID` writes the artifacts."""
import json, os, sys
args = sys.argv[1:]
private, ident = args[1], args[args.index("--ident") + 1]
art = os.path.join(private, "artifacts", ident)
os.makedirs(os.path.join(art, "job_events"))
spec = json.load(open(os.environ["FAKE_SPEC"]))
events = [{{"event": "runner_on_failed", "event_data": {{"host": "nas", "task": "Back up"}}}}] if spec["failed"] else []
events.append({{"event": "playbook_on_stats", "event_data": {{
    "ok": {{"nas": 3}}, "changed": {{}}, "failures": {{"nas": 1}} if spec["failed"] else {{}}, "dark": {{}}}}}})
for n, event in enumerate(events, 1):
    json.dump(event, open(os.path.join(art, "job_events", f"{{n}}-x.json"), "w"))
open(os.path.join(art, "rc"), "w").write(str(spec["rc"]))
open(os.path.join(art, "status"), "w").write("failed" if spec["rc"] else "successful")
print("PLAY RECAP (fake)")
sys.exit(spec["rc"])
'''


@pytest.fixture
def setup(tmp_path):
    fake = tmp_path / "ansible-runner"
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    inventory_dir = tmp_path / "inv"
    (inventory_dir / "group_vars").mkdir(parents=True)
    (inventory_dir / "hosts.yml").write_text("all: {}\n")
    (tmp_path / "project").mkdir()
    notified = tmp_path / "notified"
    cfg = {
        "name": "photo-verify", "playbook": "playbooks/photo_verify.yml", "project_dir": str(tmp_path / "project"),
        "inventory": str(inventory_dir / "hosts.yml"), "runner_dir": str(tmp_path / "runs"),
        "state_dir": str(tmp_path / "state"), "lock_file": str(tmp_path / "runs" / "photo-verify.lock"),
        "lib_dir": str(REPO / ".collections"), "ansible_runner": str(fake), "keep_days": 7, "every": 604800,
        "fix": "sovereign-run photo-verify", "extravars": {"photo_vault_run_verify_mode": "sample"},
        "notify_command": ["/bin/sh", "-c", f"echo \"$0\" > {notified}", "sovereign-run-photo-verify.service"],
    }
    config = tmp_path / "photo-verify.json"

    def run(failed: bool, rc: int) -> subprocess.CompletedProcess:
        (tmp_path / "spec.json").write_text(json.dumps({"failed": failed, "rc": rc}))
        config.write_text(json.dumps(cfg))
        return subprocess.run([sys.executable, str(RUNNER), "--config", str(config)], capture_output=True, text=True,
                              env={**os.environ, "FAKE_SPEC": str(tmp_path / "spec.json")}, timeout=60, check=False)

    return tmp_path, run, notified


def _status(root: Path) -> dict:
    return json.loads((root / "state" / "status" / "scheduled-run--photo-verify.json").read_text())


def test_a_failed_run_is_not_ok_names_the_fix_and_runs_the_notifier(setup):
    root, run, notified = setup
    ok = run(failed=False, rc=0)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    first = _status(root)
    assert first["ok"] is True and first["every"] == 604800 and first["fix"] is None
    assert not notified.exists()
    bad = run(failed=True, rc=2)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    doc = _status(root)
    assert doc["ok"] is False
    assert doc["summary"] == "playbooks/photo_verify.yml: failed on nas (1)"
    assert doc["fix"] == "sovereign-run photo-verify"
    assert doc["details"]["failed_tasks"] == ["nas: Back up"]
    assert doc["last_success_at"] == first["finished_at"]
    assert notified.read_text().strip() == "sovereign-run-photo-verify.service"


def test_a_file_inventory_brings_its_group_vars_and_extravars_land_in_env(setup):
    root, run, _notified = setup
    assert run(failed=False, rc=0).returncode == 0
    private = root / "runs" / "photo-verify"
    assert (private / "inventory" / "hosts").resolve() == root / "inv" / "hosts.yml"
    assert (private / "inventory" / "group_vars").resolve() == root / "inv" / "group_vars"
    assert json.loads((private / "env" / "extravars").read_text()) == {"photo_vault_run_verify_mode": "sample"}
    assert oct((private / "env" / "envvars").stat().st_mode & 0o777) == "0o600"
    assert not (private / "env" / "cmdline").exists()


def test_unreadable_settings_say_what_to_run(tmp_path):
    result = subprocess.run([sys.executable, str(RUNNER), "--config", str(tmp_path / "missing.json")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "playbooks/site.yml --tags scheduled_runs" in result.stdout
