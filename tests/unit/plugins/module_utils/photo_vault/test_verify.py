"""Verification on real files with real hashes: what a family needs it to find, and never to do."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import pool
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import verify as vault_verify
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import VerifyError, verify_vault
from support.vault_builder import add_original, sha256_of


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request):
    """The catalog option: None (SQLite in the vault) or a DSN on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgresql_server").create_database(request.node.name)


def build(vault, location=None, count=6, size=4096, **extra):
    """A vault of ``count`` originals of ``size`` random bytes; returns their records."""
    vault.mkdir(parents=True, exist_ok=True)
    with Catalog.open(str(vault), location) as cat:
        return [add_original(vault, cat, os.urandom(size), taken_at=f"2023-0{1 + i % 9}-1{i % 10}T10:00:00", **extra)
                for i in range(count)]


def flip_a_byte(path, offset=100):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def catalog_rows(vault, location, statement, params=()):
    with Catalog.open(str(vault), location, create=False) as cat:
        return cat.query(statement, params)


def test_a_healthy_vault_verifies_and_every_asset_records_its_check(tmp_path, location):
    assets = build(tmp_path, location)
    report = verify_vault(str(tmp_path), location, workers=2)
    assert (report.checked, report.ok, report.checked_bytes) == (6, 6, 6 * 4096)
    assert not (report.corrupt or report.missing or report.unknown or report.missing_sidecars)
    assert report.recorded and not report.failed and "all match" in report.summary()
    rows = catalog_rows(tmp_path, location, "SELECT last_verified_at, last_verify_status FROM assets")
    assert len(rows) == len(assets) and all(r["last_verified_at"] and r["last_verify_status"] == "ok" for r in rows)
    with Catalog.open(str(tmp_path), location, create=False) as cat:
        run = cat.last_verify_run()
    assert (run["id"], run["mode"], run["checked"], run["result"]) == (report.run_id, "full", 6, "ok")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_flipped_byte_is_reported_corrupt_and_the_original_is_left_exactly_as_found(tmp_path, location, workers):
    assets = build(tmp_path, location)
    victim = tmp_path / assets[2]["rel_path"]
    flip_a_byte(victim)
    before = (sha256_of(victim), victim.stat().st_mtime_ns, victim.stat().st_size)
    report = verify_vault(str(tmp_path), location, workers=workers)
    assert report.corrupt == [assets[2]["sha256"]] and report.failed
    assert report.ok == 5 and report.checked == 6
    detail = next(d for d in report.details if d["status"] == "corrupt")
    assert detail["path"] == assets[2]["rel_path"] and before[0] in detail["detail"]
    assert (sha256_of(victim), victim.stat().st_mtime_ns, victim.stat().st_size) == before  # never "repaired"
    rows = catalog_rows(tmp_path, location, "SELECT status, path FROM verify_results WHERE run_id = ?", (report.run_id,))
    assert rows == [{"status": "corrupt", "path": assets[2]["rel_path"]}]
    status = catalog_rows(tmp_path, location, "SELECT last_verify_status FROM assets WHERE sha256 = ?",
                          (assets[2]["sha256"],))
    assert status == [{"last_verify_status": "corrupt"}]


def test_a_truncated_original_is_corrupt_with_both_sizes_named(tmp_path):
    assets = build(tmp_path, count=1)
    victim = tmp_path / assets[0]["rel_path"]
    victim.write_bytes(victim.read_bytes()[:1000])
    report = verify_vault(str(tmp_path), workers=1)
    assert report.corrupt == [assets[0]["sha256"]]
    assert "size is 1000 bytes, the catalog says 4096" in report.details[0]["detail"]


def test_a_deleted_original_is_missing_and_its_sidecar_is_not_called_unknown(tmp_path, location):
    assets = build(tmp_path, location)
    (tmp_path / assets[0]["rel_path"]).unlink()
    report = verify_vault(str(tmp_path), location, workers=2)
    assert report.missing == [assets[0]["sha256"]] and report.failed
    assert report.checked == 5 and report.unknown == []
    assert "restore them from a backup" in report.summary()


def test_stray_files_are_unknown_but_temp_files_and_junk_are_not(tmp_path):
    assets = build(tmp_path)
    day = (tmp_path / assets[0]["rel_path"]).parent
    (day / "IMG_0001.JPG").write_bytes(b"copied here by hand")
    (day / f".{'f' * 64}.jpg.partial-4242").write_bytes(b"an ingest in flight")
    (day / ".DS_Store").write_bytes(b"mac")
    (day / "._IMG_0001.JPG").write_bytes(b"appledouble")
    (tmp_path / "originals" / "@eaDir").mkdir()
    (tmp_path / "originals" / "@eaDir" / "SYNOINDEX").write_bytes(b"nas")
    report = verify_vault(str(tmp_path), workers=1)
    stray = os.path.relpath(day / "IMG_0001.JPG", tmp_path)
    assert report.unknown == [stray]
    assert not report.failed  # an unknown file is news, not data loss
    assert (day / "IMG_0001.JPG").read_bytes() == b"copied here by hand"


