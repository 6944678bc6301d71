# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Scrub one ZFS pool, wait until the scrub ends, and write the result as JSON for reports.

    python3 zpool_scrub_status.py --pool rpool --status-file /var/lib/sovereign-cloud/zfs/scrub-rpool.json

Installed by the sovereign.cloud.zfs_datasets role and run by its monthly systemd timer.
It works with OpenZFS (Proxmox, Debian's zfsutils-linux) and with zfs-fuse 0.7, which has no
``zpool wait``: the script polls ``zpool status`` and understands both its ``scan:`` line
(OpenZFS) and its older ``scrub:`` line (zfs-fuse). A scrub already running (for example the one
Debian's zfsutils-linux cron starts on the second Sunday) is waited for, not restarted.

The status file is replaced atomically (temporary file in the same directory, fsync, rename) by
the collection's ``common.atomic.write_json``, which the role installs next to this script under
its collection import path: a report never reads half a file. It says ``"result": "running"``
while the scrub runs.
Exit status: 0 when the scrub finished clean, 1 otherwise (errors found, pool not healthy,
scrub canceled or could not start), so systemd marks the run failed and ``OnFailure=`` fires.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic  # noqa: E402

SCHEMA_VERSION = 1
EXCERPT_LIMIT = 4000
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5,
          "E": 1024 ** 6}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([BKMGTPE]?)(?:i?B)?$")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def size_to_bytes(text: str) -> int | None:
    """``0B``, ``1.50K``, ``12M`` (ZFS prints binary multiples) to bytes; None if not a size."""
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(round(float(match.group(1)) * _UNITS[match.group(2)]))


def _count(text: str):
    return int(text) if text.isdigit() else text


def parse_status(text: str, pool: str) -> dict:
    """The parts of ``zpool status POOL`` that say how the last (or current) scrub went."""
    sections: dict = {}
    key = None
    config_lines = []
    for raw in text.splitlines():
        match = re.match(r"^\s*([a-z]+):\s?(.*)$", raw)
        if match and not raw.startswith("\t"):
            key = match.group(1)
            sections[key] = [match.group(2).strip()]
            continue
        if key == "config":
            config_lines.append(raw)
        elif key in ("scan", "scrub") and raw.strip():
            sections[key].append(raw.strip())
    scan = " ".join(part for part in sections.get("scan", sections.get("scrub", [""])) if part)
    lowered = scan.lower()
    info = {
        "health": (sections.get("state") or [""])[0] or None,
        "scan": scan or None,
        "in_progress": "in progress" in lowered,
        "canceled": "canceled" in lowered or "scrub stopped" in lowered,
        "paused": "paused" in lowered,
        "never_scrubbed": lowered.startswith("none requested"),
        "scrub_errors": None,
        "repaired_bytes": None,
        "data_errors": (sections.get("errors") or [None])[0],
        "counters": None,
    }
    errors = re.search(r"with ([0-9]+) errors?", scan)
    if errors:
        info["scrub_errors"] = int(errors.group(1))
    # OpenZFS: "scrub repaired 12K in 00:00:01 ..." or, while running, "... 0B repaired, 5.00% done".
    repaired = re.search(r"repaired ([0-9.]+[BKMGTPE]?)\b", scan) or re.search(r"([0-9.]+[BKMGTPE]?) repaired", scan)
    if repaired:
        info["repaired_bytes"] = size_to_bytes(repaired.group(1))
    # zfs-fuse and older ZFS print "1.50K repaired" at the end of each device row instead.
    device_repairs = [size_to_bytes(m.group(1)) for line in config_lines
                      for m in [re.search(r"\s([0-9.]+[BKMGTPE]?) repaired\s*$", line)] if m]
    if info["repaired_bytes"] is None and "scrub" in lowered and not info["never_scrubbed"]:
        if device_repairs:
            info["repaired_bytes"] = sum(value for value in device_repairs if value is not None)
        elif scan.lower().startswith("scrub completed") and info["scrub_errors"] == 0:
            info["repaired_bytes"] = 0
    for line in config_lines:
        fields = line.split()
        if len(fields) >= 5 and fields[0] == pool:
            info["counters"] = {"read": _count(fields[2]), "write": _count(fields[3]), "cksum": _count(fields[4])}
            break
    return info


def verdict(info: dict) -> str:
    """ok | errors | degraded | canceled | paused | running: what a report should say."""
    if info["in_progress"]:
        return "running"
    if info["paused"]:
        return "paused"
    if info["canceled"]:
        return "canceled"
    data_clean = (info["data_errors"] or "").lower().startswith("no known data errors")
    counters_clean = not info["counters"] or all(value in (0, "0") for value in info["counters"].values())
    if (info["scrub_errors"] or 0) > 0 or not data_clean or not counters_clean:
        return "errors"
    if info["health"] != "ONLINE":
        return "degraded"
    return "ok"


class Zpool:
    def __init__(self, binary: str):
        self.binary = binary

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, LC_ALL="C", LANG="C")
        return subprocess.run([self.binary] + list(args), capture_output=True, text=True, env=env, check=False)

    def status(self, pool: str, verbose: bool = False) -> subprocess.CompletedProcess:
        return self.run("status", "-v", pool) if verbose else self.run("status", pool)

    def scrub(self, pool: str) -> subprocess.CompletedProcess:
        return self.run("scrub", pool)


