"""The Macs, Syncthing and the pruning of dropped jobs on the status page.

The expectation tasks of mac_identity_node, mac_backup_controller and syncthing, and the prune tasks of
zfs_datasets and pve_host, run here through ansible-runner on localhost (root in this container; the Mac
roles' `become: true` goes through su), with every folder in a temp dir: /etc/systemd/system is only
searched (nothing of ours is there). Then the host's statuses are gathered and evaluated as
`playbooks/status.yml` does: each job that never ran is red with the command that runs it; an iOS
device's backup is read from its Info.plist (fresh: green; missing: red with what to do). Dropping a
pool, a media backup, a device, a folder and the iMessage archive from the inventory removes their
expectations (and the pool's and backup's results and settings): check mode first (says so, removes
nothing), then for real, then a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import plistlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".collections"))

# pylint: disable-next=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, gather  # noqa: E402

PLAYBOOK = """
- name: Say what to expect and drop what is gone, as each role does
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the roles' status and prune tasks
      ansible.builtin.include_role:
        name: sovereign.cloud.{{ item.0 }}
        tasks_from: "{{ item.1 }}"
      loop:
        - [mac_identity_node, status]
        - [mac_backup_controller, status]
        - [syncthing, expectations]
        - [zfs_datasets, scrub_prune]
        - [pve_host, media_backup_prune]
        - [pve_host, status]
"""

DEVICES = [{"owner": "alex", "device": "iPhone 15 Pro", "name": "Alex's iPhone"},
           {"owner": "sam", "device": "iPad Air", "name": "Sam's iPad", "max_age_days": 7},
           {"owner": "alex", "device": "Apple Watch", "backup": "inside_iphone"}]


def inventory(tmp_path: Path, full: bool) -> Path:
    path = tmp_path / ("full.yml" if full else "less.yml")
    backup = {"path": "/srv/photos", "repository": "u@pbs@pbs:store", "password": "x", "fingerprint": "00"}
    path.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "ansible_become_method": "ansible.builtin.su",
        "status_expectations_dir": str(tmp_path / "status.d"),
        "base_state_dir": str(tmp_path / "state"),
        "mac_identity_node_person": "mom", "mac_identity_node_imessage_enabled": full,
        "mac_backup_controller_devices": DEVICES if full else DEVICES[:1],
        "mac_backup_controller_backups_path": str(tmp_path / "iMazing"),
        "mac_backup_controller_restic_enabled": True,
        "syncthing_folders": [{"id": "photo-vault", "label": "Photos"}] + ([{"id": "docs"}] if full else []),
        "zfs_datasets_scrub_pools": ["tank", "old"] if full else ["tank"],
        "zfs_datasets_scrub_status_dir": str(tmp_path / "state" / "zfs"),
        "pve_host_media_config_dir": str(tmp_path / "pbs"),
        "pve_host_media_backups": [dict(backup, name="photos")] + ([dict(backup, name="old")] if full else []),
    }}}}))
    return path


def plant(tmp_path: Path) -> None:
    """What the jobs of the full inventory left behind: results, settings, statuses, one device's backup."""
    for folder in ("state/zfs", "state/status", "pbs", "iMazing/00008120-AAAA"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for pool in ("tank", "old"):
        (tmp_path / f"state/zfs/scrub-{pool}.json").write_text(json.dumps({"pool": pool, "result": "ok"}))
    for name in ("photos", "old"):
        (tmp_path / f"pbs/{name}.env").write_text("PBS_PASSWORD=x\n")
        (tmp_path / f"pbs/{name}.json").write_text("{}\n")
        (tmp_path / f"state/status/pbs.backup--{name}.json").write_text("{}\n")
    (tmp_path / "state/status/restic.backup--keep.json").write_text("{}\n")  # another kind: not pve_host's
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=20)
    with open(tmp_path / "iMazing/00008120-AAAA/Info.plist", "wb") as handle:
        plistlib.dump({"Device Name": "Alex\u2019s iPhone", "Product Type": "iPhone16,1",
                       "Unique Identifier": "00008120-AAAA", "Last Backup Date": when.replace(tzinfo=None)}, handle)


