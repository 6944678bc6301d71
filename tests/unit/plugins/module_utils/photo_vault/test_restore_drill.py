"""Restore drills on real restic: a vault with real files and a catalog, a real repository, and
real damage (flipped bytes inside a pack) that the drill must catch and name."""

from __future__ import annotations

import hashlib
import json
import os
import random

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.restore_drill import DrillError, covers, run_drill
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.modules import restore_drill as module
from support import return_docs
from support.restic import ResticRepo


def add_original(vault, cat, content: bytes, day: str = "2023/05/01", ext: str = "jpg") -> dict:
    sha = hashlib.sha256(content).hexdigest()
    rel = f"originals/{day}/{sha}.{ext}"
    path = vault / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    record = {"sha256": sha, "sha1": hashlib.sha1(content).hexdigest(), "size": len(content), "format": "jpeg",
              "ext": ext, "media_type": "image", "taken_at": day.replace("/", "-") + "T10:00:00",
              "date_source": "exif", "rel_path": rel, "ingested_at": "2026-01-01T00:00:00Z"}
    cat.add_asset(record)
    return record


@pytest.fixture
def vault(tmp_path):
    path = tmp_path / "vault"
    path.mkdir()
    with Catalog.open(str(path)) as cat:
        for i in range(6):
            add_original(path, cat, os.urandom(3000 + 1000 * i), day=f"2023/05/0{i + 1}")
    return path


@pytest.fixture
def repo(tmp_path):
    return ResticRepo(tmp_path).init()


@pytest.fixture
def scratch(tmp_path):
    path = tmp_path / "scratch"
    path.mkdir()
    return path


def drills(vault) -> list[dict]:
    with Catalog.open(str(vault), create=False) as cat:
        rows = cat.query("SELECT * FROM restore_drills ORDER BY id")
        for row in rows:
            row["files"] = cat.query("SELECT sha256, status, detail FROM restore_drill_files WHERE drill_id = ?",
                                     (row["id"],))
        return rows


def test_a_good_backup_passes_and_is_recorded(vault, repo, scratch):
    snap = repo.backup(str(vault), tags=("photos",))
    result = run_drill(str(vault), repo.env, count=6, tmp_dir=str(scratch))
    assert result["passed"] is True, result["failures"]
    assert result["failures"] == []
    assert result["snapshot"]["short_id"] == snap
    assert result["sample"]["count"] == 6
    assert result["sample"]["bytes"] == sum(3000 + 1000 * i for i in range(6))
    assert "passed" in result["summary"]
    [drill] = drills(vault)
    assert drill["passed"] == 1 and drill["failed_count"] == 0 and drill["sample_count"] == 6
    assert drill["snapshot_id"] == repo.snapshots()[0]["id"]
    assert drill["repository"] == str(repo.path)
    assert {f["status"] for f in drill["files"]} == {"ok"}
    assert list(scratch.iterdir()) == [], "the restore directory is removed"


def test_a_damaged_pack_fails_the_drill_and_names_the_files(vault, repo, scratch):
    repo.backup(str(vault))
    with Catalog.open(str(vault), create=False) as cat:
        assets = cat.query("SELECT sha256, rel_path FROM assets ORDER BY sha256")
    damaged = {assets[1]["sha256"], assets[4]["sha256"]}
    for sha in damaged:  # a small file is one blob whose id is its sha256
        repo.corrupt_blob(sha)

    result = run_drill(str(vault), repo.env, count=6, tmp_dir=str(scratch))

    assert result["passed"] is False
    assert {f["sha256"] for f in result["failures"]} == damaged
    by_sha = {f["sha256"]: f for f in result["failures"]}
    for asset in assets:
        if asset["sha256"] in damaged:
            assert by_sha[asset["sha256"]]["rel_path"] == asset["rel_path"]
            assert "ciphertext verification failed" in by_sha[asset["sha256"]]["reason"]
    assert "FAILED" in result["summary"] and "2 of 6" in result["summary"]
    [drill] = drills(vault)
    assert drill["passed"] == 0 and drill["failed_count"] == 2
    statuses = {f["sha256"]: f["status"] for f in drill["files"]}
    assert {sha for sha, status in statuses.items() if status != "ok"} == damaged
    assert list(scratch.iterdir()) == []


