"""sovereign.cloud.photo_ingest: results, warnings, check mode, idempotence, failure options,
and one run through ansible itself (AnsiballZ, the process pool inside it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import photo_ingest
from support import media_factory as mf
from support.ansible_module import run_adhoc, run_module


@pytest.fixture
def inbox(tmp_path):
    src = tmp_path / "inbox"
    mf.write(src / "IMG_0001.JPG", mf.jpeg(seed=1, make="Canon", model="R6", datetime_original="2021:06:05 04:03:02"),
             mf.OLD)
    mf.write(src / "copy/IMG_0001.JPG", mf.jpeg(seed=1, make="Canon", model="R6",
                                                datetime_original="2021:06:05 04:03:02"), mf.OLD)
    mf.write(src / "IMG_0002.HEIC", mf.heic(seed=2, datetime_original="2022:01:01 10:00:00", offset="+01:00"), mf.OLD)
    mf.write(src / "broken.jpg", mf.truncated(mf.jpeg(seed=3)), mf.OLD)
    mf.write(src / "notes.txt", b"not a photo", mf.OLD)
    return src


def args(src: Path, vault: Path, **extra) -> dict:
    return {"sources": [str(src)], "vault": str(vault), "min_age": 0, "workers": 2, **extra}


def test_ingest_reports_counts_rejections_and_a_summary(inbox, tmp_path):
    vault = tmp_path / "vault"
    result = run_module(photo_ingest, args(inbox, vault))
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert (result["ingested"], result["duplicates"], result["unchanged"], result["skipped_files"]) == (2, 1, 0, 1)
    assert [Path(r["path"]).name for r in result["rejected"]] == ["broken.jpg"]
    assert any("broken.jpg" in w and "truncated" in w for w in result["warnings"])
    assert result["bytes_ingested"] > 0
    assert result["summary"].startswith("ingested 2 new photos/videos (")
    assert result["summary"].endswith("; 1 duplicate path, 1 skipped, 1 rejected")
    assert len(list((vault / "originals").rglob("*.jpg"))) == 1
    assert (vault / "originals/2022/01/01").is_dir() and (vault / "thumbs/tiny").is_dir()


def test_second_run_is_unchanged(inbox, tmp_path):
    vault = tmp_path / "vault"
    run_module(photo_ingest, args(inbox, vault))
    again = run_module(photo_ingest, args(inbox, vault))
    assert again["changed"] is False and again["unchanged"] == 3 and again["ingested"] == 0
    assert len(again["rejected"]) == 1  # still reported, from the catalog
    assert again["summary"].startswith("nothing new in ") and again["summary"].endswith("s; 3 unchanged, 1 skipped, 1 rejected")


def test_check_mode_tells_the_truth_and_writes_nothing(inbox, tmp_path):
    vault = tmp_path / "vault"
    result = run_module(photo_ingest, args(inbox, vault), check_mode=True)
    assert result["changed"] is True and result["ingested"] == 2 and result["duplicates"] == 1
    assert not vault.exists()


def test_fail_on_rejected(inbox, tmp_path):
    result = run_module(photo_ingest, args(inbox, tmp_path / "vault", fail_on_rejected=True))
    assert result["failed"] and "rejected" in result["msg"]
    assert result["ingested"] == 2  # the good files are in anyway


def test_vault_write_failures_fail_the_task_after_the_batch(inbox, tmp_path):
    vault = tmp_path / "vault"
    data = (inbox / "IMG_0001.JPG").read_bytes()
    squatter = vault / "originals/2021/06/05" / f"{mf.sha256(data)}.jpg"
    mf.write(squatter, b"something else")
    result = run_module(photo_ingest, args(inbox, vault))
    assert result["failed"] and "could not be written" in result["msg"]
    assert result["ingested"] == 1 and squatter.read_bytes() == b"something else"


def test_errors_say_what_to_do(tmp_path):
    result = run_module(photo_ingest, args(tmp_path / "nope", tmp_path / "vault"))
    assert result["failed"] and "does not exist" in result["msg"]


def test_no_thumbnails_and_no_verify(inbox, tmp_path):
    vault = tmp_path / "vault"
    result = run_module(photo_ingest, args(inbox, vault, thumbnails=False, verify_writes=False))
    assert result["ingested"] == 2 and not (vault / "thumbs").exists()


@pytest.mark.slow
def test_through_ansible_with_its_module_packaging(inbox, tmp_path):
    vault = tmp_path / "vault"
    result = run_adhoc("photo_ingest", args(inbox, vault))
    assert result.get("failed") is not True, result
    assert (result["changed"], result["ingested"], result["duplicates"]) == (True, 2, 1)
    again = run_adhoc("photo_ingest", args(inbox, vault))
    assert again["changed"] is False and again["unchanged"] == 3
    assert os.path.isfile(vault / "catalog.sqlite")


def test_repair_option_restores_a_rotten_original_and_reports_it(inbox, tmp_path):
    """repair: true re-hashes the vault and copies a same-size corrupt original again from its source;
    every returned key is documented in RETURN."""
    import hashlib

    import yaml

    vault = tmp_path / "vault"
    run_module(photo_ingest, args(inbox, vault))
    victim = next(p for p in (vault / "originals").rglob("*.heic"))
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    plain = run_module(photo_ingest, args(inbox, vault))
    assert plain["restored"] == 0  # same size: only a re-hash finds it
    result = run_module(photo_ingest, args(inbox, vault, repair=True))
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [r["path"] for r in result["repair"]["originals_restored"]] == [str(victim.relative_to(vault))]
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == victim.stem
    documented = set(yaml.safe_load(photo_ingest.RETURN))
    assert set(result) - {"changed", "warnings", "failed", "invocation"} <= documented
    assert set(result["repair"]) <= set(yaml.safe_load(photo_ingest.RETURN)["repair"]["contains"])
    again = run_module(photo_ingest, args(inbox, vault, repair=True))
    assert again["changed"] is False
