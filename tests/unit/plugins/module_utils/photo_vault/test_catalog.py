"""The vault catalog: schema, upserts, indexes used by rescans, drills and verification.

Every test that takes the ``catalog`` fixture runs twice: on SQLite in the vault and on a real
PostgreSQL server (a throwaway cluster, tests/support/postgres.py).
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import (
    Catalog, CatalogError, path_key, redact_dsn)


def asset(sha: str, size: int = 100, **extra) -> dict:
    record = {"sha256": sha, "sha1": "0" * 40, "size": size, "format": "jpeg", "ext": "jpg",
              "media_type": "image", "taken_at": "2023-05-01T10:00:00", "date_source": "exif",
              "rel_path": f"originals/2023/05/01/{sha}.jpg", "ingested_at": "2026-01-01T00:00:00Z"}
    record.update(extra)
    return record


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request, tmp_path):
    location = None
    if request.param == "postgresql":
        location = request.getfixturevalue("postgresql_server").create_database(request.node.name)
    with Catalog.open(str(tmp_path), catalog=location) as cat:
        assert cat.backend == request.param
        yield cat


def test_new_catalog_is_wal_sqlite_in_the_vault(tmp_path):
    catalog = Catalog.open(str(tmp_path))
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


def test_values_come_back_identical_on_both_back_ends(catalog):
    big_video = 7 * 1024 ** 3  # beyond 32-bit integers
    record = asset("b" * 64, size=big_video, width=3840, height=2160, duration=12.5, gps_lat=47.376887,
                   gps_lon=-8.541694, gps_alt=None, make="Apple", model="iPhone 15 Pro", from_iphone=True,
                   taken_offset="+02:00", rel_path="originals/2023/05/01/Zürich 🏔.mov")
    catalog.add_asset(record)
    row = catalog.get_asset("b" * 64)
    assert row["size"] == big_video and isinstance(row["size"], int)
    assert (row["gps_lat"], row["gps_lon"], row["gps_alt"], row["duration"]) == (47.376887, -8.541694, None, 12.5)
    assert row["from_iphone"] == 1 and row["rel_path"].endswith("Zürich 🏔.mov")
    assert catalog.verification_order() == [("b" * 64, "originals/2023/05/01/Zürich 🏔.mov", big_video)]


def test_literal_percent_signs_work_next_to_placeholders(catalog):
    catalog.add_asset(asset("c" * 64, model="iPhone 12"))
    rows = catalog.query("SELECT COUNT(*) AS n FROM assets WHERE model LIKE '%Phone%' AND size = ?", (100,))
    assert rows == [{"n": 1}]


def test_ids_are_returned_by_both_back_ends(catalog):
    first = catalog.start_verify_run("sample", {"percent": 5})
    second = catalog.start_verify_run("full", {})
    assert isinstance(first, int) and second > first


def test_a_failed_statement_inside_a_transaction_leaves_the_catalog_usable(catalog):
    with pytest.raises(Exception):  # noqa: B017  sqlite3.IntegrityError or psycopg.errors.ForeignKeyViolation
        with catalog.transaction():
            catalog.add_asset(asset("d" * 64))
            catalog.record_source("/in/x.jpg", "/in", 1, 1, "e" * 64)  # no such asset: foreign key
    assert catalog.get_asset("d" * 64) is None
    catalog.add_asset(asset("d" * 64))
    assert catalog.count_assets() == 1


def test_a_postgresql_catalog_reopens_with_its_identity(tmp_path, postgresql_server):
    dsn = postgresql_server.create_database("reopen")
    with Catalog.open(str(tmp_path), catalog=dsn) as first:
        vault_id = first.meta("vault_id")
        first.add_asset(asset("f" * 64))
    with Catalog.open(str(tmp_path), catalog=dsn, create=False) as again:
        assert again.meta("vault_id") == vault_id and again.count_assets() == 1
    assert not (tmp_path / "catalog.sqlite").exists()


def test_an_empty_postgresql_database_is_not_mistaken_for_a_catalog(tmp_path, postgresql_server):
    dsn = postgresql_server.create_database("empty")
    with pytest.raises(CatalogError, match="not a sovereign.cloud catalog"):
        Catalog.open(str(tmp_path), catalog=dsn, create=False)


def test_a_wrong_postgresql_password_fails_clearly_without_printing_it(tmp_path, postgresql_server):
    dsn = postgresql_server.create_database("auth")
    wrong = dsn.replace(postgresql_server.password, "not-the-password")
    with pytest.raises(CatalogError, match="cannot connect to the PostgreSQL catalog") as info:
        Catalog.open(str(tmp_path), catalog=wrong)
    assert "not-the-password" not in str(info.value) and "***" in str(info.value)


def test_two_modules_creating_a_postgresql_catalog_at_once_both_succeed(tmp_path, postgresql_server):
    # Ingest and a thumbnail run starting together on a new database: CREATE TABLE IF NOT EXISTS
    # alone races on PostgreSQL's catalog; the schema lock must make both opens succeed.
    from concurrent.futures import ThreadPoolExecutor  # pylint: disable=import-outside-toplevel

    for attempt in range(5):
        dsn = postgresql_server.create_database(f"race{attempt}")

        def open_one(_n, dsn=dsn):
            with Catalog.open(str(tmp_path), catalog=dsn) as cat:
                return cat.meta("vault_id")

        with ThreadPoolExecutor(4) as pool:
            ids = set(pool.map(open_one, range(4)))
        assert len(ids) == 1


def test_read_only_sqlite_writes_nothing_and_refuses_writes(tmp_path):
    # check mode (ingest --check) opens the catalog like this: the catalog file is not changed (SQLite
    # may add its empty -wal/-shm coordination files, which let a reader see a concurrent writer)
    with Catalog.open(str(tmp_path)) as cat:
        cat.add_asset(asset("7" * 64))
    before = (tmp_path / "catalog.sqlite").read_bytes()
    with Catalog.open(str(tmp_path), readonly=True) as cat:
        assert cat.count_assets() == 1
        with pytest.raises(sqlite3.OperationalError):
            cat.add_asset(asset("8" * 64))
    assert (tmp_path / "catalog.sqlite").read_bytes() == before
    assert not (tmp_path / "catalog.sqlite-wal").exists() or (tmp_path / "catalog.sqlite-wal").stat().st_size == 0


def test_read_only_sqlite_sees_commits_still_in_the_wal(tmp_path):
    writer = Catalog.open(str(tmp_path))  # stays open: its commits live in catalog.sqlite-wal
    try:
        writer.add_asset(asset("9" * 64))
        assert (tmp_path / "catalog.sqlite-wal").exists()
        with Catalog.open(str(tmp_path), readonly=True) as reader:
            assert reader.get_asset("9" * 64) is not None
    finally:
        writer.close()


def test_read_only_postgresql_refuses_writes(tmp_path, postgresql_server):
    dsn = postgresql_server.create_database("readonly")
    with Catalog.open(str(tmp_path), catalog=dsn) as cat:
        cat.add_asset(asset("a" * 64))
    with Catalog.open(str(tmp_path), catalog=dsn, readonly=True) as cat:
        assert cat.count_assets() == 1
        with pytest.raises(Exception, match="read-only"):
            cat.add_asset(asset("b" * 64))


def test_a_path_that_returns_to_earlier_content_shows_the_latest(catalog):
    # the index is built without sorting the whole table: the path seen again must still win
    sha_one, sha_two = "c" * 64, "d" * 64
    catalog.add_asset(asset(sha_one))
    catalog.add_asset(asset(sha_two, rel_path="originals/2023/05/01/y.jpg"))
    catalog.record_source("/in/IMG_7.JPG", "/in", 100, 1, sha_one, seen_at="2026-01-01T00:00:00Z")
    catalog.record_source("/in/IMG_7.JPG", "/in", 120, 2, sha_two, seen_at="2026-02-01T00:00:00Z")
    catalog.record_source("/in/IMG_7.JPG", "/in", 100, 3, sha_one, seen_at="2026-03-01T00:00:00Z")
    assert catalog.source_index()["/in/IMG_7.JPG"] == (100, 3, sha_one)


def test_a_reader_opened_before_a_writer_starts_sees_its_commits(tmp_path):
    # issue 7 #12: verify and thumbnails write without the ingest lock. A reader opened on a quiet
    # catalog (no -wal file) used immutable=1 and then never saw, or half-saw, what a writer did.
    with Catalog.open(str(tmp_path)) as cat:
        for i in range(50):
            cat.add_asset(asset(f"{i:064x}"))
    assert not (tmp_path / "catalog.sqlite-wal").exists()
    reader = Catalog.open(str(tmp_path), readonly=True)
    try:
        assert reader.count_assets() == 50
        with Catalog.open(str(tmp_path)) as writer:
            with writer.transaction():
                for i in range(50, 3050):
                    writer.add_asset(asset(f"{i:064x}"))
            assert reader.count_assets() == 3050
            writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            assert reader.count_assets() == 3050
            assert len(reader.asset_digests()) == 3050
        assert reader.count_assets() == 3050  # the writer closed and folded its log into the file
        assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        reader.close()
    assert sorted(p.name for p in tmp_path.iterdir())[0] == "catalog.sqlite"