def test_an_original_ingested_during_the_walk_is_not_reported_unknown(tmp_path, monkeypatch):
    build(tmp_path, count=2)
    real_walk = vault_verify.walk_originals
    late = {}

    def walk_while_ingest_publishes(vault, links=None):
        with Catalog.open(str(tmp_path)) as cat:
            late.update(add_original(tmp_path, cat, b"published meanwhile", taken_at="2024-02-02T00:00:00"))
        return real_walk(vault, links)

    monkeypatch.setattr(vault_verify, "walk_originals", walk_while_ingest_publishes)
    report = verify_vault(str(tmp_path), workers=1)
    assert report.unknown == [] and report.missing == [] and late


def test_a_missing_sidecar_is_reported(tmp_path):
    assets = build(tmp_path)
    (tmp_path / assets[4]["sidecar_rel_path"]).unlink()
    report = verify_vault(str(tmp_path), workers=1)
    assert report.missing_sidecars == [assets[4]["sha256"]]
    assert not report.failed  # ingest rewrites sidecars; the original is intact


def make_thumbs(root, sha, names=("medium", "small", "tiny")):
    for name in names:
        path = root / name / sha[:2] / f"{sha}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"jpeg")
    meta = root / "metadata" / sha[:2] / f"{sha}.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text("{}")


def test_missing_thumbnails_are_found_where_the_catalog_says_they_were_made(tmp_path, location):
    assets = build(tmp_path, location, count=4)
    thumbs = tmp_path / "thumbs"
    with Catalog.open(str(tmp_path), location) as cat:
        for record in assets[:3]:
            make_thumbs(thumbs, record["sha256"])
            cat.record_thumbnails(record["sha256"], str(thumbs), "ok", "v1",
                                  {"medium": (640, 480, 4), "small": (500, 375, 4), "tiny": (150, 113, 4)})
        cat.record_thumbnails(assets[3]["sha256"], str(thumbs), "skipped", "v1", reason="no ffmpeg")
    (thumbs / "small" / assets[1]["sha256"][:2] / f"{assets[1]['sha256']}.jpg").unlink()
    report = verify_vault(str(tmp_path), location, workers=1)
    assert report.thumbs_root == str(thumbs)
    assert report.missing_thumbnails == [assets[1]["sha256"]]
    assert "small" in next(d for d in report.details if d["status"] == "missing_thumbnail")["detail"]


def test_thumbnails_on_another_disk_are_checked_when_named_and_skipped_with_a_warning_when_absent(tmp_path):
    vault, thumbs = tmp_path / "vault", tmp_path / "workstation-ssd"
    assets = build(vault, count=2)
    thumbs.mkdir()
    make_thumbs(thumbs, assets[0]["sha256"])
    report = verify_vault(str(vault), thumbs_root=str(thumbs), workers=1)
    assert report.missing_thumbnails == [assets[1]["sha256"]]  # never made: photo_thumbnails has not run
    report = verify_vault(str(vault), thumbs_root=str(tmp_path / "not-mounted"), workers=1)
    assert report.thumbs_root is None and report.missing_thumbnails == []
    assert any("not-mounted" in w and "not checked" in w for w in report.warnings)
    assert verify_vault(str(vault), workers=1).thumbs_root is None  # no <vault>/thumbs: nothing to check


def test_a_percent_sample_rotates_least_recently_verified_first(tmp_path, location):
    assets = build(tmp_path, location, count=10)
    seen: list[set] = []
    for _run in range(4):
        report = verify_vault(str(tmp_path), location, mode="sample", percent=30, workers=2)
        assert report.checked == 3 and report.selected == 3
        rows = catalog_rows(tmp_path, location, "SELECT sha256 FROM assets WHERE last_verified_at IS NOT NULL")
        seen.append({r["sha256"] for r in rows})
    assert len(seen[0]) == 3 and len(seen[1]) == 6 and len(seen[2]) == 9  # never the same file twice
    assert seen[3] == {a["sha256"] for a in assets}  # four 30 % samples cover the whole vault


def test_a_byte_budget_stops_at_the_first_file_that_does_not_fit(tmp_path):
    build(tmp_path, count=10, size=1000)
    report = verify_vault(str(tmp_path), mode="sample", max_bytes=3500, workers=1)
    assert (report.checked, report.checked_bytes) == (3, 3000)
    # A budget below one file still verifies one, so large videos are never skipped forever.
    assert verify_vault(str(tmp_path), mode="sample", max_bytes=10, workers=1).checked == 1


