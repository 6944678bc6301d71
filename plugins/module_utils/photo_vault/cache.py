# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The workstation's full-resolution cache: the engine of ``sovereign-photos get``.

``get(sha256, size)`` answers with a local path. Thumbnails (``tiny``, ``small``, ``medium``) are
small and already sit in the thumbnails root: their path is returned as it is. A ``full`` original
is copied from the vault (a NAS mount, slow and sometimes away) into a local cache directory:

    <cache>/<sha256[:2]>/<sha256>.<ext>     one file per original, named by its content
    <cache>/.locks/<sha256>.lock            one lock per entry (two readers copy it once)
    <cache>/.evict.lock                     one evictor at a time

The copy is hashed while it is written and only renamed to its final name when its sha256 is the
catalog's, so the cache never holds a partial or a damaged file under a final name (a crash leaves
a ``.partial`` temp, which the next eviction removes). The vault is only read.

A use touches the entry's mtime, which is the "last used" time: entries unused for ``ttl`` are
dropped, then the least recently used ones until the cache fits ``max_bytes``. An entry used in
the last ``grace`` seconds is never evicted, so a path just handed to one reader does not vanish
under it because another reader filled the cache.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from dataclasses import dataclass

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic, hashing
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import THUMBS

SIZES = ("tiny", "small", "medium", "full")
LOCKS = ".locks"
EVICT_LOCK = ".evict.lock"
PARTIAL_MAX_AGE = 3600  # a temp older than this belongs to a crashed copy
_HEX = re.compile(r"[0-9a-f]{6,64}")


class CacheError(Exception):
    """``get`` cannot answer; the message says what to do next."""


@dataclass
class CacheSettings:
    path: str
    max_bytes: int = 20 << 30
    ttl: float = 30 * 86400.0
    grace: float = 300.0


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sovereign-photos")


@dataclass
class Answer:
    path: str
    sha256: str
    size: str
    cached: bool = False      # full: served from the cache (True) or copied now (False)
    evicted: int = 0          # entries removed by this call's eviction


def resolve(cat: Catalog, wanted: str) -> dict:
    """The catalog row of ``wanted``: a sha256, or a unique prefix of at least 6 hex digits."""
    wanted = (wanted or "").strip().lower()
    if not _HEX.fullmatch(wanted):
        raise CacheError(f"{wanted!r} is not a sha256 or a prefix of one (6 to 64 hex digits); "
                         "`sovereign-photos info` shows what the vault holds")
    if len(wanted) == 64:
        row = cat.get_asset(wanted)
        rows = [row] if row else []
    else:
        rows = cat.query("SELECT * FROM assets WHERE sha256 LIKE ? ORDER BY sha256 LIMIT 2", (wanted + "%",))
    if not rows:
        raise CacheError(f"no original with sha256 {wanted} in the catalog")
    if len(rows) > 1:
        raise CacheError(f"{wanted} is the start of more than one sha256 ({rows[0]['sha256'][:16]}..., "
                         f"{rows[1]['sha256'][:16]}...); give more digits")
    return rows[0]


def get(vault: str, wanted: str, size: str = "full", catalog: str | None = None, thumbs_root: str | None = None,
        settings: CacheSettings | None = None) -> Answer:
    """A local path holding ``size`` of the original ``wanted`` (see the module docstring)."""
    if size not in SIZES:
        raise CacheError(f"size {size!r} is not one of {', '.join(SIZES)}")
    try:
        cat = Catalog.open(vault, catalog, readonly=True)
    except CatalogError as exc:
        raise CacheError(f"{exc} (is the vault mounted at {vault}?)") from exc
    try:
        row = resolve(cat, wanted)
    finally:
        cat.close()
    sha256 = row["sha256"]
    if size != "full":
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails
        path = thumbnails.thumbnail_paths(thumbs_root or os.path.join(vault, THUMBS), sha256)[size]
        if not os.path.isfile(path):
            raise CacheError(f"no {size} thumbnail of {sha256[:16]}... yet; make them with "
                             "`sovereign-photos thumbnails`")
        return Answer(path, sha256, size)
    source = os.path.join(vault, row["rel_path"])
    if settings is None:
        return Answer(source, sha256, size)
    return _cached_copy(settings, source, sha256, int(row["size"]))


def _lock(path: str) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def entry_path(settings: CacheSettings, sha256: str, source: str) -> str:
    ext = os.path.splitext(source)[1].lower()
    return os.path.join(settings.path, sha256[:2], sha256 + ext)


