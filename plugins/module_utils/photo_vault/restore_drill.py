# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Restore drills: prove that the photo vault can be restored from restic, file by file.

A random sample of originals from the catalog is restored from one snapshot (the latest one that
holds the vault, unless told otherwise) into a private temporary directory with ONE ``restic
restore`` (includes batched), each restored file is hashed and compared with the catalog, the
drill is recorded in the catalog (date, snapshot, sample, per-file result) and the temporary
directory is removed whatever happens.

A drill is strict because it is the evidence that a photo may be deleted from iCloud: a file that
restic restores nothing for (a non-matching ``--include`` restores nothing and still exits 0), a
file that restic reports an error for, a hash or size mismatch, or an empty sample all fail it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import stat
import tempfile
import time
from datetime import datetime, timezone

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import hash_file
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError

DEFAULT_COUNT = 10
INCLUDES_PER_RESTORE = 400  # keeps argv far below ARG_MAX; a normal sample is one restore
_RESTORE_ERROR = re.compile(r"^ignoring error for (?P<path>/.*?): (?P<error>.*)$")
_GLOB = re.compile(r"([*?\[\]\\])")


class DrillError(Exception):
    """The drill could not run at all (configuration, catalog or repository); the text says why."""


def _parse_time(value: str) -> datetime:
    """restic's RFC 3339 times (nanoseconds, ``Z`` or an offset) as aware datetimes."""
    text = (value or "").replace("Z", "+00:00")
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)?$", text)
    if not match:
        return datetime.min.replace(tzinfo=timezone.utc)
    fraction = (match.group(2) or ".0")[:7].ljust(7, "0")
    return datetime.fromisoformat(match.group(1) + fraction + (match.group(3) or "+00:00"))


def covers(snapshot_paths: list[str], path: str) -> bool:
    """Whether a snapshot of ``snapshot_paths`` holds ``path`` (the path itself or a parent)."""
    path = path.rstrip("/") or "/"
    for root in snapshot_paths or []:
        root = root.rstrip("/") or "/"
        if path == root or path.startswith(root + "/") or root == "/":
            return True
    return False


def choose_snapshot(snapshots: list[dict], vault_paths: tuple[str, ...], wanted: str = "latest") -> dict:
    """The snapshot to restore from: ``wanted`` by id (prefix), or the newest whose backed-up paths hold one of
    ``vault_paths`` (where the vault is inside the snapshot, and where it is on this host)."""
    if wanted and wanted != "latest":
        matches = [s for s in snapshots if s.get("id", "").startswith(wanted) or s.get("short_id") == wanted]
        if not matches:
            raise DrillError(f"no snapshot {wanted} in the repository (with the given host/tags/path filters); list "
                             "them with 'restic snapshots'")
        if len({s["id"] for s in matches}) > 1:
            raise DrillError(f"the snapshot id {wanted} is ambiguous: give more characters")
        return matches[0]
    holding = [s for s in snapshots if any(covers(s.get("paths", []), p) for p in vault_paths)]
    if not holding:
        seen = sorted({p for s in snapshots for p in s.get("paths", [])})
        raise DrillError(f"no snapshot holds {' or '.join(sorted(set(vault_paths)))} ({len(snapshots)} snapshot(s) matched the filters; their "
                         f"paths: {', '.join(seen[:10]) or 'none'}). Back the vault up first, or set "
                         "snapshot_vault_path to where the vault is inside the snapshots")
    return max(holding, key=lambda s: _parse_time(s.get("time", "")))


def snapshot_path_of(vault_in_snapshot: str, rel_path: str) -> str:
    return vault_in_snapshot.rstrip("/") + "/" + rel_path.lstrip("/")


def include_pattern(path: str) -> str:
    """An exact-path ``--include`` pattern (restic matches includes as globs)."""
    return _GLOB.sub(r"\\\1", path)


def _remove_tree(path: str) -> None:
    """Remove the restore directory even where restic restored read-only directories."""
    def make_writable(func, target, _exc):
        parent = os.path.dirname(target)
        for item in (parent, target):
            try:
                os.chmod(item, stat.S_IRWXU)
            except OSError:
                pass
        func(target)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=make_writable)  # pylint: disable=deprecated-argument


