"""The vault catalog on SQLite: schema, upserts, indexes used by rescans, drills and verification."""

from __future__ import annotations

import random
import sqlite3

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.vault_catalog import (
    Catalog, CatalogError, path_key, redact_dsn)


def asset(sha: str, size: int = 100, **extra) -> dict:
    record = {"sha256": sha, "sha1": "0" * 40, "size": size, "format": "jpeg", "ext": "jpg",
              "media_type": "image", "taken_at": "2023-05-01T10:00:00", "date_source": "exif",
              "rel_path": f"originals/2023/05/01/{sha}.jpg", "ingested_at": "2026-01-01T00:00:00Z"}
    record.update(extra)
    return record


@pytest.fixture
def catalog(tmp_path):
    with Catalog.open(str(tmp_path)) as cat:
        yield cat


def test_new_catalog_is_wal_sqlite_in_the_vault(tmp_path, catalog):
    assert (tmp_path / "catalog.sqlite").is_file()
    assert catalog.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert catalog.meta("schema_version") == "1"
    vault_id = catalog.meta("vault_id")
    catalog.close()
    with Catalog.open(str(tmp_path)) as again:
        assert again.meta("vault_id") == vault_id


def test_opening_without_create_explains_what_to_do(tmp_path):
    with pytest.raises(CatalogError, match="run sovereign.cloud.photo_ingest first"):
        Catalog.open(str(tmp_path), create=False)


def test_a_foreign_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(CatalogError, match="not a sovereign.cloud catalog"):
        Catalog.open(str(tmp_path), catalog=str(path), create=False)


def test_asset_insert_never_refiles_an_existing_original(catalog):
    catalog.add_asset(asset("a" * 64, rel_path="originals/2023/05/01/" + "a" * 64 + ".jpg"))
    catalog.add_asset(asset("a" * 64, rel_path="originals/1999/01/01/" + "a" * 64 + ".jpg"))
    assert catalog.get_asset("a" * 64)["rel_path"].startswith("originals/2023/05/01/")
    assert catalog.count_assets() == 1


def test_every_path_that_held_a_photo_is_remembered(catalog):
    sha_one, sha_two = "1" * 64, "2" * 64
    catalog.add_asset(asset(sha_one))
    catalog.add_asset(asset(sha_two, rel_path="originals/2023/05/01/x.jpg"))
    catalog.record_source("/in/a/IMG_0001.JPG", "/in", 100, 5, sha_one, seen_at="2026-01-01T00:00:00Z")
    catalog.record_source("/in/b/copy.jpg", "/in", 100, 6, sha_one, seen_at="2026-01-01T00:00:00Z")
    # Later the same name holds new content (counter wrap-around on a new phone).
    catalog.record_source("/in/a/IMG_0001.JPG", "/in", 120, 9, sha_two, seen_at="2026-02-01T00:00:00Z")
    index = catalog.source_index()
    assert index["/in/a/IMG_0001.JPG"] == (120, 9, sha_two)
    assert index["/in/b/copy.jpg"] == (100, 6, sha_one)
    assert [s["path"] for s in catalog.sources_of(sha_one)] == ["/in/a/IMG_0001.JPG", "/in/b/copy.jpg"]


def test_icloud_ids_are_kept_when_a_later_sighting_lacks_them(catalog):
    catalog.add_asset(asset("3" * 64))
    catalog.record_source("/p/IMG_1_QVpTNGN.HEIC", "/p", 1, 1, "3" * 64, icloud_master_id="AZS4c")
    catalog.record_source("/p/IMG_1_QVpTNGN.HEIC", "/p", 1, 2, "3" * 64)
    assert catalog.sources_of("3" * 64)[0]["icloud_master_id"] == "AZS4c"


def test_rejections_are_remembered_and_cleared(catalog):
    catalog.record_rejection("/in/bad.jpg", "/in", 10, 1, "truncated JPEG")
    assert catalog.rejection_index() == {"/in/bad.jpg": (10, 1, "truncated JPEG")}
    catalog.clear_rejection("/in/bad.jpg")
    assert catalog.rejection_index() == {}


def test_non_utf8_paths_are_stored_readably(catalog):
    weird = b"/in/caf\xe9.jpg".decode("utf-8", "surrogateescape")
    assert path_key(weird) == "/in/caf\\xe9.jpg"
    catalog.record_rejection(weird, "/in", 1, 1, "file name is not valid UTF-8")
    assert "/in/caf\\xe9.jpg" in catalog.rejection_index()


def test_transactions_roll_back_as_a_whole(catalog):
    with pytest.raises(RuntimeError):
        with catalog.transaction():
            catalog.add_asset(asset("4" * 64))
            raise RuntimeError("crash")
    assert catalog.get_asset("4" * 64) is None


def test_verification_order_is_least_recently_verified_first(catalog):
    for n, seen in (("5", "2026-03-01T00:00:00Z"), ("6", None), ("7", "2026-01-01T00:00:00Z")):
        catalog.add_asset(asset(n * 64, rel_path=f"originals/x/{n}.jpg", last_verified_at=seen))
    assert [row[0][0] for row in catalog.verification_order()] == ["6", "7", "5"]


def test_a_verify_run_records_problems_and_last_verification(catalog):
    catalog.add_asset(asset("8" * 64))
    run = catalog.start_verify_run("full", {})
    catalog.finish_verify_run(run, {"checked": 1, "corrupt": 1},
                              [{"sha256": "8" * 64, "path": "originals/x", "status": "corrupt", "detail": "sha256 differs"}],
                              [("8" * 64, "corrupt")])
    assert catalog.last_verify_run()["result"] == "problems"
    assert catalog.get_asset("8" * 64)["last_verify_status"] == "corrupt"


def test_restore_drill_sample_honours_count_and_byte_budget(catalog):
    for i in range(20):
        catalog.add_asset(asset(f"{i:064x}", size=1000, rel_path=f"originals/{i}.jpg"))
    assert len(catalog.sample_assets(count=5, rng=random.Random(1))) == 5
    within_budget = catalog.sample_assets(byte_budget=3500, rng=random.Random(1))
    assert len(within_budget) == 3
    # A budget smaller than any file still drills one file rather than none.
    assert len(catalog.sample_assets(byte_budget=10, rng=random.Random(1))) == 1


def test_restore_drill_record_passes_only_when_every_file_matches(catalog):
    drill = catalog.record_restore_drill("/repo", "abcd1234", [
        {"sha256": "9" * 64, "size": 10, "status": "ok"},
        {"sha256": "a" * 64, "size": 10, "status": "mismatch", "detail": "restored sha256 differs"}], 1.5)
    last = catalog.last_restore_drill()
    assert last["id"] == drill and last["passed"] == 0 and last["failed_count"] == 1


def test_dsn_passwords_are_never_printed():
    assert redact_dsn("postgresql://pics:s3cret@db.example.com:5432/pics") == "postgresql://pics:***@db.example.com:5432/pics"
    assert redact_dsn("postgresql://db.example.com/pics") == "postgresql://db.example.com/pics"
