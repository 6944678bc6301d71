"""sovereign.cloud.photo_verify as a task: failure on damaged originals, check mode, the real wrapper."""

from __future__ import annotations

import os

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.modules import photo_verify
from support.ansible_module import run_adhoc, run_module
from support.vault_builder import add_original, sha256_of


def build(vault, location=None, count=4):
    with Catalog.open(str(vault), location) as cat:
        return [add_original(vault, cat, os.urandom(3000), taken_at=f"2022-12-0{i + 1}T08:00:00") for i in range(count)]


def corrupt(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_original_fails_the_task_with_the_findings(tmp_path):
    assets = build(tmp_path)
    corrupt(tmp_path / assets[1]["rel_path"])
    result = run_module(photo_verify, {"vault": str(tmp_path), "workers": 2})
    assert result["failed"] and result["changed"] is False
    assert result["corrupt"] == [assets[1]["sha256"]] and result["checked"] == 4
    assert "1 corrupt" in result["msg"] and "restore them from a backup" in result["msg"]


def test_problems_can_be_reported_without_failing(tmp_path):
    assets = build(tmp_path)
    (tmp_path / assets[0]["rel_path"]).unlink()
    (tmp_path / "originals" / "stray.jpg").write_bytes(b"stray")
    result = run_module(photo_verify, {"vault": str(tmp_path), "fail_on_problems": False})
    assert not result.get("failed") and result["data_at_risk"]
    assert result["missing"] == [assets[0]["sha256"]] and result["unknown"] == ["originals/stray.jpg"]
    assert any("not in the catalog" in w for w in result["warnings"])


def test_check_mode_hashes_everything_and_records_nothing(tmp_path):
    build(tmp_path)
    result = run_module(photo_verify, {"vault": str(tmp_path), "mode": "sample", "percent": 50}, check_mode=True)
    assert result["checked"] == 2 and result["run_id"] is None and "nothing recorded" in result["summary"]
    with Catalog.open(str(tmp_path), create=False) as cat:
        assert cat.last_verify_run() is None


def test_sizes_are_accepted_in_words_and_rejected_clearly(tmp_path):
    build(tmp_path)
    result = run_module(photo_verify, {"vault": str(tmp_path), "mode": "sample", "max_bytes": "6 KB"})
    assert result["checked"] == 2 and result["checked_bytes"] == 6000
    result = run_module(photo_verify, {"vault": str(tmp_path), "mode": "sample", "max_bytes": "lots"})
    assert result["failed"] and "50G" in result["msg"]
    result = run_module(photo_verify, {"vault": str(tmp_path), "mode": "sample"})
    assert result["failed"] and "needs a limit" in result["msg"]


def test_through_ansible_on_a_postgresql_catalog_the_password_stays_out_of_the_output(tmp_path, postgresql_server):
    # The real AnsiballZ wrapper: the process pool (fork) and the PostgreSQL connection inside it.
    dsn = postgresql_server.create_database("verify_module")
    assets = build(tmp_path, dsn)
    corrupt(tmp_path / assets[3]["rel_path"])
    before = sha256_of(tmp_path / assets[3]["rel_path"])
    result = run_adhoc("photo_verify", {"vault": str(tmp_path), "catalog": dsn, "workers": 2})
    assert result["failed"] and result["corrupt"] == [assets[3]["sha256"]] and result["checked"] == 4
    assert postgresql_server.password not in repr(result)
    assert sha256_of(tmp_path / assets[3]["rel_path"]) == before
    with Catalog.open(str(tmp_path), dsn, create=False) as cat:
        run = cat.last_verify_run()
        assert (run["id"], run["corrupt"], run["result"]) == (result["run_id"], 1, "problems")
