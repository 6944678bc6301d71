"""restic_backup's systemd units, rendered by ansible-playbook from the role's templates and vars,
and read by systemd's own parser (``systemd-analyze verify``)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "restic_backup"
PLAY = """
- name: Render the restic_backup units
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {role}/defaults/main.yml
    - {role}/vars/main.yml
  tasks:
    - name: Render the job services
      ansible.builtin.template:
        src: {role}/templates/job.service.j2
        dest: "{out}/sovereign-restic-{{{{ item.name }}}}.service"
        mode: "0644"
      loop: "{{{{ restic_backup__jobs }}}}"
    - name: Render the check services
      ansible.builtin.template:
        src: {role}/templates/check.service.j2
        dest: "{out}/sovereign-restic-check-{{{{ item.name }}}}.service"
        mode: "0644"
      loop: "{{{{ restic_backup__checks }}}}"
"""


@pytest.fixture(scope="module")
def units(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("units")
    out = tmp / "out"
    out.mkdir()
    (tmp / "play.yml").write_text(PLAY.format(role=ROLE, out=out))
    (tmp / "vars.json").write_text(json.dumps({
        "restic_backup_repositories": [{"name": "usb", "repository": "/media/usb disk/restic", "password": "x"},
                                       {"name": "nas", "repository": "sftp:restic@nas.example.com:/srv/restic",
                                        "password": "x"}],
        "restic_backup_jobs": [
            {"name": "photos", "repository": "usb", "tier": "media", "paths": ["/mnt/nas/photos", "/srv/50% scans"]},
            {"name": "documents", "repository": "nas", "tier": "documents", "paths": ["/home/alice/Documents"]}]}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                          str(tmp / "play.yml"), "-e", f"@{tmp / 'vars.json'}"],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    return out


def mounts_for(unit: Path) -> list[str]:
    """The paths of the RequiresMountsFor= lines, unquoted and with %% unescaped as systemd reads them."""
    values = []
    for line in unit.read_text().splitlines():
        if line.startswith("RequiresMountsFor="):
            values += [v.replace("%%", "%") for v in re.findall(r'"([^"]*)"', line)]
    return values


def test_a_job_unit_requires_the_mounts_of_its_paths_and_of_a_local_repository(units):
    assert mounts_for(units / "sovereign-restic-photos.service") == ["/mnt/nas/photos", "/srv/50% scans",
                                                                     "/media/usb disk/restic"]
    assert mounts_for(units / "sovereign-restic-documents.service") == ["/home/alice/Documents"]
    assert mounts_for(units / "sovereign-restic-check-usb.service") == ["/media/usb disk/restic"]
    assert mounts_for(units / "sovereign-restic-check-nas.service") == []


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_reads_every_mount_path(units):
    for unit in sorted(units.glob("*.service")):
        run = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
        assert "RequiresMountsFor" not in run.stderr, run.stderr


STALE_PLAY = """
- name: Compute what restic_backup removes
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {role}/defaults/main.yml
    - {role}/vars/main.yml
  tasks:
    - name: Write the stale files
      ansible.builtin.copy:
        content: "{{{{ restic_backup__stale | to_json }}}}"
        dest: "{out}"
        mode: "0644"
"""


def test_a_removed_jobs_units_settings_and_last_result_are_stale_and_nothing_else(tmp_path):
    """The status page would show a removed job's last result (<state>/restic/<job>.json) as an ageing item."""
    state = "/var/lib/sovereign-cloud/restic"
    found = ["/etc/systemd/system/sovereign-restic-photos.service", "/etc/systemd/system/sovereign-restic-old.timer",
             "/etc/sovereign/restic/job-photos.json", "/etc/sovereign/restic/job-old.json"]
    state_found = [f"{state}/photos.json", f"{state}/old.json", f"{state}/check-usb.json", f"{state}/check-gone.json"]
    (tmp_path / "play.yml").write_text(STALE_PLAY.format(role=ROLE, out=tmp_path / "stale.json"))
    (tmp_path / "vars.json").write_text(json.dumps({
        "restic_backup_repositories": [{"name": "usb", "repository": "/media/usb/restic", "password": "x"}],
        "restic_backup_jobs": [{"name": "photos", "repository": "usb", "tier": "media", "paths": ["/srv/photos"]}],
        "restic_backup__found": {"files": [{"path": p} for p in found]},
        "restic_backup__state_found": {"files": [{"path": p} for p in state_found]}}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                          str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"],
                         capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    assert json.loads((tmp_path / "stale.json").read_text()) == [
        "/etc/systemd/system/sovereign-restic-old.timer", "/etc/sovereign/restic/job-old.json",
        f"{state}/old.json", f"{state}/check-gone.json"]
