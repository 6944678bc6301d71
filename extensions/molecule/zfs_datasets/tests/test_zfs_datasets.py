"""What a user checks after the zfs_datasets role, on real ZFS (zfs-fuse 0.7 with a pool on a file)."""

from __future__ import annotations

import json

import pytest

STATUS = "/var/lib/sovereign-cloud/zfs/scrub-rpool.json"
SCRIPT = "/usr/bin/python3 /usr/local/libexec/sovereign-cloud/zpool-scrub-status"


def zfs_get(host, dataset: str, *props: str) -> dict:
    out = host.check_output(f"zfs get -H -o property,value,source {','.join(props)} {dataset}")
    return {prop: (value, source) for prop, value, source in (line.split("\t") for line in out.splitlines())}


def test_media_dataset_has_its_properties(host):
    props = zfs_get(host, "rpool/media", "compression", "atime", "mountpoint", "mounted")
    # gzip here because zfs-fuse refuses lz4 (see molecule.yml); atime=off as on real hosts.
    assert props["compression"] == ("gzip", "local")
    assert props["atime"] == ("off", "local")
    assert props["mountpoint"] == ("/mnt/media", "local")
    assert props["mounted"][0] == "yes"


def test_media_dataset_is_what_is_mounted_at_the_mountpoint(host):
    mount = host.mount_point("/mnt/media")
    assert mount.exists
    assert mount.device == "rpool/media"
    assert mount.filesystem == "fuse.zfs"


def test_media_mountpoint_belongs_to_the_service_account(host):
    media = host.file("/mnt/media")
    assert media.user == "sovereign"
    assert media.group == "sovereign"
    assert media.mode == 0o750


def test_added_dataset_inherits_its_mountpoint_and_gets_its_own_properties(host):
    props = zfs_get(host, "rpool/media/archive", "compression", "recordsize", "mountpoint", "mounted",
                    "org.sovereign-cloud:purpose")
    assert props["mountpoint"] == ("/mnt/media/archive", "inherited from rpool/media")
    assert props["mounted"][0] == "yes"
    assert props["compression"] == ("gzip", "local")
    assert props["recordsize"] == ("128K", "local")
    assert props["org.sovereign-cloud:purpose"] == ("archive", "local")
    archive = host.file("/mnt/media/archive")
    assert (archive.user, archive.group, archive.mode) == ("sovereign", "sovereign", 0o755)
    assert host.mount_point("/mnt/media/archive").device == "rpool/media/archive"


def test_service_account_can_write_to_the_media_dataset(host):
    out = host.run("sudo -u sovereign -- sh -c 'head -c 1048576 /dev/urandom > /mnt/media/probe.bin && sha256sum /mnt/media/probe.bin'")
    assert out.rc == 0, out.stderr
    assert host.check_output("zfs get -H -o value used rpool/media") != "0"


def test_scrub_timer_is_enabled_and_monthly(host):
    timer = host.service("sovereign-zpool-scrub-rpool.timer")
    assert timer.is_enabled
    assert timer.is_running
    assert host.check_output("systemctl show -P TimersCalendar sovereign-zpool-scrub-rpool.timer").startswith(
        "{ OnCalendar=*-*-01 03:00:00 ;")


@pytest.fixture(scope="module")
def scrub_status(host):
    """Run the scrub service once, as the timer would, and read what it wrote."""
    data = host.run("sha256sum /mnt/media/probe.bin")
    result = host.run("systemctl start sovereign-zpool-scrub-rpool.service")
    assert result.rc == 0, result.stderr + host.run("journalctl -u sovereign-zpool-scrub-rpool --no-pager").stdout
    assert host.run("sha256sum /mnt/media/probe.bin").stdout == data.stdout
    return json.loads(host.file(STATUS).content_string)


