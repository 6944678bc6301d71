"""The status page's verdicts: fresh, late, overdue, failed, missing, unreadable, unknown kind."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import status
from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, gather, kinds, render

NOW = dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.timezone.utc)


def entry(kind: str, name: str, ok: bool = True, hours: float = 1, **fields) -> dict:
    finished = status.iso(NOW - dt.timedelta(hours=hours))
    doc = status.build(kind, name, ok, fields.pop("summary", "did its job"), finished_at=finished, **fields)
    return {"file": f"/state/status/{kind}--{name}.json", "doc": doc, "error": None}


def one(entry_=None, expectation=None, overrides=None, kind="restic.backup", name="media") -> dict:
    return evaluate.evaluate_item("nas", kind, name, entry_, expectation, overrides, NOW)


def test_a_fresh_daily_backup_is_green():
    item = one(entry("restic.backup", "media", hours=3))
    assert item["state"] == "green"
    assert item["age"] == 3 * 3600 and item["age_text"] == "3 h ago"
    assert item["title"] == "Restic backup: media"
    assert item["fix"] == "systemctl start sovereign-restic-media.service"


def test_a_stale_backup_turns_amber_then_red():
    # daily: amber after 1.5 days, red after 3
    assert one(entry("restic.backup", "media", hours=30))["state"] == "green"
    late = one(entry("restic.backup", "media", hours=40))
    assert late["state"] == "amber" and late["reason"] == "Late: it should succeed every day."
    overdue = one(entry("restic.backup", "media", hours=80))
    assert overdue["state"] == "red" and overdue["reason"].startswith("Overdue")
    assert overdue["age_text"] == "3 days ago"


def test_a_failed_last_run_is_red_and_its_age_is_the_last_success():
    previous = entry("restic.backup", "media", hours=20)["doc"]
    failed = status.build("restic.backup", "media", False, "repository locked", previous=previous,
                          finished_at=status.iso(NOW - dt.timedelta(hours=1)), fix="sovereign-restic unlock")
    item = one({"file": "f", "doc": failed, "error": None})
    assert item["state"] == "red" and item["reason"] == "The last run failed."
    assert item["age"] == 20 * 3600
    assert item["fix"] == "sovereign-restic unlock"  # the status file's own fix wins over the kind's
    never = one(entry("restic.backup", "media", ok=False))
    assert never["state"] == "red" and "never succeeded" in never["reason"] and never["age"] is None


def test_an_expected_status_that_is_missing_is_red_not_absent(tmp_path):
    expect = tmp_path / "status.d"
    expect.mkdir()
    (expect / "photo_vault.verify--photos.json").write_text(json.dumps(
        {"kind": "photo_vault.verify", "name": "photos", "title": "Photo vault verification (/srv/photos)",
         "every": 604800, "fix": "sovereign-photos verify --full"}))
    found = gather.gather(str(tmp_path / "state"), str(expect))
    assert found["statuses"] == []
    [item] = evaluate.evaluate_host("nas", found, now=NOW)
    assert item["state"] == "red" and item["expected"] and item["file"] is None
    assert item["reason"] == "No record of it: it should run every week."
    assert item["title"] == "Photo vault verification (/srv/photos)"
    assert item["fix"] == "sovereign-photos verify --full"


def test_inventory_expectations_cover_hosts_without_status_d():
    [item] = evaluate.evaluate_host("laptop", {"statuses": [], "expectations": []},
                                    {"expected": [{"kind": "restic.check", "name": "offsite"}]}, NOW)
    assert item["state"] == "red" and item["fix"] == "systemctl start sovereign-restic-check-offsite.service"


def test_an_unknown_kind_is_shown_with_generic_thresholds_from_its_own_every():
    fresh = one(entry("imessage.archive", "alice", hours=5, every=86400, fix="sovereign-imessage archive"),
                kind="imessage.archive", name="alice")
    assert fresh["state"] == "green" and not fresh["known_kind"] and fresh["group"] == "Other"
    assert fresh["title"] == "imessage.archive: alice"
    failed = one(entry("imessage.archive", "alice", ok=False, fix="sovereign-imessage archive"),
                 kind="imessage.archive", name="alice")
    assert failed["state"] == "red" and failed["fix"] == "sovereign-imessage archive"
    stale = one(entry("imessage.archive", "alice", hours=24 * 4, every=86400), kind="imessage.archive", name="alice")
    assert stale["state"] == "red"
    # no fix anywhere: converging the host is the fix
    assert stale["fix"] == "ansible-playbook playbooks/site.yml --limit nas"


def test_a_new_kind_plugs_in_with_one_entry(monkeypatch):
    monkeypatch.setitem(kinds.KINDS, "syncthing.folder", kinds.Kind("Syncthing folder", "Devices", kinds.HOUR,
                                                                    "ansible-playbook playbooks/site.yml --tags syncthing"))
    item = one(entry("syncthing.folder", "photos", hours=2), kind="syncthing.folder", name="photos")
    assert item["known_kind"] and item["group"] == "Devices" and item["state"] == "amber"


def test_thresholds_from_inventory_beat_the_expectation_which_beats_every():
    doc = entry("restic.backup", "media", hours=40)
    assert one(doc)["state"] == "amber"
    assert one(doc, {"kind": "restic.backup", "name": "media", "amber_after": "2d"})["state"] == "green"
    overrides = {"restic.backup--media": {"red_after": "1d"}, "restic.backup": {"red_after": "5d"}}
    assert one(doc, {"amber_after": "2d"}, overrides)["state"] == "red"
    assert one(doc, None, {"default": {"every": "1w"}})["state"] == "green"
    # a host's file with a bad value falls back; the inventory's typo fails loudly
    assert one(doc, {"every": "None", "amber_after": "soon"})["state"] == "amber"
    with pytest.raises(evaluate.ThresholdError, match="not a duration"):
        one(doc, None, {"restic.backup": {"red_after": "soon"}})


def test_durations():
    assert [evaluate.seconds(v) for v in (90, "90", "90m", "36h", "2d", "1w", None)] == [
        90, 90, 5400, 129600, 172800, 604800, None]
    assert [evaluate.human_every(s) for s in (86400, 129600, 604800, 31 * 86400, 3600, 900)] == [
        "day", "36 hours", "week", "month", "hour", "15 minutes"]


def test_an_unreadable_status_file_is_red(tmp_path):
    folder = tmp_path / "status"
    folder.mkdir()
    (folder / "restic.backup--media.json").write_text("{not json")
    found = gather.gather(str(tmp_path), str(tmp_path / "none"))
    [item] = evaluate.evaluate_host("nas", found, now=NOW)
    assert item["state"] == "red" and item["kind"] == "restic.backup" and item["name"] == "media"
    assert "cannot be read" in item["reason"]
    assert "last success unknown" in render.render_html(evaluate.report({"nas": found}, now=NOW))


def test_zfs_scrub_details_decide_beyond_age():
    degraded = entry("zfs.scrub", "tank", details={"result": "degraded", "state": "DEGRADED"})
    assert one(degraded, kind="zfs.scrub", name="tank")["state"] == "red"
    paused = entry("zfs.scrub", "tank", details={"result": "paused"})
    assert one(paused, kind="zfs.scrub", name="tank")["state"] == "amber"


def test_the_restic_and_zfs_state_files_are_read_as_statuses(tmp_path):
    restic_dir, zfs_dir = tmp_path / "restic", tmp_path / "zfs"
    restic_dir.mkdir()
    zfs_dir.mkdir()
    when = status.iso(NOW - dt.timedelta(hours=2))
    (restic_dir / "media.json").write_text(json.dumps({
        "kind": "backup", "job": "media", "started_at": when, "finished_at": when, "status": "ok",
        "snapshot_id": "4f2a91c0", "last_success_at": when, "errors": [],
        "stats": {"files_new": 3, "files_changed": 1, "total_files_processed": 120}}))
    (restic_dir / "check-offsite.json").write_text(json.dumps({
        "kind": "check", "repository": "offsite", "subset": "5%", "started_at": when, "finished_at": when,
        "status": "failed", "errors": ["pack 1234 does not match"], "last_success_at": None}))
    (zfs_dir / "scrub-tank.json").write_text(json.dumps({
        "schema": 1, "pool": "tank", "started": when, "finished": when, "result": "errors", "errors": 2,
        "message": None}))
    found = gather.gather(str(tmp_path), None)
    items = {i["kind"]: i for i in evaluate.evaluate_host("nas", found, now=NOW)}
    assert items["restic.backup"]["state"] == "green"
    assert items["restic.backup"]["summary"] == "snapshot 4f2a91c0: 3 new, 1 changed, 120 files in all"
    assert items["restic.check"]["state"] == "red" and "does not match" in items["restic.check"]["summary"]
    assert items["restic.check"]["fix"] == "systemctl start sovereign-restic-check-offsite.service"
    assert items["zfs.scrub"]["state"] == "red"
    assert items["zfs.scrub"]["fix"] == "systemctl start sovereign-zpool-scrub-tank.service"


def test_the_report_puts_red_first_and_counts():
    statuses = [entry("restic.backup", "media", hours=3), entry("photo_vault.ingest", "photos", ok=False)]
    hosts = {"nas": {"now": status.iso(NOW), "expectations": [], "statuses": statuses}, "pve": None}
    report = evaluate.report(hosts, now=NOW)
    assert report["overall"] == "red" and report["counts"] == {"red": 2, "amber": 0, "green": 1}
    assert [i["state"] for i in report["items"]] == ["red", "red", "green"]
    unreachable = next(i for i in report["items"] if i["host"] == "pve")
    assert unreachable["fix"] == "ansible pve -m ansible.builtin.ping"
    assert evaluate.report({}, now=NOW)["overall"] == "amber"  # nothing known is not "safe"


def test_ages_use_the_hosts_clock():
    host_now = NOW + dt.timedelta(days=5)  # the host's clock says 5 days later: its ages count from it
    found = {"now": status.iso(host_now), "expectations": [], "statuses": [entry("restic.backup", "media", hours=1)]}
    [item] = evaluate.evaluate_host("nas", found)
    assert item["state"] == "red"
