"""The pve_host role's media backup runner (roles/pve_host/files/pbs_media_job.py) with the proxmox-backup-client
STAND-IN (tests/support/proxmox_backup_client_standin.py; the real client cannot be installed here): the command line
and env the unit gives it, a JSON status per run, the failure on a wrong fingerprint, and the PBS restore drill of a
random sample against the photo vault's catalog (the restore-drill engine's PBS source)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog

ROOT = Path(__file__).resolve().parents[3]
RUNNER = ROOT / "roles/pve_host/files/pbs_media_job.py"
STANDIN = ROOT / "tests/support/proxmox_backup_client_standin.py"
FP = ":".join(["ab"] * 32)
SECRET = "5e3b0c44-0000-4000-8000-000000000001"


def add_original(vault: Path, cat, content: bytes, day: str) -> None:
    sha = hashlib.sha256(content).hexdigest()
    rel = f"originals/{day}/{sha}.jpg"
    (vault / rel).parent.mkdir(parents=True, exist_ok=True)
    (vault / rel).write_bytes(content)
    cat.add_asset({"sha256": sha, "sha1": hashlib.sha1(content).hexdigest(), "size": len(content), "format": "jpeg",
                   "ext": "jpg", "media_type": "image", "taken_at": day.replace("/", "-") + "T10:00:00",
                   "date_source": "exif", "rel_path": rel, "ingested_at": "2026-01-01T00:00:00Z"})


@pytest.fixture
def setup(tmp_path):
    vault = tmp_path / "media"
    vault.mkdir()
    with Catalog.open(str(vault)) as cat:
        for i in range(6):
            add_original(vault, cat, os.urandom(2000 + 500 * i), f"2023/05/0{i + 1}")
    (vault / ".stversions").mkdir()
    (vault / ".stversions" / "old.jpg").write_bytes(b"old")
    server = {"root": str(tmp_path / "pbs"), "host": "pbs.example.com", "port": 8007, "fingerprint": FP,
              "tokens": {"pve@pbs!media": SECRET}, "datastores": ["backups"]}
    (tmp_path / "server.json").write_text(json.dumps(server))
    client = tmp_path / "proxmox-backup-client"
    client.write_text(f"#!/bin/sh\nexec {sys.executable} {STANDIN} \"$@\"\n")
    client.chmod(0o755)
    state = tmp_path / "state"
    settings = {"name": "media", "client": str(client), "archive": "media.pxar", "path": str(vault), "keyfile": "",
                "ns": "", "backup_id": "intel-1250p", "excludes": [".stversions"], "state_dir": str(state),
                "unit": "sovereign-pbs-backup-media.service", "drill_unit": "sovereign-pbs-drill-media.service",
                "vault": str(vault), "catalog": "", "count": 4, "tmp_dir": str(tmp_path)}
    (tmp_path / "media.json").write_text(json.dumps(settings))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT / ".collections"),
           "PBS_STANDIN_CONFIG": str(tmp_path / "server.json"),
           "PBS_REPOSITORY": "pve@pbs!media@pbs.example.com:8007:backups", "PBS_PASSWORD": SECRET,
           "PBS_FINGERPRINT": FP.upper()}
    return tmp_path, env


def run(tmp_path, env, command):
    return subprocess.run([sys.executable, str(RUNNER), command, str(tmp_path / "media.json")], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def status(tmp_path, kind):
    return json.loads((tmp_path / "state" / "status" / f"{kind}--media.json").read_text())


def test_backup_uses_the_documented_command_line_and_records_its_status(setup):
    tmp_path, env = setup
    out = run(tmp_path, env, "backup")
    assert out.returncode == 0, out.stderr
    calls = [json.loads(line) for line in (tmp_path / "pbs" / "calls.jsonl").read_text().splitlines()]
    assert calls[-1]["argv"] == ["backup", f"media.pxar:{tmp_path / 'media'}", "--backup-id", "intel-1250p",
                                 "--exclude", ".stversions"]
    assert SECRET not in json.dumps(calls)  # the secret travels in the environment only
    snapshots = list((tmp_path / "pbs" / "backups" / "host" / "intel-1250p").iterdir())
    assert len(snapshots) == 1 and (snapshots[0] / "media.pxar" / "originals").is_dir()
    assert not (snapshots[0] / "media.pxar" / ".stversions").exists()
    doc = status(tmp_path, "pbs.backup")
    assert doc["ok"] is True and doc["kind"] == "pbs.backup" and doc["last_success_at"]


def test_a_wrong_fingerprint_fails_like_the_real_client_and_says_what_to_do(setup):
    tmp_path, env = setup
    run(tmp_path, env, "backup")
    env["PBS_FINGERPRINT"] = ":".join(["cd"] * 32)
    out = run(tmp_path, env, "backup")
    assert out.returncode == 1
    assert "certificate fingerprint does not match expected fingerprint" in out.stderr
    doc = status(tmp_path, "pbs.backup")
    assert doc["ok"] is False and "proxmox-backup-manager cert info" in doc["summary"]
    assert doc["fix"] == "systemctl start sovereign-pbs-backup-media.service" and doc["last_success_at"]


def test_the_standin_refuses_what_the_real_client_refuses(setup):
    tmp_path, env = setup
    client = [str(tmp_path / "proxmox-backup-client")]
    bad_repo = subprocess.run(client + ["backup", "media.pxar:/tmp", "--repository", "pbs.example.com:backups:x"],
                              env=env, capture_output=True, text=True, check=False)
    assert bad_repo.returncode == 255 and "'repository'" in bad_repo.stderr
    bad_spec = subprocess.run(client + ["backup", "/tmp"], env=env, capture_output=True, text=True, check=False)
    assert bad_spec.returncode == 255 and "backup specification" in bad_spec.stderr
    no_secret = subprocess.run(client + ["snapshot", "list"], env={k: v for k, v in env.items() if k != "PBS_PASSWORD"},
                               capture_output=True, text=True, check=False)
    assert no_secret.returncode == 255 and "no password input mechanism available" in no_secret.stderr


def test_the_monthly_drill_restores_a_sample_and_catches_a_damaged_copy(setup):
    tmp_path, env = setup
    assert run(tmp_path, env, "backup").returncode == 0
    out = run(tmp_path, env, "drill")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = status(tmp_path, "pbs.restore_drill")
    assert doc["ok"] is True and doc["details"]["sample"] == 4 and "sha256 identical" in doc["summary"]
    # Damage every original in the stored snapshot: the next drill must fail and name a mismatch.
    snapshot = next((tmp_path / "pbs" / "backups" / "host" / "intel-1250p").iterdir())
    for path in (snapshot / "media.pxar" / "originals").rglob("*.jpg"):
        path.write_bytes(b"damaged")
    out = run(tmp_path, env, "drill")
    assert out.returncode == 1
    doc = status(tmp_path, "pbs.restore_drill")
    assert doc["ok"] is False and "FAILED" in doc["summary"]
    assert "the catalog has" in doc["details"]["failures"][0]["reason"]
    with Catalog.open(str(tmp_path / "media"), create=False) as cat:
        assert len(cat.query("SELECT id FROM restore_drills")) == 2