def restore_errors(stderr: str) -> dict[str, list[str]]:
    """Per-path errors from ``restic restore`` ("ignoring error for PATH: ERROR")."""
    errors: dict[str, list[str]] = {}
    for line in (stderr or "").splitlines():
        match = _RESTORE_ERROR.match(line.strip())
        if match:
            errors.setdefault(match.group("path"), []).append(match.group("error"))
    return errors


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run_drill(vault: str, env: dict, catalog: str | None = None, count: int | None = None,
              max_bytes: int | None = None, snapshot: str = "latest", host: str | None = None,
              tags: list[str] | None = None, path: str | None = None, snapshot_vault_path: str | None = None,
              tmp_dir: str | None = None, restic_binary: str = "restic", check_mode: bool = False,
              rng: random.Random | None = None) -> dict:
    """Run one drill and return the module result (``passed``, ``failures``, ``summary``, ...)."""
    if count is not None and count < 1:
        raise DrillError("count must be at least 1")
    if max_bytes is not None and max_bytes < 1:
        raise DrillError("max_bytes must be at least 1")
    if count is None and max_bytes is None:
        count = DEFAULT_COUNT
    vault = os.path.abspath(vault)
    in_snapshot = os.path.normpath(snapshot_vault_path) if snapshot_vault_path else vault
    if not in_snapshot.startswith("/"):
        raise DrillError(f"snapshot_vault_path must be absolute (got {snapshot_vault_path})")
    repository = restic.redact_repository(env.get("RESTIC_REPOSITORY", ""))
    started = time.monotonic()
    try:
        cat = Catalog.open(vault, catalog, create=False)
    except CatalogError as exc:
        raise DrillError(str(exc)) from exc
    try:
        return _drill(cat, env, repository, count, max_bytes, snapshot, host, tags, path, (in_snapshot, vault),
                      tmp_dir, restic_binary, check_mode, rng, started)
    finally:
        cat.close()


def select_snapshot(env: dict, repository: str, snapshot: str, host, tags, path, in_snapshot: str,
                    vault: str, restic_binary: str) -> dict:
    args = ["snapshots", "--json", "--no-lock"]
    for value in [host] if isinstance(host, str) else host or []:
        args += ["--host", value]
    for value in tags or []:
        args += ["--tag", value]
    if path:
        args += ["--path", path]
    try:
        result = restic.run(args, env, binary=restic_binary)
        restic.raise_for(result, env.get("RESTIC_REPOSITORY", ""), "cannot list the snapshots")
    except restic.ResticError as exc:
        raise DrillError(str(exc)) from exc
    chosen = choose_snapshot(restic.parse_snapshots(result.stdout), (in_snapshot, vault), snapshot)
    keys = ("id", "short_id", "time", "hostname", "paths", "tags")
    return dict({key: chosen.get(key) for key in keys}, repository=repository)