def test_a_relative_path_backup_restores_nothing_and_fails_as_missing(vault, repo, scratch):
    # restic records <abs>/vault in the snapshot's paths but the tree holds /vault/...: an include of
    # the absolute path matches nothing, restores nothing and exits 0. That must never pass.
    repo.backup("vault", cwd=vault.parent)
    result = run_drill(str(vault), repo.env, count=3, tmp_dir=str(scratch))
    assert result["passed"] is False
    assert len(result["failures"]) == 3
    assert all("restic restored nothing" in f["reason"] for f in result["failures"])
    assert "snapshot_vault_path" in result["summary"]
    assert {f["status"] for f in drills(vault)[0]["files"]} == {"missing"}
    # Told where the vault is inside the snapshot, the same backup passes.
    fixed = run_drill(str(vault), repo.env, count=3, tmp_dir=str(scratch), snapshot_vault_path="/vault")
    assert fixed["passed"] is True, fixed["failures"]


def test_an_original_newer_than_the_snapshot_is_missing(vault, repo, scratch):
    repo.backup(str(vault))
    with Catalog.open(str(vault)) as cat:
        late = add_original(vault, cat, b"added after the backup" * 50, day="2024/01/01")
    result = run_drill(str(vault), repo.env, count=7, tmp_dir=str(scratch))
    assert result["passed"] is False
    assert [f["sha256"] for f in result["failures"]] == [late["sha256"]]


def test_an_altered_backup_copy_is_a_mismatch(vault, repo, scratch):
    with Catalog.open(str(vault)) as cat:
        asset = cat.query("SELECT sha256, rel_path FROM assets LIMIT 1")[0]
    original = (vault / asset["rel_path"]).read_bytes()
    (vault / asset["rel_path"]).write_bytes(b"X" + original[1:])  # altered before the backup
    repo.backup(str(vault))
    result = run_drill(str(vault), repo.env, count=6, tmp_dir=str(scratch))
    assert result["passed"] is False
    [failure] = result["failures"]
    assert failure["sha256"] == asset["sha256"] and "the catalog has" in failure["reason"]
    assert drills(vault)[0]["files"][0]["status"] in ("ok", "mismatch")
    assert {f["status"] for f in drills(vault)[0]["files"]} == {"ok", "mismatch"}


def test_an_empty_catalog_never_passes(tmp_path, repo, scratch):
    empty = tmp_path / "empty"
    empty.mkdir()
    Catalog.open(str(empty)).close()
    repo.backup(str(empty))
    result = run_drill(str(empty), repo.env, count=5, tmp_dir=str(scratch))
    assert result["passed"] is False
    assert result["sample"]["count"] == 0
    assert "proves nothing" in result["failures"][0]["reason"]
    assert drills(empty)[0]["passed"] == 0


def test_the_newest_snapshot_holding_the_vault_is_chosen(vault, repo, tmp_path, scratch):
    holding = repo.backup(str(vault), time="2026-01-01 03:00:00")
    other = tmp_path / "documents"
    other.mkdir()
    (other / "a.txt").write_text("a")
    repo.backup(str(other), time="2026-02-01 03:00:00")  # newer, but not the vault
    result = run_drill(str(vault), repo.env, count=2, tmp_dir=str(scratch))
    assert result["snapshot"]["short_id"] == holding and result["passed"] is True
    parent = repo.backup(str(vault.parent), time="2026-03-01 03:00:00")  # a parent directory holds it too
    assert run_drill(str(vault), repo.env, count=2, tmp_dir=str(scratch))["snapshot"]["short_id"] == parent


def test_no_snapshot_of_the_vault_fails_and_is_recorded(vault, repo, tmp_path, scratch):
    other = tmp_path / "documents"
    other.mkdir()
    (other / "a.txt").write_text("a")
    repo.backup(str(other))
    result = run_drill(str(vault), repo.env, count=2, tmp_dir=str(scratch))
    assert result["passed"] is False
    assert "no snapshot holds" in result["failures"][0]["reason"]
    assert drills(vault)[0]["passed"] == 0


