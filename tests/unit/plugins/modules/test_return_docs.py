"""Every module's RETURN documentation is what the module returns, in real runs.

Each module runs here in the situations that produce its documented keys (a success, a check-mode
run, a failure with its ``kind``), on real files and real restic; iCloud through the stand-in of
support.apple. ``support.return_docs.assert_matches`` fails on an undocumented returned key, on a
key documented ``returned: always`` that a successful run lacks, and on a documented key that no
run returns. The syncthing_* modules run against real Syncthing in
tests/unit/plugins/syncthing/test_syncthing_return_docs.py.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import (
    icloud_session, photo_catalog_info, photo_ingest, photo_thumbnails, photo_verify, restic_repository,
    restore_drill, samba_user)
from support import return_docs
from support.ansible_module import run_module
from support.apple import write_session
from support.restic import ResticRepo
from support.vault_builder import jpeg_bytes

SYNCTHING = {"syncthing_device", "syncthing_folder", "syncthing_info", "syncthing_options"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict:
    """A small vault made by photo_ingest, and every photo module's runs on it."""
    tmp = tmp_path_factory.mktemp("photos")
    source, vault = tmp / "inbox", tmp / "vault"
    source.mkdir()
    vault.mkdir()
    an_hour_ago = time.time() - 3600
    for i in range(3):
        path = source / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(800, 600, seed=i + 1))
        os.utime(path, (an_hour_ago, an_hour_ago))
    (source / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    os.utime(source / "broken.jpg", (an_hour_ago, an_hour_ago))
    args = {"sources": [str(source)], "vault": str(vault), "min_age": 0}
    runs = {"photo_ingest": [run_module(photo_ingest, args, check_mode=True), run_module(photo_ingest, args),
                             run_module(photo_ingest, args), run_module(photo_ingest, dict(args, repair=True))]}
    runs["photo_thumbnails"] = [run_module(photo_thumbnails, {"vault": str(vault)}),
                                run_module(photo_thumbnails, {"vault": str(vault)}, check_mode=True)]
    runs["photo_verify"] = [run_module(photo_verify, {"vault": str(vault)}),
                            run_module(photo_verify, {"vault": str(vault)}, check_mode=True)]
    runs["photo_catalog_info"] = [run_module(photo_catalog_info, {"vault": str(vault)})]
    repo = ResticRepo(tmp).init()
    repo.backup(str(vault))
    scratch = tmp / "scratch"
    scratch.mkdir()
    drill = {"vault": str(vault), "repository": str(repo.path), "password": repo.password,
             "cache_dir": str(repo.cache), "count": 2, "tmp_dir": str(scratch)}
    runs["restore_drill"] = [run_module(restore_drill, drill, check_mode=True), run_module(restore_drill, drill)]
    return runs


@pytest.mark.parametrize("name", ["photo_ingest", "photo_thumbnails", "photo_verify", "photo_catalog_info",
                                  "restore_drill"])
def test_photo_modules_return_what_they_document(photos, name):
    assert not any(r.get("failed") for r in photos[name]), photos[name]
    return_docs.assert_matches(name, photos[name])


def test_restic_repository_returns_what_it_documents(tmp_path):
    location = {"repository": str(tmp_path / "repo"), "password": "a long test password",
                "cache_dir": str(tmp_path / "cache")}
    runs = [run_module(restic_repository, location, check_mode=True), run_module(restic_repository, location),
            run_module(restic_repository, location), run_module(restic_repository, dict(location, password="not the password at all"))]
    assert runs[-1]["failed"] and runs[-1]["kind"] == "wrong_password", runs[-1]
    return_docs.assert_matches("restic_repository", runs)


def test_icloud_session_returns_what_it_documents(tmp_path):
    # Apple cannot be reached from a test: a trusted session on disk, and an expired one with no
    # password given (the module fails before it would talk to Apple).
    user = "parent.a@example.com"
    trusted, expired = tmp_path / "trusted", tmp_path / "expired"
    write_session(trusted, user, 25)
    write_session(expired, user, -1)
    runs = [run_module(icloud_session, {"username": user, "cookie_directory": str(trusted)}),
            run_module(icloud_session, {"username": user, "cookie_directory": str(trusted), "state": "checked"}),
            run_module(icloud_session, {"username": user, "cookie_directory": str(expired)})]
    assert runs[-1]["failed"] and runs[-1]["kind"] == "password", runs[-1]
    return_docs.assert_matches("icloud_session", runs)


@pytest.mark.skipif(not shutil.which("pdbedit"), reason="Samba's pdbedit is not installed here "
                    "(the smb_share molecule scenario runs samba_user on a real host)")
def test_samba_user_returns_what_it_documents():
    user = "nobody"
    runs = [run_module(samba_user, {"name": user, "state": "absent"}, check_mode=True)]
    return_docs.assert_matches("samba_user", runs)


def test_every_module_is_compared():
    here = {"photo_ingest", "photo_thumbnails", "photo_verify", "photo_catalog_info", "restore_drill",
            "restic_repository", "icloud_session", "samba_user"}
    # compared in their own test files, against the PBS and Immich stand-ins
    elsewhere = {"immich_info", "immich_library", "pbs_datastore", "pbs_job_run", "pbs_prune_job", "pbs_remote",
                 "pbs_sync_job", "pbs_verify_job", "pbs_preflight", "photo_vault_recover", "icloud_safe_to_delete",
                 "pve_lxc_mount", "pve_backup_job", "collection_status", "collection_status_page",
                 "status_expectations", "pve_storage"}
    # compared in tests/unit/plugins/modules/test_macos_modules.py, against the macOS stand-ins
    elsewhere |= {"pmset", "mac_file_share", "mac_keychain_password", "ios_backup_info"}
    assert set(return_docs.module_names()) == here | SYNCTHING | elsewhere, "a module without a RETURN comparison"


def test_a_key_returned_but_not_documented_fails():
    with pytest.raises(AssertionError, match=r"returned \['surprise'\], which its RETURN does not document"):
        return_docs.check("samba_user", {"changed": False, "actions": [], "summary": "", "surprise": 1})
    with pytest.raises(AssertionError, match=r"documents \['actions'\] but no run returned them"):
        return_docs.assert_matches("samba_user", [{"failed": True, "msg": "x", "summary": "x"}])


def test_no_test_skips_when_the_collection_code_it_tests_is_missing():
    # A skipped contract test looks like a passing one: code of this collection, and the contract
    # test between the photo engines, must import or fail.
    tests = return_docs.REPO / "tests"
    offenders = [str(p.relative_to(tests)) for p in tests.rglob("*.py")
                 if "importorskip(" + '"ansible_collections' in p.read_text(encoding="utf-8")]
    contract = tests / "unit" / "plugins" / "modules" / "test_photo_vault_pipeline.py"
    if "importorskip" in contract.read_text(encoding="utf-8"):
        offenders.append(str(contract.relative_to(tests)))
    assert offenders == [], offenders
