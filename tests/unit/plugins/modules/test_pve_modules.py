"""sovereign.cloud.pve_lxc_mount and pve_backup_job against the PVE STAND-IN (tests/support/pve_standin.py:
fakepve 0.5.0 plus stored backup jobs; PVE cannot run here): converge and idempotence, the digest sent back,
hot-plug versus pending and the restart, check mode and diff, PVE's root@pam rule for bind mounts, and the
preflight errors (unreachable, wrong fingerprint, missing privilege, no such container)."""

from __future__ import annotations

import os
import socket

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import pve_backup_job, pve_lxc_mount
from support import return_docs
from support.ansible_module import run_module
from support import pvesh_standin
from support.pve_standin import PVEStandIn

NODE = "intel-1250p"
TOKEN = "11111111-2222-3333-4444-555555555555"
MEDIA = {"node": NODE, "mp": "mp0", "host_path": "/mnt/media", "container_path": "/mnt/media", "ro": True}
SEED_JOB = {"id": "daily-0200", "schedule": "02:00", "storage": "pbs-1250p", "all": True, "mode": "snapshot",
            "prune_backups": {"keep-daily": 7, "keep-weekly": 4, "keep-monthly": 6},
            "notes_template": "{{guestname}}", "comment": "seed 001 job 1"}


@pytest.fixture
def pve(tmp_path):
    with PVEStandIn(tmp_path, node=NODE, tokens={"root@pam!ansible": TOKEN}) as standin:
        standin.add_ct(151, "immich", node=NODE, status="running")
        standin.add_ct(152, "pbs", node=NODE, status="stopped")
        yield standin


@pytest.fixture
def root(pve):
    return {"api_host": pve.host, "api_port": pve.port, "api_password": "secret", "fingerprint": pve.fingerprint}


@pytest.fixture
def token(pve):
    return {"api_host": pve.host, "api_port": pve.port, "api_token_id": "root@pam!ansible",
            "api_token_secret": TOKEN, "fingerprint": pve.fingerprint}


def config_puts(pve):
    return [r for r in pve.requests if r[0] == "PUT" and r[1].endswith("/config")]


def test_mount_on_a_running_container_is_hot_plugged_then_unchanged(pve, root):
    first = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151, "_ansible_diff": True})
    assert first["changed"] and not first["failed"] if "failed" in first else first["changed"]
    assert first["value"] == "/mnt/media,mp=/mnt/media,ro=1" and first["pending"] is False
    assert first["diff"] == {"before": {}, "after": {"mp0": "/mnt/media,mp=/mnt/media,ro=1"}}
    assert pve.ct(151).config["mp0"] == "/mnt/media,mp=/mnt/media,ro=1"
    # The write carried the digest read just before.
    assert "digest=" in config_puts(pve)[0][2].decode()
    second = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151})
    assert not second["changed"] and second["pending"] is False and len(config_puts(pve)) == 1
    assert second["summary"] == f"container 151 ({NODE}): mp0 as wanted"


def test_a_changed_mount_on_a_running_container_is_pending_until_restart(pve, root):
    pve.ct(151).config["mp0"] = "/mnt/media,mp=/mnt/media"
    staged = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151})
    assert staged["changed"] and staged["pending"] is True and not staged["restarted"]
    assert pve.ct(151).pending == {"mp0": "/mnt/media,mp=/mnt/media,ro=1"}
    assert "pending until the container restarts" in staged["summary"]
    again = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151})
    assert not again["changed"] and again["pending"] is True
    restarted = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151, "restart": True})
    assert restarted["changed"] and restarted["restarted"] and restarted["pending"] is False
    assert pve.ct(151).config["mp0"] == "/mnt/media,mp=/mnt/media,ro=1" and not pve.ct(151).pending


def test_check_mode_writes_nothing_and_predicts_pending(pve, root):
    pve.ct(151).config["mp0"] = "/mnt/media,mp=/mnt/media"
    plan = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151, "_ansible_diff": True}, check_mode=True)
    assert plan["changed"] and plan["pending"] is True
    assert plan["diff"]["before"] == {"mp0": "/mnt/media,mp=/mnt/media"}
    assert not pve.writes and "would set" in plan["summary"]


def test_stopped_container_by_hostname_and_absent(pve, root):
    args = {**root, **MEDIA, "hostname": "pbs", "mp": "mp1"}
    made = run_module(pve_lxc_mount, args)
    assert made["vmid"] == 152 and made["changed"] and made["pending"] is False
    gone = run_module(pve_lxc_mount, {**args, "state": "absent"})
    assert gone["changed"] and "mp1" not in pve.ct(152).config
    assert not run_module(pve_lxc_mount, {**args, "state": "absent"})["changed"]


def test_an_api_token_gets_pves_refusal_for_a_bind_mount_explained(pve, token):
    result = run_module(pve_lxc_mount, {**token, **MEDIA, "vmid": 151})
    assert result["failed"] and result["kind"] == "bind_mount"
    assert "mount point type bind is only allowed for root@pam" in result["msg"]
    assert "api_password" in result["msg"] and "backend: local" in result["msg"]
    assert "mp0" not in pve.ct(151).config
    # Check mode says so too, without writing.
    refused = len(config_puts(pve))
    plan = run_module(pve_lxc_mount, {**token, **MEDIA, "vmid": 151}, check_mode=True)
    assert plan["failed"] and plan["kind"] == "bind_mount" and len(config_puts(pve)) == refused