def test_mac_and_syncthing_expectations_and_pruning(run_playbook, tmp_path):
    playbook = tmp_path / "status.yml"
    playbook.write_text(PLAYBOOK)
    # The agents' launchctl domain is the person's uid (dscl on a Mac): given here.
    extra = {"mac_identity_node__uid": 501}
    plant(tmp_path)
    folder = tmp_path / "status.d"

    first = run_playbook(str(playbook), inventory(tmp_path, True), extravars=extra)
    assert first.rc == 0, first.stdout[-3000:]
    again = run_playbook(str(playbook), inventory(tmp_path, True), extravars=extra)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == [
        "ios.backup--alex_Alex_s_iPhone.json", "ios.backup--sam_Sam_s_iPad.json", "mac.imessage_archive--mom.json",
        "mac.mount_share--mom.json", "pbs.backup--old.json", "pbs.backup--photos.json",
        "pbs.restore_drill--old.json", "pbs.restore_drill--photos.json",
        "syncthing.folder--docs.json", "syncthing.folder--photo-vault.json", "zfs.scrub--old.json",
        "zfs.scrub--tank.json"]
    imessage = json.loads((folder / "mac.imessage_archive--mom.json").read_text())
    assert imessage["every"] == 604800 and imessage["fix"] == "launchctl kickstart gui/501/cloud.sovereign.imessage-archive"
    ipad = json.loads((folder / "ios.backup--sam_Sam_s_iPad.json").read_text())
    assert ipad["red_after"] == str(7 * 86400) and ipad["amber_after"] == str(int(3.5 * 86400))
    assert ipad["source"] == {"type": "ios_backup", "path": str(tmp_path / "iMazing"), "name": "Sam's iPad",
                              "udid": None, "owner": "sam"}

    # What the page makes of it, as collection_status gathers on a Mac (its folders given, as on a stand-in).
    found = gather.gather(str(tmp_path / "mac"), str(folder), restic_dir=str(tmp_path / "mac" / "restic"))
    items = {(i["kind"], i["name"]): i for i in evaluate.report({"server-a": found})["items"]}
    iphone = items[("ios.backup", "alex: Alex's iPhone")]
    assert iphone["state"] == "green" and iphone["title"] == "alex's iPhone 15 Pro backup", iphone
    assert "iPhone16,1" in iphone["summary"] and 19 * 3600 < iphone["age"] < 21 * 3600
    missing = items[("ios.backup", "sam: Sam's iPad")]
    assert missing["state"] == "red" and missing["reason"].startswith("iMazing has no backup of this device in ")
    assert missing["fix"] == "open -a iMazing"
    # The off-site job's expectation is restic_backup's (molecule mac_nodes checks it under launchd).
    assert ("restic.backup", "offsite") not in items
    assert items[("mac.imessage_archive", "mom")]["reason"] == "No record of it: it should run every week."
    assert items[("syncthing.folder", "docs")]["fix"] == "systemctl start sovereign-syncthing-status.service"
    assert items[("syncthing.folder", "photo-vault")]["title"] == "Syncthing folder Photos"

    # Dropped from the inventory: pool "old", backup "old", Sam's iPad, folder "docs", the iMessage archive.
    check = run_playbook(str(playbook), inventory(tmp_path, False), extravars=extra, check=True)
    assert check.rc == 0 and check.changed >= 5, check.stdout[-3000:]
    assert (folder / "zfs.scrub--old.json").exists() and (tmp_path / "pbs/old.env").exists(), "check mode removed"
    less = run_playbook(str(playbook), inventory(tmp_path, False), extravars=extra)
    assert less.rc == 0 and less.changed >= 5, less.stdout[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == [
        "ios.backup--alex_Alex_s_iPhone.json", "mac.mount_share--mom.json", "pbs.backup--photos.json",
        "pbs.restore_drill--photos.json", "syncthing.folder--photo-vault.json",
        "zfs.scrub--tank.json"]
    assert sorted(p.name for p in (tmp_path / "state/zfs").iterdir()) == ["scrub-tank.json"]
    assert sorted(p.name for p in (tmp_path / "pbs").iterdir()) == ["photos.env", "photos.json"]
    assert sorted(p.name for p in (tmp_path / "state/status").iterdir()) == [
        "pbs.backup--photos.json", "restic.backup--keep.json"]
    last = run_playbook(str(playbook), inventory(tmp_path, False), extravars=extra)
    assert last.rc == 0 and last.changed == 0, last.stdout[-3000:]
