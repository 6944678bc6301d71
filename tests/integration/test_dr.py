"""Disaster-recovery rehearsals: the DR playbooks run through ansible-runner on real parts.

playbooks/dr/restore_vault.yml: a vault made by the real ingest engine is backed up to a real restic
repository, the host "dies" (the vault is deleted), and the playbook brings it back on a new path
with every original proven by its sha256; a second run changes nothing; --check writes nothing.

playbooks/dr/restore_from_pbs.yml (seed 001 scenarios 2 and 3) and laptop_drive_failure.yml (scenario 1):
the vault, its catalog, hashing and the playbooks are real; n6005's PBS is the proxmox-backup-client
STAND-IN (tests/support/proxmox_backup_client_standin.py) with its "server" (a JSON file, snapshots as
plain directories) playing pbs-n6005's datastore "replica". Every command the playbooks print is
checked to exist (playbooks on disk, site.yml tags, sovereign-photos subcommands)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
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


SITE_TAGS = set(re.findall(r"tags: \[(\w+)\]", (REPO / "playbooks" / "site.yml").read_text()))


def sovereign_photos_parser():
    spec = importlib.util.spec_from_file_location("sovereign_photos_cli", REPO / "roles/photo_vault/files/sovereign_photos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parser()


def assert_commands_exist(stdout: str) -> int:
    """Every ansible-playbook / sovereign-photos command the output names exists; returns how many were checked."""
    checked = 0
    for playbook, rest in re.findall(r"ansible-playbook (playbooks/\S+\.yml)([^\n\"]*)", stdout):
        assert (REPO / playbook).is_file(), playbook
        for tags in re.findall(r"--tags ([\w,]+)", rest):
            assert set(tags.split(",")) <= SITE_TAGS, (tags, SITE_TAGS)
        checked += 1
    parser = sovereign_photos_parser()
    # a command is a numbered step ("2. sovereign-photos verify --full") or in backticks
    for command in re.findall(r"(?:\d\. |`)sovereign-photos ([a-z][\w -]*)", stdout):
        parser.parse_args(shlex.split(command.split("  ")[0].strip()))  # SystemExit on an unknown subcommand/flag
        checked += 1
    return checked


def test_restore_vault_prints_existing_commands(tmp_path):
    """restore_vault.yml's next steps (read from the playbook itself) name existing commands."""
    assert assert_commands_exist((REPO / "playbooks/dr/restore_vault.yml").read_text()) >= 3


BACKUP_TIME = 1_764_720_000  # 2025-12-03 00:00 UTC: the last media backup n6005 pulled


def n6005_with_backup(tmp_path: Path, vault: Path) -> dict:
    """pbs-n6005 (the client STAND-IN's server) holding one media.pxar snapshot of intel-1250p's vault."""
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
    backup = subprocess.run([str(client), "backup", f"media.pxar:{vault}", "--backup-id", "intel-1250p",
                             "--backup-time", str(BACKUP_TIME)], env=env, capture_output=True, text=True, check=False)
    assert backup.returncode == 0, backup.stderr
    snapshot = tmp_path / "n6005" / "replica" / "host" / "intel-1250p" / "2025-12-03T00:00:00Z" / "media.pxar"
    assert (snapshot / "catalog.sqlite").is_file()  # the catalog travels inside the media backup
    return {"token": token, "fingerprint": fingerprint, "repository": repository, "client": str(client),
            "snapshot": snapshot}


def proxmox_inventory(tmp_path: Path) -> Path:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"""
all:
  children:
    proxmox_hosts:
      hosts:
        intel-1250p:
          ansible_connection: local
          ansible_python_interpreter: {sys.executable}
          pve_host_lxc_mounts: [{{vmid: 151, host_path: /mnt/media, container_path: /mnt/media}}]
          sovereign_laptop_address: 192.168.1.109
""")
    return inventory


def catalog_rows(vault: Path) -> list:
    return sqlite3.connect(vault / "catalog.sqlite").execute("SELECT sha256, rel_path FROM assets").fetchall()