def test_a_missing_container_is_named(pve, root):
    result = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 999})
    assert result["failed"] and result["kind"] == "not_found"
    assert f"container 999 does not exist on node {NODE}" in result["msg"]
    by_name = run_module(pve_lxc_mount, {**root, **MEDIA, "hostname": "photos"})
    assert by_name["kind"] == "not_found" and "151 (immich)" in by_name["msg"]


def test_a_wrong_fingerprint_stops_before_login(pve, root):
    wrong = "AA:" * 31 + "AA"
    result = run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151, "fingerprint": wrong})
    assert result["failed"] and result["kind"] == "fingerprint"
    assert pve.fingerprint in result["msg"] and "pvenode cert info" in result["msg"]
    assert not pve.requests


def test_an_unreachable_api_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_module(pve_backup_job, {"api_host": "127.0.0.1", "api_port": port, "api_password": "not-used-pw",
                                         "validate_certs": False, "id": "j", "all": True, "timeout": 5})
    assert result["failed"] and result["kind"] == "unreachable"
    assert "cannot reach the PVE API at https://127.0.0.1:" in result["msg"] and "pveproxy" in result["msg"]


def test_wrong_password_is_an_auth_failure(pve, root):
    result = run_module(pve_backup_job, {**root, "api_password": "wrong", "id": "j", "all": True})
    assert result["failed"] and result["kind"] == "auth"


def test_backup_job_converges_and_compares_retention_semantically(pve, token):
    plan = run_module(pve_backup_job, {**token, **SEED_JOB}, check_mode=True)
    assert plan["changed"] and plan["action"] == "create" and not pve.backup_jobs
    made = run_module(pve_backup_job, {**token, **SEED_JOB, "_ansible_diff": True})
    assert made["changed"] and made["action"] == "create"
    job = pve.backup_jobs["daily-0200"]
    assert job["schedule"] == "02:00" and job["prune-backups"] == "keep-daily=7,keep-weekly=4,keep-monthly=6"
    assert made["diff"]["after"]["prune-backups"] == "keep-daily=7,keep-weekly=4,keep-monthly=6"
    # The same retention spelled as PVE's string, keys in another order: nothing to do.
    same = run_module(pve_backup_job, {**token, **SEED_JOB,
                                       "prune_backups": "keep-monthly=6,keep-weekly=4,keep-daily=7"})
    assert not same["changed"] and same["summary"] == "backup job daily-0200: as wanted"
    changed = run_module(pve_backup_job, {**token, **SEED_JOB, "all": None, "vmids": [151], "enabled": False})
    assert changed["action"] == "update" and changed["request"]["all"] == "0" and changed["request"]["vmid"] == "151"
    assert pve.backup_jobs["daily-0200"]["enabled"] in ("0", 0, False)
    back = run_module(pve_backup_job, {**token, **SEED_JOB})
    assert back["request"].get("delete") == "vmid" and "vmid" not in pve.backup_jobs["daily-0200"]
    gone = run_module(pve_backup_job, {**token, "id": "daily-0200", "state": "absent"})
    assert gone["changed"] and not pve.backup_jobs


def test_a_missing_privilege_is_named_before_any_write(pve):
    pve.apitokens["ops@pve!ansible"] = TOKEN
    pve.grant("ops@pve", "/", "Sys.Audit")
    pve.grant("ops@pve!ansible", "/", "Sys.Audit")
    args = {"api_host": pve.host, "api_port": pve.port, "api_token_id": "ops@pve!ansible", "api_token_secret": TOKEN,
            "fingerprint": pve.fingerprint, **SEED_JOB}
    result = run_module(pve_backup_job, args)
    assert result["failed"] and result["kind"] == "permission"
    assert "ops@pve!ansible lacks the privilege Sys.Modify on /" in result["msg"]
    assert "pveum acl modify / --roles PVEAdmin --tokens 'ops@pve!ansible'" in result["msg"]
    assert not pve.writes


def test_both_modules_return_what_they_document(pve, root, token):
    mounts = [run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151}),
              run_module(pve_lxc_mount, {**root, **MEDIA, "vmid": 151}, check_mode=True),
              run_module(pve_lxc_mount, {**token, **MEDIA, "vmid": 151, "mp": "mp1"})]
    return_docs.assert_matches("pve_lxc_mount", mounts)
    jobs = [run_module(pve_backup_job, {**token, **SEED_JOB}), run_module(pve_backup_job, {**token, **SEED_JOB}),
            run_module(pve_backup_job, {**root, "api_password": "wrong", "id": "j", "all": True})]
    return_docs.assert_matches("pve_backup_job", jobs)


def test_local_backend_runs_pvesh_as_root_so_a_bind_mount_is_allowed(pve, tmp_path, monkeypatch):
    """proxmoxer's local backend as on the node: pvesh (a stand-in forwarding to the PVE stand-in as root@pam)."""
    pvesh_standin.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("PVESH_STANDIN_URL", pve.url)
    monkeypatch.setenv("PVESH_STANDIN_PASSWORD", "secret")
    args = {"backend": "local", **MEDIA, "hostname": "immich", "restart": True}
    pve.ct(151).config["mp0"] = "/mnt/media,mp=/mnt/media"
    result = run_module(pve_lxc_mount, args)
    assert not result.get("failed"), result
    assert result["changed"] and result["restarted"] and result["pending"] is False, result
    assert pve.ct(151).config["mp0"] == "/mnt/media,mp=/mnt/media,ro=1"
    assert not run_module(pve_lxc_mount, args)["changed"]
    missing = run_module(pve_lxc_mount, {**args, "hostname": None, "vmid": 999})
    assert missing["failed"] and missing["kind"] == "not_found"