def _cached_copy(settings: CacheSettings, source: str, sha256: str, size: int) -> Answer:
    final = entry_path(settings, sha256, source)
    atomic.ensure_dir(os.path.dirname(final), 0o700)
    atomic.ensure_dir(os.path.join(settings.path, LOCKS), 0o700)
    lock = _lock(os.path.join(settings.path, LOCKS, sha256 + ".lock"))
    try:
        try:
            os.utime(final)  # a hit: now is its last use
            return Answer(final, sha256, "full", cached=True)
        except FileNotFoundError:
            pass
        if size > settings.max_bytes:  # it could never stay: hand out the vault's own file
            return Answer(source, sha256, "full")
        _copy_verified(source, final, sha256, size)
    finally:
        _unlock(lock)
    evicted = evict(settings, keep=final)
    return Answer(final, sha256, "full", evicted=evicted)


def _copy_verified(source: str, final: str, sha256: str, size: int) -> None:
    try:
        src = hashing.open_readonly(source)
    except FileNotFoundError as exc:
        raise CacheError(f"{source} is in the catalog but not in the vault; restore it with "
                         "`sovereign-photos repair`") from exc
    except OSError as exc:
        raise CacheError(f"cannot read {source}: {exc.strerror} (is the vault mounted?)") from exc
    temp = atomic.temp_name(final)
    try:
        fd = atomic.open_temp(temp, 0o600)
        try:
            hashing.advise(src, "POSIX_FADV_SEQUENTIAL")
            try:
                digest = hashing.hash_fd(src, size=size, copy_to=fd)
            except hashing.SizeChanged as exc:
                raise CacheError(f"{source} is not the size the catalog recorded ({size} bytes); "
                                 "check it with `sovereign-photos verify --full`") from exc
            if digest.sha256 != sha256:
                raise CacheError(f"{source} does not hash to its sha256 (the original is damaged); check it with "
                                 "`sovereign-photos verify --full` and restore it with `sovereign-photos repair`")
            os.fchmod(fd, 0o400)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
    except OSError as exc:
        atomic.unlink_quietly(temp)
        if exc.errno == errno.ENOSPC:
            raise CacheError(f"the cache at {os.path.dirname(os.path.dirname(final))} is full (disk); "
                             "lower its max_size or free space") from exc
        raise CacheError(f"cannot write the cache entry {final}: {exc.strerror}") from exc
    except BaseException:
        atomic.unlink_quietly(temp)
        raise
    finally:
        os.close(src)


def _entries(root: str):
    """(path, size, last_use) of every cache entry; removes crashed copies' temps on the way."""
    now = time.time()
    try:
        shards = [e for e in os.scandir(root) if e.is_dir(follow_symlinks=False) and len(e.name) == 2]
    except FileNotFoundError:
        return
    for shard in shards:
        for entry in os.scandir(shard.path):
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if atomic.PARTIAL_MARK in entry.name:
                if now - info.st_mtime > PARTIAL_MAX_AGE:
                    atomic.unlink_quietly(entry.path)
                continue
            yield entry.path, info.st_size, info.st_mtime


def _unlink_unused(settings: CacheSettings, path: str, used: float) -> bool:
    """Remove ``path`` unless a reader holds its lock or touched it since it was listed."""
    sha256 = os.path.splitext(os.path.basename(path))[0]
    fd = os.open(os.path.join(settings.path, LOCKS, sha256 + ".lock"),
                 os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            if os.stat(path).st_mtime > used:
                return False
            os.unlink(path)
        except FileNotFoundError:
            pass
        return True
    finally:
        os.close(fd)


def evict(settings: CacheSettings, keep: str | None = None, now: float | None = None) -> int:
    """Drop entries unused for ``ttl``, then the least recently used until the cache fits
    ``max_bytes``; never ``keep`` nor anything used within ``grace``. Returns how many went."""
    now = time.time() if now is None else now
    atomic.ensure_dir(os.path.join(settings.path, LOCKS), 0o700)
    lock = _lock(os.path.join(settings.path, EVICT_LOCK))
    removed = 0
    try:
        entries = sorted(_entries(settings.path), key=lambda item: item[2])
        total = sum(size for _path, size, _used in entries)
        for path, size, used in entries:
            expired = now - used > settings.ttl
            if not expired and total <= settings.max_bytes:
                break
            if path == keep or now - used < settings.grace or not _unlink_unused(settings, path, used):
                continue
            total -= size
            removed += 1
    finally:
        _unlock(lock)
    return removed
