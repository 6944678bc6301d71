"""restic_backup under launchd: its checks refuse, before anything changes, a schedule launchd cannot
express (naming the job and why) and clashing labels; run by ansible-playbook on validate.yml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAY = """
- name: Validate the restic settings
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate
      ansible.builtin.import_role:
        name: sovereign.cloud.restic_backup
        tasks_from: validate.yml
"""
REPOS = [{"name": "offsite", "repository": "s3:s3.example.com/b/mac", "password": "x"}]


def validate(tmp_path, jobs, **extra):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps({"restic_backup_scheduler": "launchd",
                                                    "restic_backup_repositories": REPOS,
                                                    "restic_backup_jobs": jobs, **extra}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default")
    playbook = Path(sys.executable).parent / "ansible-playbook"
    return subprocess.run([str(playbook), "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)


def test_tier_schedules_and_the_weekly_check_pass(tmp_path):
    run = validate(tmp_path, [{"name": "offsite", "repository": "offsite", "tier": "media", "paths": ["/Volumes/Pegasus"]},
                              {"name": "docs", "repository": "offsite", "tier": "documents", "paths": ["/Users/mom"],
                               "schedule": "Mon..Fri 02:00"}])
    assert run.returncode == 0, run.stdout[-3000:]
    assert "job offsite: Sun *-*-* 03:30:00" in run.stdout and "check offsite: Sat *-*-* 05:00:00" in run.stdout


def test_a_schedule_launchd_cannot_express_is_refused_with_the_job_and_the_reason(tmp_path):
    run = validate(tmp_path, [{"name": "offsite", "repository": "offsite", "tier": "media", "paths": ["/Volumes/Pegasus"],
                               "schedule": "*-*-* 01:30:15"}])
    assert run.returncode != 0
    assert "job offsite: *-*-* 01:30:15" in run.stdout
    assert "launchd starts jobs on the minute; seconds must be 00" in run.stdout


def test_a_check_schedule_with_a_time_zone_is_refused(tmp_path):
    run = validate(tmp_path, [], restic_backup_check_schedule="Sat *-*-* 05:00:00 UTC")
    assert run.returncode != 0
    assert "check offsite: Sat *-*-* 05:00:00 UTC" in run.stdout and "drop any time zone" in run.stdout


def test_two_jobs_with_one_label_are_refused(tmp_path):
    job = {"repository": "offsite", "tier": "media", "paths": ["/Volumes/Pegasus"], "launchd_label": "cloud.sovereign.x"}
    run = validate(tmp_path, [dict(job, name="a"), dict(job, name="b")])
    assert run.returncode != 0 and "launchd label must be unique" in run.stdout


def test_systemd_hosts_are_not_asked_about_launchd(tmp_path):
    run = validate(tmp_path, [{"name": "offsite", "repository": "offsite", "tier": "media", "paths": ["/srv"],
                               "schedule": "*-*-* 01:30:15"}], restic_backup_scheduler="systemd")
    assert run.returncode == 0, run.stdout[-3000:]