def test_scrub_status_is_json_a_report_can_read(host, scrub_status):
    assert scrub_status["schema"] == 1
    assert scrub_status["pool"] == "rpool"
    assert scrub_status["result"] == "ok"
    assert scrub_status["state"] == "ONLINE"
    assert scrub_status["errors"] == 0
    assert scrub_status["repaired_bytes"] == 0
    assert scrub_status["data_errors"] == "No known data errors"
    assert scrub_status["counters"] == {"read": 0, "write": 0, "cksum": 0}
    assert scrub_status["started"] <= scrub_status["finished"]
    assert scrub_status["scan"].startswith("scrub completed")
    assert "rpool" in scrub_status["status_excerpt"]
    status = host.file(STATUS)
    assert status.user == "root"
    assert status.mode == 0o644
    status_dir = STATUS.rsplit("/", 1)[0]
    assert not [n for n in host.check_output(f"ls -A {status_dir}").split() if n.startswith(".")]  # no temp file left
    assert host.check_output("systemctl show -P Result sovereign-zpool-scrub-rpool.service") == "success"


def test_scrub_service_names_the_base_roles_failure_notifier(host):
    on_failure = host.check_output("systemctl show -P OnFailure sovereign-zpool-scrub-rpool.service")
    assert on_failure == "sovereign-notify@sovereign-zpool-scrub-rpool.service.service"
    assert host.check_output(f"systemctl show -P LoadState {on_failure}") == "loaded"


def test_scrub_of_a_damaged_pool_reports_the_damaged_file(host):
    """A pool whose disk was overwritten behind ZFS's back: the status names the file and exits 1,
    and the pool's scrub service (the role's unit, for this pool) fails and sends a notice."""
    setup = host.run(
        "set -e; mkdir -p /var/lib/zfs-damaged; truncate -s 128M /var/lib/zfs-damaged/disk.img;"
        " zpool create -m /mnt/damaged damaged /var/lib/zfs-damaged/disk.img; zfs set compression=off damaged;"
        " head -c 41943040 /dev/urandom > /mnt/damaged/photo.heic; sync; zpool export damaged;"
        # 4 KiB of noise at every MiB from 20 to 35: inside the photo's blocks, away from the labels.
        " for mib in $(seq 20 35); do"
        "   dd if=/dev/urandom of=/var/lib/zfs-damaged/disk.img bs=4096 count=1 seek=$((mib * 256))"
        "      conv=notrunc status=none;"
        " done;"
        " zpool import -d /var/lib/zfs-damaged damaged")
    assert setup.rc == 0, setup.stderr
    try:
        run = host.run(f"{SCRIPT} --pool damaged --status-file /tmp/scrub-damaged.json --interval 1")
        assert run.rc == 1, run.stdout + run.stderr
        status = json.loads(host.file("/tmp/scrub-damaged.json").content_string)
        assert status["result"] == "errors"
        assert status["errors"] > 0
        assert status["counters"]["cksum"] > 0
        assert status["data_errors"].startswith("Permanent errors")
        assert "/mnt/damaged/photo.heic" in status["status_excerpt"]
        # The same through systemd: the role's scrub unit, pointed at this pool.
        unit = "sovereign-zpool-scrub-damaged.service"
        assert host.run(f"sed s/rpool/damaged/g /etc/systemd/system/sovereign-zpool-scrub-rpool.service"
                        f" > /etc/systemd/system/{unit} && systemctl daemon-reload").rc == 0
        assert host.run(f"systemctl start {unit}").rc != 0, "a damaged pool must fail the scrub service"
        by_unit = json.loads(host.file("/var/lib/sovereign-cloud/zfs/scrub-damaged.json").content_string)
        assert by_unit["result"] == "errors"
        notice = (f"for i in $(seq 50); do journalctl -u sovereign-notify@{unit}.service -o cat -p err --no-pager"
                  f" | grep -qF '{unit} failed on' && exit 0; sleep 0.2; done; exit 1")
        assert host.run(notice).rc == 0, "the scrub's OnFailure= did not send a notice"
    finally:
        host.run("systemctl reset-failed sovereign-zpool-scrub-damaged.service"
                 " sovereign-notify@sovereign-zpool-scrub-damaged.service.service;"
                 " rm -f /etc/systemd/system/sovereign-zpool-scrub-damaged.service; systemctl daemon-reload;"
                 " zpool destroy -f damaged; rm -rf /var/lib/zfs-damaged /tmp/scrub-damaged.json"
                 " /var/lib/sovereign-cloud/zfs/scrub-damaged.json")
