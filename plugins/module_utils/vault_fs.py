# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filesystem safety for the photo vault: verified atomic writes, the vault lock, stale-temp
cleanup, and walking the source folders.

An original is published like this (:func:`publish_bytes`, :func:`publish_stream`):

1. write ``.<name>.partial-<pid>`` in the final directory, hashing what is written;
2. ``fsync`` it; with ``verify`` drop it from the page cache, read it back and hash it again;
3. ``link(2)`` it to the final name (never replaces a file; where hard links are unsupported, a
   ``rename`` after checking that the name is free, which is safe under the vault lock), unlink
   the temp name and ``fsync`` the directory.

A file already under the final name is re-hashed: equal content is adopted (the normal case after
a crash between publish and catalog), different content fails that asset loudly and both files
stay as they are. A crash at any step leaves at most a ``.partial-*`` file, which the next run
removes; never a partial file under a final name.

Derived files (sidecars, and the JSON status files that the host scripts of restic_backup,
zfs_datasets and photo_vault write for reports: :func:`write_json`) are replaced with
:func:`replace_bytes`: temp file in the same directory, ``fsync``, ``rename`` over the old file,
``fsync`` of the directory. A reader sees the old file or the new one, never a mix. This module
is standard library only and imports nothing from the collection, so those roles copy it next to
their scripts as it is.

Sources are only ever opened ``O_RDONLY`` (plus ``O_NOATIME`` where permitted and ``O_NONBLOCK``
so that a FIFO swapped in after the scan cannot hang a worker).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import json
import os
import stat
import time

CHUNK = 1024 * 1024
LOCK_NAME = ".sovereign-ingest.lock"
STATE_DIR = ".sovereign-ingest"
PARTIAL_MARK = ".partial-"

# Names ignored silently in source folders (exact, lower-case) and by prefix/suffix.
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".stignore", ".stfolder", ".localized",
                           "ehthumbs.db", ".picasa.ini", "picasa.ini", ".nomedia"})
IGNORED_PREFIXES = ("._", "~syncthing~", ".syncthing.")
IGNORED_SUFFIXES = (".part", ".tmp", ".xmp", ".aae", ".json", ".crdownload", ".download")
IGNORED_DIRS = frozenset({"@eadir", "#recycle", "$recycle.bin", "lost+found", ".stversions", ".stfolder"})
_LINK_UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


class VaultWriteError(Exception):
    """Writing an original or sidecar failed; the message names the file and what to do."""


class ExistingMismatch(VaultWriteError):
    """The final name already holds different content: both files were left alone."""


class LockHeld(Exception):
    """Another ingest holds the vault lock."""


def sha256_file(path: str, drop_cache: bool = False) -> tuple[str, int]:
    """(sha256 hex, size) of a file, streamed; ``drop_cache`` first evicts it from the page
    cache so the bytes come from the disk, not from memory."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if drop_cache:
            _drop_cache(fd)
        buffer = bytearray(CHUNK)
        view = memoryview(buffer)
        while True:
            n = os.readv(fd, [buffer])
            if n == 0:
                break
            digest.update(view[:n])
            size += n
    finally:
        os.close(fd)
    return digest.hexdigest(), size


def _drop_cache(fd: int) -> None:
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except (AttributeError, OSError):
        pass


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):  # some filesystems cannot fsync a directory
            raise
    finally:
        os.close(fd)


def ensure_dir(path: str, mode: int = 0o755) -> None:
    """``mkdir -p`` that makes each new directory durable (fsync of its parent)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        ensure_dir(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise VaultWriteError(f"{path} exists and is not a directory") from None
        return
    fsync_dir(parent or ".")


def _temp_name(final_path: str) -> str:
    directory, name = os.path.split(final_path)
    return os.path.join(directory, f".{name}{PARTIAL_MARK}{os.getpid()}")


def _open_temp(temp: str) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(temp, flags, 0o600)
    except FileExistsError:
        os.unlink(temp)  # left by an earlier process with our pid (pids are reused)
        return os.open(temp, flags, 0o600)


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:CHUNK * 8])
        view = view[written:]


def publish_bytes(final_path: str, data: bytes, sha256: str, verify: bool = True, mode: int = 0o444,
                  mtime_ns: int | None = None, fault=None, sync_dir: bool = True) -> str:
    """Publish ``data`` (whose sha256 the caller computed) under ``final_path``.

    Returns ``written`` or ``adopted`` (an identical file was already there). Raises
    :class:`ExistingMismatch` or :class:`VaultWriteError`. ``sync_dir=False`` leaves the
    directory fsync to the caller, who must do it before recording the file anywhere (ingest
    syncs each directory once per catalog batch)."""
    return _publish(final_path, lambda fd: _write_all(fd, data), sha256, verify, mode, mtime_ns, fault, sync_dir)


