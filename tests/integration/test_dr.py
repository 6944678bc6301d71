"""Disaster-recovery rehearsals: the DR playbooks run through ansible-runner on real parts.

playbooks/dr/restore_vault.yml: a vault made by the real ingest engine is backed up to a real restic
repository, the host "dies" (the vault is deleted), and the playbook brings it back on a new path
with every original proven by its sha256; a second run changes nothing; --check writes nothing."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / ".collections"))

from support import media_factory  # noqa: E402  pylint: disable=wrong-import-position
from support.restic import ResticRepo  # noqa: E402  pylint: disable=wrong-import-position


def make_vault(tmp_path: Path) -> Path:
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import ingest
    inbox, vault = tmp_path / "inbox", tmp_path / "nas" / "photos"
    inbox.mkdir()
    vault.parent.mkdir()
    for i in range(6):
        media_factory.write(inbox / f"IMG_{i:04d}.JPG", media_factory.jpeg(seed=i + 1), mtime=1_600_000_000 + i)
    assert ingest.run_ingest(ingest.IngestConfig([str(inbox)], str(vault), thumbnails=False, min_age=0))["ingested"] == 6
    return vault


def test_restore_vault_rehearsal(run_playbook, tmp_path):
    vault = make_vault(tmp_path)
    repo = ResticRepo(tmp_path).init()
    repo.backup(str(vault), host="nas")
    shutil.rmtree(vault.parent)  # the NAS died
    dest = tmp_path / "new-host" / "photos"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""
all:
  children:
    photo_vault_hosts:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: {sys.executable}
""")
    extravars = {"sovereign_become": False, "photo_vault_root": str(vault), "dr_vault_dest": str(dest),
                 "dr_repository": "offsite", "dr_lost_host": "nas", "dr_restic_cache_dir": str(repo.cache),
                 "restic_backup_repositories": [{"name": "offsite", "repository": str(repo.path),
                                                 "password": repo.password}]}
    check = run_playbook("dr/restore_vault.yml", inventory, extravars, check=True)
    assert check.rc == 0 and not dest.exists(), check.stdout
    first = run_playbook("dr/restore_vault.yml", inventory, extravars)
    assert first.rc == 0, first.stdout
    assert "every one matches its sha256" in first.stdout and "--tags base,photo_vault" in first.stdout
    assert repo.password not in first.stdout
    rows = sqlite3.connect(dest / "catalog.sqlite").execute("SELECT sha256, rel_path FROM assets").fetchall()
    assert len(rows) == 6
    for sha, rel in rows:
        assert hashlib.sha256((dest / rel).read_bytes()).hexdigest() == sha
    second = run_playbook("dr/restore_vault.yml", inventory, extravars)
    assert second.rc == 0 and second.changed == 0, second.stdout

    unknown = run_playbook("dr/restore_vault.yml", inventory, dict(extravars, dr_repository="nope"))
    assert unknown.rc != 0 and "offsite" in unknown.stdout


def test_restore_from_pbs_rehearsal(run_playbook, tmp_path):
    """Seed 001 scenario 3 (intel-1250p and the laptop died): media.pxar from the second PBS. PBS and
    proxmox-backup-client cannot run here: the client is the project's STAND-IN
    (tests/support/proxmox_backup_client_standin.py), the vault, hashing and the playbook are real."""
    import json
    import subprocess
    vault = make_vault(tmp_path)
    fingerprint, token = ":".join(["cd"] * 32), "5e3b0c44-0000-4000-8000-000000000003"
    (tmp_path / "server.json").write_text(json.dumps({
        "root": str(tmp_path / "n6005"), "host": "pbs-n6005.example.com", "port": 8007, "fingerprint": fingerprint,
        "tokens": {"restore@pbs!dr": token}, "datastores": ["replica"]}))
    client = tmp_path / "proxmox-backup-client"
    client.write_text(f"#!/bin/sh\nPBS_STANDIN_CONFIG={tmp_path / 'server.json'} exec {sys.executable} "
                      f"{REPO / 'tests/support/proxmox_backup_client_standin.py'} \"$@\"\n")
    client.chmod(0o755)
    repository = "restore@pbs!dr@pbs-n6005.example.com:8007:replica"
    env = {"PATH": "/usr/bin:/bin", "PBS_REPOSITORY": repository, "PBS_PASSWORD": token, "PBS_FINGERPRINT": fingerprint}
    backup = subprocess.run([str(client), "backup", f"media.pxar:{vault}", "--backup-id", "intel-1250p"], env=env,
                            capture_output=True, text=True, check=False)
    assert backup.returncode == 0, backup.stderr
    shutil.rmtree(vault.parent)
    dest = tmp_path / "intel-1250p" / "mnt" / "media"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""
all:
  children:
    proxmox_hosts:
      hosts:
        intel-1250p:
          ansible_connection: local
          ansible_python_interpreter: {sys.executable}
          pve_host_lxc_mounts: [{{vmid: 200, host_path: /mnt/media, container_path: /mnt/media}}]
""")
    extravars = {"sovereign_become": False, "dr_vault_dest": str(dest), "dr_pbs_repository": repository,
                 "dr_pbs_password": token, "dr_pbs_fingerprint": fingerprint, "dr_client_binary": str(client)}
    first = run_playbook("dr/restore_from_pbs.yml", inventory, extravars)
    assert first.rc == 0, first.stdout
    assert "every one matches its sha256" in first.stdout and "pct restore 200 " in first.stdout
    assert token not in first.stdout
    rows = sqlite3.connect(dest / "catalog.sqlite").execute("SELECT sha256, rel_path FROM assets").fetchall()
    assert len(rows) == 6 and all(hashlib.sha256((dest / rel).read_bytes()).hexdigest() == sha for sha, rel in rows)
    second = run_playbook("dr/restore_from_pbs.yml", inventory, extravars)
    assert second.rc == 0 and second.changed == 0, second.stdout
    wrong = run_playbook("dr/restore_from_pbs.yml", inventory,
                         dict(extravars, dr_vault_dest=str(tmp_path / "other"), dr_pbs_fingerprint=":".join(["ef"] * 32)))
    assert wrong.rc != 0 and "PBS_FINGERPRINT" in wrong.stdout and not (tmp_path / "other").exists()
