"""The ingest pipeline on real files: layout, hashes, duplicates, bad input, dates, live photos,
XMP against exiftool, check mode, crash safety (kill -9 at every step), PostgreSQL, real samples."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import sources
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import (
    IngestConfig, IngestError, run_ingest, worker)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.live import find_live_pairs
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.worker import DigestSet
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.lock import VaultLock
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import read_sidecar
from support import media_factory as mf
from support.faults import HangOn, SlowDisk, StartMethod
from support.paths import COLLECTIONS, SAMPLES, TESTS
EXIFTOOL = shutil.which("exiftool")


def sha_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(root: Path) -> dict:
    """Every entry under root (including bad names and FIFOs): type, size, mtime, content hash."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            digest = None
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            state[path] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return state


def ingest(sources, vault, **options) -> dict:
    options.setdefault("min_age", 0)
    options.setdefault("workers", 2)
    return run_ingest(IngestConfig([str(s) for s in ([sources] if isinstance(sources, (str, Path)) else sources)],
                                   str(vault), **options))


def catalog_rows(vault: Path, table: str) -> list[dict]:
    with Catalog.open(str(vault), create=False) as catalog:
        return catalog.query(f"SELECT * FROM {table}")


def originals(vault: Path) -> dict[str, str]:
    """rel path -> sha256 of every published original (not sidecars, not temp files)."""
    found = {}
    for path in (vault / "originals").rglob("*"):
        if path.is_file() and path.suffix != ".xmp" and ".partial-" not in path.name:
            found[str(path.relative_to(vault))] = sha_of(path)
    return found


def assert_consistent(vault: Path) -> None:
    """What must hold after any crash: no partial file under a final name, every original's name
    is its content's sha256, every catalog asset's file and sidecar are there and hash right."""
    for rel, digest in originals(vault).items():
        assert Path(rel).stem == digest, f"{rel} holds content {digest}"
    rows = catalog_rows(vault, "assets") if (vault / "catalog.sqlite").exists() else []
    for row in rows:
        assert sha_of(vault / row["rel_path"]) == row["sha256"], row["rel_path"]
        assert read_sidecar((vault / row["sidecar_rel_path"]).read_bytes()).sha256 == row["sha256"]
    shas = list(originals(vault).values())
    assert len(shas) == len(set(shas)), "one sha256 stored twice"


def end_state(vault: Path) -> dict:
    assets = sorted((r["sha256"], r["rel_path"], r["date_source"], r["taken_at"], r["live_pair_sha256"])
                    for r in catalog_rows(vault, "assets"))
    sources = sorted((r["path"], r["sha256"]) for r in catalog_rows(vault, "sources"))
    rejections = sorted(r["path"] for r in catalog_rows(vault, "rejections"))
    sidecars = {}
    for row in catalog_rows(vault, "assets"):
        sidecar = read_sidecar((vault / row["sidecar_rel_path"]).read_bytes())
        sidecars[row["sha256"]] = (sorted(sidecar.original_names), sidecar.live_pair_sha256, sidecar.date)
    return {"originals": originals(vault), "assets": assets, "sources": sources, "rejections": rejections,
            "sidecars": sidecars}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    expected = mf.make_inbox(root)
    return root, expected


@pytest.fixture(scope="module")
def ingested(inbox, tmp_path_factory):
    """The inbox ingested once (thumbnails on), with the sources' state before and after."""
    root, expected = inbox
    vault = tmp_path_factory.mktemp("vault") / "vault"
    before = snapshot(root)
    first = ingest(root, vault)
    after_first = snapshot(root)
    second = ingest(root, vault)
    return {"root": root, "expected": expected, "vault": vault, "first": first, "second": second,
            "before": before, "after": after_first, "after_second": snapshot(root)}


# ------------------------------------------------------------------------------------ outcomes

def test_every_good_file_lands_as_one_original_named_by_its_hash(ingested):
    vault, expected = ingested["vault"], ingested["expected"]
    stored = originals(vault)
    by_sha = {digest: rel for rel, digest in stored.items()}
    for rel, info in expected["good"].items():
        original = by_sha.get(info["sha256"])
        assert original, f"{rel} was not ingested"
        assert original == f"originals/{info['folder']}/{info['sha256']}.{info['ext']}", rel
        assert sha_of(ingested["root"] / rel) == sha_of(vault / original)
    assert len(stored) == len({i["sha256"] for i in expected["good"].values()})
    assert ingested["first"]["ingested"] == len(stored)


def test_sources_are_never_modified(ingested):
    assert ingested["after"] == ingested["before"]
    assert ingested["after_second"] == ingested["before"]


def test_duplicates_give_one_original_and_every_path_is_recorded(ingested):
    vault, root = ingested["vault"], ingested["root"]
    sources = catalog_rows(vault, "sources")
    for sha, rels in ingested["expected"]["duplicates"].items():
        paths = {row["path"] for row in sources if row["sha256"] == sha}
        assert paths == {str(root / rel) for rel in rels}
        asset = [r for r in catalog_rows(vault, "assets") if r["sha256"] == sha][0]
        names = read_sidecar((vault / asset["sidecar_rel_path"]).read_bytes()).original_names
        assert sorted(names) == sorted({os.path.basename(r) for r in rels})
    assert ingested["first"]["duplicates"] == sum(len(r) - 1 for r in ingested["expected"]["duplicates"].values())


