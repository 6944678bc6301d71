"""The zfs_datasets role's scrub script: parsing `zpool status` from OpenZFS and zfs-fuse, the
verdict a report shows, and the wait loop. The zfs_datasets molecule scenario runs it on real
zfs-fuse, including a pool with damaged blocks; the OpenZFS texts below follow OpenZFS 2.2's
zpool status output (Proxmox VE 8)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "roles" / "zfs_datasets" / "files" / "zpool_scrub_status.py"
# The script imports the collection's common package, which the role installs next to it (and
# the checkout's .collections link provides here).
spec = importlib.util.spec_from_file_location("zpool_scrub_status", SCRIPT)
scrub_status = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scrub_status)

OPENZFS_CLEAN = """\
  pool: rpool
 state: ONLINE
  scan: scrub repaired 0B in 02:41:12 with 0 errors on Tue Dec  1 05:41:12 2026
config:

\tNAME                                                STATE     READ WRITE CKSUM
\trpool                                               ONLINE       0     0     0
\t  mirror-0                                          ONLINE       0     0     0
\t    ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000001-part3  ONLINE       0     0     0
\t    ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0000002-part3  ONLINE       0     0     0

errors: No known data errors
"""

OPENZFS_RUNNING = """\
  pool: rpool
 state: ONLINE
  scan: scrub in progress since Tue Dec  1 03:00:01 2026
\t1.23T / 3.10T scanned at 512M/s, 1.01T / 3.10T issued at 420M/s
\t0B repaired, 32.58% done, 01:27:10 to go
config:

\tNAME        STATE     READ WRITE CKSUM
\trpool       ONLINE       0     0     0
\t  sda3      ONLINE       0     0     0

errors: No known data errors
"""

OPENZFS_REPAIRED_DEGRADED = """\
  pool: tank
 state: DEGRADED
status: One or more devices could not be used because the label is missing or
\tinvalid.  Sufficient replicas exist for the pool to continue
\tfunctioning in a degraded state.
action: Replace the device using 'zpool replace'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J
  scan: scrub repaired 1.50M in 00:10:00 with 0 errors on Tue Dec  1 03:10:01 2026
config:

\tNAME        STATE     READ WRITE CKSUM
\ttank        DEGRADED     0     0     0
\t  mirror-0  DEGRADED     0     0     0
\t    sdb     ONLINE       0     0     0
\t    sdc     UNAVAIL      0     0     0

errors: No known data errors
"""

OPENZFS_CANCELED = """\
  pool: rpool
 state: ONLINE
  scan: scrub canceled on Tue Dec  1 04:00:00 2026
config:

\tNAME        STATE     READ WRITE CKSUM
\trpool       ONLINE       0     0     0

errors: No known data errors
"""

# Captured from zfs-fuse 0.7.0 (Debian 12) after overwriting blocks of the pool's file.
ZFS_FUSE_DAMAGED = """\
  pool: bad
 state: ONLINE
status: One or more devices has experienced an error resulting in data
\tcorruption.  Applications may be affected.
action: Restore the file in question if possible.  Otherwise restore the
\tentire pool from backup.
   see: http://www.sun.com/msg/ZFS-8000-8A
 scrub: scrub completed after 0h0m with 11 errors on Sun Nov 22 15:44:51 2026
config:

\tNAME                         STATE     READ WRITE CKSUM
\tbad                          ONLINE       0     0    11
\t  /var/lib/zfs-test/bad.img  ONLINE       0     0    25  12K repaired

errors: Permanent errors have been detected in the following files:

        /mnt/bad/data
"""

ZFS_FUSE_CLEAN = """\
  pool: rpool
 state: ONLINE
 scrub: scrub completed after 0h0m with 0 errors on Sun Nov 22 15:44:48 2026
config:

\tNAME                           STATE     READ WRITE CKSUM
\trpool                          ONLINE       0     0     0
\t  /var/lib/zfs-test/rpool.img  ONLINE       0     0     0