def publish_stream(final_path: str, source_fd: int, size: int, sha256: str, verify: bool = True,
                   mode: int = 0o444, mtime_ns: int | None = None, fault=None, sync_dir: bool = True) -> str:
    """Copy ``size`` bytes from ``source_fd`` (read with pread from offset 0) to ``final_path``,
    hashing as it copies; the copy must hash to ``sha256`` (the caller's earlier hash pass), so a
    source that changed between the passes is refused. Never holds more than 1 MiB."""
    def copy(fd: int) -> None:
        digest = hashlib.sha256()
        offset = 0
        while offset < size:
            chunk = os.pread(source_fd, min(CHUNK, size - offset), offset)
            if not chunk:
                raise SourceChanged("the source became shorter while it was copied")
            digest.update(chunk)
            _write_all(fd, chunk)
            offset += len(chunk)
        if os.pread(source_fd, 1, offset):
            raise SourceChanged("the source grew while it was copied")
        if digest.hexdigest() != sha256:
            raise SourceChanged("the source's content changed between the hash and the copy")

    return _publish(final_path, copy, sha256, verify, mode, mtime_ns, fault, sync_dir)


def _publish(final_path: str, write, sha256: str, verify: bool, mode: int, mtime_ns: int | None, fault,
             sync_dir: bool) -> str:
    """The one publishing sequence: adopt an identical file already there, else ``write(fd)`` into
    a fresh temp file beside ``final_path``, fsync it, read it back against ``sha256`` (``verify``) and link it
    into place. Whatever fails or is interrupted, the temp file is removed."""
    if os.path.lexists(final_path):
        return _adopt(final_path, sha256)
    temp = _temp_name(final_path)
    fd = _open_temp(temp)
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
        _unlink_quietly(temp)
        raise


class SourceChanged(Exception):
    """The source changed while it was read: leave it for the next run."""


def _finish_temp(fd: int, mode: int, mtime_ns: int | None) -> None:
    if mtime_ns is not None:
        os.utime(fd, ns=(mtime_ns, mtime_ns))
    os.fchmod(fd, mode)
    os.fsync(fd)


def _verify_temp(temp: str, sha256: str, final_path: str) -> None:
    got, _size = sha256_file(temp, drop_cache=True)
    if got != sha256:
        raise VaultWriteError(f"the copy written for {final_path} reads back with a different sha256 ({got}); "
                              "the disk or its controller corrupted it. Nothing was published; check the disk "
                              "(SMART, zpool status) and run again")


def _link_into_place(temp: str, final_path: str, sha256: str, fault=None, sync_dir: bool = True) -> str:
    directory = os.path.dirname(final_path)
    try:
        os.link(temp, final_path)
    except FileExistsError:
        _unlink_quietly(temp)
        return _adopt(final_path, sha256)
    except OSError as exc:
        if exc.errno not in _LINK_UNSUPPORTED:
            raise VaultWriteError(f"cannot publish {final_path}: {exc.strerror}") from exc
        # No hard links here (some FUSE, SMB, FAT): a rename after checking that the name is
        # free. Safe because one ingest at a time holds the vault lock and one worker the sha256.
        if os.path.lexists(final_path):
            _unlink_quietly(temp)
            return _adopt(final_path, sha256)
        os.rename(temp, final_path)
        if sync_dir:
            fsync_dir(directory)
        return "written"
    if fault:
        fault("linked")
    os.unlink(temp)
    if sync_dir:
        fsync_dir(directory)
    return "written"


def _adopt(final_path: str, sha256: str) -> str:
    try:
        got, _size = sha256_file(final_path)
    except OSError as exc:
        raise VaultWriteError(f"{final_path} exists but cannot be read ({exc.strerror}); left as it is. "
                              "Fix its permissions and run again") from exc
    if got != sha256:
        raise ExistingMismatch(f"{final_path} already exists with different content (sha256 {got}); both it and "
                               "the source were left untouched. Run sovereign.cloud.photo_verify: the vault copy "
                               "may be damaged")
    return "adopted"