def test_same_name_different_content_keeps_both(ingested):
    shas = {info["sha256"] for rel, info in ingested["expected"]["good"].items() if rel.startswith("wrap/")}
    assert len(shas) == 2
    assert shas <= set(originals(ingested["vault"]).values())


def test_every_bad_input_is_rejected_with_a_clear_reason_and_nothing_bad_lands(ingested):
    root, vault = ingested["root"], ingested["vault"]
    rejected = {item["path"]: item["reason"] for item in ingested["first"]["rejected"]}
    for rel, word in ingested["expected"]["rejected"].items():
        key = os.fsencode(str(root / rel)).decode("utf-8", "backslashreplace")
        assert key in rejected, f"{rel} not rejected"
        assert word.lower() in rejected[key].lower(), (rel, rejected[key])
    assert len(rejected) == len(ingested["expected"]["rejected"])
    bad_hashes = {sha_of(root / rel) for rel in ingested["expected"]["rejected"]
                  if (root / rel).is_file() and not (root / rel).is_fifo()}
    assert not bad_hashes & set(originals(vault).values())
    # the second run reports them again from the catalog, without reading them
    assert sorted(i["path"] for i in ingested["second"]["rejected"]) == sorted(rejected)


def test_ignored_files_are_silently_ignored(ingested):
    root = ingested["root"]
    seen = {row["path"] for row in catalog_rows(ingested["vault"], "sources")}
    seen |= {row["path"] for row in catalog_rows(ingested["vault"], "rejections")}
    seen |= {item["path"] for item in ingested["first"]["rejected"]}
    for rel in ingested["expected"]["ignored"]:
        assert str(root / rel) not in seen, rel
    assert ingested["first"]["skipped_files"] == 0


def test_capture_dates_and_their_sources(ingested):
    assets = {r["sha256"]: r for r in catalog_rows(ingested["vault"], "assets")}
    for rel, info in ingested["expected"]["good"].items():
        row = assets[info["sha256"]]
        assert row["date_source"] == info["date_source"], rel
        assert row["taken_at"][:10].replace("-", "/") == info["folder"], rel
    heic = assets[ingested["expected"]["good"]["icloud/2023/05/01/IMG_0042_QVkzaFV.HEIC"]["sha256"]]
    assert (heic["taken_at"], heic["taken_offset"], heic["taken_utc"]) == (
        "2023-05-01T12:34:56.123", "-05:00", "2023-05-01T17:34:56.123Z")
    assert heic["from_iphone"] == 1 and heic["icloud_master_id"] == "id7:QVkzaFV"
    assert heic["sha1"] == hashlib.sha1((ingested["root"] / "icloud/2023/05/01/IMG_0042_QVkzaFV.HEIC").read_bytes()
                                        ).hexdigest()
    lake = assets[ingested["expected"]["good"]["icloud/2022/IMG_5000.JPG"]["sha256"]]
    assert (lake["gps_lat"], lake["gps_lon"]) == (46.5, 6.6)  # from the icloudpd sidecar, the file has none


def test_live_photo_pairs_are_recorded_both_ways(ingested):
    vault, good = ingested["vault"], ingested["expected"]["good"]
    assets = {r["sha256"]: r for r in catalog_rows(vault, "assets")}
    assert ingested["first"]["live_pairs"] == len(ingested["expected"]["live_pairs"]) == 2
    for still, movie in ingested["expected"]["live_pairs"]:
        a, b = good[still]["sha256"], good[movie]["sha256"]
        assert assets[a]["live_pair_sha256"] == b and assets[b]["live_pair_sha256"] == a
        assert read_sidecar((vault / assets[a]["sidecar_rel_path"]).read_bytes()).live_pair_sha256 == b
        assert read_sidecar((vault / assets[b]["sidecar_rel_path"]).read_bytes()).live_pair_sha256 == a
    unpaired = [r for r in assets.values() if r["live_pair_sha256"] is None]
    assert len(unpaired) == len(assets) - 4


def test_second_run_changes_nothing(ingested):
    second = ingested["second"]
    assert second["changed"] is False
    assert (second["ingested"], second["duplicates"]) == (0, 0)
    assert second["unchanged"] == len(ingested["expected"]["good"])
    assert len(catalog_rows(ingested["vault"], "ingest_runs")) == 2


def test_thumbnails_are_made_and_recorded(ingested):
    vault = ingested["vault"]
    status = {r["sha256"]: r["status"] for r in catalog_rows(vault, "thumbnail_status")}
    heic = ingested["expected"]["good"]["icloud/2023/05/01/IMG_0042_QVkzaFV.HEIC"]["sha256"]
    assert status[heic] == "ok"
    assert (vault / "thumbs" / "medium" / heic[:2] / f"{heic}.jpg").is_file()
    assert len(status) == len(originals(vault))


