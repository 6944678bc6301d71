"""What a user checks after the restic_backup role: real restic, real systemd units, real restores.

The tests run in file order on one host: backup through the job's systemd service, retention on a
series of fabricated past snapshots, the weekly check, a restore with identical hashes, and a
failing job whose OnFailure= notice fires.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

PASSWORD = "fam\"ily \\ `b$ck' #up 2026"  # as in vault.yml (encrypted)
STATE = "/var/lib/sovereign-cloud/restic"


def restic_json(host, *args):
    out = host.run("sovereign-restic local " + " ".join(args))
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def state(host, name):
    return json.loads(host.file(f"{STATE}/{name}.json").content_string)


def start(host, unit):
    return host.run(f"systemctl start {unit}")


# ------------------------------------------------------------------------------ installation
def test_restic_is_installed(host):
    assert host.package("restic").is_installed
    assert "restic 0.14" in host.check_output("restic version")


def test_env_files_are_root_only_and_hold_the_exact_secrets(host):
    for name in ("local", "offsite"):
        env = host.file(f"/etc/sovereign/restic/{name}.env")
        assert env.user == "root" and env.mode == 0o600, name
    assert host.file("/etc/sovereign/restic").mode == 0o700
    # What bash (and systemd) read back is the password byte for byte, quotes and dollars included.
    read = host.run("bash -c 'set -a; . /etc/sovereign/restic/offsite.env; "
                    "printf \"%s\\n%s\\n%s\\n%s\" \"$RESTIC_REPOSITORY\" \"$RESTIC_PASSWORD\" "
                    "\"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\"'")
    assert read.stdout.split("\n") == ["s3:s3.us-west-004.backblazeb2.com/sc-molecule/server", PASSWORD,
                                       "004a1b2c3d4e5f60000000001", "K004s3cr3t/Key+With$Dollar"]
    assert host.file("/etc/sovereign/notify.json").mode == 0o600


def test_the_local_repository_was_initialised_and_opens(host):
    assert host.file("/srv/backup/restic/config").exists
    assert restic_json(host, "cat", "config")["version"] == 2


def test_timers_are_enabled_for_enabled_jobs_and_the_check(host):
    for unit in ("sovereign-restic-documents.timer", "sovereign-restic-photos.timer",
                 "sovereign-restic-check-local.timer"):
        assert host.service(unit).is_enabled, unit
        assert host.service(unit).is_running, unit
    assert not host.service("sovereign-restic-server-state.timer").is_enabled
    assert not host.file("/etc/systemd/system/sovereign-restic-check-offsite.timer").exists
    timers = host.check_output("systemctl list-timers --all --no-legend")
    assert "sovereign-restic-photos.timer" in timers


def test_units_of_removed_jobs_are_gone(host):
    assert not host.file("/etc/systemd/system/sovereign-restic-oldjob.timer").exists
    assert not host.file("/etc/systemd/system/sovereign-restic-oldjob.service").exists
    assert "oldjob" not in host.check_output("systemctl list-timers --all --no-legend")


def test_each_job_and_check_says_what_to_expect_of_it(host):
    expect = "/etc/sovereign/status.d"
    for kind, name, every, unit in (("restic.backup", "documents", 86400, "sovereign-restic-documents.service"),
                                    ("restic.backup", "photos", 86400, "sovereign-restic-photos.service"),
                                    ("restic.check", "local", 604800, "sovereign-restic-check-local.service")):
        item = host.file(f"{expect}/{kind}--{name}.json")
        assert (item.user, item.mode) == ("root", 0o644), name
        doc = json.loads(item.content_string)
        assert (doc["kind"], doc["name"], doc["fix"]) == (kind, name, f"systemctl start {unit}"), name
        assert doc["every"] == every, doc
        assert host.file(f"/etc/systemd/system/{unit}").exists, unit
    # a disabled job, a removed one and a repository without a check expect nothing; another role's file stays
    for gone in ("restic.backup--server-state", "restic.backup--oldjob", "restic.check--offsite"):
        assert not host.file(f"{expect}/{gone}.json").exists, gone
    assert host.file(f"{expect}/zfs.scrub--tank.json").exists


# ------------------------------------------------------------------------------ a backup
def forget_all(host, job):
    # Verify may run again on the same host (molecule verify while developing): start from no snapshots.
    ids = [s["id"] for s in restic_json(host, "snapshots", "--json", "--tag", f"sovereign-job:{job}")]
    if ids:
        assert host.run("sovereign-restic local forget " + " ".join(ids)).rc == 0


def test_a_backup_through_the_systemd_service(host):
    forget_all(host, "documents")
    assert start(host, "sovereign-restic-documents.service").rc == 0
    result = state(host, "documents")
    assert result["status"] == "ok" and result["rc"] == 0
    assert result["stats"]["files_new"] == 5  # draft.tmp is excluded
    assert result["forget"]["kept"] >= 1 and result["forget"]["removed"] == 0
    assert result["last_success_snapshot"] == result["snapshot_id"]
    [snap] = restic_json(host, "snapshots", "--json", "--tag", "sovereign-job:documents")
    assert snap["short_id"] == result["snapshot_id"]
    assert snap["paths"] == ["/srv/data/documents"]
    assert set(snap["tags"]) == {"sovereign-job:documents", "documents"}
    listing = host.check_output(f"sovereign-restic local ls {snap['short_id']}")
    assert "letter-5.pdf" in listing and "draft.tmp" not in listing
    assert host.file(f"{STATE}/documents.json").mode == 0o644
    assert not [n for n in host.check_output(f"ls -A {STATE}").split() if n.startswith(".")]  # no temp file left


def test_a_backup_to_the_nas_over_sftp(host):
    assert host.file("/srv/sftp/restic/config").user == "restic"  # initialised over SFTP as the NAS account
    assert start(host, "sovereign-restic-documents-nas.service").rc == 0
    result = state(host, "documents-nas")
    assert result["status"] == "ok", result
    snapshots = json.loads(host.check_output("sovereign-restic nas snapshots --json"))
    assert [s["short_id"] for s in snapshots] == [result["snapshot_id"]]
    listing = host.check_output(f"sovereign-restic nas ls {snapshots[0]['short_id']}")
    assert "letter-5.pdf" in listing and "draft.tmp" not in listing


# ------------------------------------------------------------------------------ retention
PAST = (["2026-%02d-%02d" % (m, 15) for m in range(1, 10)]           # monthly, Jan..Sep
        + ["2026-10-%02d" % d for d in (1, 8, 15, 22, 29)]           # weekly in October
        + ["2026-11-%02d" % d for d in range(1, 13)])                # daily, Nov 1..12


def expected_kept(times: list[datetime], daily=7, weekly=4, monthly=6) -> int:
    """restic's bucket rule, newest first: a snapshot is kept when it opens a new day/week/month
    bucket while that rule still has a count left."""
    left = {"d": daily, "w": weekly, "m": monthly}
    last: dict[str, object] = {}
    kept = 0
    for t in sorted(times, reverse=True):
        keys = {"d": t.date(), "w": t.isocalendar()[:2], "m": (t.year, t.month)}
        keep = False
        for rule, key in keys.items():
            if left[rule] > 0 and last.get(rule) != key:
                last[rule], left[rule], keep = key, left[rule] - 1, True
        kept += keep
    return kept


def test_retention_applies_the_photo_vault_policy_to_a_series_of_snapshots(host):
    hostname = host.check_output("hostname")
    forget_all(host, "photos")
    for day in PAST:
        out = host.run(f"sovereign-restic local backup -q --host {hostname} --tag sovereign-job:photos "
                       f"--tag photos --time '{day} 03:00:00' /srv/vault")
        assert out.rc == 0, out.stderr
    documents_before = len(restic_json(host, "snapshots", "--json", "--tag", "sovereign-job:documents"))

    assert start(host, "sovereign-restic-photos.service").rc == 0

    result = state(host, "photos")
    assert result["status"] == "ok", result["errors"]
    remaining = restic_json(host, "snapshots", "--json", "--tag", "sovereign-job:photos")
    times = [datetime.fromisoformat(s["time"][:19]) for s in remaining]
    assert result["forget"]["kept"] == len(remaining)
    assert result["forget"]["removed"] == len(PAST) + 1 - len(remaining)
    assert result["forget"]["removed"] > 0 and result["pruned"] is True
    all_times = [datetime.fromisoformat(f"{d}T03:00:00") for d in PAST]
    all_times.append(max(times))  # the job's own snapshot, now
    assert len(remaining) == expected_kept(all_times)
    # The newest 7 days with a snapshot are all still there.
    newest_days = sorted({t.date() for t in all_times}, reverse=True)[:7]
    assert newest_days == sorted({t.date() for t in times}, reverse=True)[:7]
    # Another job's snapshots in the same repository are never touched by this job's policy.
    assert len(restic_json(host, "snapshots", "--json", "--tag", "sovereign-job:documents")) == documents_before


# ------------------------------------------------------------------------------ check and restore
def test_the_weekly_check_reads_the_data_and_reports(host):
    assert start(host, "sovereign-restic-check-local.service").rc == 0
    result = state(host, "check-local")
    assert result["status"] == "ok" and result["subset"] == "100%" and result["errors"] == []


def test_a_restore_gives_back_identical_files(host):
    host.run("rm -rf /tmp/restore")
    out = host.run("sovereign-restic local restore latest --tag sovereign-job:photos --target /tmp/restore")
    assert out.rc == 0, out.stderr
    hashes = "cd {}/srv/vault/originals && find . -type f | sort | xargs sha256sum"
    originals = host.check_output(hashes.format(""))
    restored = host.check_output(hashes.format("/tmp/restore"))
    assert restored == originals and originals.count("\n") == 5


def test_the_restore_drills_are_recorded_in_the_catalog(host):
    # side_effect.yml ran a dry drill (recorded nothing), a passing one and one that had to fail.
    rows = host.check_output("sqlite3 /srv/vault/catalog.sqlite "
                             "'SELECT passed, sample_count, failed_count FROM restore_drills ORDER BY id'")
    assert rows.splitlines()[-2:] == ["1|6|0", "0|6|6"]
    statuses = host.check_output("sqlite3 /srv/vault/catalog.sqlite 'SELECT status, COUNT(*) FROM "
                                 "restore_drill_files GROUP BY drill_id, status ORDER BY drill_id'")
    assert statuses.splitlines()[-2:] == ["ok|6", "missing|6"]
    assert host.run("ls /tmp/sovereign-drill-* 2>/dev/null").stdout == "", "drill directories are cleaned up"


# ------------------------------------------------------------------------------ failure
@pytest.fixture
def documents_unmounted(host):
    host.run("mv /srv/data/documents /srv/data/documents.away")
    yield
    host.run("mv /srv/data/documents.away /srv/data/documents")


def test_a_failed_job_records_why_and_sends_a_notice(host, documents_unmounted):
    host.run("rm -f /var/lib/sovereign-cloud/notified.txt")
    before = state(host, "documents")
    assert start(host, "sovereign-restic-documents.service").rc != 0
    result = state(host, "documents")
    assert result["status"] == "failed" and result["phase"] == "backup"
    assert "none of the job's paths exist" in result["errors"][0]
    assert result["last_success_snapshot"] == before["snapshot_id"]  # the report still knows the last good one
    assert host.service("sovereign-restic-documents.service").is_running is False
    notified = host.run("for i in $(seq 50); do grep -q sovereign-restic-documents.service "
                        "/var/lib/sovereign-cloud/notified.txt 2>/dev/null && exit 0; sleep 0.2; done; exit 1")
    assert notified.rc == 0, "the OnFailure notice did not run the notify command"
    journal = host.check_output("journalctl -u sovereign-notify@sovereign-restic-documents.service.service -o cat")
    assert "sovereign-restic-documents.service failed" in journal
