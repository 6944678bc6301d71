"""Where the ingest may read from, and what it reads there (issue 7, defects 2, 9 and 10).

* a watched folder inside the vault root beside ``originals/`` (the picture_pipeline example's
  ``/mnt/nas/photos/icloud-sync``) ingests, through the module, and a second run changes nothing;
  what the vault writes (originals, thumbnails, catalog, ``.sovereign*`` state) is refused by the
  engine and by the role's validation alike;
* symbolic links in a watched folder are never followed (outside targets, loops, broken links,
  folders), each is counted with a reason; verify reports an original or sidecar that is a link
  as corrupt without hashing through it;
* a file name that is not UTF-8 lands like any other, recorded losslessly (catalog and sidecar)
  on SQLite and PostgreSQL, and a rescan is a no-op.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import (
    IngestConfig, IngestError, run_ingest)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.names import escape_path, unescape_path
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import (
    LINK_BROKEN, LINK_FOLDER, LINK_INSIDE, LINK_LOOP, LINK_OUTSIDE)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import verify_vault
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import read_sidecar
from ansible_collections.sovereign.cloud.plugins.modules import photo_ingest
from support import media_factory as mf
from support.ansible_module import run_module
from support.paths import REPO
from support.vault_builder import add_original

EXAMPLE = REPO / "inventory/examples/picture_pipeline/group_vars"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request):
    """The catalog option: None (SQLite in the vault) or a DSN on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgresql_server").create_database(request.node.name)


def ingest(sources, vault, catalog=None, **options) -> dict:
    options.setdefault("min_age", 0)
    options.setdefault("workers", 2)
    return run_ingest(IngestConfig([str(s) for s in sources], str(vault), catalog=catalog, **options))


def rows(vault: Path, catalog, statement: str) -> list[dict]:
    with Catalog.open(str(vault), catalog, create=False) as cat:
        return cat.query(statement)


def originals(vault: Path) -> set[str]:
    return {p.stem for p in (vault / "originals").rglob("*") if p.is_file() and p.suffix != ".xmp"}


# ------------------------------------------------------------------------------ 2. picture_pipeline
def example_layout(tmp_path: Path) -> dict:
    """The picture_pipeline example's paths, re-rooted under tmp_path (same shape: the watched
    folder inside the vault root, the thumbnails on another disk)."""
    values = yaml.safe_load((EXAMPLE / "all/vars.yml").read_text())
    root = values["sovereign_photos_root"]
    sync = values["sovereign_icloud_sync_path"]
    assert sync.startswith(root + "/") and not sync.startswith(root + "/originals")  # what this test is about
    return {"vault": tmp_path / root.lstrip("/"), "source": tmp_path / sync.lstrip("/"),
            "thumbs": tmp_path / values["sovereign_thumbs_root"].lstrip("/")}


def test_the_picture_pipeline_example_ingests_through_the_module_and_a_second_run_changes_nothing(tmp_path, catalog):
    paths = example_layout(tmp_path)
    source, vault = paths["source"], paths["vault"]
    mf.write(source / "2023/05/01/IMG_0001.JPG", mf.jpeg(seed=1, datetime_original="2023:05:01 10:00:00"), mf.OLD)
    mf.write(source / "2023/05/02/IMG_0002.PNG", mf.png(seed=2), mf.OLD)
    mf.write(source / "2023/05/02/copy of IMG_0001.JPG", mf.jpeg(seed=1, datetime_original="2023:05:01 10:00:00"),
             mf.OLD)
    args = {"sources": [str(source)], "vault": str(vault), "thumbs_root": str(paths["thumbs"]), "min_age": 0,
            "workers": 2, **({"catalog": catalog} if catalog else {})}
    first = run_module(photo_ingest, args)
    assert not first.get("failed"), first
    assert (first["changed"], first["ingested"], first["duplicates"], first["rejected"]) == (True, 2, 1, [])
    assert len(originals(vault)) == 2 and any(paths["thumbs"].rglob("*.jpg"))
    again = run_module(photo_ingest, args)
    assert not again.get("failed"), again
    assert (again["changed"], again["ingested"], again["unchanged"], again["rejected"]) == (False, 0, 3, [])
    # the vault's own files beside the watched folder were never taken for sources
    paths_seen = [r["path"] for r in rows(vault, catalog, "SELECT path FROM sources")]
    assert len(paths_seen) == 3 and all(p.startswith(str(source) + "/") for p in paths_seen)


@pytest.mark.parametrize("inside", ["", "originals", "originals/2023", "thumbs", ".sovereign-ingest",
                                    ".sovereign-ingest/runs", "catalog.sqlite-dir"])
