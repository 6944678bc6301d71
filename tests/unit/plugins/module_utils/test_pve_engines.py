"""The PVE engines' request building and idempotence decisions, without a server: mount point property strings
compared parsed (PVE's canonical order, 1/0 booleans, defaults), the plan for running and stopped containers
(hot-plug versus pending), and backup jobs (prune-backups compared as a mapping, all versus vmid)."""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.pve import backup_job, lxc_mount
from ansible_collections.sovereign.cloud.plugins.module_utils.pve.client import PveError, explain

MEDIA = lxc_mount.desired_mount("/mnt/media", "/mnt/media", ro=True, backup=False)


def test_the_seed_mount_is_written_in_pve_canonical_form():
    assert lxc_mount.format_mount(MEDIA) == "/mnt/media,mp=/mnt/media,ro=1"
    assert lxc_mount.format_mount(lxc_mount.desired_mount("/srv", "/data", backup=True, extra={"acl": True})) == \
        "/srv,acl=1,backup=1,mp=/data"


@pytest.mark.parametrize("current", ["/mnt/media,mp=/mnt/media,ro=1", "/mnt/media,ro=true,mp=/mnt/media",
                                     "/mnt/media/,mp=/mnt/media,ro=1,backup=0", "/mnt/media,mp=/mnt/media/,ro=yes"])
def test_equivalent_spellings_are_the_same_mount(current):
    assert lxc_mount.same_mount(current, MEDIA)


@pytest.mark.parametrize("current", ["/mnt/media,mp=/mnt/media", "/mnt/media,mp=/media,ro=1",
                                     "/mnt/other,mp=/mnt/media,ro=1", None])
def test_a_different_mount_is_not_the_same(current):
    assert not lxc_mount.same_mount(current, MEDIA)


def test_plan_new_mount_on_a_running_container_is_hot_plugged_not_pending():
    step = lxc_mount.plan({"digest": "d"}, {}, True, "mp0", MEDIA)
    assert step["changed"] and step["params"] == {"mp0": "/mnt/media,mp=/mnt/media,ro=1"} and not step["pending"]


def test_plan_changed_mount_on_a_running_container_is_pending():
    old = {"mp0": "/mnt/media,mp=/mnt/media"}
    step = lxc_mount.plan(old, old, True, "mp0", MEDIA)
    assert step["changed"] and step["pending"]
    assert lxc_mount.plan(old, old, False, "mp0", MEDIA)["pending"] is False


def test_plan_already_staged_change_is_unchanged_but_still_pending():
    step = lxc_mount.plan({"mp0": "/mnt/media,mp=/mnt/media,ro=1"}, {"mp0": "/mnt/media,mp=/mnt/media"}, True,
                          "mp0", MEDIA)
    assert not step["changed"] and step["pending"] and step["params"] == {}


def test_plan_absent_sends_delete_and_nothing_when_gone():
    step = lxc_mount.plan({"mp1": "/x,mp=/x"}, {"mp1": "/x,mp=/x"}, False, "mp1", None)
    assert step["params"] == {"delete": "mp1"} and step["changed"] and not step["pending"]
    assert not lxc_mount.plan({}, {}, True, "mp1", None)["changed"]


def test_extra_cannot_override_the_paths():
    with pytest.raises(PveError, match="host_path and container_path"):
        lxc_mount.desired_mount("/a", "/b", extra={"mp": "/c"})


def test_bind_mounts_and_volumes_are_told_apart():
    assert lxc_mount.is_bind({"volume": "/mnt/media"})
    assert not lxc_mount.is_bind({"volume": "local-lvm:vm-151-disk-1"})
    assert not lxc_mount.is_bind({"volume": "/dev/sdb1"})


# ----------------------------------------------------------------- backup jobs

SEED = {"schedule": "02:00", "storage": "pbs-1250p", "all": True, "mode": "snapshot",
        "prune_backups": {"keep-daily": 7, "keep-weekly": 4, "keep-monthly": 6}, "notes_template": "{{guestname}}"}


@pytest.mark.parametrize("value", ["keep-daily=7,keep-weekly=4,keep-monthly=6",
                                   "keep-monthly=6,keep-daily=7,keep-weekly=4",
                                   {"keep_daily": 7, "keep_weekly": "4", "keep_monthly": 6, "keep_yearly": 0},
                                   {"keep-all": False, "keep-daily": 7, "keep-weekly": 4, "keep-monthly": 6}])