def replace_bytes(final_path: str, data: bytes, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Atomically replace (or create) a small derived file such as a sidecar: temp file in the
    same directory, fsync, rename over the old one, fsync the directory (or leave that to the
    caller with ``sync_dir=False``)."""
    temp = _temp_name(final_path)
    fd = _open_temp(temp)
    try:
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final_path)
    except BaseException:
        _unlink_quietly(temp)
        raise
    if sync_dir:
        fsync_dir(os.path.dirname(final_path))


def write_json(path: str, payload, mode: int = 0o644) -> str:
    """Atomically replace (or create) the JSON file ``path`` with ``payload`` (indented, sorted
    keys; values JSON cannot hold are written as strings), creating its directory. The payload is
    encoded before anything is written, so a payload that cannot be encoded leaves the old file as
    it was. Returns the absolute path."""
    path = os.path.abspath(path)
    data = (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")
    ensure_dir(os.path.dirname(path))
    replace_bytes(path, data, mode=mode)
    return path


def read_json(path: str, default=None):
    """The JSON document in ``path``, or ``default`` when it is missing, unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
            elif entry.name.startswith(".") and PARTIAL_MARK in entry.name:
                _unlink_quietly(entry.path)
                removed.append(entry.path)
    return removed


# ---------------------------------------------------------------------------------------------- lock

class VaultLock:
    """``flock`` on ``<vault>/.sovereign-ingest.lock``: one ingest per vault. The file keeps the
    holder's pid so a second run can say who holds it."""

    def __init__(self, vault: str) -> None:
        self.path = os.path.join(vault, LOCK_NAME)
        self.fd: int | None = None

    def acquire(self) -> VaultLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").split()
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                who = f"pid {holder[0]}" if holder else "another process"
                raise LockHeld(f"another ingest ({who}) is running on this vault ({self.path} is locked); "
                               "wait for it to finish, or stop it, and run again") from exc
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> VaultLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lock_holder(vault: str) -> str | None:
    """Without taking it: the pid holding the vault lock, or None when nobody does."""
    path = os.path.join(vault, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except OSError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").split()
        return holder[0] if holder else "unknown"
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------- sources

def open_source(path: str) -> int:
    """Open a source read-only, without updating its atime where we may (O_NOATIME needs the
    owner or CAP_FOWNER) and without blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # not the owner: O_NOATIME is refused with EPERM, plain read-only is fine
    return os.open(path, flags)


def read_exactly(fd: int, size: int) -> bytes | None:
    """The whole file (``size`` bytes from offset 0) in one allocation; None when it is not
    exactly that long (it changed while being read)."""
    os.lseek(fd, 0, os.SEEK_SET)
    with io.FileIO(fd, "rb", closefd=False) as handle:
        data = handle.read(size)
        while data is not None and len(data) < size:  # a short read: rare, finish it
            more = handle.read(size - len(data))
            if not more:
                return None
            data += more
        if data is None or handle.read(1):
            return None
    return data


def not_utf8(path: str) -> bool:
    """True when a path (from the OS, surrogate-escaped) is not valid UTF-8."""
    if path.isascii():
        return False
    try:
        path.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def ignored_dir(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_DIRS


class SourceFile:
    """One file found by :func:`walk_sources`."""

    __slots__ = ("path", "root", "size", "mtime_ns", "regular", "sidecar")

    def __init__(self, path: str, root: str, size: int, mtime_ns: int, regular: bool, sidecar: str | None) -> None:
        self.path, self.root, self.size, self.mtime_ns = path, root, size, mtime_ns
        self.regular, self.sidecar = regular, sidecar

    def __repr__(self) -> str:
        return f"SourceFile({self.path!r}, {self.size})"


def walk_sources(roots, skip: tuple[str, ...] = (), problems: list | None = None):
    """Yield a :class:`SourceFile` for every file under ``roots`` that is not ignored (in no
    particular order). Directories whose real path is in ``skip`` (the vault itself, the
    thumbnails) are not entered; unreadable directories are reported into ``problems`` as
    ``(path, reason)``. Symlinked directories are not followed (no loops). One ``stat`` per
    file and nothing else: this walk is most of a no-op rescan."""
    skip_real = {os.path.realpath(p) for p in skip if p}
    for root in roots:
        stack = [root]
        while stack:
            directory = stack.pop()
            if directory != root and skip_real and os.path.realpath(directory) in skip_real:
                continue
            files, sidecars = [], {}
            try:
                with os.scandir(directory) as iterator:
                    for entry in iterator:
                        name = entry.name
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                if not ignored_dir(name):
                                    stack.append(entry.path)
                                continue
                        except OSError:
                            continue
                        lower = name.lower()
                        if lower.endswith(IGNORED_SUFFIXES) or lower in IGNORED_NAMES or \
                                lower.startswith(IGNORED_PREFIXES):
                            if lower.endswith(".xmp"):
                                sidecars[lower] = entry.path
                            continue
                        files.append(entry)
            except OSError as exc:
                if problems is not None:
                    problems.append((directory, f"cannot list this folder: {exc.strerror}; its files were not "
                                                "ingested. Fix its permissions and run again"))
                continue
            for entry in files:
                try:
                    st = entry.stat()
                except OSError:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                if stat.S_ISDIR(st.st_mode):
                    continue  # a symlink to a directory: not followed
                sidecar = None
                if sidecars:
                    lower = entry.name.lower()
                    sidecar = sidecars.get(lower + ".xmp") or sidecars.get(os.path.splitext(lower)[0] + ".xmp")
                yield SourceFile(entry.path, root, st.st_size, st.st_mtime_ns, stat.S_ISREG(st.st_mode), sidecar)
