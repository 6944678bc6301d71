"""The status kinds of the Macs and Syncthing: green, amber, red and missing, each red with a fix that exists.

iMessage archive (mac_agent.py's statuses, including a missing Full Disk Access), the share mounted at
login (its age says nothing), iOS device backups (read from their Info.plist when the page gathers),
the Mac's off-site restic job (restic_job.py's state file) and Syncthing folders (syncthing_status.py).
"""

from __future__ import annotations

import datetime as dt
import plistlib
import sys
from pathlib import Path

from ansible_collections.sovereign.cloud.plugins.module_utils.common import status
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, expect, gather, kinds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_kinds import assert_exists  # noqa: E402  # pylint: disable=wrong-import-position,import-error

NOW = dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.timezone.utc)
KICKSTART = "launchctl kickstart gui/501/cloud.sovereign.imessage-archive"


def entry(kind: str, name: str, ok: bool = True, hours: float = 1, **fields) -> dict:
    finished = status.iso(NOW - dt.timedelta(hours=hours))
    doc = status.build(kind, name, ok, fields.pop("summary", "did its job"), finished_at=finished, **fields)
    return {"file": f"/state/status/{kind}--{name}.json", "doc": doc, "error": None}


def one(kind: str, name: str, entry_=None, expectation=None) -> dict:
    item = evaluate.evaluate_item("mac", kind, name, entry_, expectation, None, NOW)
    assert_exists(item["fix"].replace("--limit mac", "--limit {host}"))
    return item


def test_every_new_kind_is_registered_with_a_fix_that_exists():
    for kind in ("mac.imessage_archive", "mac.mount_share", "ios.backup", "syncthing.folder"):
        assert kind in kinds.KINDS
        assert_exists(kinds.KINDS[kind].fix)
    assert_exists(kinds.MAC_IDENTITY_CONVERGE)
    assert_exists(kinds.MAC_BACKUP_CONVERGE)
    for fix in (KICKSTART, "launchctl kickstart gui/501/cloud.sovereign.mount-share",
                "sudo launchctl kickstart system/cloud.sovereign.restic-offsite",
                "ansible-playbook playbooks/syncthing_revert.yml --limit {host} -e syncthing_revert_folder={name}"):
        assert_exists(fix)


def test_imessage_archive_green_amber_red_missing():
    expectation = {"kind": "mac.imessage_archive", "name": "mom", "every": 604800, "fix": KICKSTART}
    assert one("mac.imessage_archive", "mom", entry("mac.imessage_archive", "mom", hours=30), expectation)["state"] == "green"
    late = one("mac.imessage_archive", "mom", entry("mac.imessage_archive", "mom", hours=24 * 12), expectation)
    assert late["state"] == "amber" and late["group"] == "Messages"
    assert one("mac.imessage_archive", "mom", entry("mac.imessage_archive", "mom", hours=24 * 22), expectation)["state"] == "red"
    missing = one("mac.imessage_archive", "mom", None, expectation)
    assert missing["state"] == "red" and missing["reason"] == "No record of it: it should run every week."
    assert missing["fix"] == KICKSTART


def test_a_missing_full_disk_access_says_what_to_click():
    doc = entry("mac.imessage_archive", "mom", ok=False, fix="Full Disk Access is not granted ... (long hint)",
                details={"reason": "full_disk_access_missing", "program": "/Library/Developer/CommandLineTools/usr/bin/python3"})
    item = one("mac.imessage_archive", "mom", doc, {"kind": "mac.imessage_archive", "name": "mom", "fix": KICKSTART})
    assert item["state"] == "red"
    assert "System Settings > Privacy & Security > Full Disk Access > +" in item["reason"]
    assert "/Library/Developer/CommandLineTools/usr/bin/python3" in item["reason"]
    assert item["fix"] == KICKSTART  # the command in the box stays a command
    unmounted = one("mac.imessage_archive", "mom", entry("mac.imessage_archive", "mom", ok=False,
                    fix="launchctl kickstart gui/501/cloud.sovereign.mount-share", details={"reason": "share_not_mounted"}),
                    {"kind": "mac.imessage_archive", "name": "mom", "fix": KICKSTART})
    assert unmounted["fix"] == "launchctl kickstart gui/501/cloud.sovereign.mount-share"
    no_exporter = one("mac.imessage_archive", "mom", entry("mac.imessage_archive", "mom", ok=False,
                      details={"reason": "exporter_missing"}))
    assert no_exporter["fix"] == "ansible-playbook playbooks/site.yml --limit mac --tags mac_identity_node"


