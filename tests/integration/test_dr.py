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
