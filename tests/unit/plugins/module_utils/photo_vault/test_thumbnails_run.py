"""photo_thumbnails' engine on real images: what is due, what lands on disk, what the catalog says."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import SETTINGS, thumbnail_paths
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails_run import (
    ThumbnailRunError, make_missing_thumbnails)
from ansible_collections.sovereign.cloud.plugins.modules import photo_thumbnails
from support.ansible_module import run_adhoc, run_module
from support.vault_builder import add_original, jpeg_bytes, sha256_of
from support.faults import DieOn

pytest.importorskip("PIL")
FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request):
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgresql_server").create_database(request.node.name)


def photos(vault, location=None, count=3):
    """A sideways-stored 1600x1200 portrait and ``count - 1`` landscape photos."""
    with Catalog.open(str(vault), location) as cat:
        records = [add_original(vault, cat, jpeg_bytes(1600, 1200, orientation=6), taken_at="2024-03-01T09:00:00")]
        records += [add_original(vault, cat, jpeg_bytes(800, 600, seed=i + 1), taken_at=f"2024-03-0{i + 2}T09:00:00")
                    for i in range(count - 1)]
    return records


def sizes_on_disk(thumbs, sha):
    from PIL import Image  # pylint: disable=import-outside-toplevel

    out = {}
    for name, path in thumbnail_paths(str(thumbs), sha).items():
        if name != "metadata":
            with Image.open(path) as image:
                out[name] = image.size
    return out


def statuses(vault, location, thumbs):
    with Catalog.open(str(vault), location, create=False) as cat:
        return cat.thumbnail_index(str(thumbs))


def test_thumbnails_are_made_upright_at_three_sizes_and_a_second_run_changes_nothing(tmp_path, location):
    records = photos(tmp_path, location)
    originals = {r["sha256"]: sha256_of(tmp_path / r["rel_path"]) for r in records}
    report = make_missing_thumbnails(str(tmp_path), location, workers=2)
    assert (report.created, report.due, report.unchanged, report.failed, report.skipped) == (3, 3, 0, [], [])
    thumbs = tmp_path / "thumbs"
    # The portrait was stored sideways (EXIF orientation 6): its thumbnails come out portrait.
    assert sizes_on_disk(thumbs, records[0]["sha256"]) == {"medium": (810, 1080), "small": (375, 500), "tiny": (113, 150)}
    assert sizes_on_disk(thumbs, records[1]["sha256"]) == {"medium": (800, 600), "small": (500, 375), "tiny": (150, 113)}
    assert set(statuses(tmp_path, location, thumbs).values()) == {("ok", SETTINGS)}
    assert {r["sha256"]: sha256_of(tmp_path / r["rel_path"]) for r in records} == originals  # only read
    again = make_missing_thumbnails(str(tmp_path), location, workers=2)
    assert (again.changed, again.created, again.unchanged) == (False, 0, 3)
    assert "up to date" in again.summary()


def test_a_deleted_thumbnail_is_made_again_and_only_that_one(tmp_path):
    records = photos(tmp_path)
    make_missing_thumbnails(str(tmp_path), workers=1)
    paths = thumbnail_paths(str(tmp_path / "thumbs"), records[2]["sha256"])
    untouched = thumbnail_paths(str(tmp_path / "thumbs"), records[1]["sha256"])["medium"]
    mtime = (tmp_path / untouched).stat().st_mtime_ns
    (tmp_path / paths["small"]).unlink()
    report = make_missing_thumbnails(str(tmp_path), workers=1)
    assert (report.created, report.reasons) == (1, {"files deleted": 1})
    assert (tmp_path / paths["small"]).is_file() and (tmp_path / untouched).stat().st_mtime_ns == mtime


def test_changed_settings_remake_the_thumbnails(tmp_path):
    records = photos(tmp_path, count=2)
    make_missing_thumbnails(str(tmp_path), workers=1)
    thumbs = str(tmp_path / "thumbs")
    with Catalog.open(str(tmp_path)) as cat:
        cat.record_thumbnails(records[0]["sha256"], thumbs, "ok", "v0;medium=1024x768;q=70", {"medium": (1, 1, 1)})
    report = make_missing_thumbnails(str(tmp_path), workers=1)
    assert (report.created, report.reasons) == (1, {"settings changed": 1})
    assert statuses(tmp_path, None, thumbs)[records[0]["sha256"]] == ("ok", SETTINGS)


def test_a_file_that_does_not_decode_fails_once_and_is_retried_only_when_forced(tmp_path):
    with Catalog.open(str(tmp_path)) as cat:
        bad = add_original(tmp_path, cat, jpeg_bytes(400, 300)[:600], taken_at="2021-01-01T00:00:00")
    report = make_missing_thumbnails(str(tmp_path), workers=1)
    assert [f["sha256"] for f in report.failed] == [bad["sha256"]] and report.failed[0]["reason"]
    assert report.created == 0
    again = make_missing_thumbnails(str(tmp_path), workers=1)
    assert (again.changed, again.previously_failed) == (False, 1) and "force: true retries them" in again.summary()
    forced = make_missing_thumbnails(str(tmp_path), workers=1, force=True)
    assert forced.reasons == {"forced": 1} and len(forced.failed) == 1


def make_video(path):
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=10", "-t", "1",
                    "-pix_fmt", "yuv420p", str(path)], check=True)


@pytest.mark.skipif(not FFMPEG, reason="ffmpeg is not installed (scripts/test-deps.sh installs it)")
def test_videos_are_skipped_without_ffmpeg_and_get_a_poster_once_it_is_installed(tmp_path, monkeypatch):
    make_video(tmp_path / "clip.mp4")
    with Catalog.open(str(tmp_path)) as cat:
        video = add_original(tmp_path, cat, (tmp_path / "clip.mp4").read_bytes(), ext="mp4")
    (tmp_path / "clip.mp4").unlink()
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    monkeypatch.setenv("PATH", str(empty_path))
    report = make_missing_thumbnails(str(tmp_path), workers=1)
    assert [s["sha256"] for s in report.skipped] == [video["sha256"]] and "ffmpeg" in report.skipped[0]["reason"]
    assert make_missing_thumbnails(str(tmp_path), workers=1).changed is False
    monkeypatch.undo()
    report = make_missing_thumbnails(str(tmp_path), workers=1)
    assert (report.reasons, report.created) == ({"ffmpeg installed": 1}, 1)
    assert sizes_on_disk(tmp_path / "thumbs", video["sha256"])["small"] == (500, 281)


def test_check_mode_counts_and_writes_nothing(tmp_path):
    photos(tmp_path)
    report = make_missing_thumbnails(str(tmp_path), workers=2, check_mode=True)
    assert (report.due, report.as_dict()["created"], report.changed) == (3, 3, True)
    assert "check mode: nothing written" in report.summary()
    assert not (tmp_path / "thumbs").exists() and statuses(tmp_path, None, tmp_path / "thumbs") == {}
    # at most SQLite's coordination files (a read-only open that sees concurrent writers), nothing else
    names = {p.name for p in tmp_path.iterdir()} - {"catalog.sqlite-wal", "catalog.sqlite-shm"}
    assert sorted(names) == ["catalog.sqlite", "originals"]


def test_each_thumbnails_root_is_tracked_on_its_own(tmp_path):
    vault, ssd = tmp_path / "nas", tmp_path / "workstation-ssd"
    vault.mkdir()
    photos(vault, count=2)
    assert make_missing_thumbnails(str(vault), workers=1).created == 2
    report = make_missing_thumbnails(str(vault), thumbs_root=str(ssd), workers=1)
    assert report.created == 2 and report.thumbs_root == str(ssd)
    assert len(statuses(vault, None, ssd)) == 2 and len(statuses(vault, None, vault / "thumbs")) == 2


def test_a_thumbnails_root_on_a_disk_that_is_not_mounted_fails_clearly(tmp_path):
    photos(tmp_path, count=1)
    with pytest.raises(ThumbnailRunError, match="not mounted"):
        make_missing_thumbnails(str(tmp_path), thumbs_root=str(tmp_path / "mnt" / "ssd" / "thumbs"), workers=1)


def test_the_module_makes_thumbnails_then_reports_no_change(tmp_path):
    photos(tmp_path, count=2)
    check = run_module(photo_thumbnails, {"vault": str(tmp_path)}, check_mode=True)
    assert check["changed"] is True and check["created"] == 2 and not (tmp_path / "thumbs").exists()
    first = run_module(photo_thumbnails, {"vault": str(tmp_path), "workers": 2})
    assert first["changed"] is True and first["created"] == 2 and first["skipped_assets"] == [] and first["failed_assets"] == []
    second = run_module(photo_thumbnails, {"vault": str(tmp_path)})
    assert second["changed"] is False and second["unchanged"] == 2


def test_through_ansible_the_pool_works_inside_the_module_wrapper(tmp_path):
    records = photos(tmp_path, count=3)
    result = run_adhoc("photo_thumbnails", {"vault": str(tmp_path), "workers": 2})
    assert result["changed"] is True and result["created"] == 3, result
    assert sizes_on_disk(tmp_path / "thumbs", records[0]["sha256"])["tiny"] == (113, 150)
    assert run_adhoc("photo_thumbnails", {"vault": str(tmp_path)})["changed"] is False


def test_a_file_that_crashes_its_decoder_is_failed_alone_and_the_others_still_get_thumbnails(tmp_path):
    # A segfault in a C decoder on a crafted file, or the OOM killer, kills a worker process: the
    # DieOn hook kills the worker that starts on one original (SIGKILL rather than SIGSEGV keeps
    # pytest's faulthandler quiet in the child).
    records = photos(tmp_path, count=9)
    victim = records[4]["sha256"]
    report = make_missing_thumbnails(str(tmp_path), workers=2,
                                     hooks=DieOn(os.path.basename(records[4]["rel_path"])))
    assert [f["sha256"] for f in report.failed] == [victim] and "decoder crashed" in report.failed[0]["reason"]
    assert report.created == 8
    assert statuses(tmp_path, None, tmp_path / "thumbs")[victim][0] == "failed"


from support.paths import SAMPLES  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"the real-world sample photos are not at {SAMPLES}")
def test_real_camera_and_phone_files_all_get_an_outcome_and_none_is_altered(tmp_path):
    # Real JPEGs (35 camera models, orientations 1-8, GPS, HDR) and iPhone/Nokia HEICs, plus the
    # corpus' damaged JPEG: every asset ends ok or with a reason, and the batch never stops.
    files = sorted(p for p in SAMPLES.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".heic", ".heif"))
    with Catalog.open(str(tmp_path)) as cat:
        records = {}
        for path in files:
            data = path.read_bytes()
            ext = "heic" if path.suffix.lower() in (".heic", ".heif") else "jpg"
            record = add_original(tmp_path, cat, data, ext=ext)
            records[record["sha256"]] = (path, record)
    report = make_missing_thumbnails(str(tmp_path), workers=2)
    outcome = statuses(tmp_path, None, tmp_path / "thumbs")
    assert set(outcome) == set(records) and report.created + len(report.failed) + len(report.skipped) == len(records)
    corrupt = [sha for sha, (path, _r) in records.items() if path.name == "corrupted.jpg"]
    assert all(outcome[sha][0] == "failed" for sha in corrupt)
    assert all(f["reason"] for f in report.failed) and report.created >= len(records) - 3
    for sha, (path, record) in records.items():
        assert sha256_of(tmp_path / record["rel_path"]) == sha  # originals only read
        if "orientation" in path.parts and outcome[sha][0] == "ok":
            width, height = sizes_on_disk(tmp_path / "thumbs", sha)["medium"]
            assert (height > width) == ("portrait" in path.name.lower()), path.name  # upright


def test_progress_is_reported_per_asset_for_long_runs(tmp_path):
    import io  # pylint: disable=import-outside-toplevel

    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import ProgressLog  # pylint: disable=import-outside-toplevel

    photos(tmp_path, count=3)
    stream = io.StringIO()
    make_missing_thumbnails(str(tmp_path), workers=2, progress=ProgressLog(stream, "thumbnails", interval=0))
    assert stream.getvalue().strip().splitlines()[-1].startswith("thumbnails: 3/3 files,")