def test_a_source_in_what_the_vault_writes_is_refused(tmp_path, inside):
    vault = tmp_path / "vault"
    (vault / inside).mkdir(parents=True, exist_ok=True)
    with pytest.raises(IngestError, match="which the vault writes") as info:
        ingest([vault / inside], vault)
    assert "icloud-sync" in str(info.value)
    assert not (vault / "originals").exists() or inside.startswith("originals")


def test_a_source_in_the_thumbnails_elsewhere_is_refused_and_a_folder_beside_originals_is_not(tmp_path):
    vault, thumbs = tmp_path / "vault", tmp_path / "ssd/thumbs"
    (thumbs / "inbox").mkdir(parents=True)
    with pytest.raises(IngestError, match="thumbnails"):
        ingest([thumbs / "inbox"], vault, thumbs_root=str(thumbs))
    mf.write(vault / "inbox/IMG_1.JPG", mf.jpeg(seed=3), mf.OLD)
    assert ingest([vault / "inbox"], vault, thumbs_root=str(thumbs))["ingested"] == 1


PLAY = """
- name: Validate the photo_vault settings
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate
      ansible.builtin.import_role:
        name: sovereign.cloud.photo_vault
        tasks_from: validate.yml
"""


def role_validate(tmp_path: Path, sources: list[str]) -> subprocess.CompletedProcess:
    """The role's own checks, on the example's variables (the catalog DSN is a placeholder)."""
    values = yaml.safe_load((EXAMPLE / "all/vars.yml").read_text())
    group = yaml.safe_load((EXAMPLE / "photo_vault_hosts.yml").read_text())
    variables = {**values, **{k: v for k, v in group.items() if k != "photo_vault_sources"},
                 "vault_catalog_dsn": "postgresql://photos@db.example.com/photos", "photo_vault_systemd": False,
                 "photo_vault_sources": [{"name": f"s{i}", "path": p} for i, p in enumerate(sources)]}
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default")
    playbook = Path(sys.executable).parent / "ansible-playbook"
    return subprocess.run([str(playbook), "-i", "localhost,", str(tmp_path / "play.yml"), "-e",
                           f"@{tmp_path / 'vars.json'}"], capture_output=True, text=True, env=env, cwd=REPO,
                          check=False, timeout=120)


def test_the_roles_validation_agrees_with_the_engine(tmp_path):
    values = yaml.safe_load((EXAMPLE / "all/vars.yml").read_text())
    root = values["sovereign_photos_root"]
    accepted = role_validate(tmp_path, [values["sovereign_icloud_sync_path"], "/srv/inbox"])
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    for refused in (root, f"{root}/originals/2023", f"{root}/thumbs", values["sovereign_thumbs_root"] + "/x",
                    f"{root}/.sovereign-ingest", f"{root}/.sovereign-vault", f"{root}/catalog.sqlite-wal"):
        run = role_validate(tmp_path, [values["sovereign_icloud_sync_path"], refused])
        assert run.returncode != 0 and "inside what the vault" in run.stdout, (refused, run.stdout[-2000:])


