"""sovereign.cloud.pbs_* modules against the PBS STAND-IN (tests/support/pbs_standin.py; PBS cannot run here):
create, idempotence, update with PBS's delete list and digest, check mode, diff, absent, auth and TLS pinning,
and pbs_job_run's task outcomes."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import (
    pbs_datastore, pbs_job_run, pbs_prune_job, pbs_remote, pbs_sync_job, pbs_verify_job)
from support.ansible_module import run_module
from support.pbs_standin import PBSStandIn

SECRET = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def pbs(tmp_path):
    with PBSStandIn(tmp_path) as standin:
        yield standin


@pytest.fixture
def api(pbs):
    return {"api_host": "127.0.0.1", "api_port": pbs.port, "api_token_id": "root@pam!ansible",
            "api_token_secret": SECRET, "fingerprint": pbs.fingerprint}


def run(module, api, check_mode=False, diff=False, **args):
    params = dict(api, **args)
    if diff:
        params["_ansible_diff"] = True
    return run_module(module, params, check_mode=check_mode)


def writes(pbs):
    return [r for r in pbs.requests if r[0] != "GET"]


def test_prune_job_create_is_idempotent_and_keeps_the_retention_policy_whole(pbs, api):
    job = {"id": "keep-7-4-6", "store": "backups", "schedule": "daily", "keep_daily": 7, "keep_weekly": 4,
           "keep_monthly": 6}
    first = run(pbs_prune_job, api, diff=True, **job)
    assert first["changed"] is True and first["created"] is True, first
    assert pbs.config["prune"]["keep-7-4-6"] == {"store": "backups", "schedule": "daily", "keep-daily": 7,
                                                 "keep-weekly": 4, "keep-monthly": 6}
    assert first["diff"]["before"] == {} and first["diff"]["after"]["keep-daily"] == 7
    count = len(writes(pbs))
    second = run(pbs_prune_job, api, **job)
    assert second["changed"] is False and len(writes(pbs)) == count
    # A new policy without keep-monthly removes it through PBS's delete list, with the digest read before.
    third = run(pbs_prune_job, api, diff=True, **{**job, "keep_monthly": None, "keep_daily": 30})
    assert third["changed"] is True
    method, path, params = writes(pbs)[-1]
    assert (method, path) == ("PUT", "/config/prune/keep-7-4-6")
    assert params["delete"] == ["keep-monthly"] and params["keep-daily"] == 30 and len(params["digest"]) == 64
    assert pbs.config["prune"]["keep-7-4-6"] == {"store": "backups", "schedule": "daily", "keep-daily": 30,
                                                 "keep-weekly": 4}
    assert third["diff"]["before"]["keep-monthly"] == 6 and "keep-monthly" not in third["diff"]["after"]


def test_check_mode_predicts_and_writes_nothing(pbs, api):
    out = run(pbs_verify_job, api, check_mode=True, diff=True, id="verify", store="backups", schedule="sun 05:00")
    assert out["changed"] is True and out["diff"]["after"]["schedule"] == "sun 05:00"
    assert pbs.config["verify"] == {} and writes(pbs) == []


def test_absent_removes_and_then_nothing_changes(pbs, api):
    run(pbs_verify_job, api, id="verify", store="backups", outdated_after=30)
    assert pbs.config["verify"]["verify"]["outdated-after"] == 30
    gone = run(pbs_verify_job, api, diff=True, id="verify", state="absent")
    assert gone["changed"] is True and pbs.config["verify"] == {}
    assert run(pbs_verify_job, api, id="verify", state="absent")["changed"] is False


def test_defaults_pbs_leaves_out_are_not_changes(pbs, api):
    run(pbs_verify_job, api, id="v", store="backups")
    assert run(pbs_verify_job, api, id="v", store="backups", ignore_verified=True, max_depth=7)["changed"] is False


def test_a_stale_digest_is_refused_not_overwritten(pbs, api):
    run(pbs_verify_job, api, id="v", store="backups", schedule="daily")
    from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.client import PBSClient, PBSError
    client = PBSClient("127.0.0.1", "root@pam!ansible", SECRET, api_port=pbs.port, fingerprint=pbs.fingerprint)
    _items, digest = client.get("/config/verify")
    pbs.config["verify"]["v"]["comment"] = "changed by someone else"
    with pytest.raises(PBSError) as caught:
        client.call("PUT", "/config/verify/v", {"schedule": "weekly", "digest": digest})
    assert caught.value.kind == "digest" and "run the task again" in caught.value.msg


def test_remote_password_is_sent_once_and_never_shown(pbs, api):
    remote = {"name": "primary", "host": "pbs.example.com", "auth_id": "sync@pbs!pull", "password": "s3cr3t-remote",
              "remote_fingerprint": "aa:" * 31 + "aa"}
    first = run(pbs_remote, api, diff=True, **remote)
    assert first["changed"] is True and pbs.config["remote"]["primary"]["password"] == "s3cr3t-remote"
    assert "s3cr3t-remote" not in json.dumps(first) and "password" not in first["item"]
    assert run(pbs_remote, api, **{**remote, "password": "rotated"})["changed"] is False
    assert pbs.config["remote"]["primary"]["password"] == "s3cr3t-remote"
    rotated = run(pbs_remote, api, **{**remote, "password": "rotated", "update_password": "always"})
    assert rotated["changed"] is True and pbs.config["remote"]["primary"]["password"] == "rotated"
    assert "rotated" not in json.dumps(rotated)


def test_sync_job_pull_then_push_and_clearing_the_schedule(pbs, api):
    run(pbs_remote, api, name="primary", host="pbs.example.com", auth_id="sync@pbs!pull", password="x")
    job = {"id": "pull-primary", "store": "offsite", "remote": "primary", "remote_store": "backups",
           "schedule": "04:00", "remove_vanished": False, "group_filter": ["type:ct", "type:vm"]}
    assert run(pbs_sync_job, api, **job)["changed"] is True
    assert "sync-direction" not in pbs.config["sync"]["pull-primary"]  # PBS 3.2 would reject it
    assert run(pbs_sync_job, api, **{**job, "group_filter": ["type:vm", "type:ct"]})["changed"] is False
    assert run(pbs_sync_job, api, **{**job, "direction": "pull"})["changed"] is False
    cleared = run(pbs_sync_job, api, **{**job, "schedule": ""})
    assert cleared["changed"] is True and "schedule" not in pbs.config["sync"]["pull-primary"]
    push = run(pbs_sync_job, api, id="push-offsite", store="backups", remote="primary", remote_store="offsite",
               direction="push")
    assert push["changed"] is True and pbs.config["sync"]["push-offsite"]["sync-direction"] == "push"


def test_pbs_3_2_rejects_push_with_its_own_words(tmp_path):
    with PBSStandIn(tmp_path, version="3.2.4") as old:
        api = {"api_host": "127.0.0.1", "api_port": old.port, "api_token_id": "root@pam!ansible",
               "api_token_secret": SECRET, "fingerprint": old.fingerprint}
        out = run(pbs_sync_job, api, id="p", store="a", remote_store="b", remote="r", direction="push")
    assert out["failed"] is True and "'sync-direction': schema does not allow additional properties" in out["msg"]


def test_datastore_create_waits_for_its_task_and_gc_schedule_is_an_option(pbs, api):
    store = {"name": "backups", "path": "/mnt/datastore/backups", "gc_schedule": "sat 03:00"}
    first = run(pbs_datastore, api, **store)
    assert first["changed"] is True and pbs.config["datastore"]["backups"]["gc-schedule"] == "sat 03:00"
    assert any(t["type"] == "create-datastore" for t in pbs.tasks.values())
    assert run(pbs_datastore, api, **store)["changed"] is False
    assert run(pbs_datastore, api, **{**store, "gc_schedule": "daily"})["changed"] is True
    moved = run(pbs_datastore, api, **{**store, "path": "/elsewhere"})
    assert moved["failed"] is True and "cannot be changed after creation" in moved["msg"]
    gone = run(pbs_datastore, api, name="backups", state="absent")
    assert gone["changed"] is True and pbs.config["datastore"] == {}
    assert writes(pbs)[-1][2]["destroy-data"] == "false"


def test_api_validation_errors_reach_the_user_verbatim(pbs, api):
    out = run(pbs_prune_job, api, id="bad", store="backups", schedule="daily", keep_daily=0)
    assert out["failed"] is True and "'keep-daily': value must have a minimum value of 1 (got 0)" in out["msg"]


def test_a_wrong_token_secret_is_a_clear_failure(pbs, api):
    out = run(pbs_verify_job, dict(api, api_token_secret="wrong-secret-value"), id="v", store="backups")
    assert out["failed"] is True and out["kind"] == "auth"
    assert "refused the API token root@pam!ansible" in out["msg"] and "list-tokens" in out["msg"]
    assert "wrong-secret-value" not in json.dumps(out)


def test_a_wrong_fingerprint_is_a_clear_failure_before_any_request(pbs, api):
    wrong = "ab:" * 31 + "ab"
    out = run(pbs_verify_job, dict(api, fingerprint=wrong), id="v", store="backups")
    assert out["failed"] is True and out["kind"] == "fingerprint", out
    assert pbs.fingerprint.lower() in out["msg"] and "proxmox-backup-manager cert info" in out["msg"]
    assert pbs.requests == []


def test_without_a_fingerprint_the_self_signed_certificate_is_refused(pbs, api):
    out = run(pbs_verify_job, dict(api, fingerprint=None), id="v", store="backups")
    assert out["failed"] is True and pbs.requests == []


@pytest.mark.parametrize("exitstatus,failed,words", [
    ("OK", False, None),
    ("WARNINGS: 2", True, "ended with WARNINGS: 2"),
    ("Error: connection refused by remote", True, "failed: Error: connection refused by remote"),
])
def test_job_run_waits_for_the_task_and_judges_its_exitstatus(pbs, api, exitstatus, failed, words):
    run(pbs_verify_job, api, id="v", store="backups")
    pbs.outcomes["v"] = (exitstatus, 0.3)
    out = run(pbs_job_run, api, type="verify", id="v", poll_interval=0.1, wait_timeout=10)
    assert out.get("failed", False) is failed, out
    assert out["exitstatus"] == exitstatus and out["upid"].startswith("UPID:localhost:") and ":verificationjob:v:" in out["upid"]
    if words:
        assert words in out["msg"] and "proxmox-backup-manager task log" in out["msg"]


def test_job_run_gc_and_allowed_warnings(pbs, api):
    run(pbs_datastore, api, name="backups", path="/mnt/datastore/backups")
    pbs.outcomes["backups"] = ("WARNINGS: 1", 0.1)
    out = run(pbs_job_run, api, type="gc", id="backups", poll_interval=0.1, allow_warnings=True)
    assert out["changed"] is True and "failed" not in out and ":garbage_collection:backups:" in out["upid"]


def test_job_run_times_out_clearly(pbs, api):
    run(pbs_prune_job, api, id="p", store="backups", schedule="daily", keep_last=3)
    pbs.outcomes["p"] = ("OK", 60)
    out = run(pbs_job_run, api, type="prune", id="p", poll_interval=0.2, wait_timeout=1)
    assert out["failed"] is True and out["kind"] == "timeout" and "still running after 1 s" in out["msg"]


def test_job_run_check_mode_starts_nothing_and_unknown_jobs_fail(pbs, api):
    out = run(pbs_job_run, api, check_mode=True, type="sync", id="nope")
    assert out["changed"] is True and pbs.tasks == {}
    missing = run(pbs_job_run, api, type="sync", id="nope")
    assert missing["failed"] is True and "sync job 'nope' does not exist" in missing["msg"]


def test_the_module_travels_through_ansible_with_its_engine(pbs, api):
    # Once through `ansible -m`: AnsiballZ must carry the pbs package's relative imports.
    from support.ansible_module import run_adhoc
    out = run_adhoc("pbs_prune_job", dict(api, id="keep", store="backups", schedule="daily", keep_daily=7))
    assert out["changed"] is True, out
    assert pbs.config["prune"]["keep"]["keep-daily"] == 7


def test_every_pbs_module_returns_what_it_documents(pbs, api):
    """RETURN against real runs: every documented key comes back from some run, none undocumented
    (support.return_docs; the other modules are compared in test_return_docs.py)."""
    from support import return_docs
    runs = {name: [] for name in ("pbs_datastore", "pbs_remote", "pbs_sync_job", "pbs_prune_job",
                                  "pbs_verify_job", "pbs_job_run")}

    def keep(module, check_mode=False, **args):
        out = run(module, api, check_mode=check_mode, diff=True, **args)
        runs[module.__name__.rsplit(".", 1)[-1]].append(out)
        return out

    keep(pbs_datastore, check_mode=True, name="backups", path="/mnt/datastore/backups", gc_schedule="daily")
    keep(pbs_datastore, name="backups", path="/mnt/datastore/backups", gc_schedule="daily")
    keep(pbs_datastore, name="backups", path="/mnt/datastore/backups", gc_schedule="daily")
    keep(pbs_remote, name="offsite", host="pbs2.example.com", auth_id="sync@pbs", password="a secret",
         remote_fingerprint="AA:" * 31 + "AA")
    keep(pbs_remote, name="offsite", host="pbs2.example.com", auth_id="sync@pbs", password="a secret",
         remote_fingerprint="AA:" * 31 + "AA")
    keep(pbs_sync_job, id="pull", store="backups", remote="offsite", remote_store="backups", schedule="hourly")
    keep(pbs_sync_job, id="pull", store="backups", remote="offsite", remote_store="backups", schedule="hourly")
    keep(pbs_prune_job, id="p", store="backups", schedule="daily", keep_daily=7)
    keep(pbs_prune_job, id="p", store="backups", schedule="daily", keep_daily=7)
    keep(pbs_verify_job, id="v", store="backups", schedule="weekly")
    keep(pbs_verify_job, id="v", store="backups", schedule="weekly")
    pbs.outcomes["v"] = ("OK", 0.1)
    keep(pbs_job_run, type="verify", id="v", poll_interval=0.1, wait_timeout=10)
    keep(pbs_job_run, check_mode=True, type="verify", id="v")
    pbs.outcomes["p"] = ("OK", 60)
    keep(pbs_job_run, type="prune", id="p", poll_interval=0.2, wait_timeout=1)
    wrong = dict(api, api_token_secret="00000000-0000-0000-0000-000000000000")
    for module, args in ((pbs_datastore, {"name": "backups"}), (pbs_remote, {"name": "offsite"}),
                         (pbs_sync_job, {"id": "pull"}), (pbs_prune_job, {"id": "p"}),
                         (pbs_verify_job, {"id": "v"})):
        refused = run(module, wrong, **args)
        assert refused["failed"] and refused["kind"] == "auth", refused
        runs[module.__name__.rsplit(".", 1)[-1]].append(refused)
    for name, results in runs.items():
        return_docs.assert_matches(name, results)
