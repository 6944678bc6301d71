"""The roles that install scheduled jobs say what the status page should expect of them.

Each role's `tasks/status.yml` (the task its main flow imports after installing the units) runs
here through ansible-runner on localhost, with the inventory's `status_expectations_dir` in a temp
dir, so nothing but that dir is touched: a restic job, a ZFS scrub, a PBS media backup and drill
and the photo vault's jobs that never ran are red "No record of it", each with the command that
runs it now. A second run changes nothing, check mode writes nothing, a removed restic job's
expectation goes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".collections"))

# pylint: disable-next=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, gather  # noqa: E402

PLAYBOOK = """
- name: Say what to expect, as each role does after installing its jobs
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run each role's status task
      ansible.builtin.include_role:
        name: sovereign.cloud.{{ item }}
        tasks_from: status
      loop: [restic_backup, zfs_datasets, pve_host, photo_vault]
"""


def inventory(tmp_path: Path, jobs: list[dict]) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "status_expectations_dir": str(tmp_path / "status.d"),
        "restic_backup_repositories": [{"name": "nas", "repository": "/srv/restic", "password": "x"}],
        "restic_backup_jobs": jobs,
        "zfs_datasets_scrub_pools": ["tank"],
        "pve_host_media_backups": [{"name": "photos", "path": "/srv/photos", "repository": "u@pbs@pbs:store",
                                    "password": "x", "fingerprint": "00", "drill": {"enabled": False}}],
        "photo_vault_root": "/srv/photos", "photo_vault_sources": [],
    }}}}))
    return path


def test_jobs_that_never_ran_are_red_with_the_command_that_runs_them(run_playbook, tmp_path):
    playbook = tmp_path / "expect.yml"
    playbook.write_text(PLAYBOOK)
    jobs = [{"name": "media", "repository": "nas", "tier": "media"},
            {"name": "docs", "repository": "nas", "tier": "documents", "enabled": False}]
    folder = tmp_path / "status.d"

    check = run_playbook(str(playbook), inventory(tmp_path, jobs), check=True)
    assert check.rc == 0 and check.changed == 4, check.stdout[-3000:]
    assert not folder.exists(), "check mode wrote something"
    first = run_playbook(str(playbook), inventory(tmp_path, jobs))
    assert first.rc == 0 and first.changed == 4, first.stdout[-3000:]
    again = run_playbook(str(playbook), inventory(tmp_path, jobs))
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]

    files = sorted(p.name for p in folder.iterdir())
    assert files == ["pbs.backup--photos.json", "photo_vault.thumbnails--photos.json", "photo_vault.verify--photos.json",
                     "restic.backup--media.json", "restic.check--nas.json", "zfs.scrub--tank.json"]
    gathered = gather.gather(str(tmp_path / "state"), str(folder))
    items = {(i["kind"], i["name"]): i for i in evaluate.report({"nas": gathered})["items"]}
    media = items[("restic.backup", "media")]
    assert media["state"] == "red" and media["reason"] == "No record of it: it should run every week."
    assert media["fix"] == "systemctl start sovereign-restic-media.service" and media["every"] == 604800
    assert items[("restic.check", "nas")]["fix"] == "systemctl start sovereign-restic-check-nas.service"
    assert items[("zfs.scrub", "tank")]["fix"] == "systemctl start sovereign-zpool-scrub-tank.service"
    assert items[("zfs.scrub", "tank")]["reason"] == "No record of it: it should run every month."
    assert items[("pbs.backup", "photos")]["fix"] == "systemctl start sovereign-pbs-backup-photos.service"
    assert items[("photo_vault.verify", "photos")]["fix"] == "sovereign-photos verify --full"
    assert all(i["state"] == "red" for i in items.values())

    # The media job leaves the inventory: its expectation goes with its units.
    removed = run_playbook(str(playbook), inventory(tmp_path, jobs[1:]))
    assert removed.rc == 0 and removed.changed == 1, removed.stdout[-3000:]
    assert not (folder / "restic.backup--media.json").exists() and (folder / "restic.check--nas.json").exists()
