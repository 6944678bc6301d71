"""sovereign.cloud.pve_storage against the PVE STAND-IN (tests/support/pve_standin.py: fakepve 0.5.0, its /storage
model with PVE's schema and option tables, plus the sensitive values kept apart as PVE keeps them; PVE cannot run
here): create, a second run with changed=0, a renewed PBS certificate applied with a diff, check mode sending only
GETs, the password by update_password, the encryption key, the fixed keys and recreate, absent, and the preflight."""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import pve_storage
from support import return_docs
from support import pvesh_standin
from support.ansible_module import run_module
from support.pve_standin import PVEStandIn

NODE = "intel-1250p"
TOKEN = "11111111-2222-3333-4444-555555555555"
FP = "AB:" * 31 + "CD"
RENEWED = "12:" * 31 + "34"
SEED = {"name": "pbs-1250p", "server": "192.168.1.52", "datastore": "backups", "username": "pve@pbs!pve",
        "password": "pbs-token-secret", "pbs_fingerprint": FP, "content": ["backup"], "nodes": [NODE]}
KEY = json.dumps({"kdf": None, "created": "2026-12-01T00:00:00Z", "data": "c2VjcmV0",
                  "fingerprint": "aa:" * 31 + "bb"})


@pytest.fixture
def pve(tmp_path):
    with PVEStandIn(tmp_path, node=NODE, tokens={"root@pam!ansible": TOKEN}) as standin:
        yield standin


@pytest.fixture
def api(pve):
    return {"api_host": pve.host, "api_port": pve.port, "api_token_id": "root@pam!ansible",
            "api_token_secret": TOKEN, "fingerprint": pve.fingerprint}


def storage_writes(pve):
    return [r for r in pve.writes if "/storage" in r[1]]


def sent(request) -> dict:
    return {k: v[0] for k, v in parse_qs(request[2].decode()).items()}


def test_create_then_nothing_to_do(pve, api):
    made = run_module(pve_storage, {**api, **SEED, "_ansible_diff": True})
    assert made["changed"] and made["action"] == "create", made
    entry = pve.storages["pbs-1250p"]
    assert entry["type"] == "pbs" and entry["server"] == "192.168.1.52" and entry["datastore"] == "backups"
    assert entry["fingerprint"] == FP and entry["nodes"] == NODE and entry["username"] == "pve@pbs!pve"
    # The password went to PVE, which keeps it apart and never answers it.
    assert pve.storage_secrets["pbs-1250p"] == {"password": "pbs-token-secret"}
    assert "password" not in json.dumps(made["storage"]) and made["request"]["password"] == "(not shown)"
    assert made["diff"]["before"] == {} and made["diff"]["after"]["fingerprint"] == FP
    assert made["summary"] == "storage pbs-1250p: create pbs 192.168.1.52:backups"
    again = run_module(pve_storage, {**api, **SEED})
    assert not again["changed"] and again["action"] == "none", again
    assert again["summary"] == "storage pbs-1250p: as wanted" and len(storage_writes(pve)) == 1


def test_a_renewed_pbs_certificate_is_applied_with_a_diff_and_the_digest(pve, api):
    run_module(pve_storage, {**api, **SEED})
    digest = pve.storage_config("pbs-1250p")["digest"]
    renewed = run_module(pve_storage, {**api, **SEED, "pbs_fingerprint": RENEWED.lower(), "_ansible_diff": True})
    assert renewed["changed"] and renewed["action"] == "update", renewed
    assert renewed["diff"] == {"before": {**renewed["diff"]["before"], "fingerprint": FP},
                               "after": {**renewed["diff"]["before"], "fingerprint": RENEWED}}
    assert pve.storages["pbs-1250p"]["fingerprint"] == RENEWED
    put = storage_writes(pve)[-1]
    # Only the changed key, and storage.cfg's digest as read.
    assert put[0] == "PUT" and sent(put) == {"fingerprint": RENEWED, "digest": digest}
    assert renewed["summary"] == "storage pbs-1250p: update fingerprint"
    assert not run_module(pve_storage, {**api, **SEED, "pbs_fingerprint": RENEWED})["changed"]