def test_percent_and_bytes_together_take_the_stricter(tmp_path):
    build(tmp_path, count=10, size=1000)
    assert verify_vault(str(tmp_path), mode="sample", percent=50, max_bytes=2000, workers=1).checked == 2
    assert verify_vault(str(tmp_path), mode="sample", percent=20, max_bytes=9000, workers=1).checked == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_time_budget_stops_handing_out_work_but_always_makes_progress(tmp_path, workers):
    # 48 files of 2 MiB: the first batch alone (24 MiB) takes longer than the budget.
    build(tmp_path, count=48, size=2 << 20)
    report = verify_vault(str(tmp_path), mode="sample", max_seconds=0.001, workers=workers)
    assert report.budget_exhausted and 1 <= report.checked < 48
    assert "the time budget ran out" in report.summary()
    if workers == 1:  # exactly the first batch ran
        first = next(vault_verify._batches([("x", "p", 2 << 20)] * 48, 1))  # pylint: disable=protected-access
        assert report.checked == len(first)
    rows = catalog_rows(tmp_path, None, "SELECT COUNT(*) AS n FROM assets WHERE last_verified_at IS NOT NULL")
    assert rows[0]["n"] == report.checked  # only what was actually hashed counts as verified


def test_check_mode_hashes_and_reports_but_records_nothing(tmp_path, location):
    assets = build(tmp_path, location)
    flip_a_byte(tmp_path / assets[0]["rel_path"])
    report = verify_vault(str(tmp_path), location, workers=2, record=False)
    assert report.corrupt == [assets[0]["sha256"]] and report.checked == 6
    assert not report.recorded and report.run_id is None and "check mode: nothing recorded" in report.summary()
    assert catalog_rows(tmp_path, location, "SELECT COUNT(*) AS n FROM verify_runs") == [{"n": 0}]
    assert catalog_rows(tmp_path, location, "SELECT COUNT(*) AS n FROM assets WHERE last_verified_at IS NOT NULL") \
        == [{"n": 0}]


def test_a_vault_without_catalog_says_to_ingest_first(tmp_path):
    (tmp_path / "originals").mkdir()
    with pytest.raises(VerifyError, match="run sovereign.cloud.photo_ingest first"):
        verify_vault(str(tmp_path))
    assert not (tmp_path / "catalog.sqlite").exists()  # verification never creates a catalog


@pytest.mark.parametrize(("options", "message"), [
    ({"mode": "sample"}, "needs a limit"),
    ({"mode": "full", "percent": 5}, "only apply to mode=sample"),
    ({"mode": "sample", "percent": 150}, "at most 100"),
    ({"mode": "sample", "max_bytes": 0}, "must be positive"),
    ({"mode": "weekly"}, "full or sample"),
])
def test_wrong_options_say_what_to_change(tmp_path, options, message):
    build(tmp_path, count=1)
    with pytest.raises(VerifyError, match=message):
        verify_vault(str(tmp_path), **options)


def test_a_file_that_cannot_be_read_is_unreadable_not_corrupt(tmp_path):
    (tmp_path / "dir").mkdir()
    result = vault_verify.check_batch([("a" * 64, str(tmp_path / "dir"), 10)])
    assert result[0][1] == "unreadable" and "cannot read" in result[0][3]


def test_the_pool_works_when_this_process_has_other_threads(tmp_path):
    # A process where decoders ran has libvips threads; forking it can deadlock the children, so
    # the pool then starts its workers from a fork server instead.
    import threading  # pylint: disable=import-outside-toplevel

    assets = build(tmp_path, count=4)
    flip_a_byte(tmp_path / assets[0]["rel_path"])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert pool.pool_context().get_start_method() == "forkserver"
        report = verify_vault(str(tmp_path), workers=2)
    finally:
        stop.set()
        thread.join()
    assert report.corrupt == [assets[0]["sha256"]] and report.ok == 3


def test_long_runs_can_log_files_throughput_and_eta(tmp_path):
    import io  # pylint: disable=import-outside-toplevel

    build(tmp_path, count=5, size=1 << 20)
    stream = io.StringIO()
    verify_vault(str(tmp_path), workers=1, progress=vault_verify.ProgressLog(stream, interval=0))
    last = stream.getvalue().strip().splitlines()[-1]
    assert last.startswith("verify: 5/5 files, 5.2 MB of 5.2 MB,") and "MB/s, ETA 0 s" in last


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def test_check_mode_leaves_the_vault_byte_for_byte_as_it_was(tmp_path):
    assets = build(tmp_path)
    flip_a_byte(tmp_path / assets[0]["rel_path"])
    (tmp_path / "thumbs").mkdir()
    before = snapshot(tmp_path)
    report = verify_vault(str(tmp_path), workers=2, record=False)
    assert report.corrupt == [assets[0]["sha256"]]
    # SQLite's empty -wal/-shm coordination files may appear (a read-only open that sees concurrent writers)
    assert [e for e in snapshot(tmp_path) if "sqlite-" not in e[0]] == [e for e in before if "sqlite-" not in e[0]]
    assert all(e[1] == 0 for e in snapshot(tmp_path) if e[0].endswith("-wal"))
