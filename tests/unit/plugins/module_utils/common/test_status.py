"""The status file every job writes: shape, carry-over of the last success, atomic replacement."""

from __future__ import annotations

import datetime as dt
import json
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common import status
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import human_age


def test_success_then_failure_keeps_last_success(tmp_path):
    first = dt.datetime(2026, 12, 1, 2, 3, 11, tzinfo=dt.timezone.utc)
    path = status.write_status(str(tmp_path), "restic.backup", "media", True, "3 files added",
                               finished_at=first, every=86400)
    assert path == str(tmp_path / "status" / "restic.backup--media.json")
    status.write_status(str(tmp_path), "restic.backup", "media", False, "repository locked",
                        fix="sovereign-restic media unlock", finished_at=first + dt.timedelta(days=1))
    doc = json.loads(open(path, encoding="utf-8").read())
    assert doc["ok"] is False
    assert doc["last_success_at"] == "2026-12-01T02:03:11Z"
    assert doc["finished_at"] == "2026-12-02T02:03:11Z"
    assert doc["fix"] == "sovereign-restic media unlock"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert not [n for n in os.listdir(tmp_path / "status") if n.startswith(".")]


def test_list_statuses_shows_broken_files(tmp_path):
    status.write_status(str(tmp_path), "zfs.scrub", "rpool", True, "no errors")
    (tmp_path / "status" / "garbage.json").write_text("{not json")
    found = dict(status.list_statuses(str(tmp_path)))
    assert found[str(tmp_path / "status" / "garbage.json")] is None
    assert found[str(tmp_path / "status" / "zfs.scrub--rpool.json")]["summary"] == "no errors"


def test_unsafe_names_stay_in_the_folder(tmp_path):
    path = status.write_status(str(tmp_path), "icloud.session", "../../etc/passwd", True, "30 days left")
    assert os.path.dirname(path) == str(tmp_path / "status")


def test_parse_iso_and_age():
    assert status.parse_iso("2026-12-02T02:03:11Z") == dt.datetime(2026, 12, 2, 2, 3, 11, tzinfo=dt.timezone.utc)
    assert status.parse_iso("nonsense") is None
    assert human_age(3 * 86400) == "3 days"
    assert human_age(90) == "1 min"
