"""sovereign.cloud.pbs_preflight against the PBS STAND-IN (tests/support/pbs_standin.py): reachability, the pinned
certificate, the token, and named missing privileges of the role's and the clients' tokens."""

from __future__ import annotations

import socket

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import pbs_preflight
from support import return_docs
from support.ansible_module import run_module
from support.pbs_standin import PBSStandIn

SECRET = "11111111-2222-3333-4444-555555555555"
ACLS = {"root@pam!ansible": {"/": {"Datastore.Audit": True, "Datastore.Allocate": True, "Datastore.Modify": True}},
        "pve@pbs!pve": {"/datastore/backups": {"Datastore.Audit": False}}}
NEEDS = [{"required": [{"path": "/datastore", "privileges": ["Datastore.Allocate"]}]},
         {"auth_id": "pve@pbs!pve", "required": [{"path": "/datastore/backups", "privileges": ["Datastore.Backup"]}]}]


@pytest.fixture
def pbs(tmp_path):
    with PBSStandIn(tmp_path, acls=ACLS) as standin:
        yield standin


def api(pbs, **extra):
    return dict({"api_host": "127.0.0.1", "api_port": pbs.port, "api_token_id": "root@pam!ansible",
                 "api_token_secret": SECRET, "fingerprint": pbs.fingerprint}, **extra)


def test_a_missing_privilege_is_named_with_the_grant_command(pbs):
    out = run_module(pbs_preflight, api(pbs, checks=NEEDS))
    assert out["failed"] and out["kind"] == "permission", out
    assert "pve@pbs!pve lacks Datastore.Backup on /datastore/backups" in out["msg"]
    assert "proxmox-backup-manager acl update /datastore/backups DatastoreBackup --auth-id 'pve@pbs!pve'" in out["msg"]
    pbs.acls["pve@pbs!pve"]["/datastore"] = {"Datastore.Backup": True}  # propagates to /datastore/backups
    ok = run_module(pbs_preflight, api(pbs, checks=NEEDS))
    assert not ok.get("failed") and ok["changed"] is False and ok["version"] == "4.1", ok
    return_docs.assert_matches("pbs_preflight", [out, ok])


def test_a_token_that_does_not_exist_names_the_command_that_makes_it(pbs):
    checks = [{"auth_id": "backup@pbs!media", "required": [{"path": "/datastore/backups", "privileges": ["Datastore.Backup"]}]}]
    out = run_module(pbs_preflight, api(pbs, checks=checks))
    assert out["failed"] and out["kind"] == "not_found", out
    assert "proxmox-backup-manager user generate-token backup@pbs media" in out["msg"]


def test_wrong_fingerprint_and_unreachable_are_told_apart(pbs):
    wrong = run_module(pbs_preflight, api(pbs, fingerprint="AA:" * 31 + "AA"))
    assert wrong["failed"] and wrong["kind"] == "fingerprint" and "proxmox-backup-manager cert info" in wrong["msg"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    gone = run_module(pbs_preflight, api(pbs, api_port=closed))
    assert gone["failed"] and gone["kind"] == "unreachable", gone
    bad = run_module(pbs_preflight, api(pbs, api_token_secret="00000000-0000-0000-0000-000000000000"))
    assert bad["failed"] and bad["kind"] == "auth", bad
