# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Repairing a vault from what it still knows (``sovereign-photos repair``, ``photo_ingest``'s
``repair`` option), and the pieces ingest shares with it.

* an original that is missing, not a regular file, or (hashed) not its sha256 is copied again
  from any source path the catalog ever recorded for it whose bytes still hash right, with the
  same verified atomic publish as ingest (:mod:`..publish`); a damaged file under the final name
  is set aside first as ``<name>.corrupt-<time>``, never deleted;
* a sidecar that is missing is rewritten from the catalog; one that does not parse, or names
  another sha256, is set aside as ``<sha256>.xmp.orig-<time>`` (another tool's work is never
  lost) and rewritten;
* what could not be repaired is listed with the reason.

:func:`original_problem` is the cheap check (one ``lstat``) that ingest runs for every asset
whose content a watched folder still holds, so dedup never trusts the catalog over the disk.
"""

from __future__ import annotations

import os
import stat
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import SizeChanged, hash_fd, hash_file
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import publish
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.lock import LockHeld, VaultLock
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.names import escape_path, unescape_path
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import open_source
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import (
    XmpError, merge_sidecar, read_sidecar, render_sidecar)

SET_ASIDE_MARKS = (".corrupt-", ".orig-")


class RepairError(Exception):
    """The repair cannot run at all; the message says what to do."""


class NotRestored(Exception):
    """One original could not be restored; the message says why."""


def stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def is_set_aside(name: str) -> bool:
    """A file this module set aside (``<sha>.jpg.corrupt-<time>``, ``<sha>.xmp.orig-<time>``)."""
    return any(mark in name for mark in SET_ASIDE_MARKS)


def set_aside(path: str, mark: str) -> str:
    """Rename ``path`` to ``<path>.<mark>-<time>`` (a free name) and return the new path."""
    base = f"{path}.{mark}-{stamp()}"
    target, n = base, 1
    while os.path.lexists(target):
        n += 1
        target = f"{base}.{n}"
    os.rename(path, target)
    atomic.fsync_dir(os.path.dirname(path))
    return target


def original_problem(vault: str, rel_path: str, size: int) -> str | None:
    """Why the original on disk is not right, from one ``lstat`` (None when it looks right)."""
    try:
        st = os.lstat(os.path.join(vault, rel_path))
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"cannot stat it: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size != size:
        return f"wrong size ({st.st_size} bytes, the catalog says {size})"
    return None


def restore_original(vault: str, rel_path: str, sha256: str, source_path: str, verify: bool = True,
                     mtime_ns: int | None = None) -> dict:
    """Copy ``source_path`` to ``<vault>/<rel_path>`` when its bytes hash to ``sha256``.

    A damaged file under the final name is set aside first. Returns {path, from, set_aside};
    raises :class:`NotRestored` with the reason."""
    try:
        fd = open_source(source_path)
    except OSError as exc:
        raise NotRestored(f"{source_path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRestored(f"{source_path}: not a regular file")
        try:
            got = hash_fd(fd, st.st_size).sha256
        except (OSError, SizeChanged) as exc:
            raise NotRestored(f"{source_path}: cannot read it ({exc})") from exc
        if got != sha256:
            raise NotRestored(f"{source_path}: holds other bytes now (sha256 {got[:12]}...)")
        final = os.path.join(vault, rel_path)
        moved = None
        try:
            if os.path.lexists(final):
                moved = set_aside(final, "corrupt")
            atomic.ensure_dir(os.path.dirname(final))
        except OSError as exc:
            raise NotRestored(f"cannot set the damaged file aside in {os.path.dirname(final)}: {exc.strerror}; "
                              "check the vault's permissions") from exc
        try:
            publish.publish_stream(final, fd, st.st_size, sha256, verify,
                                   mtime_ns=st.st_mtime_ns if mtime_ns is None else mtime_ns)
        except publish.SourceChanged as exc:
            raise NotRestored(f"{source_path}: changed while it was copied; run again") from exc
        except (publish.VaultWriteError, OSError) as exc:
            raise NotRestored(f"cannot write {final}: {exc}") from exc
        return {"path": rel_path, "from": source_path, "set_aside": moved}
    finally:
        os.close(fd)


def restore_from_any_source(vault: str, row: dict, candidates, verify: bool = True) -> dict:
    """Try each recorded source path in turn; raises :class:`NotRestored` with every reason."""
    reasons = []
    for path in dict.fromkeys(candidates):
        try:
            return restore_original(vault, row["rel_path"], row["sha256"], path, verify)
        except NotRestored as exc:
            reasons.append(str(exc))
    if not reasons:
        raise NotRestored("the catalog records no source path for it; restore it from a backup (restic)")
    raise NotRestored("no recorded source still holds these bytes (" + "; ".join(reasons)
                      + "); restore it from a backup (restic)")


def fresh_sidecar_bytes(catalog, row: dict) -> bytes:
    """The sidecar of an asset, rebuilt from its catalog row and its recorded source names."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.worker import (  # pylint: disable=import-outside-toplevel
        sidecar_for)
    names = list(dict.fromkeys(os.path.basename(src["path"]) for src in catalog.sources_of(row["sha256"])))
    return render_sidecar(sidecar_for(dict(row), names))