@pytest.mark.skipif(not EXIFTOOL, reason="exiftool is not installed (scripts/test-deps.sh installs it)")
def test_sidecars_are_valid_xmp_and_agree_with_the_files_own_metadata(ingested):
    vault = ingested["vault"]
    rows = catalog_rows(vault, "assets")
    files = [str(vault / r["rel_path"]) for r in rows] + [str(vault / r["sidecar_rel_path"]) for r in rows]
    out = subprocess.run([EXIFTOOL, "-j", "-n", "-G", "-api", "QuickTimeUTC", "-EXIF:DateTimeOriginal",
                          "-EXIF:SubSecTimeOriginal", "-EXIF:OffsetTimeOriginal", "-EXIF:Make", "-EXIF:Model",
                          "-EXIF:GPSLatitude", "-EXIF:GPSLongitude", "-EXIF:GPSLatitudeRef", "-EXIF:GPSLongitudeRef",
                          "-XMP:all", *files], capture_output=True, text=True, check=False)
    data = {item["SourceFile"]: item for item in json.loads(out.stdout)}
    checked = 0
    for row in rows:
        image, xmp = data[str(vault / row["rel_path"])], data[str(vault / row["sidecar_rel_path"])]
        assert "ExifTool:Error" not in xmp, xmp
        assert xmp.get("XMP:SHA256", xmp.get("XMP:Sha256")) == row["sha256"]
        if "EXIF:DateTimeOriginal" in image and row["date_source"] == "exif":
            own = image["EXIF:DateTimeOriginal"]
            if "EXIF:SubSecTimeOriginal" in image:
                own += f".{image['EXIF:SubSecTimeOriginal']}"
            own += image.get("EXIF:OffsetTimeOriginal", "")
            assert xmp["XMP:DateTimeOriginal"] == own, row["rel_path"]
            checked += 1
        elif "EXIF:DateTimeOriginal" in image:  # the file's own date is impossible: the fallback fills the gap
            assert image["EXIF:DateTimeOriginal"].startswith("0000") and row["date_source"] == "filename"
        if "EXIF:Make" in image:
            assert (xmp["XMP:Make"], xmp.get("XMP:Model")) == (image["EXIF:Make"], image.get("EXIF:Model"))
        if "EXIF:GPSLatitude" in image:
            lat = image["EXIF:GPSLatitude"] * (-1 if image.get("EXIF:GPSLatitudeRef") == "S" else 1)
            lon = image["EXIF:GPSLongitude"] * (-1 if image.get("EXIF:GPSLongitudeRef") == "W" else 1)
            assert abs(xmp["XMP:GPSLatitude"] - lat) < 1e-6 and abs(xmp["XMP:GPSLongitude"] - lon) < 1e-6
        assert "XMP:Orientation" not in xmp
    assert checked >= 8


# ------------------------------------------------------------------------------------ check mode

def test_check_mode_reads_everything_and_writes_nothing(inbox, tmp_path):
    root, expected = inbox
    parent = tmp_path / "nas"
    parent.mkdir()
    report = ingest(root, parent / "vault", check=True)
    assert list(parent.iterdir()) == []
    real = ingest(root, parent / "vault")
    for key in ("ingested", "duplicates", "unchanged", "bytes_ingested"):
        assert report[key] == real[key], key
    assert sorted(r["path"] for r in report["rejected"]) == sorted(r["path"] for r in real["rejected"])
    assert report["changed"] is True
    # check mode on the existing vault: still no write at all, and nothing to do
    (root / "later").mkdir(exist_ok=True)
    mf.write(root / "later" / "new.jpg", mf.jpeg(seed=777, datetime_original="2024:01:01 10:00:00"), mf.OLD)
    try:
        before = snapshot(parent)
        again = ingest(root, parent / "vault", check=True)
        # at most SQLite's empty coordination files appear (a read-only open that sees concurrent writers)
        after = {k: v for k, v in snapshot(parent).items() if not k.endswith((b"-wal", b"-shm"))}
        assert {k: v for k, v in after.items() if k != bytes(parent / "vault")} == {
            k: v for k, v in before.items() if k != bytes(parent / "vault")}
        assert (again["ingested"], again["unchanged"]) == (1, real["unchanged"] + real["duplicates"] + real["ingested"])
    finally:
        shutil.rmtree(root / "later")


# ------------------------------------------------------------------------------------ behaviour

def test_min_age_leaves_fresh_files_for_the_next_run(tmp_path):
    src = tmp_path / "src"
    mf.write(src / "fresh.jpg", mf.jpeg(seed=1, datetime_original="2020:01:01 00:00:00"))
    report = ingest(src, tmp_path / "vault", min_age=3600)
    assert (report["ingested"], report["skipped_files"], report["changed"]) == (0, 1, False)
    assert ingest(src, tmp_path / "vault", min_age=0)["ingested"] == 1


def test_a_new_path_for_known_content_adds_its_name_to_the_sidecar(tmp_path):
    src = tmp_path / "src"
    data = mf.jpeg(seed=2, datetime_original="2020:01:01 00:00:00")
    mf.write(src / "a" / "IMG_1.JPG", data, mf.OLD)
    ingest(src, tmp_path / "vault")
    mf.write(src / "b" / "renamed.jpg", data, mf.OLD)
    report = ingest(src, tmp_path / "vault")
    assert (report["ingested"], report["duplicates"], report["changed"]) == (0, 1, True)
    row = catalog_rows(tmp_path / "vault", "assets")[0]
    assert read_sidecar((tmp_path / "vault" / row["sidecar_rel_path"]).read_bytes()).original_names == [
        "IMG_1.JPG", "renamed.jpg"]