def test_check_mode_restores_and_records_nothing(vault, repo, scratch):
    snap = repo.backup(str(vault))
    result = run_drill(str(vault), repo.env, max_bytes=9000, tmp_dir=str(scratch), check_mode=True,
                       rng=random.Random(1))
    assert result["passed"] is None and result["snapshot"]["short_id"] == snap
    assert 1 <= result["sample"]["count"] and result["sample"]["bytes"] <= 9000
    assert all(f["snapshot_path"].startswith(str(vault) + "/originals/") for f in result["sample"]["files"])
    assert "would restore" in result["summary"]
    assert drills(vault) == [] and list(scratch.iterdir()) == []


def test_a_wrong_password_stops_the_drill_with_what_to_do(vault, repo):
    repo.backup(str(vault))
    with pytest.raises(DrillError, match="password does not open it"):
        run_drill(str(vault), dict(repo.env, RESTIC_PASSWORD="wrong"), count=1, check_mode=True)


def test_paths_covered_by_snapshot_roots():
    assert covers(["/srv/vault"], "/srv/vault") and covers(["/srv"], "/srv/vault/") and covers(["/"], "/x")
    assert not covers(["/srv/vault2"], "/srv/vault") and not covers([], "/srv/vault")


# ------------------------------------------------------------------------------ the module
def run_module(args: dict, capsys) -> dict:
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return return_docs.check("restore_drill", json.loads(capsys.readouterr().out))


def test_module_fails_a_failed_drill_with_the_files_and_hides_the_password(vault, repo, scratch, capsys):
    repo.backup(str(vault))
    with Catalog.open(str(vault), create=False) as cat:
        bad = cat.query("SELECT sha256 FROM assets ORDER BY sha256 LIMIT 1")[0]["sha256"]
    repo.corrupt_blob(bad)
    env_file = repo.write_env_file(repo.root / "repo.env")
    out = run_module({"vault": str(vault), "env_file": str(env_file), "count": 6, "tmp_dir": str(scratch)}, capsys)
    assert out["failed"] is True and out["passed"] is False
    assert [f["sha256"] for f in out["failures"]] == [bad]
    assert repo.password not in json.dumps(out)


def test_module_passes_with_explicit_options(vault, repo, scratch, capsys):
    repo.backup(str(vault))
    out = run_module({"vault": str(vault), "repository": str(repo.path), "password": repo.password,
                      "cache_dir": str(repo.cache), "count": 2, "tmp_dir": str(scratch)}, capsys)
    assert out.get("failed") is not True, out
    assert out["passed"] is True and out["changed"] is True and out["sample"]["count"] == 2


def test_module_on_a_postgresql_catalog_records_the_drill_there_and_hides_the_dsn(
        tmp_path, repo, scratch, capsys, postgresql_server):
    # The picture_pipeline set-up: the catalog is a PostgreSQL DSN with its password in it.
    dsn = postgresql_server.create_database("drill_module")
    vault = tmp_path / "pg-vault"
    vault.mkdir()
    with Catalog.open(str(vault), dsn) as cat:
        for i in range(3):
            add_original(vault, cat, os.urandom(2000 + i), day=f"2023/06/0{i + 1}")
    repo.backup(str(vault))
    out = run_module({"vault": str(vault), "catalog": dsn, "repository": str(repo.path), "password": repo.password,
                      "cache_dir": str(repo.cache), "count": 3, "tmp_dir": str(scratch)}, capsys)
    assert out.get("failed") is not True, out
    assert out["passed"] is True and out["sample"]["count"] == 3
    text = json.dumps(out)
    assert postgresql_server.password not in text and dsn not in text
    assert not (vault / "catalog.sqlite").exists(), "the drill used the DSN, not a SQLite file next to the vault"
    with Catalog.open(str(vault), dsn, create=False) as cat:
        [drill] = cat.query("SELECT passed, sample_count FROM restore_drills")
    assert (drill["passed"], drill["sample_count"]) == (1, 3)