# ------------------------------------------------------------------------------ 9. symbolic links
def test_links_in_a_watched_folder_are_never_followed_and_each_is_counted(tmp_path):
    inbox, outside, vault = tmp_path / "inbox", tmp_path / "private", tmp_path / "vault"
    mf.write(inbox / "real.jpg", mf.jpeg(seed=10), mf.OLD)
    mf.write(outside / "secret.jpg", mf.jpeg(seed=11), mf.OLD)
    mf.write(outside / "secret.xmp", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>", mf.OLD)
    mf.write(outside / "album/deep.jpg", mf.jpeg(seed=12), mf.OLD)
    os.symlink(outside / "secret.jpg", inbox / "secret.jpg")          # Syncthing synced a link out
    os.symlink(outside / "secret.xmp", inbox / "real.xmp")             # a sidecar through a link
    os.symlink(outside / "album", inbox / "album")                     # a folder
    os.symlink(inbox / "real.jpg", inbox / "alias.jpg")                # inside: the file lands by its own name
    os.symlink("loop-b.jpg", inbox / "loop-a.jpg")                     # a loop
    os.symlink("loop-a.jpg", inbox / "loop-b.jpg")
    os.symlink("self.jpg", inbox / "self.jpg")
    os.symlink(inbox / "gone.jpg", inbox / "broken.jpg")
    os.symlink(inbox, inbox / "again")                                 # a folder loop
    before = {p: os.lstat(p) for p in map(str, [*inbox.iterdir(), *outside.rglob("*")])}

    report = ingest([inbox], vault)
    assert report["ingested"] == 1 and report["rejected"] == [] and report["errors"] == []
    assert originals(vault) == {mf.sha256(mf.jpeg(seed=10))}
    links = {Path(item["path"]).name: item["reason"] for item in report["skipped_links"]}
    assert links == {"secret.jpg": LINK_OUTSIDE, "album": LINK_FOLDER, "alias.jpg": LINK_INSIDE,
                     "loop-a.jpg": LINK_LOOP, "loop-b.jpg": LINK_LOOP, "self.jpg": LINK_LOOP,
                     "broken.jpg": LINK_BROKEN, "again": LINK_FOLDER}
    assert report["skipped_reasons"][LINK_LOOP] == 3 and report["skipped_reasons"][LINK_OUTSIDE] == 1
    assert report["skipped_files"] == 8
    assert [r["path"] for r in rows(vault, None, "SELECT path FROM sources")] == [str(inbox / "real.jpg")]
    assert {p: os.lstat(p) for p in before} == before  # nothing in the watched folder or behind a link touched

    again = ingest([inbox], vault)
    assert (again["changed"], again["unchanged"], again["skipped_files"]) == (False, 1, 8)


def test_a_file_swapped_for_a_link_after_the_walk_is_not_read_through_it(tmp_path):
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import open_source
    mf.write(tmp_path / "target.jpg", mf.jpeg(seed=13))
    os.symlink(tmp_path / "target.jpg", tmp_path / "link.jpg")
    with pytest.raises(OSError) as info:
        open_source(str(tmp_path / "link.jpg"))
    assert info.value.errno == 40  # ELOOP


def test_verify_reports_an_original_or_sidecar_that_is_a_link_as_corrupt_without_hashing_through_it(
        tmp_path, catalog):
    vault, elsewhere = tmp_path / "vault", tmp_path / "elsewhere"
    vault.mkdir()
    elsewhere.mkdir()
    with Catalog.open(str(vault), catalog) as cat:
        assets = [add_original(vault, cat, os.urandom(4096), taken_at=f"2023-01-1{i}T10:00:00") for i in range(3)]
    linked, sidecar_linked = assets[0], assets[1]
    # the original replaced by a link to a file with the very same bytes: hashing through it would say "ok"
    original = vault / linked["rel_path"]
    (elsewhere / original.name).write_bytes(original.read_bytes())
    original.unlink()
    original.symlink_to(elsewhere / original.name)
    sidecar = vault / sidecar_linked["sidecar_rel_path"]
    (elsewhere / sidecar.name).write_bytes(sidecar.read_bytes())
    sidecar.unlink()
    sidecar.symlink_to(elsewhere / sidecar.name)

    report = verify_vault(str(vault), catalog, workers=1)
    assert sorted(report.corrupt) == sorted([linked["sha256"], sidecar_linked["sha256"]])
    assert report.failed and report.checked == 2 and report.ok == 2
    details = {d["path"]: d for d in report.details if d["status"] == "corrupt"}
    assert "symbolic link" in details[linked["rel_path"]]["detail"]
    assert "symbolic link" in details[sidecar_linked["sidecar_rel_path"]]["detail"]
    recorded = rows(vault, catalog, "SELECT sha256, last_verify_status FROM assets")
    status = {r["sha256"]: r["last_verify_status"] for r in recorded}
    assert status[linked["sha256"]] == "corrupt"
    assert original.is_symlink() and sidecar.is_symlink()  # reported, left as found


def test_verify_never_hashes_through_a_link_made_after_the_walk(tmp_path):
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import check_batch
    data = os.urandom(1000)
    (tmp_path / "target").write_bytes(data)
    os.symlink(tmp_path / "target", tmp_path / "link")
    [(sha, status, nbytes, detail)] = check_batch([(mf.sha256(data), str(tmp_path / "link"), 1000)], drop_cache=False)
    assert (status, nbytes) == ("corrupt", 0) and "symbolic link" in detail


# ------------------------------------------------------------------------------ 10. names that are not UTF-8
LATIN1 = b"\xe9t\xe9.jpg"  # été.jpg from an old Windows share


def test_escaping_is_lossless_and_unambiguous():
    names = [b"plain.jpg", "café.jpg".encode(), LATIN1, b"back\\slash.jpg", b"\\xe9t\\xe9.jpg", b"mix\\\xff\xfe.jpg",
             b"\xc3", "日本.heic".encode()]
    escaped = [escape_path(os.fsdecode(n)) for n in names]
    assert len(set(escaped)) == len(names)
    assert escaped[:4] == ["plain.jpg", "café.jpg", "\\xe9t\\xe9.jpg", "back\\\\slash.jpg"]
    for raw, text in zip(names, escaped):
        assert os.fsencode(unescape_path(text)) == raw
        text.encode("utf-8")  # storable as text anywhere (PostgreSQL, XML)


def test_a_photo_whose_name_is_not_utf8_lands_and_is_recorded_losslessly(tmp_path, catalog):
    inbox, vault = tmp_path / "inbox", tmp_path / "vault"
    inbox.mkdir()
    data = mf.jpeg(seed=20, datetime_original="2004:07:08 09:10:11")
    bad_path = os.fsencode(inbox) + b"/" + LATIN1
    with open(bad_path, "wb") as handle:
        handle.write(data)
    os.utime(bad_path, (mf.OLD, mf.OLD))
    # a UTF-8 name that reads like the escaped one: a different file, never confused with it
    mf.write(inbox / "\\xe9t\\xe9.jpg", mf.jpeg(seed=21), mf.OLD)
    # the same bytes again under another non-UTF-8 name: a duplicate whose name joins the sidecar
    dup_path = os.fsencode(inbox) + b"/copie-\xe0.jpg"
    with open(dup_path, "wb") as handle:
        handle.write(data)
    os.utime(dup_path, (mf.OLD, mf.OLD))

    report = ingest([inbox], vault, catalog)
    assert (report["ingested"], report["duplicates"], report["rejected"], report["errors"]) == (2, 1, [], [])
    sha = mf.sha256(data)
    assert sha in originals(vault)
    sources = {r["path"]: r["sha256"] for r in rows(vault, catalog, "SELECT path, sha256 FROM sources")}
    escaped = str(inbox) + "/\\xe9t\\xe9.jpg"
    assert sources[escaped] == sha and sources[str(inbox) + "/\\\\xe9t\\\\xe9.jpg"] == mf.sha256(mf.jpeg(seed=21))
    assert os.fsencode(unescape_path(escaped)) == bad_path  # the exact bytes come back
    [sidecar] = list((vault / "originals").rglob(f"{sha}.xmp"))
    names = read_sidecar(sidecar.read_bytes()).original_names
    assert sorted(names) == sorted(["\\xe9t\\xe9.jpg", "copie-\\xe0.jpg"])
    assert [os.fsencode(unescape_path(n)) for n in names if n.startswith("\\xe9")] == [LATIN1]

    again = ingest([inbox], vault, catalog)
    assert (again["changed"], again["unchanged"], again["ingested"], again["rejected"]) == (False, 3, 0, [])


def test_a_name_rejected_by_an_earlier_version_is_ingested_now(tmp_path):
    inbox, vault = tmp_path / "inbox", tmp_path / "vault"
    inbox.mkdir()
    bad_path = os.fsencode(inbox) + b"/" + LATIN1
    with open(bad_path, "wb") as handle:
        handle.write(mf.jpeg(seed=22))
    os.utime(bad_path, (mf.OLD, mf.OLD))
    vault.mkdir()
    with Catalog.open(str(vault)) as cat:  # what the earlier rule left in the catalog
        cat.record_rejection(os.fsdecode(bad_path), str(inbox), os.path.getsize(bad_path), os.stat(bad_path).st_mtime_ns,
                             "the file name is not valid UTF-8 (shown with \\x escapes): rename it to UTF-8 and run "
                             "again; the file was not touched")
    report = ingest([inbox], vault)
    assert report["ingested"] == 1 and report["rejected"] == []
    assert rows(vault, None, "SELECT path FROM rejections") == []
    assert ingest([inbox], vault)["changed"] is False


def test_the_module_shows_the_name_readably(tmp_path):
    inbox, vault = tmp_path / "inbox", tmp_path / "vault"
    inbox.mkdir()
    bad_path = os.fsencode(inbox) + b"/" + b"cass\xe9.jpg"
    with open(bad_path, "wb") as handle:
        handle.write(mf.truncated(mf.jpeg(seed=23)))
    os.utime(bad_path, (mf.OLD, mf.OLD))
    result = run_module(photo_ingest, {"sources": [str(inbox)], "vault": str(vault), "min_age": 0, "workers": 1})
    [item] = result["rejected"]
    assert item["path"] == str(inbox) + "/cass\\xe9.jpg" and "UTF-8" not in item["reason"]
    assert any("cass\\xe9.jpg" in w for w in result["warnings"])
    json.dumps(result, ensure_ascii=False).encode("utf-8")
