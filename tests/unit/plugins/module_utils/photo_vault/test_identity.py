# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 7 #3: the vault marker and the host's memory of it. An unmounted NAS shows an empty folder;
ingest must not start a new vault on the local disk there, and verify/thumbnails must not run on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import identity
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import (
    IngestConfig, IngestError, run_ingest)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails_run import (
    ThumbnailRunError, make_missing_thumbnails)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import VerifyError, verify_vault
from support import media_factory as mf


def photos(folder: Path, count: int = 2, seed: int = 300) -> Path:
    for i in range(count):
        mf.write(folder / f"IMG_{seed + i}.JPG", mf.jpeg(seed=seed + i, datetime_original="2021:05:01 10:00:00"), mf.OLD)
    return folder


def ingest(source, vault, **options) -> dict:
    options.setdefault("min_age", 0)
    options.setdefault("workers", 1)
    options.setdefault("thumbnails", False)
    return run_ingest(IngestConfig([str(source)], str(vault), **options))


def local_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_first_ingest_marks_the_vault_and_the_host_remembers_it(tmp_path):
    state, vault = tmp_path / "state", tmp_path / "nas" / "photos"
    vault.parent.mkdir()
    report = ingest(photos(tmp_path / "inbox"), vault, state_dir=str(state))
    with Catalog.open(str(vault), create=False) as cat:
        vault_id = cat.meta("vault_id")
    assert report["vault_id"] == vault_id == identity.read_marker(str(vault))
    assert f"vault_id={vault_id}" in (vault / ".sovereign-vault").read_text()
    assert identity.remembered(str(state), str(vault)) == vault_id


def test_sqlite_an_unmounted_nas_is_refused_not_made_a_new_vault(tmp_path):
    # the NAS share is mounted at nas/: unmounted, nas/photos is an empty folder on the local disk
    state, vault, inbox = tmp_path / "state", tmp_path / "nas" / "photos", photos(tmp_path / "inbox")
    vault.parent.mkdir()
    ingest(inbox, vault, state_dir=str(state))
    mounted = tmp_path / "share"
    shutil.move(str(vault), str(mounted))  # "umount": the share's content is elsewhere
    vault.mkdir()
    photos(inbox, seed=400)
    with pytest.raises(IngestError, match=r"is the NAS mounted\?.*findmnt.*ingest --create"):
        ingest(inbox, vault, state_dir=str(state))
    with pytest.raises(VerifyError, match=r"is the NAS mounted\?"):
        verify_vault(str(vault), state_dir=str(state))
    with pytest.raises(ThumbnailRunError, match=r"is the NAS mounted\?"):
        make_missing_thumbnails(str(vault), state_dir=str(state))
    with pytest.raises(IngestError, match=r"is the NAS mounted\?"):
        ingest(inbox, vault, state_dir=str(state), check=True)
    assert local_files(vault) == []  # no catalog, lock or originals on the local disk
    # the vault folder missing altogether (mount point only) is refused the same way
    vault.rmdir()
    with pytest.raises(IngestError, match=r"is the NAS mounted\?"):
        ingest(inbox, vault, state_dir=str(state))
    assert not vault.exists()
    # "mount" again: ingest goes on in the same vault
    shutil.move(str(mounted), str(vault))
    report = ingest(inbox, vault, state_dir=str(state))
    assert report["ingested"] == 2 and report["unchanged"] == 2


def test_create_true_starts_a_new_vault_where_one_was_remembered(tmp_path):
    state, vault, inbox = tmp_path / "state", tmp_path / "photos", photos(tmp_path / "inbox")
    first = ingest(inbox, vault, state_dir=str(state))["vault_id"]
    shutil.rmtree(vault)
    vault.mkdir()
    report = ingest(inbox, vault, state_dir=str(state), create=True)
    assert report["ingested"] == 2 and report["vault_id"] != first
    assert identity.remembered(str(state), str(vault)) == report["vault_id"] == identity.read_marker(str(vault))


def test_a_vault_made_before_markers_is_adopted(tmp_path):
    state, vault, inbox = tmp_path / "state", tmp_path / "photos", photos(tmp_path / "inbox")
    vault_id = ingest(inbox, vault)["vault_id"]  # no state_dir: nothing remembered
    (vault / ".sovereign-vault").unlink()       # as made before this change
    report = verify_vault(str(vault), state_dir=str(state))
    assert report.ok == 2 and any("marked" in w for w in report.warnings)
    assert identity.read_marker(str(vault)) == vault_id == identity.remembered(str(state), str(vault))
    (vault / ".sovereign-vault").unlink()
    assert ingest(inbox, vault, state_dir=str(state))["unchanged"] == 2  # catalog in the vault, id as remembered
    assert identity.read_marker(str(vault)) == vault_id


def test_a_marker_of_another_vault_is_refused(tmp_path):
    vault, inbox = tmp_path / "photos", photos(tmp_path / "inbox")
    ingest(inbox, vault)
    (vault / ".sovereign-vault").write_text("vault_id=00000000-0000-0000-0000-000000000000\n")
    with pytest.raises(IngestError, match=r"holds vault 00000000-.*is the NAS mounted\?"):
        ingest(inbox, vault)
    with pytest.raises(VerifyError, match=r"belongs to vault"):
        verify_vault(str(vault))


def test_a_lost_catalog_takes_the_vaults_id(tmp_path):
    vault, inbox = tmp_path / "photos", photos(tmp_path / "inbox")
    vault_id = ingest(inbox, vault)["vault_id"]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{vault}/catalog.sqlite{suffix}").unlink(missing_ok=True)
    report = ingest(inbox, vault)
    assert report["adopted"] == 2 and report["vault_id"] == vault_id


def test_postgresql_an_empty_vault_root_is_refused(tmp_path, postgresql_server):
    dsn = postgresql_server.create_database("identity")
    vault, inbox = tmp_path / "photos", photos(tmp_path / "inbox")
    vault_id = ingest(inbox, vault, catalog=dsn)["vault_id"]
    mounted = tmp_path / "share"
    shutil.move(str(vault), str(mounted))
    vault.mkdir()
    # nothing remembered on this host (a new host, the catalog elsewhere): the catalog knows assets
    for run in (lambda: ingest(inbox, vault, catalog=dsn), lambda: ingest(inbox, vault, catalog=dsn, check=True)):
        with pytest.raises(IngestError, match=r"none of the originals.*is the NAS mounted\?"):
            run()
    with pytest.raises(VerifyError, match=r"is the NAS mounted\?"):
        verify_vault(str(vault), catalog=dsn)
    with pytest.raises(ThumbnailRunError, match=r"is the NAS mounted\?"):
        make_missing_thumbnails(str(vault), catalog=dsn)
    assert local_files(vault) == []  # refused before the lock file or any state landed on the local disk
    shutil.rmtree(vault)
    shutil.move(str(mounted), str(vault))
    # mounted, but a marker of another vault
    (vault / ".sovereign-vault").write_text("vault_id=11111111-1111-1111-1111-111111111111\n")
    with pytest.raises(IngestError, match=r"belongs to vault " + vault_id):
        ingest(inbox, vault, catalog=dsn)
    # a PostgreSQL vault made before markers: its originals are there, so it is adopted
    (vault / ".sovereign-vault").unlink()
    assert ingest(inbox, vault, catalog=dsn)["unchanged"] == 2
    assert identity.read_marker(str(vault)) == vault_id
    assert verify_vault(str(vault), catalog=dsn).ok == 2
