# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Rebuilding the catalog from the vault alone (``sovereign-photos rebuild-catalog``): a lost
catalog must not mean a lost vault.

Every ``originals/YYYY/MM/DD/<sha256>.<ext>`` is hashed (a file whose content is not its name is
listed, never cataloged), parsed like ingest parses it, and joined with its sidecar (original
names, the recorded date source, Live Photo pair, iCloud ids). Source paths are not invented: the
next ingest records them again as duplicates, without copying anything. An existing SQLite
catalog is never overwritten: it is moved aside to ``<catalog>.moved-<time>`` (with its -wal and
-shm files) first; a PostgreSQL catalog is filled only when it holds no assets.
"""

from __future__ import annotations

import datetime as _dt
import os
import re

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import hash_fd
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import ORIGINALS, SQLITE_NAME
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import identity
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.lock import LockHeld, VaultLock
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.analyse import analyse
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import resolve_capture_date
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import Reader
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import parse_icloudpd_name
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sidecar import parse_source_sidecar
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import RepairError, stamp
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import open_source
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import XmpError, read_sidecar

_ORIGINAL = re.compile(r"^([0-9a-f]{64})\.([a-z0-9]{1,5})$")


def _is_pg(catalog: str | None) -> bool:
    return bool(catalog) and catalog.startswith(("postgresql://", "postgres://"))


def _move_aside_sqlite(path: str) -> str | None:
    """Move an existing SQLite catalog (and its -wal/-shm) aside; returns the new main path."""
    if not os.path.lexists(path):
        return None
    when = stamp()
    moved = f"{path}.moved-{when}"
    for suffix in ("-wal", "-shm", ""):
        if os.path.lexists(path + suffix):
            os.rename(path + suffix, f"{path}.moved-{when}{suffix}" if suffix else moved)
    return moved


def _walk_originals(vault: str):
    root = os.path.join(vault, ORIGINALS)
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            match = _ORIGINAL.match(name)
            if match and match.group(2) != "xmp":
                yield os.path.join(directory, name), match.group(1), match.group(2)


def _read_vault_sidecar(path: str):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return read_sidecar(data), parse_source_sidecar(data)
    except (OSError, XmpError):
        return None, None


def asset_from_files(vault: str, path: str, sha256: str, now=None) -> tuple[dict | None, str | None]:
    """(catalog row, None) for one original and its sidecar, or (None, why it was left out)."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.worker import (  # pylint: disable=import-outside-toplevel
        _asset_record)
    now = now or _dt.datetime.now()
    fd = open_source(path)
    try:
        st = os.fstat(fd)
        digest = hash_fd(fd, st.st_size, sha1=True)
        if digest.sha256 != sha256:
            return None, f"content hashes to {digest.sha256[:12]}..., not its name: corrupt (run 'sovereign-photos repair')"
        media = analyse(Reader(fd=fd, size=st.st_size), path, now)
    finally:
        os.close(fd)
    if media is None:
        return None, "not a photo or video this vault recognises"
    sidecar_path = os.path.splitext(path)[0] + ".xmp"
    ours, theirs = _read_vault_sidecar(sidecar_path)
    names = ours.original_names if ours else []
    first = names[0] if names else os.path.basename(path)
    date = resolve_capture_date(media, first, st.st_mtime_ns, theirs, now)
    if ours and ours.date_source and media.date is None:
        date.source = ours.date_source
    record = _asset_record(media, date, sha256, digest.sha1, st.st_size, parse_icloudpd_name(first), theirs)
    record.pop("date_xmp", None)
    record.pop("folder", None)
    rel = os.path.relpath(path, vault)
    record["rel_path"] = rel
    record["sidecar_rel_path"] = os.path.splitext(rel)[0] + ".xmp"
    if ours:
        for key in ("live_pair_sha256", "icloud_asset_id", "icloud_master_id", "content_identifier"):
            if getattr(ours, key):
                record[key] = getattr(ours, key)
    return record, None


def rebuild_catalog(vault: str, catalog: str | None = None, check: bool = False) -> dict:
    """Rebuild the catalog of ``vault`` from ``originals/`` and the sidecars.

    Returns {changed, assets, skipped: [{path, reason}], moved_aside, summary}."""
    vault = os.path.abspath(os.path.expanduser(vault))
    if not os.path.isdir(os.path.join(vault, ORIGINALS)):
        raise RepairError(f"{vault} has no {ORIGINALS}/ directory: nothing to rebuild from (is the NAS mounted?)")
    result: dict = {"assets": 0, "skipped": [], "moved_aside": None}
    rows = []
    for path, sha256, _ext in _walk_originals(vault):
        try:
            row, why = asset_from_files(vault, path, sha256)
        except OSError as exc:
            row, why = None, f"unreadable: {exc.strerror}"
        if row is None:
            result["skipped"].append({"path": os.path.relpath(path, vault), "reason": why})
        else:
            rows.append(row)
    result["assets"] = len(rows)
    if check:
        result["changed"] = bool(rows)
        result["summary"] = f"would rebuild the catalog with {len(rows)} asset(s); {len(result['skipped'])} left out"
        return result
    try:
        marker = identity.read_marker(vault)
    except identity.VaultIdentityError as exc:
        raise RepairError(str(exc)) from exc
    try:
        lock = VaultLock(vault).acquire()
    except LockHeld as exc:
        raise RepairError(str(exc)) from exc
    try:
        if _is_pg(catalog):
            cat = Catalog.open(vault, catalog, create=True)
            if cat.count_assets():
                cat.close()
                raise RepairError("the PostgreSQL catalog still holds assets; rebuild-catalog only fills an empty "
                                  "one (a lost catalog); use 'sovereign-photos repair' for a damaged vault")
        else:
            target = catalog or os.path.join(vault, SQLITE_NAME)
            moved = _move_aside_sqlite(target)
            result["moved_aside"] = moved
            cat = Catalog.open(vault, catalog, create=True)
        try:
            with cat.transaction():
                if marker:  # the rebuilt catalog is the same vault: it keeps the vault's identity
                    cat.set_meta("vault_id", marker)
                for row in rows:
                    cat.add_asset(row)
        finally:
            cat.close()
    except CatalogError as exc:
        raise RepairError(str(exc)) from exc
    finally:
        lock.release()
    result["changed"] = True
    text = f"rebuilt the catalog with {len(rows)} asset(s) from {ORIGINALS}/ and the sidecars"
    if result["moved_aside"]:
        text += f"; the old catalog was moved aside to {result['moved_aside']}"
    if result["skipped"]:
        text += f"; {len(result['skipped'])} file(s) left out (see skipped)"
    result["summary"] = text
    return result