def _drill(cat: Catalog, env, repository, count, max_bytes, snapshot, host, tags, path, places, tmp_dir,
           restic_binary, check_mode, rng, started, source=None) -> dict:  # pylint: disable=too-many-arguments
    """``source`` (select, restore) replaces restic for another backup tool (see :func:`run_pbs_drill`)."""
    in_snapshot, vault = places
    if source is None:
        source = (lambda: select_snapshot(env, repository, snapshot, host, tags, path, in_snapshot, vault,
                                          restic_binary),
                  lambda sample, targets, chosen: _restore_and_compare(sample, targets, chosen, env, tmp_dir,
                                                                       restic_binary, in_snapshot))
    select, restore = source
    sample = cat.sample_assets(count=count, byte_budget=max_bytes, rng=rng)
    sample_bytes = sum(int(a["size"]) for a in sample)
    record_files: list[dict] = []
    failures: list[dict] = []
    chosen: dict = {"id": "none", "repository": repository}
    note = ""
    try:
        chosen = select()
        targets = {a["sha256"]: snapshot_path_of(in_snapshot, a["rel_path"]) for a in sample}
        if check_mode:
            return {
                "changed": bool(sample), "passed": None, "snapshot": chosen, "failures": [],
                "sample": {"count": len(sample), "bytes": sample_bytes,
                           "files": [{"sha256": a["sha256"], "rel_path": a["rel_path"], "size": a["size"],
                                      "snapshot_path": targets[a["sha256"]]} for a in sample]},
                "summary": (f"would restore {len(sample)} original(s), {sample_bytes} bytes, from snapshot "
                            f"{chosen['short_id']} of {repository} and compare their sha256 with the catalog"
                            + ("" if sample else " (the catalog is empty, so the drill would fail)")),
            }
        if not sample:
            failures.append({"sha256": None, "rel_path": None,
                             "reason": "the catalog has no originals to sample: a drill with no files proves nothing"})
        else:
            record_files, failures, note = restore(sample, targets, chosen)
    except DrillError as exc:
        if check_mode:
            raise
        failures = [{"sha256": a["sha256"], "rel_path": a["rel_path"], "reason": str(exc)} for a in sample] or [
            {"sha256": None, "rel_path": None, "reason": str(exc)}]
        record_files = [{"sha256": a["sha256"], "size": a["size"], "status": "missing", "detail": str(exc)}
                        for a in sample]
        note = str(exc)
    duration = time.monotonic() - started
    passed = bool(sample) and not failures
    drill_id = cat.record_restore_drill(
        repository, chosen.get("id") or "none", record_files, duration,
        detail={"snapshot": chosen, "sample_count": len(sample), "sample_bytes": sample_bytes,
                "count": count, "max_bytes": max_bytes, "snapshot_vault_path": in_snapshot, "note": note})
    short = chosen.get("short_id") or chosen.get("id")
    if passed:
        summary = (f"restore drill passed: {len(sample)} original(s), {sample_bytes} bytes, restored from snapshot "
                   f"{short} of {repository} with sha256 identical to the catalog")
    else:
        summary = (f"restore drill FAILED: {len(failures)} of {len(sample)} sampled original(s) not restored intact "
                   f"from snapshot {short} of {repository}" + (f" ({note})" if note else ""))
    return {"changed": True, "passed": passed, "snapshot": chosen, "failures": failures, "drill_id": drill_id,
            "duration_s": round(duration, 3),
            "sample": {"count": len(sample), "bytes": sample_bytes,
                       "files": [{"sha256": a["sha256"], "rel_path": a["rel_path"], "size": a["size"]}
                                 for a in sample]},
            "summary": summary}


def _check_room(sample, tmp_dir) -> None:
    sample_bytes = sum(int(a["size"]) for a in sample)
    if tmp_dir and not os.path.isdir(tmp_dir):
        raise DrillError(f"tmp_dir {tmp_dir} does not exist")
    free = shutil.disk_usage(tmp_dir or tempfile.gettempdir()).free
    if free < sample_bytes * 1.05 + 16 * 1024 * 1024:
        raise DrillError(f"not enough free space in {tmp_dir or tempfile.gettempdir()} for the sample "
                         f"({sample_bytes} bytes, {free} free): set tmp_dir to a larger disk or lower max_bytes")


def _restore_and_compare(sample, targets, chosen, env, tmp_dir, restic_binary, in_snapshot):
    _check_room(sample, tmp_dir)
    workdir = tempfile.mkdtemp(prefix="sovereign-drill-", dir=tmp_dir)
    try:
        target = os.path.join(workdir, "restore")
        errors: dict[str, list[str]] = {}
        general: list[str] = []
        for batch in _chunks(list(targets.values()), INCLUDES_PER_RESTORE):
            args = ["restore", chosen["id"], "--target", target]
            for item in batch:
                args += ["--include", include_pattern(item)]
            result = restic.run(args, env, binary=restic_binary)
            for item, messages in restore_errors(result.stderr).items():
                errors.setdefault(item, []).extend(messages)
            if result.returncode != restic.OK and not restore_errors(result.stderr):
                kind = restic.classify_error(result.stderr)
                general.append(restic.explain(kind, env.get("RESTIC_REPOSITORY", ""), result.stderr))
        return _compare(sample, targets, chosen, target, errors, general, in_snapshot)
    finally:
        _remove_tree(workdir)


