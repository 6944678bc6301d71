"""The expectations the roles write (status.expect and the status_expectations module): an expected
job that never ran is red with the command that runs it."""

from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, expect, gather
from ansible_collections.sovereign.cloud.plugins.modules import status_expectations
from support import return_docs
from support.ansible_module import run_module

SYSTEMD = pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")

OUTPUT = """  Original form: daily
Normalized form: *-*-* 00:00:00
    Next elapse: Sat 2026-12-05 00:00:00 UTC
       From now: 17h left
       Iter. #2: Sun 2026-12-06 00:00:00 UTC
       From now: 1 day 17h left

Normalized form: Sun *-*-* 03:30:00
    Next elapse: Sun 2026-12-06 03:30:00 UTC
       From now: 1 day 21h left
       Iter. #2: Sun 2026-12-13 03:30:00 UTC
       From now: 1 week 1 day left
"""

MEDIA = {"kind": "restic.backup", "name": "media", "schedule": "Sun *-*-* 03:30:00",
         "fix": "systemctl start sovereign-restic-media.service"}


def test_parse_calendar():
    assert expect.parse_calendar(OUTPUT) == [86400, 604800]


@SYSTEMD
def test_intervals_from_systemd():
    assert expect.intervals(["*-*-01 03:00:00", "Sat *-*-* 05:00:00", "daily", ""]) == {
        "*-*-01 03:00:00": 31 * 86400, "Sat *-*-* 05:00:00": 604800, "daily": 86400}
    with pytest.raises(expect.ExpectationError, match="OnCalendar"):
        expect.intervals(["not a time"])


@SYSTEMD
def test_apply_is_idempotent_purges_and_checks(tmp_path):
    folder = tmp_path / "status.d"
    check = {"kind": "restic.check", "name": "nas", "schedule": "Sat *-*-* 05:00:00",
             "fix": "systemctl start sovereign-restic-check-nas.service"}
    dry = expect.apply([MEDIA, check], str(folder), ["restic.backup", "restic.check"], check_mode=True)
    assert dry["changed"] and len(dry["written"]) == 2 and not folder.exists()
    first = expect.apply([MEDIA, check], str(folder), ["restic.backup", "restic.check"])
    new = {str(folder / "restic.backup--media.json"): None, str(folder / "restic.check--nas.json"): None}
    assert first["written"] == dry["written"] and first["diff"]["before"] == new
    doc = json.loads((folder / "restic.backup--media.json").read_text())
    assert doc == {"kind": "restic.backup", "name": "media", "title": None, "every": 604800,
                   "fix": "systemctl start sovereign-restic-media.service"}
    again = expect.apply([MEDIA, check], str(folder), ["restic.backup", "restic.check"])
    assert not again["changed"] and again["written"] == [] and again["removed"] == []
    (folder / "photo_vault.verify--photos.json").write_text("{}")  # another role's: untouched
    gone = expect.apply([dict(MEDIA, state="absent")], str(folder), ["restic.backup", "restic.check"], check_mode=True)
    assert gone["removed"] == sorted(str(folder / f) for f in ("restic.backup--media.json", "restic.check--nas.json"))
    assert (folder / "restic.backup--media.json").exists()
    expect.apply([dict(MEDIA, state="absent")], str(folder), ["restic.backup", "restic.check"])
    assert sorted(p.name for p in folder.iterdir()) == ["photo_vault.verify--photos.json"]


def test_same_bytes_as_to_nice_json():
    from ansible.plugins.filter.core import to_nice_json
    doc = {"kind": "photo_vault.verify", "name": "photos", "title": "Photo vault verification (/srv/é)",
           "every": 604800, "fix": "sovereign-photos verify --full"}
    assert expect.render(doc) == to_nice_json(doc) + "\n"


@SYSTEMD
def test_a_restic_job_that_never_ran_is_red_with_its_unit(tmp_path):
    result = run_module(status_expectations, {"expectations": [MEDIA], "dir": str(tmp_path / "status.d"),
                                              "purge_kinds": ["restic.backup"]})
    gathered = gather.gather(str(tmp_path / "state"), str(tmp_path / "status.d"))
    [item] = evaluate.report({"nas": gathered})["items"]
    assert (item["state"], item["kind"], item["name"]) == ("red", "restic.backup", "media")
    assert item["reason"] == "No record of it: it should run every week."
    assert item["fix"] == "systemctl start sovereign-restic-media.service"
    runs = [result,
            run_module(status_expectations, {"expectations": [MEDIA], "dir": str(tmp_path / "status.d")}, check_mode=True),
            run_module(status_expectations, {"expectations": [dict(MEDIA, schedule="no such day")], "dir": str(tmp_path)})]
    assert result["changed"] and result["summary"].startswith("1 expectations written, 0 removed")
    assert not runs[1]["changed"]
    assert runs[2]["failed"] and "Fix the OnCalendar expression" in runs[2]["msg"]
    return_docs.assert_matches("status_expectations", runs)