def test_check_mode_sends_only_gets_and_tells_the_plan(pve, api):
    plan = run_module(pve_storage, {**api, **SEED, "_ansible_diff": True}, check_mode=True)
    assert plan["changed"] and plan["action"] == "create" and "pbs-1250p" not in pve.storages
    assert plan["summary"] == "storage pbs-1250p: would create pbs 192.168.1.52:backups"
    run_module(pve_storage, {**api, **SEED})
    before = len(pve.requests)
    change = run_module(pve_storage, {**api, **SEED, "pbs_fingerprint": RENEWED, "nodes": [NODE, "pve2"],
                                      "prune_backups": {"keep-daily": 7}, "_ansible_diff": True}, check_mode=True)
    assert change["changed"] and change["action"] == "update"
    assert change["request"]["fingerprint"] == RENEWED and change["request"]["nodes"] == f"{NODE},pve2"
    assert {r[0] for r in pve.requests[before:]} == {"GET"}
    assert pve.storages["pbs-1250p"]["fingerprint"] == FP
    assert change["diff"]["after"]["prune-backups"] == "keep-daily=7"


def test_removed_options_are_deleted_and_order_does_not_matter(pve, api):
    run_module(pve_storage, {**api, **SEED, "namespace": "pve", "prune_backups": "keep-weekly=4,keep-daily=7",
                             "nodes": [NODE, "pve2"], "port": 8443})
    same = run_module(pve_storage, {**api, **SEED, "namespace": "/pve", "nodes": ["pve2", NODE], "port": 8443,
                                    "prune_backups": {"keep-daily": 7, "keep-weekly": 4}})
    assert not same["changed"], same
    cleared = run_module(pve_storage, {**api, **SEED, "namespace": "", "port": 8007, "enabled": False})
    assert cleared["request"]["delete"] == "namespace,port" and cleared["request"]["disable"] == "1"
    entry = pve.storages["pbs-1250p"]
    assert "namespace" not in entry and "port" not in entry and str(entry["disable"]) in ("1", "True", "true")


def test_password_is_sent_again_only_with_update_password_always(pve, api):
    run_module(pve_storage, {**api, **SEED})
    rotated = {**api, **SEED, "password": "rotated-secret"}
    kept = run_module(pve_storage, rotated)
    assert not kept["changed"] and pve.storage_secrets["pbs-1250p"]["password"] == "pbs-token-secret"
    applied = run_module(pve_storage, {**rotated, "update_password": "always", "_ansible_diff": True})
    assert applied["changed"] and applied["action"] == "update"
    assert pve.storage_secrets["pbs-1250p"]["password"] == "rotated-secret"
    assert applied["diff"]["after"]["password"] == "(not shown) (sent again)"
    assert "rotated-secret" not in json.dumps(applied)
    assert sent(storage_writes(pve)[-1])["password"] == "***"  # the stand-in's log redacts it


def test_encryption_key_is_kept_by_its_fingerprint(pve, api):
    made = run_module(pve_storage, {**api, **SEED, "encryption_key": KEY})
    assert made["changed"] and pve.storage_secrets["pbs-1250p"]["encryption-key"] == KEY
    assert pve.storage_config("pbs-1250p")["encryption-key"] == "aa:" * 31 + "bb"
    assert KEY not in json.dumps(made)
    assert not run_module(pve_storage, {**api, **SEED, "encryption_key": KEY})["changed"]
    bad = run_module(pve_storage, {**api, **SEED, "encryption_key": "autogen"})
    assert bad["failed"] and bad["kind"] == "usage"


def test_a_fixed_key_fails_without_recreate_and_is_applied_with_it(pve, api):
    run_module(pve_storage, {**api, **SEED, "namespace": "pve"})
    moved = {**api, **SEED, "datastore": "backups-2"}
    refused = run_module(pve_storage, moved)
    assert refused["failed"] and refused["kind"] == "fixed" and "recreate: true" in refused["msg"]
    assert len(storage_writes(pve)) == 1
    done = run_module(pve_storage, {**moved, "recreate": True})
    assert done["changed"] and done["action"] == "recreate", done
    entry = pve.storages["pbs-1250p"]
    assert entry["datastore"] == "backups-2" and entry["namespace"] == "pve" and entry["fingerprint"] == FP
    assert pve.storage_secrets["pbs-1250p"]["password"] == "pbs-token-secret"
    assert [r[0] for r in storage_writes(pve)[-2:]] == ["DELETE", "POST"]
    assert not run_module(pve_storage, {**moved, "recreate": True})["changed"]


