# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Disaster recovery of a whole photo vault from restic: the engine of ``photo_vault_recover``.

The vault is restored from one snapshot (the newest that holds it, unless told otherwise) into a
staging directory beside the destination, and every original is checked before the destination
sees anything:

* every file under ``originals/`` must hash to the sha256 its name carries (the vault names each
  original by its content, so this needs no catalog and catches any damage);
* when the snapshot holds the SQLite catalog, every asset it lists must be there with its size
  and sha256, and a file it does not know is reported.

Only a restore that passes both is renamed into place (one ``rename`` on the same file system; when the
destination is a mount point, such as a re-created ZFS dataset, the staging directory is inside it and the
vault's top-level entries are renamed up into it),
with ``<dest>/.sovereign-restore.json`` recording the snapshot and the counts. A restore that
fails is left in the staging directory for a person to look at and the destination is untouched;
a destination that already holds files is never written (restore into an empty or new directory).
A second run against a destination restored from the same snapshot changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import time

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted, human_bytes
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import restore_drill
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import ORIGINALS, SQLITE_NAME
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import hash_many, is_in_flight

RECORD = ".sovereign-restore.json"
STAGING = ".restoring-"
IN_PLACE = ".sovereign-restoring-"  # the staging directory inside a destination that is a mount point
SIDECAR_EXT = ".xmp"
_SHA256 = re.compile(r"[0-9a-f]{64}")
LISTED = 50  # problems listed by name in a result (the counts are always complete)


class RecoverError(Exception):
    """The recovery could not run or did not pass; the message says what to do next."""

    def __init__(self, message: str, result: dict | None = None) -> None:
        super().__init__(message)
        self.result = result or {}


def _entries(path: str) -> list[str]:
    try:
        return [name for name in os.listdir(path) if name != "lost+found" and not name.startswith(IN_PLACE)]
    except FileNotFoundError:
        return []


def _originals(root: str) -> list[tuple[str, str, int]]:
    """(rel_path, sha256 from the name, size) of every original under ``root/originals``."""
    found = []
    base = os.path.join(root, ORIGINALS)
    for directory, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(SIDECAR_EXT) or is_in_flight(name):
                continue
            path = os.path.join(directory, name)
            found.append((os.path.relpath(path, root), name.split(".", 1)[0].lower(), os.lstat(path).st_size))
    return found


def check_restored(root: str, workers: int = 0) -> dict:
    """Every original against its name, and the catalog (when the snapshot held one) against the files."""
    found = _originals(root)
    files = [item for item in found if _SHA256.fullmatch(item[1])]
    foreign = sorted(rel for rel, sha, _size in found if not _SHA256.fullmatch(sha))
    mismatched, unreadable = [], []
    ok = 0
    for rel, expected, actual, error in _hash_all(root, files, workers):
        if error:
            unreadable.append({"path": rel, "reason": error})
        elif actual != expected:
            mismatched.append({"path": rel, "sha256": actual, "named": expected})
        else:
            ok += 1
    missing, unknown, catalog_assets = [], [], None
    catalog = os.path.join(root, SQLITE_NAME)
    if os.path.isfile(catalog):
        try:
            with Catalog.open(root, catalog, readonly=True) as cat:
                assets = {rel: (sha, int(size)) for sha, rel, size in cat.original_sizes()}
        except CatalogError as exc:
            raise RecoverError(f"the restored catalog cannot be read: {exc}") from exc
        catalog_assets = len(assets)
        on_disk = {rel: (sha, size) for rel, sha, size in files}
        missing = [{"path": rel, "sha256": sha} for rel, (sha, size) in sorted(assets.items())
                   if on_disk.get(rel, (None, None)) != (sha, size)]
        unknown = sorted(rel for rel in on_disk if rel not in assets)
    unknown = sorted(set(unknown) | set(foreign))
    return {"originals": len(files), "bytes": sum(size for _r, _s, size in files), "ok": ok,
            "mismatched": mismatched, "unreadable": unreadable, "missing": missing, "unknown": unknown,
            "catalog_assets": catalog_assets}


def _hash_all(root: str, files, workers: int):
    """(rel_path, sha256 named, sha256 found or None, error or None) for every original."""
    by_sha: dict[str, list[str]] = {}
    for rel, sha, _size in files:
        by_sha.setdefault(sha, []).append(rel)
    results, _cut = hash_many([(sha, os.path.join(root, rel), size) for rel, sha, size in files],
                              workers=workers, drop_cache=False)
    for sha, status, _bytes, detail in results:
        rel = by_sha[sha].pop()
        if status == "ok":
            yield rel, sha, sha, None
        elif status == "corrupt":
            yield rel, sha, (detail or "").removeprefix("content sha256 is ").split(";")[0], None
        else:
            yield rel, sha, None, f"{status}: {detail}"


def _named(checked: dict, first: int = 3) -> str:
    """The first damaged files by name, for the one-line summary (the result lists up to LISTED)."""
    names = [f"{item['path']} ({label})" for key, label in (("mismatched", "sha256 differs"), ("unreadable", "unreadable"),
                                                            ("missing", "missing"))
             for item in checked[key]]
    if not names:
        return ""
    more = f" and {len(names) - first} more" if len(names) > first else ""
    return " (" + ", ".join(names[:first]) + more + ")"


class ResticSource:
    """Snapshots of a restic repository (``env``: RESTIC_REPOSITORY, RESTIC_PASSWORD, ...)."""

    def __init__(self, env: dict, snapshot: str = "latest", host: str | None = None, tags: list[str] | None = None,
                 binary: str = "restic") -> None:
        self.env, self.snapshot, self.host, self.tags, self.binary = env, snapshot, host, tags, binary

    def select(self, in_snapshot: str) -> dict:
        try:
            return restore_drill.select_snapshot(self.env, restic.redact_repository(self.env.get("RESTIC_REPOSITORY", "")),
                                                 self.snapshot, self.host, self.tags, None, in_snapshot, in_snapshot,
                                                 self.binary)
        except restore_drill.DrillError as exc:
            raise RecoverError(str(exc)) from exc

    def restore(self, chosen: dict, in_snapshot: str, staging: str) -> tuple[int, list[str], str]:
        """Restore the vault under ``staging``: (exit status, per-file errors, restic's last lines)."""
        args = ["restore", chosen["id"], "--target", staging, "--include", restore_drill.include_pattern(in_snapshot)]
        ran = restic.run(args, self.env, binary=self.binary)
        # restic 0.14 restores what it can and exits 1 when a file failed ("ignoring error for ...").
        errors = restore_drill.restore_errors(ran.stderr)
        return ran.returncode, [f"{path}: {'; '.join(texts)}" for path, texts in sorted(errors.items())], \
            restic.last_lines(ran.stderr)


class PbsSource:
    """Snapshots of a Proxmox Backup Server datastore holding ``archive`` (a pxar of the vault's folder,
    or of a folder above it), read with proxmox-backup-client (``env``: PBS_REPOSITORY, PBS_PASSWORD,
    PBS_FINGERPRINT)."""

    def __init__(self, env: dict, archive: str = "media.pxar", backup_id: str | None = None, ns: str | None = None,
                 keyfile: str | None = None, binary: str = "proxmox-backup-client", snapshot: str = "latest") -> None:
        from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client  # pylint: disable=import-outside-toplevel
        self.pbc = backup_client
        self.env, self.archive, self.backup_id, self.ns, self.keyfile, self.binary = env, archive, backup_id, ns, keyfile, binary
        self.snapshot = snapshot

    def select(self, in_snapshot: str) -> dict:  # pylint: disable=unused-argument
        pbc = self.pbc
        repository = pbc.redact_repository(self.env.get("PBS_REPOSITORY", ""))
        try:
            snapshots = pbc.list_snapshots(self.binary, self.env, self.ns)
        except pbc.BackupClientError as exc:
            raise RecoverError(str(exc)) from exc
        if self.snapshot != "latest":
            snapshots = [s for s in snapshots if pbc.snapshot_name(s) == self.snapshot]
        chosen = pbc.newest_with(snapshots, self.archive, self.backup_id)
        if chosen is None:
            raise RecoverError(f"no snapshot in {repository} holds {self.archive}"
                               + (f" for {self.backup_id}" if self.backup_id else "")
                               + (f" named {self.snapshot}" if self.snapshot != "latest" else "")
                               + "; list them with `proxmox-backup-client snapshot list`")
        name = pbc.snapshot_name(chosen)
        return {"id": name, "short_id": name, "time": chosen["backup-time"], "hostname": chosen.get("backup-id"),
                "paths": [self.archive], "tags": [], "repository": repository}

    def restore(self, chosen: dict, in_snapshot: str, staging: str) -> tuple[int, list[str], str]:
        pbc = self.pbc
        patterns = [] if in_snapshot == "/" else [restore_drill.include_pattern(in_snapshot)]
        target = staging
        argv = pbc.restore_argv(self.binary, chosen["id"], self.archive, target, patterns, keyfile=self.keyfile,
                                ns=self.ns)
        try:
            ran = pbc.run(argv, self.env)
        except pbc.BackupClientError as exc:
            raise RecoverError(str(exc)) from exc
        last = pbc.explain(pbc.classify(ran.stderr), ran.stderr) if ran.returncode else ""
        return ran.returncode, [], last


def recover_vault(dest: str, source, snapshot_vault_path: str | None = None, workers: int = 0,
                  check_mode: bool = False) -> dict:
    """Restore and check a whole vault from ``source`` (a :class:`ResticSource` or :class:`PbsSource`)
    into ``dest`` (see the module docstring); the module's result."""
    dest = os.path.abspath(dest)
    default = "/" if isinstance(source, PbsSource) else dest
    in_snapshot = os.path.normpath(snapshot_vault_path or default)
    if not in_snapshot.startswith("/"):
        raise RecoverError(f"snapshot_vault_path must be absolute (got {snapshot_vault_path})")
    started = time.monotonic()
    chosen = source.select(in_snapshot)
    result = {"changed": False, "vault": dest, "snapshot": chosen, "snapshot_vault_path": in_snapshot}
    record = atomic.read_json(os.path.join(dest, RECORD))
    if isinstance(record, dict) and record.get("snapshot", {}).get("id") == chosen["id"] and record.get("passed"):
        result.update({k: record.get(k) for k in ("originals", "bytes", "catalog_assets")}, passed=True,
                      summary=f"{dest} already holds the vault restored from snapshot {chosen['short_id']}")
        return result
    if _entries(dest):
        raise RecoverError(f"{dest} is not empty; a recovery never writes over files. Restore into an empty or new "
                           "directory, or move this one aside first")
    result["changed"] = True
    if check_mode:
        result.update(passed=None, summary=f"would restore the vault {in_snapshot} of snapshot {chosen['short_id']} "
                                           f"({chosen.get('time')}, host {chosen.get('hostname')}) into {dest}")
        return result
    parent = os.path.dirname(dest)
    atomic.ensure_dir(parent)
    # A destination that is a mount point (the re-created ZFS dataset /mnt/media) cannot be renamed over, and
    # staging beside it would fill the parent file system: stage inside it and move the vault's entries up.
    mounted = os.path.ismount(dest)
    if mounted:
        for name in os.listdir(dest):
            if name.startswith(IN_PLACE):  # a failed earlier restore, kept for a person; this run replaces it
                shutil.rmtree(os.path.join(dest, name), ignore_errors=True)
        staging = os.path.join(dest, f"{IN_PLACE}{os.getpid()}")
    else:
        staging = os.path.join(parent, f".{os.path.basename(dest)}{STAGING}{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    os.mkdir(staging, 0o700)
    returncode, errors, last = source.restore(chosen, in_snapshot, staging)
    restored = os.path.normpath(staging + in_snapshot)
    if not os.path.isdir(os.path.join(restored, ORIGINALS)):
        shutil.rmtree(staging, ignore_errors=True)
        if returncode != 0:
            raise RecoverError(f"the restore failed: {last}", result)
        raise RecoverError(f"snapshot {chosen['short_id']} holds no vault at {in_snapshot} (no {ORIGINALS}/ there); "
                           "set snapshot_vault_path to where the vault was in the backup", result)
    result["restic_errors"] = errors[:LISTED]
    if returncode != 0 and not errors:
        result["restic_errors"].append(last)
    checked = check_restored(restored, workers)
    result.update(checked)
    problems = len(checked["mismatched"]) + len(checked["unreadable"]) + len(checked["missing"])
    result["duration_s"] = round(time.monotonic() - started, 3)
    for key in ("mismatched", "unreadable", "missing", "unknown"):
        result[key] = checked[key][:LISTED]
    if problems or result["restic_errors"]:
        result["passed"] = False
        result["kept_at"] = restored
        result["summary"] = (f"the restore of snapshot {chosen['short_id']} did not pass: "
                             f"{counted(len(checked['mismatched']), 'original')} not matching its sha256, "
                             f"{counted(len(checked['unreadable']), 'unreadable file')}, "
                             f"{counted(len(checked['missing']), 'catalog asset')} missing, "
                             f"{counted(len(result['restic_errors']), 'restore error')}"
                             f"{_named(checked)}; {dest} was not touched and "
                             f"the restore is kept at {restored}. Try an older snapshot (snapshot=<id>)")
        raise RecoverError(result["summary"], result)
    if mounted:
        for name in sorted(os.listdir(restored)):
            if not name.startswith(IN_PLACE) and not (name == "lost+found" and os.path.lexists(os.path.join(dest, name))):
                os.rename(os.path.join(restored, name), os.path.join(dest, name))
        shutil.rmtree(staging, ignore_errors=True)
        atomic.fsync_dir(dest)
    else:
        if os.path.isdir(dest):
            os.rmdir(dest)  # empty (checked above); the rename needs it gone
        os.rename(restored, dest)
        shutil.rmtree(staging, ignore_errors=True)
        atomic.fsync_dir(parent)
    result["passed"] = True
    atomic.write_json(os.path.join(dest, RECORD), {
        "snapshot": chosen, "restored_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "passed": True,
        "originals": checked["originals"], "bytes": checked["bytes"], "catalog_assets": checked["catalog_assets"]},
        mode=0o644)
    result["summary"] = (f"restored {counted(checked['originals'], 'original')} ({human_bytes(checked['bytes'])}) "
                         f"from snapshot {chosen['short_id']} into {dest}; every one matches its sha256"
                         + (f" and the catalog's {checked['catalog_assets']} assets are all there"
                            if checked["catalog_assets"] is not None else " (the snapshot held no SQLite catalog)"))
    return result