def test_copies_racing_through_the_pool_with_different_dates_give_one_original(tmp_path):
    src = tmp_path / "src"
    data = mf.jpeg(seed=3)  # no date of its own: every copy falls back to its own mtime
    for i in range(12):
        mf.write(src / f"copy{i:02d}.jpg", data, mf.OLD + i * 86400 * 40)
    report = ingest(src, tmp_path / "vault", workers=2)
    stored = originals(tmp_path / "vault")
    assert len(stored) == 1 and report["ingested"] == 1 and report["duplicates"] == 11
    assert len(catalog_rows(tmp_path / "vault", "sources")) == 12
    assert not os.listdir(tmp_path / "vault" / ".sovereign-ingest" / "claims")
    assert not os.listdir(tmp_path / "vault" / ".sovereign-ingest" / "runs")


def test_a_fixed_file_replaces_its_rejection(tmp_path):
    src = tmp_path / "src"
    mf.write(src / "IMG_9.JPG", mf.truncated(mf.jpeg(seed=4)), mf.OLD)
    assert len(ingest(src, tmp_path / "vault")["rejected"]) == 1
    mf.write(src / "IMG_9.JPG", mf.jpeg(seed=4), mf.OLD + 10)
    report = ingest(src, tmp_path / "vault")
    assert report["ingested"] == 1 and report["rejected"] == []
    assert catalog_rows(tmp_path / "vault", "rejections") == []


def test_non_media_files_are_skipped_once_and_not_opened_again(tmp_path):
    src = tmp_path / "src"
    mf.write(src / "notes.txt", b"hello", mf.OLD)
    mf.write(src / "report.pdf", b"%PDF-1.7\n" + b"x" * 100, mf.OLD)
    first = ingest(src, tmp_path / "vault")
    assert (first["skipped_files"], first["rejected"], first["skipped_reasons"]) == (2, [], {"not a photo or video": 2})
    second = ingest(src, tmp_path / "vault")
    assert (second["skipped_files"], second["changed"]) == (2, False)


def test_large_files_are_streamed_not_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "SMALL_READ", 10_000)
    reads = []
    real = sources.read_exactly
    monkeypatch.setattr(sources, "read_exactly", lambda fd, size: reads.append(size) or real(fd, size))
    src = tmp_path / "src"
    movie = mf.handmade_movie(creationdate="2023-05-01T12:34:56-0500", mdat_bytes=3 * 1024 * 1024 + 5)
    mf.write(src / "IMG_1.MOV", movie, mf.OLD)
    mf.write(src / "IMG_2.JPG", mf.jpeg(seed=5, datetime_original="2020:02:02 02:02:02"), mf.OLD)
    report = ingest(src, tmp_path / "vault", workers=1)
    assert report["ingested"] == 2
    assert all(size <= 10_000 for size in reads)  # the movie never went through read_exactly
    assert sha_of(tmp_path / "vault" / f"originals/2023/05/01/{mf.sha256(movie)}.mov") == mf.sha256(movie)


