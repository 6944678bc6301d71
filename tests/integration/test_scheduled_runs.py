"""The scheduled_runs role applied on localhost into a temporary root, then its runner run for real:
ansible-runner's AWX layout, the status file, the lock, pruning, drift in check mode, the vault."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv"
SECRET = "hunter2-vault-pass-7f3a"


def _project(root: Path) -> tuple[Path, Path, Path]:
    """A tiny project (ok, drift and vaulted playbooks), its inventory and a vault password file."""
    project = root / "project"
    (project / "playbooks").mkdir(parents=True)
    (project / "ansible.cfg").write_text("[defaults]\nretry_files_enabled = false\ninterpreter_python = auto_silent\n")
    target = root / "drift-target.txt"
    target.write_text("as configured\n")
    (project / "playbooks" / "ok.yml").write_text("""---
- name: Say hello
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the environment the job settings give
      ansible.builtin.assert:
        that: lookup('ansible.builtin.env', 'SOVEREIGN_TEST_MARK') == 'from-envvars'
""")
    (project / "playbooks" / "drift.yml").write_text(f"""---
- name: Keep a file as configured
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the file
      ansible.builtin.copy:
        content: "{{{{ drift_content | default('as configured') }}}}\\n"
        dest: {target}
        mode: "0644"
""")
    (project / "playbooks" / "slow.yml").write_text("""---
- name: Take a while
  hosts: all
  gather_facts: false
  tasks:
    - name: Wait
      ansible.builtin.command: sleep 20
      changed_when: false
""")
    password = root / "vault-pass"
    password.write_text(SECRET + "\n")
    password.chmod(0o600)
    encrypted = subprocess.run(
        [str(VENV / "bin" / "ansible-vault"), "encrypt_string", "--vault-password-file", str(password),
         "the-vaulted-value", "--name", "vaulted"],
        capture_output=True, text=True, check=True).stdout
    (project / "playbooks" / "vaulted.yml").write_text(f"""---
- name: Read a vaulted value
  hosts: all
  gather_facts: false
  vars:
{''.join('    ' + line + chr(10) for line in encrypted.splitlines())}
  tasks:
    - name: Check the vaulted value
      ansible.builtin.assert:
        that: vaulted == 'the-vaulted-value'
""")
    inventory = root / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(f"""all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: {sys.executable}
""")
    return project, inventory, password


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    if not (VENV / "bin" / "ansible-runner").exists():
        pytest.skip("ansible-runner is not installed in .venv")
    root = tmp_path_factory.mktemp("sched")
    project, inventory, password = _project(root)
    (root / "systemd").mkdir()  # like /etc/systemd/system, it exists before the role runs
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    extravars = {
        "scheduled_runs_scheduler": "systemd",
        "scheduled_runs_manage_services": False,
        "scheduled_runs_user": user,
        "scheduled_runs_allow_root": user == "root",
        "scheduled_runs_project_dir": str(project),
        "scheduled_runs_inventory": str(inventory),
        "scheduled_runs_venv": str(VENV),
        "scheduled_runs_vault_password_file": str(password),
        "scheduled_runs_keep_days": 7,
        "scheduled_runs_envvars": {"SOVEREIGN_TEST_MARK": "from-envvars"},
        "scheduled_runs_runner_dir": str(root / "runs"),
        "scheduled_runs_state_dir": str(root / "state"),
        "scheduled_runs_status_d_dir": str(root / "etc" / "status.d"),
        "scheduled_runs_status_acl": False,
        "scheduled_runs_lib_dir": str(root / "lib"),
        "scheduled_runs_config_dir": str(root / "etc" / "scheduled-runs"),
        "scheduled_runs_bin_dir": str(root / "bin"),
        "scheduled_runs_unit_dir": str(root / "systemd"),
        "scheduled_runs_cron_file": str(root / "cron.d" / "sovereign-scheduled-runs"),
        "scheduled_runs_jobs": [
            {"name": "ok", "playbook": "playbooks/ok.yml", "schedule": "daily", "cron": "0 1 * * *"},
            {"name": "drift", "playbook": "playbooks/drift.yml", "schedule": "Sun *-*-* 06:00:00",
             "cron": "0 6 * * 0", "check": True},
            {"name": "vaulted", "playbook": "playbooks/vaulted.yml", "schedule": "weekly", "cron": "0 2 * * 1"},
            {"name": "later", "playbook": "playbooks/not-yet.yml", "schedule": "daily", "cron": "0 3 * * *",
             "optional": True},
        ],
    }
    (root / "vars.json").write_text(json.dumps(extravars))
    play = root / "apply.yml"
    play.write_text("""---
