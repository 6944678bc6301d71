# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Gather one host's statuses and expectations (runs on the host; standard library only).

Sources, each turned into a ``common.status`` document (``kind``, ``name``, ``ok``, ``summary``,
``finished_at``, ``last_success_at``, ``every``, ``fix``, ``details``):

* ``<state_dir>/status/<kind>--<name>.json``: written by every job through ``common.status``;
* ``<restic_dir>/<job>.json`` and ``check-<repository>.json``: the restic_backup role's state files;
* ``<zfs_dir>/scrub-<pool>.json``: the zfs_datasets role's scrub result;
* what no job writes, read now from where an expectation's ``source`` points: an iOS device's
  last backup (``{"type": "ios_backup", "path": <backup root>, "name": ..., "udid": ...}``, its
  ``Info.plist``, see :mod:`..macos.ios_backup`).

The folders default by the host's OS (:data:`DEFAULT_DIRS`): ``/var/lib/sovereign-cloud`` on Linux;
on macOS the Mac roles' own, ``/Users/Shared/sovereign-cloud`` (mac_identity_node's agent) and
``/Library/Application Support/sovereign-cloud/restic`` (mac_backup_controller's off-site restic job).

A file that cannot be read as a status is returned with ``doc: null`` and an ``error``: the page
shows it red rather than skipping it. Expectations come from ``<expectations_dir>/*.json``
(``kind``, ``name``, optional ``title``, ``every``, ``fix``, ``amber_after``, ``red_after``).
"""

from __future__ import annotations

import glob
import os
import platform

from ..common import atomic, status
from ..macos import ios_backup

# Per OS (platform.system()): where the collection's jobs write their statuses on such a host; None is
# <state_dir>/restic or <state_dir>/zfs. The status playbook passes the inventory's folders when it sets them.
DEFAULT_DIRS = {
    "Linux": {"state_dir": "/var/lib/sovereign-cloud", "restic_dir": None, "zfs_dir": None},
    "Darwin": {"state_dir": "/Users/Shared/sovereign-cloud",
               "restic_dir": "/Library/Application Support/sovereign-cloud/restic", "zfs_dir": None},
}
EXPECTATIONS_DIR = "/etc/sovereign/status.d"


def default_dirs(system: str | None = None) -> dict:
    """The folders of :data:`DEFAULT_DIRS` for ``system`` (this host's OS by default; others as Linux)."""
    return dict(DEFAULT_DIRS.get(system or platform.system(), DEFAULT_DIRS["Linux"]))


STATUS_KEYS = ("kind", "name", "ok", "summary", "started_at", "finished_at", "last_success_at", "every", "fix",
               "details")


def _entry(path: str, doc: dict | None, error: str | None = None) -> dict:
    if doc is not None:
        doc = {key: doc.get(key) for key in STATUS_KEYS}
    return {"file": path, "doc": doc, "error": error}


def _name_from_file(path: str) -> tuple[str, str]:
    """``<kind>--<name>.json`` -> (kind, name); a file without ``--`` is all kind."""
    stem = os.path.basename(path)[:-len(".json")]
    kind, _sep, name = stem.partition("--")
    return kind, name


def status_files(state_dir: str) -> list[dict]:
    out = []
    for path, doc in status.list_statuses(state_dir):
        if doc is None:
            kind, name = _name_from_file(path)
            out.append(dict(_entry(path, None, "not a status document (unreadable or incomplete JSON)"),
                            kind=kind, name=name))
        else:
            out.append(_entry(path, doc))
    return out


def from_restic(path: str, raw) -> dict | None:
    """A restic_backup state file (``restic_job.py``) as a status document, or None if it is not one."""
    if not isinstance(raw, dict) or raw.get("kind") not in ("backup", "check") or "started_at" not in raw:
        return None
    stem = os.path.basename(path)[:-len(".json")]
    errors = [str(e) for e in raw.get("errors") or []]
    state = raw.get("status") or "failed"
    if raw["kind"] == "backup":
        kind, name = "restic.backup", str(raw.get("job") or stem)
        stats = raw.get("stats") or {}
        if state == "ok":
            summary = (f"snapshot {raw.get('snapshot_id') or '?'}: {stats.get('files_new', 0)} new, "
                       f"{stats.get('files_changed', 0)} changed, {stats.get('total_files_processed', 0)} files in all")
        else:
            summary = f"backup {state} in phase {raw.get('phase')}" + (f": {errors[0]}" if errors else "")
        details = {"repository": raw.get("repository"), "snapshot_id": raw.get("snapshot_id"), "status": state,
                   "errors": errors[:5], "stats": stats}
    else:
        kind, name = "restic.check", str(raw.get("repository") or stem.removeprefix("check-"))
        summary = (f"read {raw.get('subset') or 'a subset'} of the data back: no errors" if state == "ok" else
                   f"check {state}" + (f": {errors[0]}" if errors else ""))
        details = {"subset": raw.get("subset"), "status": state, "errors": errors[:5]}
    return {"kind": kind, "name": name, "ok": state == "ok", "summary": summary, "started_at": raw.get("started_at"),
            "finished_at": raw.get("finished_at") or raw.get("started_at"),
            "last_success_at": raw.get("last_success_at"), "every": None, "fix": None, "details": details}


def from_zfs_scrub(path: str, raw) -> dict | None:
    """A zfs_datasets scrub result (``zpool-scrub-status``) as a status document, or None."""
    if not isinstance(raw, dict) or "pool" not in raw or "result" not in raw:
        return None
    result = raw.get("result")
    finished = raw.get("finished") or raw.get("started")
    ok = result in ("ok", "running")
    if result == "ok":
        summary = f"scrub finished: {raw.get('errors') or 0} errors, {raw.get('repaired_bytes') or 0} bytes repaired"
    elif result == "running":
        summary = f"scrub running since {raw.get('started')}"
    else:
        summary = f"scrub {result}" + (f": {raw['message']}" if raw.get("message") else "")
    details = {"result": result, "state": raw.get("state"), "errors": raw.get("errors"),
               "data_errors": raw.get("data_errors"), "repaired_bytes": raw.get("repaired_bytes")}
    return {"kind": "zfs.scrub", "name": str(raw["pool"]), "ok": ok, "summary": summary,
            "started_at": raw.get("started"), "finished_at": finished,
            "last_success_at": finished if ok else None, "every": None, "fix": None, "details": details}


ADAPTERS = {"restic": ("*.json", from_restic), "zfs": ("scrub-*.json", from_zfs_scrub)}


def adapted_files(folder: str | None, pattern: str, adapter) -> list[dict]:
    out = []
    if not folder:
        return out
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), pattern))):
        raw = atomic.read_json(path)
        doc = adapter(path, raw)
        if doc is not None:
            out.append(_entry(path, doc))
        elif raw is None:
            out.append(dict(_entry(path, None, "unreadable JSON"), kind=os.path.basename(folder), name=path))
    return out


def _ios_doc(expectation: dict, root: str, device: dict | None, error: str | None) -> dict:
    details = {"root": root, "udid": None, "product_type": None, "last_backup": None, "problem": None, "error": error}
    doc = {"kind": expectation["kind"], "name": expectation["name"], "ok": False, "started_at": None,
           "finished_at": None, "last_success_at": None, "every": None, "fix": None, "details": details}
    if error is not None:
        details["problem"] = "root_unreadable"
        return dict(doc, summary=f"cannot read the backups: {error}")
    details.update({key: device.get(key) for key in ("udid", "product_type", "last_backup")})
    if device["status"] == "missing":
        details["problem"] = "missing"
        return dict(doc, summary=f"no backup of it in {root} ({device.get('reason')})")
    when = status.iso(status.parse_iso(device.get("last_backup")))
    if when is None:
        details.update(problem="no_date", error=device.get("reason"))
        return dict(doc, summary=f"its backup has no readable date ({device.get('reason')})")
    model = f" ({device['product_type']})" if device.get("product_type") else ""
    return dict(doc, ok=True, finished_at=when, last_success_at=when,
                summary=f"last backed up {when}{model}, {device.get('age_days')} days ago")


def ios_backups(expected: list[dict], now=None) -> list[dict]:
    """A status for each expected iOS backup (``source.type: ios_backup``), read from its Info.plist now."""
    out = []
    by_root: dict = {}
    for expectation in expected:
        source = expectation.get("source") or {}
        if source.get("type") == "ios_backup" and source.get("path"):
            by_root.setdefault(source["path"], []).append(expectation)
    for root, wanted in sorted(by_root.items()):
        try:
            backups, error = ios_backup.scan(root), None
        except ios_backup.BackupRootError as exc:
            backups, error = [], str(exc)
        for expectation in wanted:
            source = expectation["source"]
            device = None
            if error is None:
                assessed = ios_backup.assess(backups, [{"name": source.get("name") or expectation["name"],
                                                        "owner": source.get("owner"), "udid": source.get("udid")}],
                                             now=now)
                device = assessed["devices"][0]
            doc = _ios_doc(expectation, root, device, error)
            out.append(_entry((device or {}).get("path") or root, doc))
    return out


def expectations(folder: str | None) -> list[dict]:
    out = []
    if not folder:
        return out
    for path in sorted(glob.glob(os.path.join(glob.escape(folder), "*.json"))):
        raw = atomic.read_json(path)
        kind, name = _name_from_file(path)
        if not isinstance(raw, dict):
            raw = {}
        out.append({"file": path, "kind": str(raw.get("kind") or kind), "name": str(raw.get("name") or name),
                    "title": raw.get("title"), "every": raw.get("every"), "fix": raw.get("fix"),
                    "amber_after": raw.get("amber_after"), "red_after": raw.get("red_after"),
                    "source": raw.get("source") if isinstance(raw.get("source"), dict) else None})
    return out


def gather(state_dir: str | None = None, expectations_dir: str | None = None, restic_dir: str | None = None,
           zfs_dir: str | None = None, system: str | None = None) -> dict:
    """Everything the status page needs from one host; ``now`` is the host's clock (ages are
    measured against it, so a controller with a wrong clock does not turn a host red). A folder left
    None is this OS's default (:func:`default_dirs`); without ``expectations_dir`` nothing is expected."""
    defaults = default_dirs(system)
    state_dir = state_dir or defaults["state_dir"]
    restic_dir = restic_dir or defaults["restic_dir"] or os.path.join(state_dir, "restic")
    zfs_dir = zfs_dir or defaults["zfs_dir"] or os.path.join(state_dir, "zfs")
    statuses = status_files(state_dir)
    statuses += adapted_files(restic_dir, *ADAPTERS["restic"])
    statuses += adapted_files(zfs_dir, *ADAPTERS["zfs"])
    expected = expectations(expectations_dir)
    statuses += ios_backups(expected)
    return {"now": status.iso(status.utc_now()), "state_dir": state_dir, "restic_dir": restic_dir, "zfs_dir": zfs_dir,
            "expectations_dir": expectations_dir, "statuses": statuses, "expectations": expected}
