"""The catalog report (photo_catalog_info's engine) on both back ends, with exact figures."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.report import ReportError, camera_name, catalog_info
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import verify_vault
from ansible_collections.sovereign.cloud.plugins.modules import photo_catalog_info
from support.ansible_module import run_module
from support.vault_builder import add_original


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request):
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgresql_server").create_database(request.node.name)


def family_vault(vault, location):
    """Two iPhones, a camera, a screenshot, a live pair, a video; two watched folders, one duplicate path."""
    with Catalog.open(str(vault), location) as cat:
        still = add_original(vault, cat, os.urandom(3000), ext="heic", taken_at="2023-05-01T10:00:00",
                             make="Apple", model="iPhone 13", from_iphone=True, gps_lat=47.1, gps_lon=8.5,
                             icloud_asset_id="AXyz")
        motion = add_original(vault, cat, os.urandom(2000), ext="mov", taken_at="2023-05-01T10:00:00",
                              make="Apple", model="iPhone 13", from_iphone=True, date_source="quicktime",
                              live_pair_sha256=still["sha256"])
        cat.update_asset(still["sha256"], live_pair_sha256=motion["sha256"])
        older = add_original(vault, cat, os.urandom(5000), taken_at="2019-12-24T18:30:00", make="Canon",
                             model="Canon EOS 80D", gps_lat=46.0, gps_lon=7.0)
        phone = add_original(vault, cat, os.urandom(1000), ext="heic", taken_at="2023-06-02T09:00:00",
                             make="Apple", model="iPhone 15 Pro", from_iphone=True)
        screenshot = add_original(vault, cat, os.urandom(500), ext="png", taken_at="2023-06-03T12:00:00",
                                  date_source="filename")
        for record, root, name in ((still, "/in/icloud", "IMG_1.HEIC"), (motion, "/in/icloud", "IMG_1.MOV"),
                                   (phone, "/in/icloud", "IMG_2.HEIC"), (older, "/in/camera", "IMG_0042.JPG"),
                                   (older, "/in/icloud", "old-copy.jpg"), (screenshot, "/in/camera", "shot.png")):
            cat.record_source(f"{root}/{name}", root, record["size"], 1, record["sha256"])
        cat.record_rejection("/in/camera/broken.jpg", "/in/camera", 10, 1, "truncated JPEG")
        cat.record_rejection("/in/camera/empty.jpg", "/in/camera", 0, 1, "the file is empty")
        cat.record_rejection("/in/icloud/empty2.jpg", "/in/icloud", 0, 1, "the file is empty")
        thumbs = str(vault / "thumbs")
        for record in (still, older, phone):
            cat.record_thumbnails(record["sha256"], thumbs, "ok", "v1", {"tiny": (150, 113, 900)})
        cat.record_thumbnails(motion["sha256"], thumbs, "skipped", "v1", reason="ffmpeg is not installed")
        cat.record_restore_drill("/srv/restic", "abcd1234", [{"sha256": older["sha256"], "size": 5000, "status": "ok"}],
                                 2.5, {"tool": "restic"})
        cat.record_ingest_run("2026-11-22T01:00:00Z", ["/in/icloud", "/in/camera"],
                              {"ingested": 5, "duplicates": 1, "unchanged": 0, "rejected": 3, "bytes_ingested": 11500})
    return {"still": still, "motion": motion, "older": older, "phone": phone, "screenshot": screenshot}


def test_the_report_counts_what_the_family_has(tmp_path, location):
    family_vault(tmp_path, location)
    verify_vault(str(tmp_path), location, mode="sample", percent=40, workers=1)
    report = catalog_info(str(tmp_path), location)
    assert (report["assets"], report["bytes"], report["images"], report["videos"]) == (5, 11500, 4, 1)
    assert report["taken_range"] == {"first": "2019-12-24T18:30:00", "last": "2023-06-03T12:00:00"}
    assert report["per_year"] == {"2019": {"count": 1, "bytes": 5000}, "2023": {"count": 4, "bytes": 6500}}
    assert report["per_month"]["2023-05"] == {"count": 2, "bytes": 5000}
    assert report["per_date_source"] == {"exif": {"count": 3, "bytes": 9000}, "filename": {"count": 1, "bytes": 500},
                                         "quicktime": {"count": 1, "bytes": 2000}}
    assert report["per_device"][0] == {"make": "Apple", "model": "iPhone 13", "camera": "Apple iPhone 13", "count": 2,
                                       "bytes": 5000}
    # the model alone when it already names the make, as photo tools show it
    assert {d["camera"] for d in report["per_device"]} == {"Apple iPhone 13", "Apple iPhone 15 Pro", "Canon EOS 80D", None}
    assert {(d["make"], d["model"]) for d in report["per_device"]} == {
        ("Apple", "iPhone 13"), ("Apple", "iPhone 15 Pro"), ("Canon", "Canon EOS 80D"), (None, None)}
    # The Canon photo reached the vault through both folders: it counts once per folder, once in total.
    assert report["per_source"] == {"/in/camera": {"count": 2, "bytes": 5500}, "/in/icloud": {"count": 4, "bytes": 11000}}
    assert report["source_paths"] == 6
    assert (report["live_pairs"], report["from_iphone"], report["with_gps"], report["with_icloud_ids"]) == (1, 3, 2, 1)
    assert report["per_format"]["heic"] == {"count": 2, "bytes": 4000}
    assert report["thumbnails"] == {str(tmp_path / "thumbs"): {"ok": 3, "skipped": 1, "failed": 0, "missing": 1}}
    assert report["rejected"] == 3 and report["rejected_reasons"] == {"the file is empty": 2, "truncated JPEG": 1}
    assert report["verification"]["never_verified"] == 3 and report["verification"]["last_status_not_ok"] == 0
    assert report["last_verification"]["checked"] == 2 and report["last_verification"]["params"]["percent"] == 40
    assert report["last_restore_drill"]["passed"] == 1 and report["last_restore_drill"]["detail"] == {"tool": "restic"}
    assert report["last_ingest"]["ingested"] == 5 and report["last_ingest"]["sources"] == ["/in/icloud", "/in/camera"]
    assert report["catalog"]["backend"] == ("postgresql" if location else "sqlite")
    assert report["summary"].startswith("5 assets (4 photos, 1 video, 11.5 KB) from 2019 to 2023, 1 live photo,")
    assert "last restore drill" in report["summary"]


def test_thumbnail_counts_for_one_root_include_assets_never_thumbnailed(tmp_path):
    family_vault(tmp_path, None)
    report = catalog_info(str(tmp_path), thumbs_root=str(tmp_path / "elsewhere"))
    assert report["thumbnails"] == {str(tmp_path / "elsewhere"): {"ok": 0, "skipped": 0, "failed": 0, "missing": 5}}


def test_an_empty_vault_reports_zeros_and_says_to_verify(tmp_path):
    Catalog.open(str(tmp_path)).close()
    report = catalog_info(str(tmp_path))
    assert (report["assets"], report["bytes"], report["per_year"], report["last_verification"]) == (0, 0, {}, None)
    assert "never verified: run sovereign.cloud.photo_verify" in report["summary"]


def test_the_report_writes_nothing_and_works_on_a_read_only_vault(tmp_path):
    family_vault(tmp_path, None)
    catalog = tmp_path / "catalog.sqlite"
    before, catalog_bytes = sorted(p.name for p in tmp_path.iterdir()), catalog.read_bytes()
    assert catalog_info(str(tmp_path))["assets"] == 5
    # mode=ro (a concurrent writer stays visible) lets SQLite keep its -wal/-shm coordination files; the
    # catalog itself and everything else are untouched, and a -wal holds nothing
    after = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm")))
    assert after == before and catalog.read_bytes() == catalog_bytes
    assert all(p.stat().st_size == 0 for p in tmp_path.glob("*-wal"))


def test_the_report_never_creates_a_catalog(tmp_path):
    with pytest.raises(ReportError, match="run sovereign.cloud.photo_ingest first"):
        catalog_info(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_the_module_returns_the_report_and_changes_nothing(tmp_path, location):
    family_vault(tmp_path, location)
    args = {"vault": str(tmp_path)}
    if location:
        args["catalog"] = location
    result = run_module(photo_catalog_info, args, check_mode=True)
    assert result["changed"] is False and result["assets"] == 5 and result["live_pairs"] == 1
    assert result["summary"].startswith("5 assets")
    assert run_module(photo_catalog_info, {})["msg"] == "one of the following is required: vault, catalog"


@pytest.mark.parametrize(("make", "model", "shown"), [
    ("Canon", "Canon EOS 40D", "Canon EOS 40D"), ("CANON", "Canon EOS 5D", "Canon EOS 5D"),
    ("Apple", "iPhone 13", "Apple iPhone 13"), (None, "iPhone 13", "iPhone 13"), ("Apple", None, "Apple"),
    (None, None, None), (" Canon ", "Canon EOS R5 ", "Canon EOS R5")])
def test_a_camera_is_named_as_photo_tools_name_it(make, model, shown):
    assert camera_name(make, model) == shown