def test_pve_refuses_a_fixed_key_in_a_put_as_the_module_predicts(pve, api):
    """The stand-in's (fakepve's) PBS option table: server and datastore are fixed, as in PBSPlugin.pm."""
    run_module(pve_storage, {**api, **SEED})
    from support.pve_standin import PveError  # pylint: disable=import-outside-toplevel
    import asyncio  # pylint: disable=import-outside-toplevel
    with pytest.raises(PveError, match="can't change value of fixed parameter 'datastore'"):
        asyncio.run(pve._sc_update({"storage": "pbs-1250p", "datastore": "other"}, "root@pam"))


def test_absent_removes_the_entry_and_its_secrets(pve, api):
    run_module(pve_storage, {**api, **SEED})
    gone = run_module(pve_storage, {**api, "name": "pbs-1250p", "state": "absent", "_ansible_diff": True})
    assert gone["changed"] and gone["action"] == "delete" and "pbs-1250p" not in pve.storages
    assert "pbs-1250p" not in pve.storage_secrets and gone["diff"]["after"] == {}
    assert not run_module(pve_storage, {**api, "name": "pbs-1250p", "state": "absent"})["changed"]


def test_another_type_under_the_name_is_refused(pve, api):
    result = run_module(pve_storage, {**api, **SEED, "name": "local"})
    assert result["failed"] and result["kind"] == "usage" and "exists with type dir" in result["msg"]


def test_a_missing_privilege_is_named_before_any_write(pve):
    pve.apitokens["ops@pve!ansible"] = TOKEN
    for who in ("ops@pve", "ops@pve!ansible"):
        pve.grant(who, "/storage/pbs-1250p", "Datastore.Allocate")
    args = {"api_host": pve.host, "api_port": pve.port, "api_token_id": "ops@pve!ansible",
            "api_token_secret": TOKEN, "fingerprint": pve.fingerprint, **SEED}
    result = run_module(pve_storage, args)
    assert result["failed"] and result["kind"] == "permission", result
    assert "ops@pve!ansible lacks the privilege Datastore.Allocate on /storage" in result["msg"]
    assert "pveum acl modify /storage --roles PVEDatastoreAdmin --tokens 'ops@pve!ansible'" in result["msg"]
    assert not pve.writes


def test_a_wrong_pve_pin_stops_before_login(pve, api):
    result = run_module(pve_storage, {**api, **SEED, "fingerprint": RENEWED})
    assert result["failed"] and result["kind"] == "fingerprint" and not pve.requests


def test_returns_what_it_documents(pve, api):
    runs = [run_module(pve_storage, {**api, **SEED}, check_mode=True), run_module(pve_storage, {**api, **SEED}),
            run_module(pve_storage, {**api, **SEED, "pbs_fingerprint": RENEWED}),
            run_module(pve_storage, {**api, **SEED, "datastore": "other"})]
    return_docs.assert_matches("pve_storage", runs)


def test_local_backend_pvesh_creates_then_updates(pve, tmp_path, monkeypatch):
    """proxmoxer's local backend as on the node: pvesh (a stand-in forwarding to the PVE stand-in as root@pam)."""
    pvesh_standin.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("PVESH_STANDIN_URL", pve.url)
    monkeypatch.setenv("PVESH_STANDIN_PASSWORD", "secret")
    made = run_module(pve_storage, {"backend": "local", **SEED})
    assert made["changed"] and made["action"] == "create", made
    assert pve.storage_secrets["pbs-1250p"]["password"] == "pbs-token-secret"
    assert not run_module(pve_storage, {"backend": "local", **SEED})["changed"]
    renewed = run_module(pve_storage, {"backend": "local", **SEED, "pbs_fingerprint": RENEWED})
    assert renewed["action"] == "update" and pve.storages["pbs-1250p"]["fingerprint"] == RENEWED
