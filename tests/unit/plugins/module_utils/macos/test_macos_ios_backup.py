"""iOS backup freshness on generated backup folders (the Info.plist keys iMazing and Finder write)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.ios_backup import (
    BackupRootError, assess, read_backup, scan)
from support.macos import write_backup

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=timezone.utc)
UDID = {"n15": "00008130-000A1B2C3D4E5F60", "n2": "00008110-0011223344556677", "w14": "00008120-001A2B3C4D5E6F70",
        "wipad": "00008103-000ABCDEF0123456", "mom13": "00008110-00AA11BB22CC33DD",
        "old": "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233"}


@pytest.fixture()
def root(tmp_path):
    backups = tmp_path / "Backups"
    write_backup(backups, UDID["n15"], "Nithin\u2019s iPhone 15 Pro", "iPhone16,1", 0.5, now=NOW)
    write_backup(backups, UDID["n2"], "iPhone (Secondary)", "iPhone14,7", 2, binary=True, now=NOW)
    write_backup(backups, UDID["w14"], "iPhone 14 Pro", "iPhone15,2", 9.25, now=NOW)
    write_backup(backups, UDID["wipad"], "iPad Air", "iPad13,16", None, now=NOW)
    write_backup(backups, UDID["old"], "Old iPhone 8", "iPhone10,4", 400, now=NOW)
    (backups / ".DS_Store").write_bytes(b"\0")
    (backups / "Temp").mkdir()
    return backups


MATRIX = [
    {"name": "Nithin's iPhone 15 Pro", "owner": "Nithin"},
    {"name": "ignored when the udid is given", "owner": "Nithin", "udid": UDID["n2"].lower()},
    {"name": "iPhone 14 Pro", "owner": "Wife"},
    {"name": "iPad Air", "owner": "Wife", "max_age_days": 14},
    {"name": "iPhone 13", "owner": "Mom"},
]


def test_backups_are_read_from_xml_and_binary_plists(root):
    backups = scan(str(root))
    assert sorted(b["udid"] for b in backups) == sorted(u.upper() for k, u in UDID.items() if k != "mom13")
    secondary = read_backup(str(root / UDID["n2"]))
    assert secondary["name"] == "iPhone (Secondary)" and secondary["product_type"] == "iPhone14,7"
    assert secondary["last_backup"].tzinfo is not None


def test_each_device_is_fresh_stale_missing_or_unknown(root):
    result = assess(scan(str(root)), MATRIX, now=NOW)
    status = {(d["owner"], d["name"]): (d["status"], d["age_days"]) for d in result["devices"]}
    assert status[("Nithin", "Nithin's iPhone 15 Pro")] == ("fresh", 0.5)   # curly apostrophe in the backup
    assert status[("Nithin", "ignored when the udid is given")] == ("fresh", 2.0)
    assert status[("Wife", "iPhone 14 Pro")] == ("stale", 9.25)
    assert status[("Wife", "iPad Air")] == ("stale", None)                  # no Last Backup Date
    assert status[("Mom", "iPhone 13")] == ("missing", None)
    assert status[(None, "Old iPhone 8")] == ("unknown", 400.0)
    assert result["stale"] == ["Wife's iPhone 14 Pro", "Wife's iPad Air"]
    assert result["missing"] == ["Mom's iPhone 13"]
    assert result["unknown"] == ["Old iPhone 8"]
    assert result["summary"] == ("iOS backups: 2 fresh, 2 stale (Wife's iPhone 14 Pro: 9.25 days, Wife's iPad Air: "
                                 "no date), 1 missing (Mom's iPhone 13), 1 unknown (Old iPhone 8)")
    ipad = next(d for d in result["devices"] if d["name"] == "iPad Air")
    assert ipad["reason"] == "no Last Backup Date in Info.plist" and ipad["max_age_days"] == 14


def test_the_newest_of_two_same_named_backups_counts(tmp_path):
    write_backup(tmp_path, "aaaa", "iPhone 12", age_days=30, now=NOW)
    write_backup(tmp_path, "bbbb", "iPhone 12", age_days=1, now=NOW)
    result = assess(scan(str(tmp_path)), [{"name": "iPhone 12", "owner": "Dad"}], now=NOW)
    assert [(d["udid"], d["status"]) for d in result["devices"]] == [("BBBB", "fresh")]


def test_an_unreadable_info_plist_is_an_unknown_backup_with_its_reason(tmp_path):
    (tmp_path / "cccc").mkdir()
    (tmp_path / "cccc" / "Info.plist").write_bytes(b"not a plist")
    result = assess(scan(str(tmp_path)), [], now=NOW)
    assert result["devices"][0]["status"] == "unknown"
    assert result["devices"][0]["reason"].startswith("Info.plist unreadable")


def test_a_missing_root_says_what_to_check(tmp_path):
    with pytest.raises(BackupRootError, match="is the volume mounted"):
        scan(str(tmp_path / "not-mounted"))


def test_a_watch_inside_its_iphone_takes_that_backup_s_status(root):
    matrix = MATRIX + [{"name": "Apple Watch Ultra", "owner": "Nithin", "inside": "Nithin's iPhone 15 Pro"},
                       {"name": "Apple Watch", "owner": "Wife", "inside": "iPhone 14 Pro"},
                       {"name": "Apple Watch S8", "owner": "Nithin", "inside": "iPhone 16"}]
    result = assess(scan(str(root)), matrix, now=NOW)
    watches = {d["name"]: d for d in result["devices"] if "Watch" in d["name"]}
    assert (watches["Apple Watch Ultra"]["status"], watches["Apple Watch Ultra"]["age_days"]) == ("fresh", 0.5)
    assert watches["Apple Watch Ultra"]["reason"] == "backed up inside Nithin's iPhone 15 Pro"
    assert watches["Apple Watch"]["status"] == "stale"
    assert watches["Apple Watch S8"]["status"] == "missing"
    assert "not in the device list" in watches["Apple Watch S8"]["reason"]
    # No watch is an unknown backup, and the unknown backup is still the old iPhone only.
    assert result["unknown"] == ["Old iPhone 8"]
