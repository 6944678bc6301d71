"""The PVE node's media backup on real systemd, with the proxmox-backup-client STAND-IN: units, env file, a run
that writes its JSON status and a snapshot, the monthly drill against the catalog, and a wrong fingerprint that
fails the unit and fires the base role's notifier."""

from __future__ import annotations

import json


def test_env_file_is_root_only_and_holds_the_repository_and_fingerprint(host):
    env = host.file("/etc/sovereign/pbs/media.env")
    assert env.user == "root" and env.mode == 0o600
    assert 'PBS_REPOSITORY="pve@pbs!media@pbs-1250p.example.com:8007:backups"' in env.content_string
    assert "PBS_FINGERPRINT=" in env.content_string and "PBS_PASSWORD=" in env.content_string


def test_service_waits_for_the_mount_and_notifies_on_failure(host):
    unit = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show sovereign-pbs-backup-media.service -p RequiresMountsFor -p OnFailure").splitlines())
    # PrivateTmp= adds /var/tmp to the list.
    assert "/mnt/media" in unit["RequiresMountsFor"].split()
    assert unit["OnFailure"] == "sovereign-notify@sovereign-pbs-backup-media.service.service"
    assert host.service("sovereign-pbs-backup-media.timer").is_enabled
    assert host.service("sovereign-pbs-drill-media.timer").is_enabled


def test_a_run_backs_up_the_media_and_records_its_status(host):
    host.run_test("systemctl start sovereign-pbs-backup-media.service")
    doc = json.loads(host.file("/var/lib/sovereign-cloud/status/pbs.backup--media.json").content_string)
    assert doc["ok"] is True, doc
    calls = [json.loads(line) for line in host.file("/var/lib/pbs-standin/calls.jsonl").content_string.splitlines()]
    assert calls[-1]["argv"][:2] == ["backup", "media.pxar:/mnt/media"]
    assert host.file("/var/lib/pbs-standin/backups/host/intel-1250p").is_directory


def test_the_drill_restores_a_sample_identical_to_the_catalog(host):
    host.run_test("systemctl start sovereign-pbs-drill-media.service")
    doc = json.loads(host.file("/var/lib/sovereign-cloud/status/pbs.restore_drill--media.json").content_string)
    assert doc["ok"] is True and doc["details"]["sample"] == 4, doc


def test_a_wrong_fingerprint_fails_the_unit_and_notifies(host):
    host.run_test("sed -i 's/^PBS_FINGERPRINT=.*/PBS_FINGERPRINT=\"%s\"/' /etc/sovereign/pbs/media.env", "cd:" * 31 + "cd")
    assert host.run("systemctl start sovereign-pbs-backup-media.service").rc != 0
    doc = json.loads(host.file("/var/lib/sovereign-cloud/status/pbs.backup--media.json").content_string)
    assert doc["ok"] is False and "proxmox-backup-manager cert info" in doc["summary"]
    host.run("for i in 1 2 3 4 5 6 7 8 9 10; do grep -q pbs-backup /var/lib/sovereign-cloud/notified.txt && break; sleep 1; done")
    assert "sovereign-pbs-backup-media.service" in host.file("/var/lib/sovereign-cloud/notified.txt").content_string
