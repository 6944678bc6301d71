"""Disaster recovery of a whole vault from a real restic repository (photo_vault_recover): a vault
built by the real ingest engine is backed up, the host "dies" (the vault is deleted), and the vault
comes back on a new path with every original proven by its sha256; a damaged backup never reaches
the destination; a destination with files is never written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.recover import (
    RecoverError, ResticSource, recover_vault as _recover)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import ingest
from ansible_collections.sovereign.cloud.plugins.modules import photo_vault_recover as module
from support import return_docs
from support.ansible_module import run_module
from support import media_factory
from support.restic import ResticRepo


@pytest.fixture
def lost_vault(tmp_path):
    """A vault made by ingest from a watched folder, backed up; returns (vault path, repo, {sha: bytes})."""
    inbox, vault = tmp_path / "inbox", tmp_path / "old-host" / "photos"
    inbox.mkdir()
    vault.parent.mkdir()
    for i in range(8):
        media_factory.write(inbox / f"IMG_{i:04d}.JPG", media_factory.jpeg(seed=i + 1), mtime=1_600_000_000 + i)
    report = ingest.run_ingest(ingest.IngestConfig([str(inbox)], str(vault), thumbnails=False, min_age=0))
    assert report["ingested"] == 8, report
    contents = {}
    with Catalog.open(str(vault), create=False) as cat:
        for sha, rel, _size in cat.original_sizes():
            contents[sha] = (vault / rel).read_bytes()
    repo = ResticRepo(tmp_path).init()
    repo.backup(str(vault), host="nas")
    return vault, repo, contents


def recover_vault(dest, env, snapshot_vault_path=None, host=None, check_mode=False, snapshot="latest"):
    return _recover(dest, ResticSource(env, snapshot=snapshot, host=host), snapshot_vault_path=snapshot_vault_path,
                    check_mode=check_mode)


def test_a_lost_vault_comes_back_with_every_original_proven(lost_vault, tmp_path):
    vault, repo, contents = lost_vault
    shutil.rmtree(vault)  # the host died
    dest = tmp_path / "new-host" / "photos"
    check = recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault), host="nas", check_mode=True)
    assert check["changed"] and check["passed"] is None and not dest.exists()

    result = recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault), host="nas")
    assert result["passed"] is True and result["originals"] == 8 and result["catalog_assets"] == 8
    assert result["mismatched"] == result["missing"] == result["unreadable"] == []
    with Catalog.open(str(dest), create=False) as cat:
        for sha, rel, _size in cat.original_sizes():
            assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == sha
            assert (dest / rel).read_bytes() == contents[sha]
    assert (dest / ".sovereign-vault").is_file(), "the vault's identity comes back with it"
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".photos.restoring-")]

    again = recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault), host="nas")
    assert again["changed"] is False and again["passed"] is True


def test_a_damaged_backup_never_reaches_the_destination(lost_vault, tmp_path):
    vault, repo, contents = lost_vault
    bad = sorted(contents)[0]
    repo.corrupt_blob(bad)
    dest = tmp_path / "new-host" / "photos"
    with pytest.raises(RecoverError) as caught:
        recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault))
    assert not dest.exists(), "the destination is untouched"
    result = caught.value.result
    assert result["passed"] is False and "older snapshot" in str(caught.value)
    named = [item["path"] for item in result["missing"] + result["mismatched"] + result["unreadable"]]
    assert any(bad in path for path in named), result
    assert os.path.isdir(result["kept_at"])


def test_a_destination_with_files_is_never_written(lost_vault, tmp_path):
    vault, repo, _contents = lost_vault
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "family.txt").write_text("keep me")
    with pytest.raises(RecoverError, match="not empty"):
        recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault))
    assert [p.name for p in dest.iterdir()] == ["family.txt"]


def test_a_snapshot_without_the_vault_says_where_to_look(lost_vault, tmp_path):
    _vault, repo, _contents = lost_vault
    with pytest.raises(RecoverError, match="snapshot_vault_path|no snapshot"):
        recover_vault(str(tmp_path / "x"), repo.env, snapshot_vault_path="/somewhere/else")


def test_the_module_restores_and_hides_the_password(lost_vault, tmp_path, capsys):
    vault, repo, _contents = lost_vault
    dest = tmp_path / "restored"
    with patch_module_args({"dest": str(dest), "snapshot_vault_path": str(vault), "repository": str(repo.path),
                            "password": repo.password, "cache_dir": str(repo.cache)}), pytest.raises(SystemExit):
        module.main()
    out = return_docs.check("photo_vault_recover", json.loads(capsys.readouterr().out))
    assert out.get("failed") is not True, out
    assert out["passed"] is True and out["changed"] is True and repo.password not in json.dumps(out)


def test_the_module_returns_what_it_documents(lost_vault, tmp_path):
    vault, repo, contents = lost_vault
    location = {"snapshot_vault_path": str(vault), "repository": str(repo.path), "password": repo.password,
                "cache_dir": str(repo.cache)}
    good = dict(location, dest=str(tmp_path / "good"))
    runs = [run_module(module, good, check_mode=True), run_module(module, good), run_module(module, good)]
    assert [r["changed"] for r in runs] == [True, True, False] and not any(r.get("failed") for r in runs)
    repo.corrupt_blob(sorted(contents)[0])
    runs.append(run_module(module, dict(location, dest=str(tmp_path / "bad"))))
    assert runs[-1]["failed"] and runs[-1]["passed"] is False and runs[-1]["kept_at"]
    return_docs.assert_matches("photo_vault_recover", runs)


# ------------------------------------------------------------------ from PBS (seed 001: restore from n6005's PBS)
STANDIN = return_docs.REPO / "tests" / "support" / "proxmox_backup_client_standin.py"
FP = ":".join(["ab"] * 32)
TOKEN = "5e3b0c44-0000-4000-8000-000000000002"


@pytest.fixture
def pbs(lost_vault, tmp_path):
    """The lost vault backed up as media.pxar to the proxmox-backup-client STAND-IN's datastore (the real
    client and PBS cannot run here); returns (vault, module options for source=pbs, snapshot store)."""
    import subprocess
    import sys
    vault, _repo, contents = lost_vault
    server = {"root": str(tmp_path / "pbs"), "host": "pbs-n6005.example.com", "port": 8007, "fingerprint": FP,
              "tokens": {"restore@pbs!dr": TOKEN}, "datastores": ["offsite"]}
    (tmp_path / "server.json").write_text(json.dumps(server))
    client = tmp_path / "proxmox-backup-client"
    client.write_text(f"#!/bin/sh\nexec {sys.executable} {STANDIN} \"$@\"\n")
    client.chmod(0o755)
    os.environ["PBS_STANDIN_CONFIG"] = str(tmp_path / "server.json")
    env = dict(os.environ, PBS_REPOSITORY="restore@pbs!dr@pbs-n6005.example.com:8007:offsite", PBS_PASSWORD=TOKEN,
               PBS_FINGERPRINT=FP)
    done = subprocess.run([str(client), "backup", f"media.pxar:{vault}", "--backup-id", "intel-1250p"], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    options = {"source": "pbs", "pbs_repository": env["PBS_REPOSITORY"], "pbs_password": TOKEN,
               "pbs_fingerprint": FP, "client_binary": str(client), "backup_id": "intel-1250p"}
    yield vault, options, contents
    os.environ.pop("PBS_STANDIN_CONFIG", None)


def test_a_vault_comes_back_from_pbs_proven(pbs, tmp_path):
    vault, options, contents = pbs
    shutil.rmtree(vault)  # intel-1250p and the laptop both died
    dest = tmp_path / "rebuilt" / "media"
    runs = [run_module(module, dict(options, dest=str(dest)), check_mode=True),
            run_module(module, dict(options, dest=str(dest))), run_module(module, dict(options, dest=str(dest)))]
    assert [r["changed"] for r in runs] == [True, True, False], runs
    out = runs[1]
    assert out["passed"] is True and out["originals"] == len(contents) and out["snapshot"]["id"].startswith("host/intel-1250p/")
    assert TOKEN not in json.dumps(runs)
    for sha, data in contents.items():
        assert [p.read_bytes() for p in dest.rglob(f"{sha}.*") if p.suffix != ".xmp"] == [data]


def test_a_damaged_pbs_copy_never_reaches_the_destination(pbs, tmp_path):
    _vault, options, contents = pbs
    victim = next(p for p in (tmp_path / "pbs").rglob(f"{sorted(contents)[1]}.*") if p.suffix != ".xmp")
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    dest = tmp_path / "rebuilt" / "media"
    out = run_module(module, dict(options, dest=str(dest)))
    assert out["failed"] and out["passed"] is False and not dest.exists()
    assert [item["named"] for item in out["mismatched"]] == [sorted(contents)[1]]
    assert sorted(contents)[1] in out["msg"] and "(sha256 differs)" in out["msg"]  # the summary names the file


def test_a_mount_point_destination_is_filled_in_place(lost_vault, tmp_path, monkeypatch):
    """The re-created ZFS dataset (/mnt/media) is a mount point: it cannot be renamed over, and staging beside it
    would fill the parent file system. Simulated here (os.path.ismount patched: mounting needs root)."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import recover
    vault, repo, contents = lost_vault
    shutil.rmtree(vault)
    dest = tmp_path / "mnt" / "media"
    dest.mkdir(parents=True)
    (dest / "lost+found").mkdir()
    real = os.path.ismount
    monkeypatch.setattr(recover.os.path, "ismount", lambda p: os.path.abspath(p) == str(dest) or real(p))
    stale = dest / f"{recover.IN_PLACE}1"  # a failed earlier restore, kept for a person
    stale.mkdir()
    result = recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault), host="nas")
    assert result["passed"] is True and result["originals"] == 8
    assert {"catalog.sqlite", "lost+found", "originals"} <= {p.name for p in dest.iterdir()}
    assert not list(dest.glob(f"{recover.IN_PLACE}*")) and not list(dest.parent.glob(".media*"))
    for sha, data in contents.items():
        assert [p.read_bytes() for p in dest.rglob(f"{sha}.*") if p.suffix != ".xmp"] == [data]
    again = recover_vault(str(dest), repo.env, snapshot_vault_path=str(vault), host="nas")
    assert again["changed"] is False
