"""playbooks/status.yml on the demo inventory: a green page, then a red item after a stale backup.

The status files are made here (common.status, and a restic_backup state file as restic_job.py writes
it) in the demo's state dir instead of running `make demo`'s whole rollout; `make demo` itself runs the
photo vault's jobs and this playbook (Makefile).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".collections"))

# pylint: disable-next=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic, status  # noqa: E402

DEMO = REPO / "inventory" / "demo"


def ago(**delta) -> str:
    return status.iso(status.utc_now() - dt.timedelta(**delta))


def restic_state(path: Path, finished: str) -> None:
    """A good restic backup as roles/restic_backup/files/restic_job.py records it."""
    atomic.write_json(str(path), {
        "kind": "backup", "job": "media", "repository": "local", "started_at": finished, "finished_at": finished,
        "status": "ok", "phase": "done", "rc": 0, "snapshot_id": "4f2a91c0", "errors": [], "warnings": [],
        "last_success_at": finished, "stats": {"files_new": 2, "files_changed": 0, "total_files_processed": 17}})


def test_status_page_green_then_red_after_a_stale_backup(run_playbook, tmp_path):
    root = tmp_path / "demo"
    state = root / "state"
    for job in ("ingest", "thumbnails", "verify"):
        status.write_status(str(state), f"photo_vault.{job}", "vault", True, f"{job}: all good",
                            finished_at=ago(hours=2))
    restic_state(state / "restic" / "media.json", ago(hours=5))
    extravars = {"sovereign_demo_root": str(root)}

    green = run_playbook("status.yml", DEMO, extravars)
    assert green.rc == 0, green.stdout[-3000:]
    report = json.loads((root / "status.json").read_text())
    assert report["overall"] == "green" and report["counts"] == {"red": 0, "amber": 0, "green": 4}, report
    page = (root / "status.html").read_text()
    assert "<h1>Everything is safe</h1>" in page and "Restic backup: media" in page
    assert "Check again: <code>ansible-playbook playbooks/status.yml -i inventory/demo</code>" in page
    assert "sovereign.cloud status: GREEN (0 red, 0 amber, 4 green on 1 host)" in green.stdout

    # The backup stopped four days ago (the disk was unplugged): red, with the command that fixes it.
    restic_state(state / "restic" / "media.json", ago(days=4))
    red = run_playbook("status.yml", DEMO, extravars)
    assert red.rc != 0 and red.failed == 1, red.stdout[-3000:]
    assert "1 item(s) are not safe" in red.stdout
    report = json.loads((root / "status.json").read_text())
    [item] = [i for i in report["items"] if i["state"] == "red"]
    assert (item["kind"], item["name"]) == ("restic.backup", "media")
    assert item["reason"] == "Overdue: it should succeed every day." and item["age_text"] == "4 days ago"
    assert item["fix"] == "systemctl start sovereign-restic-media.service"
    page = (root / "status.html").read_text()
    assert "<h1>Something is not safe</h1>" in page
    assert "<code>systemctl start sovereign-restic-media.service</code>" in page

    # An expected job whose status is gone is red too; status_fail_on_red=false reports without failing.
    (state / "status" / "photo_vault.verify--vault.json").unlink()
    report_only = run_playbook("status.yml", DEMO, {**extravars, "status_fail_on_red": False})
    assert report_only.rc == 0, report_only.stdout[-3000:]
    report = json.loads((root / "status.json").read_text())
    missing = next(i for i in report["items"] if i["kind"] == "photo_vault.verify")
    assert missing["state"] == "red" and missing["reason"].startswith("No record of it")
    assert missing["fix"] == f"{root}/bin/sovereign-photos verify --full"
    assert report["counts"]["red"] == 2


def test_an_unreachable_host_is_one_red_item_and_the_page_is_still_written(run_playbook, tmp_path):
    state = tmp_path / "state"
    status.write_status(str(state), "photo_vault.ingest", "vault", True, "all good")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                      "base_state_dir": str(state), "status_expectations_dir": str(tmp_path / "status.d"),
                      "status_page_path": str(tmp_path / "status.html")},
        # nothing listens on port 1: unreachable at once
        "gone": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh"}}}}))
    recap = run_playbook("status.yml", inventory, {"status_fail_on_red": False})
    assert recap.rc == 0, recap.stdout[-3000:]
    report = json.loads((tmp_path / "status.json").read_text())
    assert report["counts"] == {"red": 1, "amber": 0, "green": 1}
    [gone] = [i for i in report["items"] if i["state"] == "red"]
    assert gone["host"] == "gone" and gone["fix"] == "ansible gone -m ansible.builtin.ping"
