# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Publishing an original: the verified, never-replacing write that only the vault's originals get.

An original is published like this (:func:`publish_bytes`, :func:`publish_stream`):

1. write ``.<name>.partial-<pid>`` in the final directory, hashing what is written;
2. ``fsync`` it; with ``verify`` drop it from the page cache, read it back and hash it again;
3. ``link(2)`` it to the final name (never replaces a file; where hard links are unsupported, a
   ``rename`` after checking that the name is free, which is safe under the vault lock), unlink
   the temp name and ``fsync`` the directory.

A file already under the final name is re-hashed: equal content is adopted (the normal case after
a crash between publish and catalog), different content fails that asset loudly and both files
stay as they are. A crash at any step leaves at most a ``.partial-*`` file, which the next run
removes (:func:`clean_partials`); never a partial file under a final name.

Derived files (sidecars, status files) are not published here: they are replaced with
``common.atomic``, whose temp files, directory syncs and write loop this module shares.
"""

from __future__ import annotations

import errno
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic, hashing

_LINK_UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


class VaultWriteError(Exception):
    """Writing an original or sidecar failed; the message names the file and what to do."""


class ExistingMismatch(VaultWriteError):
    """The final name already holds different content: both files were left alone."""


class SourceChanged(Exception):
    """The source changed while it was read: leave it for the next run."""


def publish_bytes(final_path: str, data: bytes, sha256: str, verify: bool = True, mode: int = 0o444,
                  mtime_ns: int | None = None, fault=None, sync_dir: bool = True) -> str:
    """Publish ``data`` (whose sha256 the caller computed) under ``final_path``.

    Returns ``written`` or ``adopted`` (an identical file was already there). Raises
    :class:`ExistingMismatch` or :class:`VaultWriteError`. ``sync_dir=False`` leaves the
    directory fsync to the caller, who must do it before recording the file anywhere (ingest
    syncs each directory once per catalog batch)."""
    return _publish(final_path, lambda fd: atomic.write_all(fd, data), sha256, verify, mode, mtime_ns, fault, sync_dir)


def publish_stream(final_path: str, source_fd: int, size: int, sha256: str, verify: bool = True,
                   mode: int = 0o444, mtime_ns: int | None = None, fault=None, sync_dir: bool = True) -> str:
    """Copy ``size`` bytes from ``source_fd`` (read with pread from offset 0) to ``final_path``,
    hashing as it copies; the copy must hash to ``sha256`` (the caller's earlier hash pass), so a
    source that changed between the passes is refused. Never holds more than 1 MiB."""
    def copy(fd: int) -> None:
        try:
            copied = hashing.hash_fd(source_fd, size, copy_to=fd)
        except hashing.SizeChanged as exc:
            raise SourceChanged(f"the source {'grew' if exc.grew else 'became shorter'} while it was copied") from exc
        if copied.sha256 != sha256:
            raise SourceChanged("the source's content changed between the hash and the copy")

    return _publish(final_path, copy, sha256, verify, mode, mtime_ns, fault, sync_dir)


def _publish(final_path: str, write, sha256: str, verify: bool, mode: int, mtime_ns: int | None, fault,
             sync_dir: bool) -> str:
    """The one publishing sequence: adopt an identical file already there, else ``write(fd)`` into
    a fresh temp file beside ``final_path``, fsync it, read it back against ``sha256`` (``verify``) and link it
    into place. Whatever fails or is interrupted, the temp file is removed."""
    if os.path.lexists(final_path):
        return _adopt(final_path, sha256)
    temp = atomic.temp_name(final_path)
    fd = atomic.open_temp(temp)
    try:
        try:
            write(fd)
            _finish_temp(fd, mode, mtime_ns)
        finally:
            os.close(fd)
        if fault:
            fault("partial-written")
        if verify:
            _verify_temp(temp, sha256, final_path)
        return _link_into_place(temp, final_path, sha256, fault, sync_dir)
    except BaseException:
        atomic.unlink_quietly(temp)
        raise


def _finish_temp(fd: int, mode: int, mtime_ns: int | None) -> None:
    if mtime_ns is not None:
        os.utime(fd, ns=(mtime_ns, mtime_ns))
    os.fchmod(fd, mode)
    os.fsync(fd)


def _verify_temp(temp: str, sha256: str, final_path: str) -> None:
    got = hashing.hash_file(temp, from_disk=True).sha256
    if got != sha256:
        raise VaultWriteError(f"the copy written for {final_path} reads back with a different sha256 ({got}); "
                              "the disk or its controller corrupted it. Nothing was published; check the disk "
                              "(SMART, zpool status) and run again")


def _link_into_place(temp: str, final_path: str, sha256: str, fault=None, sync_dir: bool = True) -> str:
    directory = os.path.dirname(final_path)
    try:
        os.link(temp, final_path)
    except FileExistsError:
        atomic.unlink_quietly(temp)
        return _adopt(final_path, sha256)
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise VaultWriteError(f"cannot publish {final_path}: {exc.strerror}") from exc
        # No hard links here (some FUSE, SMB, FAT): a rename after checking that the name is
        # free. Safe because one ingest at a time holds the vault lock and one worker the sha256.
        if os.path.lexists(final_path):
            atomic.unlink_quietly(temp)
            return _adopt(final_path, sha256)
        os.rename(temp, final_path)
        if sync_dir:
            atomic.fsync_dir(directory)
        return "written"
    if fault:
        fault("linked")
    os.unlink(temp)
    if sync_dir:
        atomic.fsync_dir(directory)
    return "written"


def _adopt(final_path: str, sha256: str) -> str:
    try:
        got = hashing.hash_file(final_path).sha256
    except OSError as exc:
        raise VaultWriteError(f"{final_path} exists but cannot be read ({exc.strerror}); left as it is. "
                              "Fix its permissions and run again") from exc
    if got != sha256:
        raise ExistingMismatch(f"{final_path} already exists with different content (sha256 {got}); both it and "
                               "the source were left untouched. Run sovereign.cloud.photo_verify: the vault copy "
                               "may be damaged")
    return "adopted"


def clean_partials(root: str) -> list[str]:
    """Remove ``.*.partial-*`` files left under ``root`` by interrupted runs (call with the
    vault lock held: then every partial file is stale). Returns the removed paths."""
    removed = []
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.startswith(".") and atomic.PARTIAL_MARK in entry.name:
                atomic.unlink_quietly(entry.path)
                removed.append(entry.path)
    return removed