def test_a_share_mounted_long_ago_is_still_green_and_a_missing_keychain_entry_says_converge():
    assert one("mac.mount_share", "mom", entry("mac.mount_share", "mom", hours=24 * 60))["state"] == "green"
    failed = one("mac.mount_share", "mom", entry("mac.mount_share", "mom", ok=False,
                 summary="no SMB password for sovereign-backup@server-a in the login keychain"),
                 {"kind": "mac.mount_share", "name": "mom", "fix": "launchctl kickstart gui/501/cloud.sovereign.mount-share"})
    assert failed["state"] == "red" and failed["fix"].endswith("--tags mac_identity_node")
    mount = {"kind": "mac.mount_share", "name": "mom", "fix": "launchctl kickstart gui/501/cloud.sovereign.mount-share"}
    missing = one("mac.mount_share", "mom", None, mount)
    assert missing["state"] == "red"


def write_backup(root, udid: str, name: str, hours: float | None) -> None:
    folder = root / udid
    folder.mkdir(parents=True)
    info = {"Device Name": name, "Product Type": "iPad13,16", "Unique Identifier": udid}
    if hours is not None:
        info["Last Backup Date"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)).replace(tzinfo=None)
    with open(folder / "Info.plist", "wb") as handle:
        plistlib.dump(info, handle)