def sidecar_problem(path: str, sha256: str) -> str | None:
    """Why the sidecar at ``path`` is not usable (None when it is; another tool's fields are fine)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if os.path.islink(path):
        return "a symbolic link"
    try:
        found = read_sidecar(data).sha256
    except XmpError as exc:
        return f"does not parse ({exc})"
    if found not in ("", sha256):
        return f"names another original ({found[:12]}...)"
    return None


def _sidecar_rel(row: dict) -> str:
    return row.get("sidecar_rel_path") or os.path.splitext(row["rel_path"])[0] + ".xmp"


class _Repair:  # pylint: disable=too-few-public-methods
    def __init__(self, vault: str, catalog, check: bool, verify_writes: bool, rehash: bool) -> None:
        self.vault, self.catalog, self.check = vault, catalog, check
        self.verify_writes, self.rehash = verify_writes, rehash
        self.result: dict = {"checked": 0, "originals_restored": [], "sidecars_rewritten": [], "set_aside": [],
                             "not_repaired": []}

    def run(self) -> dict:
        for row in self.catalog.query("SELECT * FROM assets ORDER BY rel_path"):
            self.result["checked"] += 1
            if self._original(row):
                self._sidecar(row)
        return self.result

    def _original_damage(self, row: dict) -> str | None:
        problem = original_problem(self.vault, row["rel_path"], row["size"])
        if problem is None and self.rehash:
            try:
                got = hash_file(os.path.join(self.vault, row["rel_path"]), from_disk=True).sha256
            except OSError as exc:
                return f"unreadable: {exc.strerror}"
            if got != row["sha256"]:
                problem = f"corrupt (hashes to {got[:12]}...)"
        return problem

    def _original(self, row: dict) -> bool:
        """Repair the original if needed; True when it is (now) right."""
        problem = self._original_damage(row)
        if problem is None:
            return True
        # the catalog keeps names escaped (names.py): back to the bytes on disk, and escaped again for display
        sources = [unescape_path(src["path"]) for src in self.catalog.sources_of(row["sha256"])]
        entry = {"sha256": row["sha256"], "path": row["rel_path"], "problem": problem}
        if self.check:
            usable = [p for p in sources if os.path.isfile(p)]
            if usable:
                self.result["originals_restored"].append({**entry, "from": escape_path(usable[0]), "check": True})
                return True
            self.result["not_repaired"].append({**entry, "reason": "no recorded source path exists any more; "
                                                "restore it from a backup (restic)"})
            return False
        try:
            done = restore_from_any_source(self.vault, row, sources, self.verify_writes)
        except NotRestored as exc:
            self.result["not_repaired"].append({**entry, "reason": str(exc)})
            return False
        if done["set_aside"]:
            self.result["set_aside"].append(os.path.relpath(done["set_aside"], self.vault))
        self.result["originals_restored"].append({**entry, "from": escape_path(done["from"])})
        return True

    def _sidecar(self, row: dict) -> None:
        rel = _sidecar_rel(row)
        path = os.path.join(self.vault, rel)
        problem = sidecar_problem(path, row["sha256"])
        if problem is None:
            self._complete_sidecar(row, rel, path)
            return
        self.result["sidecars_rewritten"].append({"sha256": row["sha256"], "path": rel, "problem": problem})
        if self.check:
            return
        if problem != "missing":
            moved = set_aside(path, "orig")
            self.result["set_aside"].append(os.path.relpath(moved, self.vault))
        atomic.replace_bytes(path, fresh_sidecar_bytes(self.catalog, row))

    def _complete_sidecar(self, row: dict, rel: str, path: str) -> None:
        """A sidecar another tool took over keeps its fields; ours that it lacks are merged in."""
        with open(path, "rb") as handle:
            existing = handle.read()
        merged = merge_sidecar(existing, fresh_sidecar_bytes(self.catalog, row))
        if merged is None:
            return
        self.result["sidecars_rewritten"].append({"sha256": row["sha256"], "path": rel,
                                                  "problem": "lacked some of the vault's fields (merged in, "
                                                             "the other fields kept)"})
        if not self.check:
            atomic.replace_bytes(path, merged)


def summarize(result: dict, check: bool) -> str:
    verb = "would restore" if check else "restored"
    text = (f"checked {result['checked']} assets: {verb} {len(result['originals_restored'])} original(s), "
            f"{'would rewrite' if check else 'rewrote'} {len(result['sidecars_rewritten'])} sidecar(s)")
    if result["set_aside"]:
        text += f", set aside {len(result['set_aside'])} damaged or foreign file(s)"
    if result["not_repaired"]:
        text += f"; {len(result['not_repaired'])} could NOT be repaired (see not_repaired)"
    return text


def repair_vault(vault: str, catalog: str | None = None, check: bool = False, verify_writes: bool = True,
                 rehash: bool = True) -> dict:
    """Repair every asset of the vault (``rehash``: hash each original, else only ``lstat`` it).

    Returns {changed, checked, originals_restored, sidecars_rewritten, set_aside, not_repaired, summary}.
    Holds the ingest lock, so it never races an ingest."""
    vault = os.path.abspath(os.path.expanduser(vault))
    if not os.path.isdir(vault):
        raise RepairError(f"vault {vault} is not a directory (is the NAS mounted?)")
    lock = None
    if not check:
        try:
            lock = VaultLock(vault).acquire()
        except LockHeld as exc:
            raise RepairError(str(exc)) from exc
    try:
        try:
            cat = Catalog.open(vault, catalog, create=False, readonly=check)
        except CatalogError as exc:
            raise RepairError(f"{exc}; if the catalog was lost, run 'sovereign-photos rebuild-catalog' first") from exc
        try:
            result = _Repair(vault, cat, check, verify_writes, rehash).run()
        finally:
            cat.close()
    finally:
        if lock is not None:
            lock.release()
    result["changed"] = bool(result["originals_restored"] or result["sidecars_rewritten"])
    result["summary"] = summarize(result, check)
    return result


def damaged_originals(vault: str, catalog, shas=None) -> dict[str, tuple[dict, str]]:
    """sha256 -> (asset row, problem) for every asset (or those in ``shas``) whose original is
    missing, not a regular file or of the wrong size: one ``lstat`` each, no hashing."""
    damaged = {}
    prefix, lstat, is_regular = vault.rstrip("/") + "/", os.lstat, stat.S_ISREG
    for sha, rel_path, size in catalog.original_sizes():  # the hot loop: one lstat per asset
        try:
            st = lstat(prefix + rel_path)
            if st.st_size == size and is_regular(st.st_mode):
                continue
        except OSError:
            pass
        if shas is not None and sha not in shas:
            continue
        problem = original_problem(vault, rel_path, size)
        if problem is not None:
            damaged[sha] = ({"sha256": sha, "rel_path": rel_path, "size": size,
                             "sidecar_rel_path": os.path.splitext(rel_path)[0] + ".xmp"}, problem)
    return damaged


def restore_during_ingest(cfg, catalog, tally) -> None:
    """Dedup must not trust the catalog over the disk: an asset whose original is damaged is
    copied again from a watched folder that still holds its bytes (paths the catalog recorded
    under this run's sources). Adds ``restored`` to the counts and a line per file to
    ``tally.restored_files``; check mode only reports."""
    damaged = damaged_originals(cfg.vault, catalog)
    roots = tuple(s.rstrip("/") + "/" for s in cfg.sources)
    for sha, (row, problem) in sorted(damaged.items()):
        candidates = [unescape_path(src["path"]) for src in catalog.sources_of(sha) if src["path"].startswith(roots)]
        if not candidates:
            continue  # no watched folder holds it: verify reports it, repair or a backup restores it
        entry = {"sha256": sha, "path": row["rel_path"], "reason": f"the original in the vault was {problem}"}
        if cfg.check:
            if any(os.path.isfile(p) for p in candidates):
                tally.restored_files.append({**entry, "from": escape_path(next(p for p in candidates if os.path.isfile(p)))})
                tally.changed = True
            continue
        try:
            done = restore_from_any_source(cfg.vault, row, candidates, cfg.verify_writes)
        except NotRestored as exc:
            tally.warnings.append(f"the original {row['rel_path']} is {problem} and could not be restored: {exc}")
            continue
        if done["set_aside"]:
            tally.set_aside.append(os.path.relpath(done["set_aside"], cfg.vault))
        sidecar = os.path.join(cfg.vault, _sidecar_rel(row))
        if sidecar_problem(sidecar, sha) == "missing":
            try:
                atomic.replace_bytes(sidecar, fresh_sidecar_bytes(catalog, catalog.get_asset(sha)))
            except OSError as exc:
                tally.warnings.append(f"restored {row['rel_path']}, but could not write its sidecar: {exc}; "
                                      "'sovereign-photos repair' writes it")
        tally.restored_files.append({**entry, "from": escape_path(done["from"])})
        tally.changed = True
    tally.counts["restored"] = len(tally.restored_files)
