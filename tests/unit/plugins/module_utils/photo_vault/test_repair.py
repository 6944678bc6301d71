"""Repair and rebuild-catalog on real files (issue 7, defects 6-8): a missing or corrupt original
comes back from a recorded source whose bytes still hash right, a damaged sidecar is rewritten and
the old one kept, a lost catalog is rebuilt from originals/ and the sidecars, dedup restores what
the disk lost, and another tool's sidecar is never replaced."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import IngestConfig, run_ingest
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.rebuild import rebuild_catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import RepairError, repair_vault
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import verify_vault
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import read_sidecar
from support import media_factory as mf

pytest.importorskip("PIL")

DARKTABLE_SIDECAR = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    darktable:xmp_version="5" darktable:history_end="3">
   <digiKam:TagsList>
    <rdf:Seq>
     <rdf:li>Family/Grandma</rdf:li>
    </rdf:Seq>
   </digiKam:TagsList>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ingest(source, vault, **options) -> dict:
    options.setdefault("min_age", 0)
    options.setdefault("workers", 1)
    options.setdefault("thumbnails", False)
    return run_ingest(IngestConfig([str(source)], str(vault), **options))


@pytest.fixture
def vault_with_three(tmp_path):
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    for i in range(3):
        mf.write(source / f"IMG_{i:04d}.JPG", mf.jpeg(seed=i, make="Canon", model="Canon EOS 40D",
                                                      datetime_original="2023:05:0%d 10:00:00" % (i + 1)))
    result = ingest(source, vault)
    assert result["ingested"] == 3
    with Catalog.open(str(vault), create=False) as catalog:
        rows = catalog.query("SELECT sha256, rel_path, sidecar_rel_path, size FROM assets ORDER BY rel_path")
    return source, vault, rows


def test_repair_restores_missing_and_corrupt_originals_and_sidecars(vault_with_three):
    source, vault, rows = vault_with_three
    missing, corrupt, sidecar_gone = rows
    os.unlink(vault / missing["rel_path"])
    bad = vault / corrupt["rel_path"]
    os.chmod(bad, 0o644)
    data = bytearray(bad.read_bytes())
    data[500] ^= 0xFF  # bit rot: same size, other bytes
    bad.write_bytes(bytes(data))
    os.unlink(vault / sidecar_gone["sidecar_rel_path"])
    (vault / corrupt["sidecar_rel_path"]).write_bytes(b"<not xmp")

    dry = repair_vault(str(vault), check=True)
    assert len(dry["originals_restored"]) == 2 and not (vault / missing["rel_path"]).exists()

    result = repair_vault(str(vault))
    assert result["changed"] and not result["not_repaired"]
    assert {r["sha256"] for r in result["originals_restored"]} == {missing["sha256"], corrupt["sha256"]}
    for row in rows:
        assert sha(vault / row["rel_path"]) == row["sha256"]
        assert read_sidecar((vault / row["sidecar_rel_path"]).read_bytes()).sha256 == row["sha256"]
    # nothing is deleted: the rotten original and the unparsable sidecar are set aside
    kept = sorted(os.path.basename(p) for p in result["set_aside"])
    assert any(".corrupt-" in k for k in kept) and any(".xmp.orig-" in k for k in kept)
    report = verify_vault(str(vault), mode="full", record=False)
    assert not report.failed and not report.unknown, report.summary
    again = repair_vault(str(vault))
    assert not again["changed"]


def test_repair_reports_what_it_cannot_repair(vault_with_three):
    source, vault, rows = vault_with_three
    os.unlink(vault / rows[0]["rel_path"])
    src = next(p for p in source.iterdir() if sha(p) == rows[0]["sha256"])
    src.write_bytes(mf.jpeg(seed=99))  # the source now holds other bytes
    result = repair_vault(str(vault))
    assert [r["sha256"] for r in result["not_repaired"]] == [rows[0]["sha256"]]
    assert "other bytes" in result["not_repaired"][0]["reason"] and "restic" in result["not_repaired"][0]["reason"]
    assert "could NOT be repaired" in result["summary"]


def test_rebuild_catalog_from_originals_and_sidecars(vault_with_three):
    source, vault, rows = vault_with_three
    with Catalog.open(str(vault), create=False) as catalog:
        before = {r["sha256"]: r for r in catalog.query("SELECT * FROM assets")}
    old = (vault / "catalog.sqlite").read_bytes()
    (vault / "catalog.sqlite").write_bytes(b"garbage: the disk ate the catalog")
    result = rebuild_catalog(str(vault))
    assert result["assets"] == 3 and result["moved_aside"]
    assert Path(result["moved_aside"]).read_bytes().startswith(b"garbage")  # moved aside, never overwritten
    with Catalog.open(str(vault), create=False) as catalog:
        after = {r["sha256"]: r for r in catalog.query("SELECT * FROM assets")}
    assert set(after) == set(before)
    for key in ("rel_path", "sidecar_rel_path", "size", "format", "taken_at", "date_source", "make", "model", "sha1"):
        assert {s: r[key] for s, r in after.items()} == {s: r[key] for s, r in before.items()}, key
    # the next ingest copies nothing and learns the source paths again
    again = ingest(source, vault)
    assert again["ingested"] == 0 and again["duplicates"] == 3
    assert old  # the original catalog existed


def test_ingest_restores_a_missing_original_from_an_unchanged_source(vault_with_three):
    source, vault, rows = vault_with_three
    os.unlink(vault / rows[1]["rel_path"])
    small = vault / rows[2]["rel_path"]
    os.chmod(small, 0o644)
    small.write_bytes(small.read_bytes()[:100])  # truncated in the vault
    dry = ingest(source, vault, check=True)
    assert dry["restored"] == 2 and dry["changed"] and not (vault / rows[1]["rel_path"]).exists()
    result = ingest(source, vault)
    assert result["restored"] == 2, result
    assert {r["sha256"] for r in result["restored_files"]} == {rows[1]["sha256"], rows[2]["sha256"]}
    assert all(r["reason"] for r in result["restored_files"])
    for row in rows:
        assert sha(vault / row["rel_path"]) == row["sha256"]
    again = ingest(source, vault)
    assert not again["changed"] and again["restored"] == 0


def test_no_op_rescan_stays_cheap(tmp_path):
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    for i in range(300):
        mf.write(source / f"{i // 100}" / f"P{i:04d}.png", mf.png(size=(8, 8), seed=i))
    assert ingest(source, vault)["ingested"] == 300
    t0 = time.perf_counter()
    result = ingest(source, vault)
    elapsed = time.perf_counter() - t0
    assert not result["changed"] and result["unchanged"] == 300 and result["restored"] == 0
    assert elapsed < 3.0


def test_foreign_sidecar_is_merged_not_replaced(tmp_path):
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    data = mf.jpeg(seed=5)
    mf.write(source / "a" / "IMG_1.JPG", data)
    ingest(source, vault)
    with Catalog.open(str(vault), create=False) as catalog:
        row = catalog.query("SELECT * FROM assets")[0]
    xmp = vault / row["sidecar_rel_path"]
    xmp.write_bytes(DARKTABLE_SIDECAR)  # darktable / digiKam took the sidecar over
    mf.write(source / "b" / "copy of IMG_1.JPG", data)  # a new name for it: the sidecar gets updated
    ingest(source, vault)
    text = xmp.read_bytes()
    assert b"Family/Grandma" in text and b"darktable" in text
    assert "copy of IMG_1.JPG" in read_sidecar(text).original_names


def test_unparsable_sidecar_is_set_aside_and_reported(tmp_path):
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    data = mf.jpeg(seed=6)
    mf.write(source / "a" / "IMG_1.JPG", data)
    ingest(source, vault)
    with Catalog.open(str(vault), create=False) as catalog:
        row = catalog.query("SELECT * FROM assets")[0]
    xmp = vault / row["sidecar_rel_path"]
    foreign = b"<x:xmpmeta><digiKam:Tags>unclosed"
    xmp.write_bytes(foreign)
    mf.write(source / "b" / "IMG_1 copy.JPG", data)
    result = ingest(source, vault)
    kept = [p for p in xmp.parent.iterdir() if ".xmp.orig-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == foreign
    assert result["set_aside"] == [str(kept[0].relative_to(vault))]
    assert read_sidecar(xmp.read_bytes()).sha256 == row["sha256"]


def test_repair_refuses_without_catalog_and_names_rebuild(tmp_path):
    vault = tmp_path / "vault"
    (vault / "originals").mkdir(parents=True)
    with pytest.raises(RepairError, match="sovereign-photos rebuild-catalog"):
        repair_vault(str(vault))


def test_darktable_sidecar_survives_republishing_its_original(tmp_path):
    """The original and the catalog are gone (a restore from backup of the sidecars only, a new
    catalog): ingest publishes the original again and must keep darktable's/digiKam's fields."""
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    mf.write(source / "IMG_1.JPG", mf.jpeg(seed=7))
    ingest(source, vault)
    with Catalog.open(str(vault), create=False) as catalog:
        row = catalog.query("SELECT * FROM assets")[0]
    for name in os.listdir(vault):
        if name.startswith("catalog.sqlite"):
            os.unlink(vault / name)
    os.unlink(vault / row["rel_path"])
    xmp = vault / row["sidecar_rel_path"]
    xmp.write_bytes(DARKTABLE_SIDECAR)
    result = ingest(source, vault)
    assert result["ingested"] == 1
    text = xmp.read_bytes()
    assert b"Family/Grandma" in text and b"history_end" in text
    parsed = read_sidecar(text)
    assert parsed.original_names == ["IMG_1.JPG"]
    assert parsed.sha256 == row["sha256"] and parsed.date_source == row["date_source"]  # ours merged in beside theirs


def test_repair_merges_our_fields_into_a_sidecar_digikam_took_over(vault_with_three):
    _source, vault, rows = vault_with_three
    xmp = vault / rows[0]["sidecar_rel_path"]
    xmp.write_bytes(DARKTABLE_SIDECAR)
    result = repair_vault(str(vault))
    assert [r["path"] for r in result["sidecars_rewritten"]] == [rows[0]["sidecar_rel_path"]]
    assert not result["set_aside"]
    text = xmp.read_bytes()
    assert b"Family/Grandma" in text and read_sidecar(text).sha256 == rows[0]["sha256"]
    assert read_sidecar(text).original_names == ["IMG_0000.JPG"]
    assert not repair_vault(str(vault))["changed"]


def test_restore_repair_and_rebuild_on_a_postgresql_catalog(tmp_path, postgresql_server):
    """The same paths on PostgreSQL (a real server): ingest restores, repair re-hashes, rebuild-catalog
    refuses to fill a catalog that still holds assets and fills an empty one."""
    dsn = postgresql_server.create_database("repair")
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    for i in range(2):
        mf.write(source / f"IMG_{i}.JPG", mf.jpeg(seed=20 + i))
    assert ingest(source, vault, catalog=dsn)["ingested"] == 2
    with Catalog.open(str(vault), dsn, create=False) as catalog:
        rows = catalog.query("SELECT sha256, rel_path FROM assets ORDER BY rel_path")
    os.unlink(vault / rows[0]["rel_path"])
    assert ingest(source, vault, catalog=dsn)["restored"] == 1
    bad = vault / rows[1]["rel_path"]
    os.chmod(bad, 0o644)
    data = bytearray(bad.read_bytes())
    data[300] ^= 0x10
    bad.write_bytes(bytes(data))
    assert [r["sha256"] for r in repair_vault(str(vault), dsn)["originals_restored"]] == [rows[1]["sha256"]]
    with pytest.raises(RepairError, match="still holds assets"):
        rebuild_catalog(str(vault), dsn)
    empty = postgresql_server.create_database("rebuilt")
    assert rebuild_catalog(str(vault), empty)["assets"] == 2
    with Catalog.open(str(vault), empty, create=False) as catalog:
        assert sorted(catalog.asset_digests()) == sorted(r["sha256"] for r in rows)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_a_restore_that_cannot_write_warns_and_the_ingest_goes_on(vault_with_three):
    source, vault, rows = vault_with_three
    victim = vault / rows[0]["rel_path"]
    os.chmod(victim, 0o644)
    victim.write_bytes(b"short")
    os.chmod(victim.parent, 0o555)
    try:
        result = ingest(source, vault)
    finally:
        os.chmod(victim.parent, 0o755)
    assert result["restored"] == 0 and any("could not be restored" in w for w in result["warnings"])
