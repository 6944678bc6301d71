"""playbooks/site.yml with the example inventory inventory/examples/proxmox_photo_vault against two PBS STAND-INS
(tests/support/pbs_standin.py, "pbs-1250p" and "pbs-n6005" on 127.0.0.1/127.0.0.2; PBS cannot run here): check mode
first (writes nothing), converge, a second run with changed=0, the seed's jobs and retention read back from the
stand-ins, and a preflight that names a missing privilege before anything is written.

The proxmox_hosts play (pve_host role, its API tasks) runs the same way against the PVE STAND-IN
(tests/support/pve_standin.py: fakepve 0.5.0 plus stored backup jobs and the storage secrets PVE keeps apart, node
"intel-1250p" on 127.0.0.3, the Immich container running), including a renewed PBS certificate applied to the
storage entry on the next run. The media backup part of the role is proven in molecule (scenario pve_host), so it is off here."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
from support.pbs_standin import PBSStandIn  # noqa: E402  pylint: disable=wrong-import-position
from support.pve_standin import PVEStandIn  # noqa: E402  pylint: disable=wrong-import-position
EXAMPLE = REPO / "inventory" / "examples" / "proxmox_photo_vault"
ANSIBLE = "11111111-2222-3333-4444-555555555555"
CLIENTS = {"pve@pbs!pve": "pve-secret", "pve@pbs!media": "media-secret", "sync@pbs!n6005": "sync-secret"}


@pytest.fixture
def standins(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with PBSStandIn(tmp_path / "a", tokens={"root@pam!ansible": ANSIBLE, **CLIENTS}) as primary, \
            PBSStandIn(tmp_path / "b", tokens={"root@pam!ansible": ANSIBLE}, host="127.0.0.2") as replica:
        yield {"pbs-1250p": primary, "pbs-n6005": replica}


def inventory(tmp_path: Path, standins: dict) -> Path:
    """The example inventory as shipped, plus one file pointing its PBS hosts at the stand-ins."""
    inv = tmp_path / "inventory"
    shutil.copytree(EXAMPLE, inv)
    hosts = {name: {"ansible_host": "127.0.0.1" if name == "pbs-1250p" else "127.0.0.2",
                    "pbs_server_api_port": pbs.port} for name, pbs in standins.items()}
    (inv / "zz-standins.yml").write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "auto_silent"},
        "children": {"pbs_servers": {"hosts": hosts}}}}))
    return inv


def extravars(standins: dict) -> dict:
    # The vault's example values (so every play's variables resolve), then the stand-ins' own.
    example = yaml.safe_load((EXAMPLE / "group_vars" / "all" / "vault.yml.example").read_text())
    return {**example, "sovereign_pbs_fingerprints": {name: pbs.fingerprint for name, pbs in standins.items()},
            "vault_pbs_api_token_secrets": {name: ANSIBLE for name in standins},
            "vault_pbs_sync_token_secret": CLIENTS["sync@pbs!n6005"]}


def test_pbs_plays_plan_then_converge_then_change_nothing(run_playbook, tmp_path, standins):
    inv = inventory(tmp_path, standins)
    plan = run_playbook("site.yml", inv, extravars(standins), tags="pbs_server", check=True, limit="pbs_servers")
    assert plan.rc == 0, plan.stdout[-3000:]
    assert plan.count("changed", "pbs-1250p") >= 3 and plan.count("changed", "pbs-n6005") >= 4, plan.stats
    assert not [r for pbs in standins.values() for r in pbs.requests if r[0] != "GET"], "check mode wrote"

    first = run_playbook("site.yml", inv, extravars(standins), tags="pbs_server", limit="pbs_servers")
    assert first.rc == 0 and first.failed == 0, first.stdout[-3000:]
    second = run_playbook("site.yml", inv, extravars(standins), tags="pbs_server", limit="pbs_servers")
    assert second.rc == 0 and second.changed == 0, second.stdout[-3000:]

    primary, replica = standins["pbs-1250p"].config, standins["pbs-n6005"].config
    assert primary["datastore"]["backups"]["gc-schedule"] == "sat 03:00"
    assert {k: v for k, v in primary["prune"]["keep-7-4-6"].items() if k.startswith("keep-")} == \
        {"keep-daily": 7, "keep-weekly": 4, "keep-monthly": 6}
    assert primary["verify"]["verify-weekly"]["schedule"] == "sun 04:00"
    # The receiving side: the remote and a pull after the night's backups, kept longer (30+ days).
    assert replica["remote"]["pbs-1250p"]["auth-id"] == "sync@pbs!n6005"
    assert replica["remote"]["pbs-1250p"]["password"] == CLIENTS["sync@pbs!n6005"]
    assert replica["sync"]["pull-pbs-1250p"] == {
        "store": "replica", "remote": "pbs-1250p", "remote-store": "backups", "schedule": "05:00",
        "remove-vanished": False}
    assert replica["prune"]["keep-35-8-12"]["keep-daily"] >= 30
    assert "sync" not in primary or not primary["sync"]


def test_a_missing_privilege_stops_the_run_before_any_write_and_is_named(run_playbook, tmp_path, standins):
    admin = {p: True for p in ("Datastore.Audit", "Datastore.Allocate", "Datastore.Modify")}
    standins["pbs-1250p"].acls = {"root@pam!ansible": {"/": admin},
                                  "pve@pbs!pve": {"/datastore/backups": {"Datastore.Audit": True}},
                                  "pve@pbs!media": {"/datastore/backups": {"Datastore.Backup": True}},
                                  "sync@pbs!n6005": {"/datastore": {"Datastore.Read": True, "Datastore.Audit": True}}}
    inv = inventory(tmp_path, standins)
    run = run_playbook("site.yml", inv, extravars(standins), tags="pbs_server", limit="pbs-1250p")
    assert run.rc != 0
    assert "pve@pbs!pve lacks Datastore.Backup on /datastore/backups" in run.stdout
    assert "proxmox-backup-manager acl update /datastore/backups DatastoreBackup --auth-id 'pve@pbs!pve'" in run.stdout
    assert not [r for r in standins["pbs-1250p"].requests if r[0] != "GET"]


IMMICH_CTID = yaml.safe_load((EXAMPLE / "group_vars" / "all" / "vars.yml").read_text())["sovereign_immich_ctid"]


@pytest.fixture
def pve(tmp_path):
    (tmp_path / "pve").mkdir()
    with PVEStandIn(tmp_path / "pve", host="127.0.0.3", password="root-pw", node="intel-1250p") as standin:
        standin.add_ct(IMMICH_CTID, "immich", node="intel-1250p", status="running")
        yield standin


def example_vault() -> dict:
    return yaml.safe_load((EXAMPLE / "group_vars" / "all" / "vault.yml.example").read_text())


def pve_run(run_playbook, tmp_path, pve, check=False):
    inv = tmp_path / "inventory-pve"
    if not inv.exists():
        shutil.copytree(EXAMPLE, inv)
        (inv / "zz-standins.yml").write_text(yaml.safe_dump({"all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "auto_silent"},
            "children": {"proxmox_hosts": {"hosts": {"intel-1250p": {
                "ansible_host": pve.host, "pve_host_api_port": pve.port}}}}}}))
    example = yaml.safe_load((EXAMPLE / "group_vars" / "all" / "vault.yml.example").read_text())
    extra = {**example, "vault_pve_root_password": "root-pw", "sovereign_pve_fingerprint": pve.fingerprint,
             "pve_host_media_backups": [],
             # The base role's defaults: its play is not part of this run, but the other plays on intel-1250p
             # (restic_backup, ...) validate their arguments (tag always), which refer to them.
             "base_state_dir": "/var/lib/sovereign-cloud", "base_lib_dir": "/usr/local/lib/sovereign"}
    return run_playbook("site.yml", inv, extra, tags="pve_host", check=check, limit="proxmox_hosts")


def test_pve_play_plans_then_converges_then_changes_nothing(run_playbook, tmp_path, pve):
    plan = pve_run(run_playbook, tmp_path, pve, check=True)
    assert plan.rc == 0, plan.stdout[-3000:]
    assert plan.count("changed", "intel-1250p") >= 3, plan.stats
    assert not pve.writes, f"check mode wrote: {pve.writes}"
    # --check --diff shows the plan: the mount point and the job as they would be.
    assert "/mnt/media,mp=/mnt/media,ro=1" in plan.stdout and "keep-daily=7,keep-weekly=4,keep-monthly=6" in plan.stdout
    # ... and the PBS storage entry, its password only said to be sent.
    assert '"datastore": "backups"' in plan.stdout and '"password": "(not shown)"' in plan.stdout, plan.stdout[-3000:]

    first = pve_run(run_playbook, tmp_path, pve)
    assert first.rc == 0 and first.failed == 0, first.stdout[-3000:]
    second = pve_run(run_playbook, tmp_path, pve)
    assert second.rc == 0 and second.changed == 0, second.stdout[-3000:]

    # The seed: the Immich container sees the media dataset read-only ...
    assert pve.ct(IMMICH_CTID).config["mp0"] == "/mnt/media,mp=/mnt/media,ro=1"
    assert not pve.ct(IMMICH_CTID).pending
    # ... every guest is backed up daily at 2 AM to the PBS entry, keeping 7 daily, 4 weekly, 6 monthly.
    job = pve.backup_jobs["daily-0200"]
    assert job["schedule"] == "02:00" and job["storage"] == "pbs-1250p" and str(job["all"]) == "1"
    assert job["prune-backups"] == "keep-daily=7,keep-weekly=4,keep-monthly=6"
    assert job["notes-template"] == "{{guestname}}"
    storage = pve.storages["pbs-1250p"]
    assert storage["type"] == "pbs" and storage["server"] == "192.168.1.52" and storage["datastore"] == "backups"
    assert pve.storage_secrets["pbs-1250p"]["password"] == example_vault()["vault_pbs_pve_token_secret"]
    pinned = storage["fingerprint"]

    # The PBS certificate was renewed: the entry still pins the old one (as it did before the inventory's
    # sovereign_pbs_fingerprints was updated). The next run applies the inventory's pin, and nothing else.
    storage["fingerprint"] = "00:" * 31 + "01"
    renewed = pve_run(run_playbook, tmp_path, pve)
    assert renewed.rc == 0 and renewed.changed == 1, renewed.stdout[-3000:]
    assert pve.storages["pbs-1250p"]["fingerprint"] == pinned
    # The token secret PVE logs in to the PBS with is in no output (the loop runs over indexes, not items).
    secret = example_vault()["vault_pbs_pve_token_secret"]
    assert not [run for run in (plan, first, second, renewed) if secret in run.stdout]
    assert [r[0] for r in pve.writes if r[1].startswith("/api2/json/storage")][-1] == "PUT"


def test_pve_play_reports_a_mount_change_pending_on_the_running_container(run_playbook, tmp_path, pve):
    # The Immich container already has mp0, read-write: PVE stages the change until the container restarts.
    pve.ct(IMMICH_CTID).config["mp0"] = "/mnt/media,mp=/mnt/media"
    run = pve_run(run_playbook, tmp_path, pve)
    assert run.rc == 0 and run.failed == 0, run.stdout[-3000:]
    assert pve.ct(IMMICH_CTID).pending == {"mp0": "/mnt/media,mp=/mnt/media,ro=1"}
    assert pve.ct(IMMICH_CTID).config["mp0"] == "/mnt/media,mp=/mnt/media"
    assert f"pending until the container restarts (pct reboot {IMMICH_CTID})" in run.stdout
    assert not [r for r in pve.requests if "/status/reboot" in r[1]], "restarted without restart: true"