- name: Schedule the runs
  hosts: localhost
  gather_facts: true
  roles:
    - role: sovereign.cloud.scheduled_runs
""")
    return root, play, inventory, extravars


def _apply(run_playbook, applied, check=False):
    root, play, inventory, extravars = applied
    return run_playbook(str(play), inventory / "hosts.yml", extravars=extravars, check=check)


def _runner(root: Path, job: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "bin" / "sovereign-run"), job], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _status(root: Path, job: str) -> dict:
    return json.loads((root / "state" / "status" / f"scheduled-run--{job}.json").read_text())


def test_check_first_changes_nothing_then_apply_then_idempotent(run_playbook, applied):
    root = applied[0]
    first = _apply(run_playbook, applied, check=True)
    assert first.rc == 0, first.stdout
    assert first.changed > 0
    assert not list((root / "systemd").iterdir()) and not (root / "lib").exists()
    applied_run = _apply(run_playbook, applied)
    assert applied_run.rc == 0, applied_run.stdout
    assert "not-yet.yml does not exist" in applied_run.stdout
    second = _apply(run_playbook, applied)
    assert second.rc == 0, second.stdout
    assert second.changed == 0, second.stdout
    units = sorted(p.name for p in (root / "systemd").iterdir())
    assert units == [f"sovereign-run-{j}.{k}" for j in ("drift", "ok", "vaulted") for k in ("service", "timer")]
    service = (root / "systemd" / "sovereign-run-ok.service").read_text()
    for line in ("OnFailure=sovereign-notify@%n.service", "ProtectSystem=strict", "NoNewPrivileges=yes",
                 f"ReadWritePaths=-{root / 'runs'}", "CapabilityBoundingSet=", "User="):
        assert line in service
    analyze = shutil.which("systemd-analyze")
    if analyze:
        verify = subprocess.run([analyze, "verify", "--man=no", *sorted(map(str, (root / "systemd").iterdir()))],
                                capture_output=True, text=True, timeout=120, check=False)
        assert verify.returncode == 0 and not verify.stdout.strip() and not verify.stderr.strip(), verify
    expectation = json.loads((root / "etc" / "status.d" / "scheduled-run--drift.json").read_text())
    assert expectation["kind"] == "scheduled-run" and expectation["every"] == 7 * 86400
    assert oct((root / "etc" / "scheduled-runs" / "vaulted.json").stat().st_mode & 0o777) == "0o600"
    assert "later" not in {p.stem for p in (root / "etc" / "scheduled-runs").iterdir()}


def test_runner_lays_out_awx_dir_writes_status_and_prunes(run_playbook, applied):
    root = applied[0]
    if not (root / "bin" / "sovereign-run").exists():
        assert _apply(run_playbook, applied).rc == 0
    old = root / "runs" / "ok" / "artifacts" / "20200101T000000Z"
    old.mkdir(parents=True)
    (old / "stdout").write_text("old\n")
    stamp = time.time() - 30 * 86400
    os.utime(old, (stamp, stamp))
    recent = root / "runs" / "ok" / "artifacts" / "20991231T000000Z"
    recent.mkdir()
    result = _runner(root, "ok")
    assert result.returncode == 0, result.stdout + result.stderr
    private = root / "runs" / "ok"
    for part in ("project", "inventory", "env/extravars", "env/envvars", "env/settings", "artifacts"):
        assert (private / part).exists(), part
    assert str((private / "project").resolve()) == applied[3]["scheduled_runs_project_dir"]
    doc = _status(root, "ok")
    assert doc["ok"] is True and doc["kind"] == "scheduled-run", doc
    run_dir = Path(doc["details"]["artifacts"])
    for name in ("rc", "status", "stdout", "job_events"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "rc").read_text().strip() == "0"
    assert not old.exists(), "an artifact folder older than keep_days was kept"
    assert recent.exists()
    assert doc["details"]["pruned"] == 1


def test_overlapping_run_is_skipped_by_the_lock(run_playbook, applied):
    root = applied[0]
    if not (root / "bin" / "sovereign-run").exists():
        assert _apply(run_playbook, applied).rc == 0
    lock_path = root / "runs" / "ok.lock"
    before = sorted((root / "runs" / "ok" / "artifacts").iterdir()) if (root / "runs" / "ok" / "artifacts").exists() else []
    with open(lock_path, "a+", encoding="utf-8") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        started = time.monotonic()
        result = _runner(root, "ok", timeout=60)
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped, the previous run still holds" in result.stdout
    assert elapsed < 30
    after = sorted((root / "runs" / "ok" / "artifacts").iterdir()) if (root / "runs" / "ok" / "artifacts").exists() else []
    assert after == before, "a skipped run must not start ansible-runner"


def test_a_second_concurrent_run_is_skipped(run_playbook, applied):
    root = applied[0]
    if not (root / "bin" / "sovereign-run").exists():
        assert _apply(run_playbook, applied).rc == 0
    settings = json.loads((root / "etc" / "scheduled-runs" / "ok.json").read_text())
    settings.update(name="slow", playbook="playbooks/slow.yml", lock_file=str(root / "runs" / "slow.lock"))
    config = root / "slow.json"
    config.write_text(json.dumps(settings))
    command = [str(VENV / "bin" / "python"), str(root / "lib" / "sovereign_run.py"), "--config", str(config)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    artifacts = root / "runs" / "slow" / "artifacts"
    deadline = time.monotonic() + 60
    while not (artifacts.exists() and any(artifacts.iterdir())):  # the first run holds the lock by then
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert first.poll() is None, "the first run ended before the second started; the test proves nothing"
    assert second.returncode == 0, second.stdout + second.stderr
    assert "slow: skipped, the previous run still holds" in second.stdout
    out = first.communicate(timeout=300)[0]
    assert first.returncode == 0, out
    assert len(list(artifacts.iterdir())) == 1, "the skipped run left artifacts"
    assert _status(root, "slow")["ok"] is True


def test_check_mode_run_reports_drift(run_playbook, applied):
    root = applied[0]
    if not (root / "bin" / "sovereign-run").exists():
        assert _apply(run_playbook, applied).rc == 0
    clean = _runner(root, "drift")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert _status(root, "drift")["details"]["drift"] is False
    (root / "drift-target.txt").write_text("changed by hand\n")
    drifted = _runner(root, "drift")
    assert drifted.returncode == 3, drifted.stdout + drifted.stderr
    doc = _status(root, "drift")
    assert doc["ok"] is False and doc["details"]["drift"] is True, doc
    assert "drift" in doc["summary"] and "localhost (1)" in doc["summary"]
    assert doc["details"]["changed_tasks"] == ["localhost: Write the file"]
    assert doc["fix"].startswith(f"cd {root / 'project'} && ansible-playbook playbooks/drift.yml")
    assert doc["last_success_at"], "a drifted run keeps the time of the last clean one"
    # check mode: the file was not touched
    assert (root / "drift-target.txt").read_text() == "changed by hand\n"
    cmdline = (root / "runs" / "drift" / "env" / "cmdline").read_text()
    assert "--check" in cmdline


def test_vault_password_is_used_and_never_written(run_playbook, applied):
    root = applied[0]
    if not (root / "bin" / "sovereign-run").exists():
        assert _apply(run_playbook, applied).rc == 0
    result = _runner(root, "vaulted")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _status(root, "vaulted")["ok"] is True
    assert SECRET not in result.stdout + result.stderr
    for folder in ("runs", "state", "etc", "lib", "systemd"):
        for path in (root / folder).rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert SECRET not in path.read_text(errors="replace"), path


def test_switching_to_cron_replaces_the_timers(run_playbook, applied):
    root, play, inventory, extravars = applied
    cron_vars = {**extravars, "scheduled_runs_scheduler": "cron"}
    (root / "cron.d").mkdir(exist_ok=True)
    switched = run_playbook(str(play), inventory / "hosts.yml", extravars=cron_vars)
    assert switched.rc == 0, switched.stdout
    assert not list((root / "systemd").iterdir()), "the timers of the jobs stay behind"
    lines = [line for line in (root / "cron.d" / "sovereign-scheduled-runs").read_text().splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 3, lines
    user = extravars["scheduled_runs_user"]
    drift = next(line for line in lines if "/drift.json" in line)
    assert drift.startswith(f"0 6 * * 0 {user} {VENV}/bin/python {root / 'lib'}/sovereign_run.py --config ")
    assert drift.endswith("2>&1 | logger -t sovereign-run-drift")
    settings = json.loads((root / "etc" / "scheduled-runs" / "drift.json").read_text())
    assert settings["notify_command"][-1] == "sovereign-run-drift.service"
    assert settings["every"] == 7 * 86400
    again = run_playbook(str(play), inventory / "hosts.yml", extravars=cron_vars)
    assert again.rc == 0 and again.changed == 0, again.stdout