def test_prune_backups_is_compared_as_a_mapping(value):
    assert backup_job.canonical("prune-backups", value) == "keep-daily=7,keep-weekly=4,keep-monthly=6"


def test_keep_all_from_the_object_pve_returns():
    assert backup_job.canonical("prune-backups", {"keep-all": True}) == "keep-all=1"


def test_prune_backups_rejects_unknown_keys_and_non_numbers():
    with pytest.raises(PveError, match="unknown key 'keep-days'"):
        backup_job.parse_prune("keep-days=7")
    with pytest.raises(PveError, match="whole number"):
        backup_job.parse_prune({"keep-daily": "seven"})


def test_create_request_for_the_seed_job():
    step = backup_job.plan(None, backup_job.desired_from_options(SEED), "present")
    assert step["action"] == "create"
    assert step["params"] == {"schedule": "02:00", "storage": "pbs-1250p", "all": "1",
                              "prune-backups": "keep-daily=7,keep-weekly=4,keep-monthly=6",
                              "notes-template": "{{guestname}}"}


def test_the_job_as_pve_returns_it_needs_nothing():
    job = {"id": "daily-0200", "type": "vzdump", "enabled": 1, "schedule": "02:00", "storage": "pbs-1250p",
           "all": 1, "mode": "snapshot", "prune-backups": "keep-monthly=6,keep-weekly=4,keep-daily=7",
           "notes-template": "{{guestname}}", "next-run": 1764810000}
    assert backup_job.plan(job, backup_job.desired_from_options(SEED), "present")["action"] == "none"


def test_update_sends_only_what_differs_and_notes_template_brings_storage():
    job = {"id": "j", "schedule": "03:00", "storage": "pbs-1250p", "all": 1, "notes-template": "x"}
    step = backup_job.plan(job, backup_job.desired_from_options(SEED), "present")
    assert step["action"] == "update"
    assert step["params"] == {"schedule": "02:00", "prune-backups": "keep-daily=7,keep-weekly=4,keep-monthly=6",
                              "notes-template": "{{guestname}}", "storage": "pbs-1250p"}


def test_switching_between_all_and_vmids_removes_the_other():
    to_all = backup_job.plan({"id": "j", "vmid": "151,152"}, {"all": True}, "present")
    assert to_all["params"] == {"all": "1"} and to_all["delete"] == ["vmid"]
    to_ids = backup_job.plan({"id": "j", "all": 1}, {"vmid": [152, 151]}, "present")
    assert to_ids["params"] == {"vmid": "151,152", "all": "0"}


def test_a_new_job_needs_guests_and_not_both_kinds():
    with pytest.raises(PveError, match="all: true or vmids"):
        backup_job.plan(None, {"schedule": "02:00"}, "present")
    with pytest.raises(PveError, match="not both"):
        backup_job.desired_from_options({"all": True, "vmids": [151]})


def test_disabling_and_clearing_a_comment():
    step = backup_job.plan({"id": "j", "all": 1, "comment": "old"}, {"enabled": False, "comment": ""}, "present")
    assert step["params"] == {"enabled": "0"} and step["delete"] == ["comment"]


def test_absent_deletes_only_an_existing_job():
    assert backup_job.plan({"id": "j", "all": 1}, {}, "absent")["action"] == "delete"
    assert backup_job.plan(None, {}, "absent")["action"] == "none"


# ------------------------------------------------------------------- errors

def test_pve_refusals_are_explained():
    bind = explain(403, "Permission check failed (mount point type bind is only allowed for root@pam)", None,
                   "PUT /nodes/n/lxc/151/config", "root@pam!ansible")
    assert bind.kind == "bind_mount" and "api_password" in bind.msg and "backend: local" in bind.msg
    priv = explain(403, "Permission check failed (/vms/151, VM.Config.Disk)", None, "PUT x", "ops@pve")
    assert priv.kind == "permission" and "lacks the privilege VM.Config.Disk on /vms/151" in priv.msg
    assert "pveum acl modify /vms/151 --roles PVEVMAdmin --users ops@pve" in priv.msg
    gone = explain(500, "Configuration file 'nodes/pve1/lxc/999.conf' does not exist", None, "GET x", "root@pam")
    assert gone.kind == "not_found" and "container 999 does not exist on node pve1" in gone.msg
    bad = explain(400, "Parameter verification failed.", {"mp0": "invalid format"}, "PUT x", "root@pam")
    assert bad.kind == "api" and "mp0: invalid format" in bad.msg