def _compare(sample, targets, chosen, target, errors, general, in_snapshot):
    """Hash every restored file under ``target`` and compare it with the catalog."""
    files, failures = [], []
    for asset in sample:
        sha, size = asset["sha256"], int(asset["size"])
        inside = targets[sha]
        restored = os.path.join(target, inside.lstrip("/"))
        problems = "; ".join(errors.get(inside, []) + general)
        status, reason = "ok", ""
        if not os.path.isfile(restored) or os.path.islink(restored):
            status = "missing"
            reason = (f"restic restored nothing for {inside}" + (f": {problems}" if problems else
                      f" (it is not in snapshot {chosen['short_id']})"))
        else:
            restored_digest = hash_file(restored)
            got_size, got = restored_digest.size, restored_digest.sha256
            if got != sha or got_size != size:
                status = "mismatch"
                reason = (f"restored {got_size} bytes with sha256 {got}, the catalog has {size} bytes with sha256 "
                          f"{sha}" + (f"; restic: {problems}" if problems else ""))
        files.append({"sha256": sha, "size": size, "status": status,
                      "detail": reason or (f"restic reported: {problems}" if problems else None)})
        if status != "ok":
            failures.append({"sha256": sha, "rel_path": asset["rel_path"], "reason": reason})
    note = ""
    if failures and all(f["status"] == "missing" for f in files) and not errors and not general:
        note = (f"none of the sampled files is in snapshot {chosen['short_id']} under {in_snapshot}: if "
                "the vault was backed up with a relative path or from another mount point, set "
                "snapshot_vault_path to where the vault is inside the snapshot (see 'restic ls')")
    return files, failures, note


def run_pbs_drill(vault: str, env: dict, catalog: str | None = None, count: int | None = None,
                  max_bytes: int | None = None, archive: str = "media.pxar", backup_id: str | None = None,
                  ns: str | None = None, keyfile: str | None = None, snapshot_vault_path: str = "/",
                  tmp_dir: str | None = None, client_binary: str = "proxmox-backup-client", check_mode: bool = False,
                  rng: random.Random | None = None) -> dict:
    """The same drill from a Proxmox Backup Server: the newest snapshot holding ``archive`` (a pxar of the
    vault's folder, so the vault is at ``snapshot_vault_path`` inside it), restored with ``--pattern`` per
    sampled file by ``proxmox-backup-client restore``; credentials come from ``env`` (PBS_REPOSITORY, ...)."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client as pbc

    if count is None and max_bytes is None:
        count = DEFAULT_COUNT
    vault = os.path.abspath(vault)
    in_snapshot = os.path.normpath(snapshot_vault_path or "/")
    repository = pbc.redact_repository(env.get("PBS_REPOSITORY", ""))
    started = time.monotonic()

    def select() -> dict:
        try:
            snapshots = pbc.list_snapshots(client_binary, env, ns)
        except pbc.BackupClientError as exc:
            raise DrillError(str(exc)) from exc
        newest = pbc.newest_with(snapshots, archive, backup_id)
        if newest is None:
            raise DrillError(f"no snapshot in {repository} holds {archive} ({len(snapshots)} snapshot(s)); run the "
                             "media backup first (systemctl start sovereign-pbs-backup-<name>.service)")
        name = pbc.snapshot_name(newest)
        return {"id": name, "short_id": name, "time": newest["backup-time"], "hostname": newest.get("backup-id"),
                "paths": [archive], "tags": [], "repository": repository}

    def restore(sample, targets, chosen):
        _check_room(sample, tmp_dir)
        workdir = tempfile.mkdtemp(prefix="sovereign-drill-", dir=tmp_dir)
        try:
            target = os.path.join(workdir, "restore")
            general: list[str] = []
            for batch in _chunks(list(targets.values()), INCLUDES_PER_RESTORE):
                argv = pbc.restore_argv(client_binary, chosen["id"], archive, target,
                                        [include_pattern(item) for item in batch], keyfile=keyfile, ns=ns)
                result = pbc.run(argv, env)
                if result.returncode != 0:
                    general.append(pbc.explain(pbc.classify(result.stderr), result.stderr))
            return _compare(sample, targets, chosen, target, {}, general, in_snapshot)
        finally:
            _remove_tree(workdir)

    try:
        cat = Catalog.open(vault, catalog, create=False)
    except CatalogError as exc:
        raise DrillError(str(exc)) from exc
    try:
        return _drill(cat, env, repository, count, max_bytes, "latest", None, None, None, (in_snapshot, vault),
                      tmp_dir, client_binary, check_mode, rng, started, source=(select, restore))
    finally:
        cat.close()