def ios_expectation(root, name: str, device: str, limit_days: float = 3) -> dict:
    red = int(limit_days * 86400)
    return {"kind": "ios.backup", "name": name, "title": None, "every": 86400, "fix": "open -a iMazing",
            "amber_after": str(min(max(129600, red // 2), red)), "red_after": str(red),
            "source": {"type": "ios_backup", "path": str(root), "name": device, "udid": None, "owner": None}}


def ios_items(tmp_path, expectations: list[dict]) -> dict:
    found = {"statuses": gather.ios_backups(expectations), "expectations": expectations}
    return {i["name"]: i for i in evaluate.evaluate_host("server-a", found)}


def test_ios_backups_green_amber_red_missing(tmp_path):
    root = tmp_path / "iMazing"
    write_backup(root, "A", "Fresh iPad", 10)
    write_backup(root, "B", "Late iPad", 50)
    write_backup(root, "C", "Old iPad", 24 * 4)
    write_backup(root, "D", "Undated iPad", None)
    wanted = [ios_expectation(root, n, n) for n in ("Fresh iPad", "Late iPad", "Old iPad", "Undated iPad", "Gone iPad")]
    items = ios_items(tmp_path, wanted)
    assert items["Fresh iPad"]["state"] == "green" and "iPad13,16" in items["Fresh iPad"]["summary"]
    assert items["Late iPad"]["state"] == "amber" and "Open iMazing" in items["Late iPad"]["reason"]
    assert items["Old iPad"]["state"] == "red" and items["Old iPad"]["reason"].startswith("Overdue")
    assert items["Undated iPad"]["state"] == "red" and "no readable date" in items["Undated iPad"]["reason"]
    assert items["Gone iPad"]["state"] == "red" and items["Gone iPad"]["reason"].startswith("iMazing has no backup")
    assert all(i["fix"] == "open -a iMazing" and i["group"] == "Devices" for i in items.values())
    # no expectation, no status: the page shows nothing it was not told to expect
    assert not ios_items(tmp_path, [])


def test_an_unmounted_raid_makes_every_device_red(tmp_path):
    items = ios_items(tmp_path, [ios_expectation(tmp_path / "nowhere", "Alex's iPhone", "Alex's iPhone")])
    item = items["Alex's iPhone"]
    assert item["state"] == "red" and "is the RAID mounted on this Mac?" in item["reason"]


def test_the_macs_offsite_restic_state_file_is_read_with_the_os_default(tmp_path):
    restic = tmp_path / "restic"
    restic.mkdir()
    when = status.iso(status.utc_now() - dt.timedelta(hours=5))
    (restic / "offsite.json").write_text(
        '{"kind": "backup", "job": "offsite", "status": "ok", "started_at": "%s", "finished_at": "%s", '
        '"last_success_at": "%s", "snapshot_id": "abc", "stats": {}}' % (when, when, when))
    expectation = {"kind": "restic.backup", "name": "offsite", "every": 86400,
                   "fix": "sudo launchctl kickstart system/cloud.sovereign.restic-offsite"}
    (tmp_path / "status.d").mkdir()
    (tmp_path / "status.d" / "restic.backup--offsite.json").write_text(expect.render(expectation))
    assert gather.default_dirs("Darwin")["restic_dir"] == "/Library/Application Support/sovereign-cloud/restic"
    assert gather.default_dirs("Darwin")["state_dir"] == "/Users/Shared/sovereign-cloud"
    assert gather.default_dirs("Linux")["state_dir"] == "/var/lib/sovereign-cloud"
    found = gather.gather(str(tmp_path / "mac"), str(tmp_path / "status.d"), restic_dir=str(restic), system="Darwin")
    [item] = evaluate.evaluate_host("server-a", found)
    assert item["state"] == "green" and item["fix"] == expectation["fix"]
    (restic / "offsite.json").unlink()
    [item] = evaluate.evaluate_host("server-a", gather.gather(str(tmp_path / "mac"), str(tmp_path / "status.d"),
                                                              restic_dir=str(restic), system="Darwin"))
    assert item["state"] == "red" and item["fix"] == "sudo launchctl kickstart system/cloud.sovereign.restic-offsite"


def folder(ok: bool = True, hours: float = 0.5, **details) -> dict:
    base = {"type": "receiveonly", "state": "idle", "paused": False, "need_items": 0, "receive_only_changed_items": 0,
            "error_count": 0, "errors": [], "peers": 1, "connected_peers": 1}
    return entry("syncthing.folder", "photo-vault", ok=ok, hours=hours, details=dict(base, **details))


def test_syncthing_folders_green_amber_red_missing():
    expectation = {"kind": "syncthing.folder", "name": "photo-vault", "every": 3600,
                   "fix": "systemctl start sovereign-syncthing-status.service"}
    assert one("syncthing.folder", "photo-vault", folder(), expectation)["state"] == "green"
    changed = one("syncthing.folder", "photo-vault", folder(receive_only_changed_items=3), expectation)
    assert changed["state"] == "amber" and "Revert Local Changes" in changed["reason"]
    assert changed["fix"] == ("ansible-playbook playbooks/syncthing_revert.yml --limit mac "
                              "-e syncthing_revert_folder=photo-vault")
    assert one("syncthing.folder", "photo-vault", folder(connected_peers=0), expectation)["state"] == "amber"
    assert one("syncthing.folder", "photo-vault", folder(need_items=4), expectation)["state"] == "amber"
    assert one("syncthing.folder", "photo-vault", folder(paused=True), expectation)["state"] == "amber"
    errors = one("syncthing.folder", "photo-vault", folder(ok=False, error_count=2, errors=["a.jpg: permission denied"]),
                 expectation)
    assert errors["state"] == "red" and "a.jpg: permission denied" in errors["reason"]
    assert errors["fix"] == "ansible-playbook playbooks/site.yml --limit mac --tags syncthing"
    down = one("syncthing.folder", "photo-vault", folder(ok=False, problem="api"), expectation)
    assert down["state"] == "red" and "did not answer" in down["reason"]
    stale = one("syncthing.folder", "photo-vault", folder(hours=5), expectation)
    assert stale["state"] == "red" and "sovereign-syncthing-status.timer" in stale["reason"]
    missing = one("syncthing.folder", "photo-vault", None, expectation)
    assert missing["state"] == "red" and missing["reason"] == "No record of it: it should run every hour."


def test_launchd_calendar_intervals():
    assert [expect.launchd_every(i) for i in ({"Hour": 1, "Minute": 30}, {"Weekday": 0, "Hour": 3, "Minute": 0},
                                              {"Day": 1, "Hour": 4}, {"Minute": 0}, {}, None)] == [
        86400, 604800, 31 * 86400, 3600, 60, None]
    assert expect.launchd_every([{"Hour": 1}, {"Hour": 13}]) == 43200
    doc = expect.document({"kind": "mac.imessage_archive", "name": "mom", "fix": KICKSTART,
                           "calendar_interval": {"Weekday": 0, "Hour": 3, "Minute": 0}}, {})
    assert doc["every"] == 604800 and "source" not in doc


def test_an_amber_item_that_is_not_late_says_so_on_the_page():
    from ansible_collections.sovereign.cloud.plugins.module_utils.status import render  # noqa: PLC0415
    expectation = {"kind": "syncthing.folder", "name": "photo-vault", "every": 3600,
                   "fix": "systemctl start sovereign-syncthing-status.service"}
    changed = folder(receive_only_changed_items=3)
    report = evaluate.report({"nas": {"statuses": [changed], "expectations": [expectation]}}, now=NOW)
    page = render.render_html(report)
    assert "To check" in page and "Mostly safe: something needs a look" in page and "1 of 1 checks needs a look" in page
    late = evaluate.report({"nas": {"statuses": [folder(hours=1.7)], "expectations": [expectation]}}, now=NOW)
    page = render.render_html(late)
    assert "Late" in page and "something is late" in page and "To check" not in page