def test_intel_1250p_dies_rehearsal(run_playbook, tmp_path):
    """Seed 001 scenario 2: intel-1250p died; media.pxar comes back from n6005 (client STAND-IN) onto a new path."""
    vault = make_vault(tmp_path)
    n6005 = n6005_with_backup(tmp_path, vault)
    originals = catalog_rows(vault)
    shutil.rmtree(vault.parent)  # intel-1250p died
    dest = tmp_path / "intel-1250p" / "mnt" / "media"
    # the seed's own example inventory (intel-1250p, the Immich LXC 151, the laptop at .109), run locally
    inventory = REPO / "inventory" / "examples" / "proxmox_photo_vault"
    extravars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "sovereign_become": False, "dr_vault_dest": str(dest), "dr_pbs_repository": n6005["repository"],
                 "dr_pbs_password": n6005["token"], "dr_pbs_fingerprint": n6005["fingerprint"],
                 "dr_client_binary": n6005["client"]}
    check = run_playbook("dr/restore_from_pbs.yml", inventory, extravars, check=True, limit="intel-1250p")
    assert check.rc == 0 and not dest.exists() and not dest.parent.exists(), check.stdout
    assert "would restore the vault" in check.stdout and "host/intel-1250p/2025-12-03T00:00:00Z" in check.stdout

    first = run_playbook("dr/restore_from_pbs.yml", inventory, extravars, limit="intel-1250p")
    assert first.rc == 0, first.stdout
    assert "every one matches its sha256 and the catalog's 6 assets are all there" in first.stdout
    assert "Scenario 2" in first.stdout and "Data loss: none expected - photos taken after 2025-12-03 00:00 UTC" in first.stdout
    assert "pct restore 151 " in first.stdout and "--tags base,zfs_datasets" in first.stdout
    assert f"-i {inventory} --limit intel-1250p --tags syncthing re-pairs the laptop" in first.stdout
    assert n6005["token"] not in first.stdout
    assert assert_commands_exist(first.stdout) >= 4
    restored = catalog_rows(dest)
    assert sorted(restored) == sorted(originals) and len(restored) == 6
    assert all(hashlib.sha256((dest / rel).read_bytes()).hexdigest() == sha for sha, rel in restored)

    second = run_playbook("dr/restore_from_pbs.yml", inventory, extravars, limit="intel-1250p")
    assert second.rc == 0 and second.changed == 0, second.stdout
    assert "already holds the vault restored from snapshot host/intel-1250p/2025-12-03T00:00:00Z" in second.stdout

    wrong = run_playbook("dr/restore_from_pbs.yml", inventory,
                         dict(extravars, dr_vault_dest=str(tmp_path / "other"), dr_pbs_fingerprint=":".join(["ef"] * 32)),
                         limit="intel-1250p")
    assert wrong.rc != 0 and "PBS_FINGERPRINT" in wrong.stdout and not (tmp_path / "other").exists()


def test_nas_and_laptop_die_rehearsal(run_playbook, tmp_path):
    """Seed 001 scenario 3: both died. The data-loss window is printed; a damaged original in n6005's copy
    fails the restore with the file named, and the new path is not touched."""
    vault = make_vault(tmp_path)
    n6005 = n6005_with_backup(tmp_path, vault)
    shutil.rmtree(vault.parent)
    inventory = proxmox_inventory(tmp_path)
    extravars = {"sovereign_become": False, "dr_pbs_repository": n6005["repository"], "dr_laptop_lost": True,
                 "dr_pbs_password": n6005["token"], "dr_pbs_fingerprint": n6005["fingerprint"],
                 "dr_client_binary": n6005["client"]}
    victim = sorted((n6005["snapshot"] / "originals").rglob("*.jpg"))[2]
    rel = str(victim.relative_to(n6005["snapshot"]))
    good = victim.read_bytes()
    victim.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])  # bit rot in n6005's copy
    bad_dest = tmp_path / "bad" / "media"
    bad = run_playbook("dr/restore_from_pbs.yml", inventory, dict(extravars, dr_vault_dest=str(bad_dest)))
    assert bad.rc != 0 and not bad_dest.exists(), bad.stdout
    assert f"{rel} (sha256 differs)" in bad.stdout and "did not pass" in bad.stdout

    victim.write_bytes(good)
    dest = tmp_path / "new-1250p" / "media"
    first = run_playbook("dr/restore_from_pbs.yml", inventory, dict(extravars, dr_vault_dest=str(dest)))
    assert first.rc == 0, first.stdout
    assert "Scenario 3" in first.stdout
    assert "DATA LOSS: photos taken after 2025-12-03 00:00 UTC (the last media backup n6005 pulled)" in first.stdout
    assert "copy " + str(dest) + " onto it first" in first.stdout and "192.168.1.109:8384" in first.stdout
    assert assert_commands_exist(first.stdout) >= 4
    assert len(catalog_rows(dest)) == 6
    second = run_playbook("dr/restore_from_pbs.yml", inventory, dict(extravars, dr_vault_dest=str(dest)))
    assert second.rc == 0 and second.changed == 0, second.stdout


def test_laptop_drive_failure_rehearsal(run_playbook, tmp_path):
    """Seed 001 scenario 1: the NAS copy (a real vault and catalog) is proven complete, the laptop steps printed;
    a corrupt original on the NAS stops it with the file named."""
    vault = make_vault(tmp_path)
    inventory = proxmox_inventory(tmp_path)
    extravars = {"sovereign_become": False, "dr_vault": str(vault)}
    before = hashlib.sha256((vault / "catalog.sqlite").read_bytes()).hexdigest()
    check = run_playbook("dr/laptop_drive_failure.yml", inventory, extravars, check=True)
    assert check.rc == 0 and "verified 6 of 6 originals" in check.stdout, check.stdout
    assert hashlib.sha256((vault / "catalog.sqlite").read_bytes()).hexdigest() == before  # --check writes nothing
    first = run_playbook("dr/laptop_drive_failure.yml", inventory, extravars)
    assert first.rc == 0 and first.changed == 0, first.stdout
    assert "Scenario 1" in first.stdout and "all match" in first.stdout and "--tags syncthing" in first.stdout
    assert assert_commands_exist(first.stdout) >= 1
    second = run_playbook("dr/laptop_drive_failure.yml", inventory, extravars)
    assert second.rc == 0 and second.changed == 0, second.stdout

    victim = sorted((vault / "originals").rglob("*.jpg"))[0]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    bad = run_playbook("dr/laptop_drive_failure.yml", inventory, extravars)
    assert bad.rc != 0 and "is not complete" in bad.stdout, bad.stdout
    assert str(victim.relative_to(vault)) in bad.stdout and "playbooks/dr/restore_from_pbs.yml" in bad.stdout
    assert assert_commands_exist(bad.stdout) >= 1