def scrub(zpool: Zpool, pool: str, status_file: str, interval: float, sleep=time.sleep) -> int:
    record = {"schema": SCHEMA_VERSION, "pool": pool, "host": socket.gethostname(), "started": utc_now(),
              "finished": None, "result": "running", "joined_running_scrub": False, "message": None}

    def finish(result: str, message: str | None, info: dict | None, excerpt: str) -> int:
        record.update({"finished": utc_now(), "result": result, "message": message})
        info = info or {}
        record.update({
            "state": info.get("health"),
            "scan": info.get("scan"),
            "errors": info.get("scrub_errors"),
            "data_errors": info.get("data_errors"),
            "repaired_bytes": info.get("repaired_bytes"),
            "counters": info.get("counters"),
            "status_excerpt": excerpt[:EXCERPT_LIMIT],
        })
        started = datetime.strptime(record["started"], "%Y-%m-%dT%H:%M:%SZ")
        finished = datetime.strptime(record["finished"], "%Y-%m-%dT%H:%M:%SZ")
        record["duration_seconds"] = int((finished - started).total_seconds())
        atomic.write_json(status_file, record)
        print(f"zpool scrub {pool}: {result}" + (f" ({message})" if message else ""))
        return 0 if result == "ok" else 1

    before = zpool.status(pool)
    if before.returncode != 0:
        return finish("failed", f"zpool status {pool} failed: {(before.stderr or before.stdout).strip()}. "
                                "Check the pool name (zpool list) and that ZFS is running.", None, before.stderr)
    if parse_status(before.stdout, pool)["in_progress"]:
        record["joined_running_scrub"] = True
    else:
        started = zpool.scrub(pool)
        if started.returncode != 0:
            again = zpool.status(pool)
            if parse_status(again.stdout, pool)["in_progress"]:
                record["joined_running_scrub"] = True
            else:
                return finish("failed", f"zpool scrub {pool} failed: {(started.stderr or started.stdout).strip()}",
                              parse_status(again.stdout, pool), again.stdout)
    atomic.write_json(status_file, dict(record, state=None, scan=None))
    while True:
        current = zpool.status(pool)
        if current.returncode != 0:
            return finish("failed", f"zpool status {pool} failed while scrubbing: {current.stderr.strip()}",
                          None, current.stderr)
        info = parse_status(current.stdout, pool)
        if not info["in_progress"]:
            break
        sleep(interval)
    final = zpool.status(pool, verbose=True)
    text = final.stdout if final.returncode == 0 else current.stdout
    info = parse_status(text, pool)
    return finish(verdict(info), None, info, text)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pool", required=True, help="pool to scrub")
    parser.add_argument("--status-file", required=True, help="JSON file to (re)write with the result")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between zpool status polls")
    parser.add_argument("--zpool", default=None, help="zpool binary (default: found on PATH)")
    args = parser.parse_args(argv)
    binary = args.zpool or shutil.which("zpool", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not binary:
        atomic.write_json(args.status_file, {
            "schema": SCHEMA_VERSION, "pool": args.pool, "host": socket.gethostname(), "started": utc_now(),
            "finished": utc_now(), "result": "failed",
            "message": "zpool not found: install ZFS (zfsutils-linux) or fix PATH"})
        print("zpool not found: install ZFS (zfsutils-linux) or fix PATH", file=sys.stderr)
        return 1
    return scrub(Zpool(binary), args.pool, args.status_file, args.interval)


if __name__ == "__main__":
    sys.exit(main())
