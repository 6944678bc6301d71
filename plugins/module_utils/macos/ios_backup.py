# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-device freshness of iOS backups (iMazing or Finder), from each backup's ``Info.plist``.

A backup root holds one folder per device, named by the device's UDID, with an ``Info.plist``
(XML or binary) whose keys include ``Device Name``, ``Product Type`` (``iPhone15,2``),
``Last Backup Date`` (a plist date, UTC) and ``Unique Identifier`` (the UDID). The wanted devices
(the family's device matrix) are matched to backups by UDID when one is given, otherwise by
device name (case and apostrophe style ignored; the newest backup wins). Apple Watches are backed up
inside their iPhone's backup: a device listed with ``inside: <that iPhone's name>`` has no folder of
its own and takes the status of that backup. Each wanted device comes back fresh, stale (older than
its ``max_age_days``, or without a readable date) or missing; backups that match no wanted device
come back as unknown.
"""

from __future__ import annotations

import os
import plistlib
from datetime import datetime, timezone

DEFAULT_MAX_AGE_DAYS = 7


class BackupRootError(Exception):
    """The backup root cannot be read; the message says what to do."""


def _key(name: str | None) -> str:
    return " ".join(str(name or "").replace("\u2019", "'").replace("\u2018", "'").casefold().split())


def _as_utc(value) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def read_backup(folder: str) -> dict:
    """One backup folder as ``{udid, name, product_type, last_backup, path, problem}``."""
    entry = {"udid": os.path.basename(folder.rstrip("/")), "name": None, "product_type": None, "last_backup": None,
             "path": folder, "problem": None}
    info = os.path.join(folder, "Info.plist")
    try:
        with open(info, "rb") as handle:
            data = plistlib.load(handle)
    except FileNotFoundError:
        entry["problem"] = "no Info.plist"
        return entry
    except (OSError, plistlib.InvalidFileException, ValueError) as exc:
        entry["problem"] = f"Info.plist unreadable: {exc}"
        return entry
    if not isinstance(data, dict):
        entry["problem"] = "Info.plist is not a dictionary"
        return entry
    entry["name"] = data.get("Device Name") or data.get("Display Name")
    entry["product_type"] = data.get("Product Type")
    if data.get("Unique Identifier"):
        entry["udid"] = str(data["Unique Identifier"])
    entry["last_backup"] = _as_utc(data.get("Last Backup Date"))
    if entry["last_backup"] is None:
        entry["problem"] = "no Last Backup Date in Info.plist"
    return entry


def scan(root: str) -> list[dict]:
    """Every backup folder under ``root`` (folders without an Info.plist are not backups and are skipped)."""
    if not os.path.isdir(root):
        raise BackupRootError(f"backup root {root} is not a directory: is the volume mounted, and is it the "
                              "folder iMazing writes to (one sub-folder per device UDID)?")
    try:
        names = sorted(os.listdir(root))
    except OSError as exc:
        raise BackupRootError(f"cannot list backup root {root}: {exc}. Run as a user who can read it "
                              "(Full Disk Access for a Finder backup in ~/Library/Application Support/MobileSync).") \
            from exc
    backups = []
    for name in names:
        folder = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        entry = read_backup(folder)
        if entry["problem"] == "no Info.plist":
            continue
        backups.append(entry)
    return backups


def _age_days(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    return round(max((now - when).total_seconds(), 0.0) / 86400.0, 2)


def assess(backups: list[dict], devices: list[dict], now: datetime | None = None) -> dict:
    """Compare the backups with the wanted devices; return devices, stale, missing, unknown and summary."""
    now = now or datetime.now(timezone.utc)
    used: set[int] = set()
    results = []
    for device in devices:
        if device.get("inside"):
            continue
        name, owner, udid = device.get("name"), device.get("owner"), device.get("udid")
        max_age = device.get("max_age_days")
        max_age = DEFAULT_MAX_AGE_DAYS if max_age is None else max_age
        if udid:
            candidates = [i for i, b in enumerate(backups) if b["udid"].lower() == str(udid).lower()]
        else:
            candidates = [i for i, b in enumerate(backups) if i not in used and _key(b["name"]) == _key(name)]
        candidates.sort(key=lambda i: backups[i]["last_backup"] or datetime.min.replace(tzinfo=timezone.utc),
                        reverse=True)
        row = {"name": name, "owner": owner, "udid": udid, "max_age_days": max_age, "product_type": None,
               "last_backup": None, "age_days": None, "path": None, "status": "missing", "reason": None}
        if not candidates:
            row["reason"] = "no backup folder " + (f"named {udid}" if udid else f"with Device Name {name!r}")
        else:
            chosen = candidates[0]
            used.update(candidates)
            backup = backups[chosen]
            age = _age_days(backup["last_backup"], now)
            row.update(udid=backup["udid"], product_type=backup["product_type"], path=backup["path"], age_days=age,
                       last_backup=backup["last_backup"].isoformat() if backup["last_backup"] else None)
            if age is None:
                row["status"], row["reason"] = "stale", backup["problem"]
            elif age > max_age:
                row["status"], row["reason"] = "stale", f"last backup {age} days ago, more than {max_age}"
            else:
                row["status"] = "fresh"
        results.append(row)
    hosts = list(results)
    for device in devices:
        if not device.get("inside"):
            continue
        host = next((r for r in hosts if _key(r["name"]) == _key(device["inside"])
                     and (r["owner"] == device.get("owner") or not device.get("owner"))), None)
        host = host or next((r for r in hosts if _key(r["name"]) == _key(device["inside"])), None)
        row = {"name": device.get("name"), "owner": device.get("owner"), "udid": device.get("udid"),
               "max_age_days": None, "product_type": None, "last_backup": None, "age_days": None, "path": None,
               "status": "missing", "reason": f"backed up inside {device['inside']}, which is not in the device list"}
        if host is not None:
            row.update({k: host[k] for k in ("max_age_days", "last_backup", "age_days", "path", "status")})
            row["reason"] = f"backed up inside {device['inside']}" + (f" ({host['reason']})" if host["reason"] else "")
        results.append(row)
    for i, backup in enumerate(backups):
        if i in used:
            continue
        results.append({"name": backup["name"], "owner": None, "udid": backup["udid"], "max_age_days": None,
                        "product_type": backup["product_type"], "path": backup["path"],
                        "last_backup": backup["last_backup"].isoformat() if backup["last_backup"] else None,
                        "age_days": _age_days(backup["last_backup"], now), "status": "unknown",
                        "reason": backup["problem"] or "not in the device list"})
    by = {s: [r for r in results if r["status"] == s] for s in ("fresh", "stale", "missing", "unknown")}

    def label(row):
        return f"{row['owner']}'s {row['name']}" if row["owner"] else str(row["name"] or row["udid"])

    parts = [f"{len(by['fresh'])} fresh"]
    if by["stale"]:
        parts.append(f"{len(by['stale'])} stale (" + ", ".join(
            f"{label(r)}: {r['age_days']} days" if r["age_days"] is not None else f"{label(r)}: no date"
            for r in by["stale"]) + ")")
    if by["missing"]:
        parts.append(f"{len(by['missing'])} missing (" + ", ".join(label(r) for r in by["missing"]) + ")")
    if by["unknown"]:
        parts.append(f"{len(by['unknown'])} unknown (" + ", ".join(label(r) for r in by["unknown"]) + ")")
    return {"devices": results, "stale": [label(r) for r in by["stale"]],
            "missing": [label(r) for r in by["missing"]], "unknown": [label(r) for r in by["unknown"]],
            "summary": f"iOS backups: {', '.join(parts)}"}