def test_a_source_changing_while_read_is_left_for_the_next_run(tmp_path, monkeypatch):
    src = tmp_path / "src"
    path = mf.write(src / "IMG_1.JPG", mf.jpeg(seed=6, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    real = sources.read_exactly

    def growing(fd, size):
        data = real(fd, size)
        with open(path, "ab") as handle:
            handle.write(b"more")
        return data
    monkeypatch.setattr(sources, "read_exactly", growing)
    report = ingest(src, tmp_path / "vault", workers=1)
    assert report["ingested"] == 0 and report["skipped_files"] == 1 and report["rejected"] == []
    monkeypatch.setattr(sources, "read_exactly", real)
    assert ingest(src, tmp_path / "vault", workers=1)["ingested"] == 1


def test_a_second_ingest_is_refused_with_the_holders_pid(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "vault").mkdir()
    with VaultLock(str(tmp_path / "vault")):
        with pytest.raises(IngestError, match=f"pid {os.getpid()}"):
            ingest(tmp_path / "src", tmp_path / "vault")


def test_a_different_file_under_an_originals_name_fails_that_asset_loudly(tmp_path):
    src = tmp_path / "src"
    data = mf.jpeg(seed=7, datetime_original="2021:03:04 05:06:07")
    mf.write(src / "IMG_1.JPG", data, mf.OLD)
    mf.write(src / "IMG_2.JPG", mf.jpeg(seed=8, datetime_original="2021:03:04 05:06:07"), mf.OLD)
    squatter = tmp_path / "vault" / "originals" / "2021" / "03" / "04" / f"{mf.sha256(data)}.jpg"
    mf.write(squatter, b"not the photo")
    report = ingest(src, tmp_path / "vault")
    assert report["ingested"] == 1
    assert len(report["errors"]) == 1 and "different content" in report["errors"][0]["reason"]
    assert squatter.read_bytes() == b"not the photo"


def test_bad_source_and_vault_paths_are_explained(tmp_path):
    with pytest.raises(IngestError, match="is not a directory"):
        ingest(tmp_path / "missing", tmp_path / "vault")
    (tmp_path / "vault" / "originals" / "inbox").mkdir(parents=True)
    with pytest.raises(IngestError, match="its originals of the vault"):
        ingest(tmp_path / "vault" / "originals" / "inbox", tmp_path / "vault")
    with pytest.raises(IngestError, match="parent of the vault"):
        ingest(tmp_path / "vault", tmp_path / "nowhere" / "vault")


def test_a_vault_inside_a_source_is_not_ingested_into_itself(tmp_path):
    mf.write(tmp_path / "IMG_1.JPG", mf.jpeg(seed=9, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    ingest(tmp_path, tmp_path / "vault")
    report = ingest(tmp_path, tmp_path / "vault")
    assert (report["ingested"], report["duplicates"], report["unchanged"]) == (0, 0, 1)


def test_losing_the_catalog_adopts_the_originals_again(ingested, tmp_path):
    vault = tmp_path / "vault"
    shutil.copytree(ingested["vault"], vault)
    before = originals(vault)
    for suffix in ("", "-wal", "-shm"):
        (vault / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    report = ingest(ingested["root"], vault)
    assert report["adopted"] == report["ingested"] == len(before)
    assert originals(vault) == before


def test_progress_is_reported(tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        mf.write(src / f"{i}.jpg", mf.jpeg(seed=10 + i, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    seen = []
    ingest(src, tmp_path / "vault", progress=seen.append, progress_interval=0)
    assert seen[-1]["files_done"] == seen[-1]["files_total"] == 5
    assert seen[-1]["bytes_done"] == seen[-1]["bytes_total"] > 0 and seen[-1]["eta_s"] is not None


# ------------------------------------------------------------------------------------ permissions

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the ingest as another user")
@pytest.mark.skipif(not SYSTEM_PYTHON, reason="needs the system python3 (the venv's may be unreadable to others)")
def test_unreadable_file_and_read_only_sources_as_an_unprivileged_user():
    """As ``nobody``, with the host's own Python (no Pillow: structure checks only), on a
    read-only source tree holding a file nobody may read."""
    import pwd  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel
    tmp_path = Path(tempfile.mkdtemp(prefix="sc-ingest-nobody-", dir="/tmp"))  # pytest's tmp is private to root
    try:
        _run_as_nobody(tmp_path, pwd.getpwnam("nobody"))
    finally:
        os.chmod(tmp_path / "src", 0o755)
        shutil.rmtree(tmp_path)


def _run_as_nobody(tmp_path: Path, nobody) -> None:
    src, vault = tmp_path / "src", tmp_path / "vault"
    mf.write(src / "ok.jpg", mf.jpeg(seed=11, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    locked = mf.write(src / "locked.jpg", mf.jpeg(seed=12, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    os.chmod(locked, 0o000)
    for directory in (src,):
        os.chmod(directory, 0o555)  # read-only tree: any write attempt would fail
    os.chmod(tmp_path, 0o777)
    vault.mkdir(mode=0o777)
    os.chmod(vault, 0o777)
    before = snapshot(src)
    script = (f"import sys, json; sys.path.insert(0, {str(COLLECTIONS)!r})\n"
              "from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import IngestConfig, run_ingest\n"
              f"print(json.dumps(run_ingest(IngestConfig([{str(src)!r}], {str(vault)!r}, min_age=0, workers=2, "
              "thumbnails=False))))\n")
    # a copy of the collection that nobody can read (/root, where the checkout may live, is 0700)
    shutil.copytree(COLLECTIONS.parent / "plugins", tmp_path / "collections/ansible_collections/sovereign/cloud/plugins",
                    ignore=shutil.ignore_patterns("__pycache__"))
    os.system(f"chmod -R a+rX {tmp_path / 'collections'}")  # nosec: test fixture permissions
    script = script.replace(str(COLLECTIONS), str(tmp_path / "collections"))
    proc = subprocess.run([SYSTEM_PYTHON, "-c", script], capture_output=True, text=True, check=False,
                          user=nobody.pw_uid, group=nobody.pw_gid, env={"PATH": os.environ["PATH"]}, cwd="/")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ingested"] == 1
    assert [r["path"] for r in report["rejected"]] == [str(locked)]
    assert "permission denied" in report["rejected"][0]["reason"]
    assert snapshot(src) == before


# ------------------------------------------------------------------------------------ crash safety

def _run_in_subprocess(src: Path, vault: Path, crash_at: tuple[str, int] | None = None, thumbnails: bool = True):
    """An ingest in its own session (so a kill takes the whole run); it prints one line per
    finished file. ``crash_at``: (point, count) of a CrashAt hook (a power cut at that step)."""
    hooks = f"CrashAt{crash_at!r}" if crash_at else "None"
    script = (f"import sys; sys.path[:0] = [{str(COLLECTIONS)!r}, {str(TESTS)!r}]\n"
              "from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import IngestConfig, run_ingest\n"
              "from support.faults import CrashAt\n"
              f"run_ingest(IngestConfig([{str(src)!r}], {str(vault)!r}, min_age=0, workers=2, "
              f"thumbnails={thumbnails!r}, progress=lambda s: print(s['files_done'], flush=True), "
              f"progress_interval=0, hooks={hooks}))\n")
    return subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_after(proc, files: int, extra_delay: float) -> None:
    """SIGKILL the run once ``files`` files are finished (plus a little), or let it end."""
    for line in proc.stdout:
        if int(line) >= files:
            time.sleep(extra_delay)
            break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def crash_inbox(tmp_path_factory):
    """A smaller inbox for many interrupted runs: every date source, duplicates, a live pair."""
    root = tmp_path_factory.mktemp("crash-inbox")
    for i in range(14):
        mf.write(root / f"cam/IMG_{i:04d}.JPG", mf.jpeg(seed=1000 + i, size=(64, 48), make="Canon", model="R5",
                                                        datetime_original=f"2019:0{1 + i % 9}:1{i % 9} 10:00:00",
                                                        gps=(45.0 + i / 10, 7.0)), mf.OLD)
    dup = mf.jpeg(seed=1100, datetime_original="2018:08:08 08:08:08")
    for rel in ("cam/DUP_1.JPG", "backup/DUP_1.JPG", "backup/other-name.jpg"):
        mf.write(root / rel, dup, mf.OLD)
    mf.write(root / "live/IMG_0500.HEIC", mf.heic(seed=1200, content_identifier="CID-CRASH",
                                                  datetime_original="2022:02:02 02:02:02"), mf.OLD)
    mf.write(root / "live/IMG_0500.MOV", mf.handmade_movie(creationdate="2022-02-02T02:02:02+0100",
                                                           content_identifier="CID-CRASH", seed=3), mf.OLD)
    mf.write(root / "bad/cut.jpg", mf.truncated(mf.jpeg(seed=1300)), mf.OLD)
    mf.write(root / "misc/IMG_20150505_101010.png", mf.png(seed=1400), mf.OLD)
    return root


@pytest.fixture(scope="module")
def reference_run(crash_inbox, tmp_path_factory):
    """An uninterrupted run: its end state, and how long it took (to aim the random kills)."""
    vault = tmp_path_factory.mktemp("reference") / "vault"
    start = time.monotonic()
    proc = _run_in_subprocess(crash_inbox, vault)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    return end_state(vault), time.monotonic() - start


@pytest.fixture(scope="module")
def reference_state(reference_run):
    return reference_run[0]


# worker points count per worker process (two workers, ~20 files); parent points once per run
CRASH_POINTS = [("partial-written", 1), ("partial-written", 4), ("linked", 2), ("published", 1), ("published", 3),
                ("sidecar-written", 4), ("before-commit", 1), ("after-commit", 1), ("pairing-sidecars", 1)]


@pytest.mark.slow
@pytest.mark.parametrize("point, count", CRASH_POINTS)
def test_kill_at_each_step_leaves_a_consistent_vault_that_the_next_run_completes(
        crash_inbox, reference_state, tmp_path, point, count):
    vault = tmp_path / "vault"
    proc = _run_in_subprocess(crash_inbox, vault, crash_at=(point, count))
    code = proc.wait(timeout=300)
    assert code == -signal.SIGKILL, f"the run did not reach {point}:{count} ({code}): {proc.stderr.read()}"
    assert_consistent(vault)
    proc = _run_in_subprocess(crash_inbox, vault)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert_consistent(vault)
    assert end_state(vault) == reference_state
    assert not list((vault / "originals").rglob("*.partial-*"))


@pytest.mark.slow
def test_kill_at_random_moments_again_and_again(crash_inbox, reference_run, tmp_path):
    """Fresh vaults killed after a random number of finished files (plus a random few
    milliseconds), each checked; then one vault killed ten times over, then completed."""
    reference, _duration = reference_run
    rng = random.Random(4242)
    total = len(reference["originals"])
    mid_run = 0
    for attempt in range(8):
        vault = tmp_path / f"fresh{attempt}"
        _kill_after(_run_in_subprocess(crash_inbox, vault), rng.randrange(1, 18), rng.uniform(0, 0.05))
        assert_consistent(vault)
        mid_run += 0 < len(originals(vault)) < total if (vault / "originals").is_dir() else 0
    assert mid_run >= 2, "the kills never landed in the middle of a run"
    vault = tmp_path / "again"
    for _attempt in range(10):
        _kill_after(_run_in_subprocess(crash_inbox, vault), rng.randrange(1, 6), rng.uniform(0, 0.1))
        assert_consistent(vault)
    proc = _run_in_subprocess(crash_inbox, vault)
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    assert end_state(vault) == reference


# ------------------------------------------------------------------------------------ PostgreSQL

def test_ingest_into_a_postgresql_catalog(inbox, tmp_path, postgresql_server):
    root, expected = inbox
    dsn = postgresql_server.create_database("ingest")
    vault = tmp_path / "vault"
    first = ingest(root, vault, catalog=dsn, thumbnails=False)
    assert first["ingested"] == len({i["sha256"] for i in expected["good"].values()})
    assert first["live_pairs"] == 2
    check = ingest(root, vault, catalog=dsn, check=True)
    assert (check["ingested"], check["changed"]) == (0, False)
    second = ingest(root, vault, catalog=dsn, thumbnails=False)
    assert (second["changed"], second["unchanged"]) == (False, len(expected["good"]))
    assert not (vault / "catalog.sqlite").exists()
    with Catalog.open(str(vault), dsn, create=False) as catalog:
        assert catalog.count_assets() == first["ingested"]
        assert len(catalog.query("SELECT * FROM sources")) == len(expected["good"])


# ------------------------------------------------------------------------------------ real samples

@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"real sample photos not present at {SAMPLES}")
def test_real_samples_every_good_file_is_ingested_and_the_corrupt_one_rejected(tmp_path):
    vault = tmp_path / "vault"
    report = ingest(SAMPLES, vault)
    files = [p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".heic", ".heif")]
    good = {sha_of(p) for p in files if p.name != "corrupted.jpg"}
    assert set(originals(vault).values()) == good
    assert [Path(r["path"]).name for r in report["rejected"]] == ["corrupted.jpg"]
    readmes = [p for p in SAMPLES.rglob("README*") if p.is_file()]
    assert report["skipped_files"] == len(readmes) and report["skipped_reasons"] == {"not a photo or video": len(readmes)}
    status = {r["status"] for r in catalog_rows(vault, "thumbnail_status")}
    assert status == {"ok"}
    assets = catalog_rows(vault, "assets")
    iphone = [a for a in assets if a["format"] == "heic" and a["from_iphone"]]
    assert iphone and all(a["date_source"] == "exif" for a in iphone)
    assert any(a["content_identifier"] for a in iphone)


# ------------------------------------------------------------------------------------ helpers

def test_digest_set_membership():
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)]
    compact = DigestSet(digests[::2])
    assert len(compact) == 500
    assert all(d in compact for d in digests[::2])
    assert not any(d in compact for d in digests[1::2])
    assert "not hex" not in compact


def _row(sha, fmt, path, cid=None, duration=None):
    return {"sha256": sha, "format": fmt, "path": path, "content_identifier": cid, "duration": duration}


def test_live_pairs_by_identifier_then_unambiguous_names():
    rows = [_row("a", "heic", "/x/IMG_1.HEIC", "C1"), _row("b", "mov", "/elsewhere/clip.MOV", "C1"),
            _row("c", "jpeg", "/y/IMG_2.JPG"), _row("d", "mov", "/y/IMG_2.MOV", duration=2.0),
            _row("e", "heic", "/z/IMG_3.HEIC", "C3"), _row("f", "mov", "/z/IMG_3_HEVC.MOV", "C4"),  # ids disagree
            _row("g", "jpeg", "/w/IMG_4.JPG"), _row("h", "mov", "/w/IMG_4.MOV", duration=95.0),  # a real video
            _row("i", "jpeg", "/v/IMG_5.JPG"), _row("j", "jpeg", "/v/img_5.jpg"), _row("k", "mov", "/v/IMG_5.MOV"),
            _row("l", "heic", "/u/IMG_6_QVkzaFV.HEIC"), _row("m", "mov", "/u/IMG_6_QVkzaFV_HEVC.MOV")]
    assert sorted(find_live_pairs(rows, None)) == [("a", "b"), ("c", "d"), ("l", "m")]
    assert find_live_pairs(rows, {"d"}) == [("c", "d")]


def test_sqlite_catalog_is_wal_and_foreign_keys_hold(ingested):
    conn = sqlite3.connect(ingested["vault"] / "catalog.sqlite")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_every_worker_start_method_gives_the_same_vault(inbox, ingested, tmp_path, method):
    """fork (a single-threaded parent: the module, the CLI, the crash tests' subprocesses) made
    ``ingested``; the methods used from a threaded parent must give the same result."""
    vault = tmp_path / "vault"
    report = ingest(inbox[0], vault, hooks=StartMethod(method))
    assert report["ingested"] == ingested["first"]["ingested"]
    assert originals(vault) == originals(ingested["vault"])


def test_a_single_threaded_parent_forks_its_workers():
    script = (f"import sys; sys.path.insert(0, {str(COLLECTIONS)!r})\n"
              "from ansible_collections.sovereign.cloud.plugins.module_utils.common import pool\n"
              "print(pool.start_method())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "fork"


def test_a_hung_worker_is_replaced_and_its_file_rejected(tmp_path):
    src = tmp_path / "src"
    for i in range(6):
        mf.write(src / f"IMG_{i}.JPG", mf.jpeg(seed=60 + i, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    # 10 s: generous, spawn starts slowly under load
    report = ingest(src, tmp_path / "vault", workers=2, hooks=HangOn("IMG_2.JPG", 10.0, start_method="spawn"))
    assert report["ingested"] == 5
    assert [Path(r["path"]).name for r in report["rejected"]] == ["IMG_2.JPG"]
    assert "did not finish" in report["rejected"][0]["reason"]
    assert not list((tmp_path / "vault").rglob("*.partial-*"))
    assert ingest(src, tmp_path / "vault")["rejected"][0]["path"].endswith("IMG_2.JPG")  # not retried: unchanged


def test_the_hang_detector_times_work_not_the_wait_in_the_queue(tmp_path):
    # 8 files on 2 workers, each 1 s of work (a slow NAS) with 2.5 s allowed: the last ones wait
    # 3 s in the queue before a worker starts them, and are healthy all the same.
    src = tmp_path / "src"
    for n in range(8):
        mf.write(src / f"IMG_{n}.JPG", mf.jpeg(seed=900 + n, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    started = time.monotonic()
    report = ingest(src, tmp_path / "vault", workers=2, hooks=SlowDisk(1.0, 2.5))
    assert report["rejected"] == [] and report["errors"] == []
    assert report["ingested"] == 8
    assert time.monotonic() - started < 20


def test_thumbnails_that_cannot_be_written_never_keep_a_good_original_out(tmp_path, monkeypatch):
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails_run import (
        make_missing_thumbnails)

    monkeypatch.setitem(thumbnails._STATE, "pyvips", None)  # a host without pyvips: Pillow decodes  # pylint: disable=protected-access
    src, vault, thumbs = tmp_path / "src", tmp_path / "vault", tmp_path / "thumbs"
    mf.write(src / "a.jpg", mf.jpeg(seed=910, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    mf.write(src / "scan-48bit.png", mf.png16(seed=911), mf.OLD)
    mf.write(src / "scan-16bit-grey.png", mf.png16(seed=912, gray=True), mf.OLD)
    mf.write(src / "scan-48bit.tif", mf.tiff16(seed=913), mf.OLD)
    thumbs.write_bytes(b"")  # the thumbnails root is not a directory (a mount point gone wrong)

    report = ingest(src, vault, thumbs_root=str(thumbs), workers=1)
    assert report["rejected"] == [] and report["errors"] == []
    assert report["ingested"] == 4 and len(originals(vault)) == 4
    assert len(catalog_rows(vault, "assets")) == 4
    assert "4 without thumbnails" in report["summary"]
    assert any("cannot write thumbnails under" in w and "photo_thumbnails" in w for w in report["warnings"])
    assert catalog_rows(vault, "thumbnail_status") == []  # due, not failed
    again = ingest(src, vault, thumbs_root=str(thumbs), workers=1)
    assert (again["unchanged"], again["rejected"], again["changed"]) == (4, [], False)

    still_broken = make_missing_thumbnails(str(vault), thumbs_root=str(thumbs), workers=1)
    assert (still_broken.due, still_broken.created, still_broken.previously_failed) == (4, 0, 0)
    assert all("next run tries again" in item["reason"] for item in still_broken.failed)
    thumbs.unlink()
    fixed = make_missing_thumbnails(str(vault), thumbs_root=str(thumbs), workers=1)
    assert (fixed.due, fixed.created, fixed.failed) == (4, 4, [])
    assert len(list((thumbs / "tiny").rglob("*.jpg"))) == 4


def test_a_good_original_rejected_earlier_for_its_thumbnails_is_taken_now(tmp_path):
    src, vault = tmp_path / "src", tmp_path / "vault"
    photo = mf.write(src / "a.jpg", mf.jpeg(seed=930, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    (tmp_path / "other").mkdir()
    ingest(tmp_path / "other", vault)  # creates the catalog
    st = photo.stat()
    with Catalog.open(str(vault), create=False) as catalog, catalog.transaction():
        catalog.record_rejection(str(photo), str(src), st.st_size, st.st_mtime_ns,
                                 "the image does not decode: cannot write thumbnails under /thumbs: No space left on device")
    report = ingest(src, vault)
    assert (report["ingested"], report["rejected"]) == (1, [])
    assert catalog_rows(vault, "rejections") == []


def test_only_a_real_decode_failure_rejects_an_original(tmp_path, monkeypatch):
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails

    src, vault = tmp_path / "src", tmp_path / "vault"
    mf.write(src / "good.jpg", mf.jpeg(seed=920, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    # well-formed chunks (right CRCs) around image data that is not zlib: only a decode finds it
    garbage = random.Random(921).randbytes(300)
    idat = len(garbage).to_bytes(4, "big") + b"IDAT" + garbage + zlib.crc32(b"IDAT" + garbage).to_bytes(4, "big")
    good_png = mf.png16(seed=921)
    start = good_png.index(b"IDAT") - 4
    end = good_png.index(b"IEND") - 4
    mf.write(src / "broken.png", good_png[:start] + idat + good_png[end:], mf.OLD)

    def no_memory(*_args):
        raise MemoryError

    monkeypatch.setattr(thumbnails, "_encode_all", no_memory)  # the encoder runs out of memory
    report = ingest(src, vault, workers=1)
    assert [Path(r["path"]).name for r in report["rejected"]] == ["broken.png"]
    assert "does not decode" in report["rejected"][0]["reason"]
    assert report["ingested"] == 1 and "1 without thumbnails" in report["summary"]
    assert any("out of memory" in w for w in report["warnings"])


def test_a_catalog_that_cannot_be_opened_explains_and_releases_the_lock(tmp_path):
    mf.write(tmp_path / "src" / "a.jpg", mf.jpeg(seed=70, datetime_original="2020:01:01 00:00:00"), mf.OLD)
    with pytest.raises(IngestError, match="does not exist"):
        ingest(tmp_path / "src", tmp_path / "vault", catalog=str(tmp_path / "missing" / "catalog.sqlite"))
    assert ingest(tmp_path / "src", tmp_path / "vault")["ingested"] == 1  # the lock was released