errors: No known data errors
"""

ZFS_FUSE_RUNNING = ZFS_FUSE_CLEAN.replace(
    "scrub completed after 0h0m with 0 errors on Sun Nov 22 15:44:48 2026",
    "scrub in progress for 0h1m, 12.34% done, 0h7m to go")

ZFS_FUSE_NEVER = ZFS_FUSE_CLEAN.replace(
    "scrub: scrub completed after 0h0m with 0 errors on Sun Nov 22 15:44:48 2026", "scrub: none requested")

CASES = [
    # (text, pool, verdict, scrub_errors, repaired_bytes, counters)
    (OPENZFS_CLEAN, "rpool", "ok", 0, 0, {"read": 0, "write": 0, "cksum": 0}),
    (OPENZFS_RUNNING, "rpool", "running", None, 0, {"read": 0, "write": 0, "cksum": 0}),
    (OPENZFS_REPAIRED_DEGRADED, "tank", "degraded", 0, 1572864, {"read": 0, "write": 0, "cksum": 0}),
    (OPENZFS_CANCELED, "rpool", "canceled", None, None, {"read": 0, "write": 0, "cksum": 0}),
    (ZFS_FUSE_DAMAGED, "bad", "errors", 11, 12288, {"read": 0, "write": 0, "cksum": 11}),
    (ZFS_FUSE_CLEAN, "rpool", "ok", 0, 0, {"read": 0, "write": 0, "cksum": 0}),
    (ZFS_FUSE_RUNNING, "rpool", "running", None, None, {"read": 0, "write": 0, "cksum": 0}),
    (ZFS_FUSE_NEVER, "rpool", "ok", None, None, {"read": 0, "write": 0, "cksum": 0}),
]


@pytest.mark.parametrize(("text", "pool", "verdict", "errors", "repaired", "counters"), CASES)
def test_status_is_parsed_into_what_a_report_needs(text, pool, verdict, errors, repaired, counters):
    info = scrub_status.parse_status(text, pool)
    assert scrub_status.verdict(info) == verdict
    assert info["scrub_errors"] == errors
    assert info["repaired_bytes"] == repaired
    assert info["counters"] == counters


def test_multi_line_scan_of_openzfs_is_kept_whole():
    info = scrub_status.parse_status(OPENZFS_RUNNING, "rpool")
    assert info["in_progress"]
    assert info["scan"].endswith("32.58% done, 01:27:10 to go")


def test_damaged_pool_keeps_the_first_errors_line():
    info = scrub_status.parse_status(ZFS_FUSE_DAMAGED, "bad")
    assert info["data_errors"] == "Permanent errors have been detected in the following files:"
    assert info["health"] == "ONLINE"


SIZES = [("0B", 0), ("12K", 12288), ("1.50M", 1572864), ("2G", 2 << 30), ("7", 7), ("lots", None)]


@pytest.mark.parametrize(("text", "expected"), SIZES)
def test_sizes(text, expected):
    assert scrub_status.size_to_bytes(text) == expected


class FakeZpool:
    """zpool status/scrub: a scrub that is in progress for ``polls`` status calls, then ends."""

    def __init__(self, polls=2, running_already=False, scrub_rc=0, final=ZFS_FUSE_CLEAN):
        self.polls = polls
        self.running = running_already
        self.scrub_rc = scrub_rc
        self.final = final
        self.calls = []

    def status(self, pool, verbose=False):
        self.calls.append(("status", verbose))
        if self.running:
            if self.polls == 0:
                self.running = False
            else:
                self.polls -= 1
                return subprocess.CompletedProcess([], 0, ZFS_FUSE_RUNNING, "")
        return subprocess.CompletedProcess([], 0, self.final, "")

    def scrub(self, pool):
        self.calls.append(("scrub",))
        if self.scrub_rc == 0:
            self.running = True
        return subprocess.CompletedProcess([], self.scrub_rc, "", "cannot scrub rpool: pool I/O is currently suspended")


def run(tmp_path, zpool):
    status_file = tmp_path / "zfs" / "scrub-rpool.json"
    slept = []
    rc = scrub_status.scrub(zpool, "rpool", str(status_file), 60, sleep=slept.append)
    return rc, json.loads(status_file.read_text()), slept, status_file


def test_scrub_is_started_waited_for_and_recorded(tmp_path):
    zpool = FakeZpool(polls=2)
    rc, status, slept, status_file = run(tmp_path, zpool)
    assert rc == 0
    assert ("scrub",) in zpool.calls
    assert slept == [60, 60]
    assert status["result"] == "ok" and status["pool"] == "rpool" and status["errors"] == 0
    assert status["started"] <= status["finished"]
    assert not status["joined_running_scrub"]
    assert oct(status_file.stat().st_mode & 0o777) == "0o644"
    assert os.listdir(status_file.parent) == ["scrub-rpool.json"]


def test_running_scrub_is_joined_not_restarted(tmp_path):
    zpool = FakeZpool(polls=1, running_already=True)
    rc, status, dummy, dummy = run(tmp_path, zpool)
    assert rc == 0
    assert ("scrub",) not in zpool.calls
    assert status["joined_running_scrub"]


def test_scrub_that_cannot_start_is_a_failure_with_the_reason(tmp_path):
    rc, status, dummy, dummy = run(tmp_path, FakeZpool(scrub_rc=1))
    assert rc == 1
    assert status["result"] == "failed"
    assert "pool I/O is currently suspended" in status["message"]


def test_errors_found_fail_the_run_and_name_the_files(tmp_path):
    rc, status, dummy, dummy = run(tmp_path, FakeZpool(polls=0, final=ZFS_FUSE_DAMAGED))
    assert rc == 1
    assert status["result"] == "errors"
    assert "/mnt/bad/data" in status["status_excerpt"]


def test_missing_pool_is_reported_not_raised(tmp_path):
    class NoPool(FakeZpool):
        def status(self, pool, verbose=False):
            return subprocess.CompletedProcess([], 1, "", f"cannot open '{pool}': no such pool\n")

    rc, status, dummy, dummy = run(tmp_path, NoPool())
    assert rc == 1
    assert status["result"] == "failed"
    assert "zpool list" in status["message"]
