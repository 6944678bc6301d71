# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one file hasher: sha256 (plus sha1 where a caller needs it) of a file, an open descriptor
or bytes in memory.

Everything that reads a whole file to hash it goes through :func:`hash_fd`: verification
re-hashing originals, the photo vault's hash pass over a large video and its copy pass
(``copy_to``: hash what is copied, in the same reads), the read-back of a freshly written
original, and a restore drill comparing what restic gave back. It reads with ``preadv`` into one
reused 1 MiB buffer per thread (memory stays flat whatever the file size; the hash releases the
GIL), and with ``size`` it insists on exactly that many bytes, so a file that grows or shrinks
while it is read is told apart from one that was read whole.

Standard library only, so roles can ship it to hosts with the rest of ``common``.
"""

from __future__ import annotations

import hashlib
import os
import threading

CHUNK = 1 << 20
_LOCAL = threading.local()


class SizeChanged(Exception):
    """The file was not ``size`` bytes long while it was read (``grew`` says which way it went)."""

    def __init__(self, grew: bool) -> None:
        super().__init__("the file grew while it was read" if grew else "the file became shorter while it was read")
        self.grew = grew


class FileDigest:
    """``sha256`` (hex), ``size`` (bytes read) and ``sha1`` (hex, or None when not asked for)."""

    __slots__ = ("sha256", "size", "sha1")

    def __init__(self, sha256: str, size: int, sha1: str | None = None) -> None:
        self.sha256, self.size, self.sha1 = sha256, size, sha1

    def __repr__(self) -> str:
        return f"FileDigest({self.sha256!r}, {self.size})"


def open_readonly(path: str, nonblock: bool = False, follow_symlinks: bool = True) -> int:
    """Open ``path`` read-only without updating its atime where we may (``O_NOATIME`` needs the
    file's owner or CAP_FOWNER; anyone else reads without it). ``nonblock``: a FIFO swapped in for
    a file never blocks the open. ``follow_symlinks=False``: a symbolic link fails with ``ELOOP``."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | (getattr(os, "O_NONBLOCK", 0) if nonblock else 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # not the owner: O_NOATIME is refused with EPERM, plain read-only is fine
    return os.open(path, flags)


def advise(fd: int, advice_name: str) -> None:
    """``posix_fadvise`` where the platform has it (``POSIX_FADV_DONTNEED`` drops the file's clean
    pages from the page cache, ``POSIX_FADV_SEQUENTIAL`` asks for read-ahead); a no-op elsewhere."""
    advice = getattr(os, advice_name, None)
    if advice is None or not hasattr(os, "posix_fadvise"):
        return
    try:
        os.posix_fadvise(fd, 0, 0, advice)
    except OSError:
        pass


def _buffer() -> memoryview:
    view = getattr(_LOCAL, "view", None)
    if view is None:
        view = _LOCAL.view = memoryview(bytearray(CHUNK))
    return view


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


def hash_fd(fd: int, size: int | None = None, sha1: bool = False, copy_to: int | None = None) -> FileDigest:
    """Hash ``fd`` from offset 0 (its own file position is not used or moved).

    ``size``: the file must be exactly that long, else :class:`SizeChanged` (its reads past the
    end cost one extra ``pread`` of one byte); None reads to the end. ``sha1`` adds a sha1.
    ``copy_to``: write every byte read to that descriptor as well.
    """
    view = _buffer()
    digest = hashlib.sha256()
    second = hashlib.sha1() if sha1 else None  # nosec: a look-up key (Immich's), not security
    offset = 0
    while True:
        want = CHUNK if size is None else min(CHUNK, size - offset)
        if want <= 0:
            if os.pread(fd, 1, offset):
                raise SizeChanged(grew=True)
            break
        n = os.preadv(fd, [view[:want]], offset)
        if n == 0:
            if size is not None:
                raise SizeChanged(grew=False)
            break
        chunk = view[:n]
        digest.update(chunk)
        if second is not None:
            second.update(chunk)
        if copy_to is not None:
            _write_all(copy_to, chunk)
        offset += n
    return FileDigest(digest.hexdigest(), offset, second.hexdigest() if second is not None else None)


def hash_file(path: str, from_disk: bool = False, evict_after: bool = False, sequential: bool = False,
              follow_symlinks: bool = True) -> FileDigest:
    """Hash the file at ``path`` (opened with :func:`open_readonly`; ``follow_symlinks=False``: a
    symbolic link raises ``OSError`` with ``ELOOP`` instead of being hashed through).

    ``from_disk``: drop its pages from the page cache first, so the bytes come from the disk and
    not from memory (a read-back or a verification). ``evict_after``: drop them again when done,
    so a pass over a whole vault does not push everything else out of memory. ``sequential``: ask
    for aggressive read-ahead."""
    fd = open_readonly(path, follow_symlinks=follow_symlinks)
    try:
        if from_disk:
            advise(fd, "POSIX_FADV_DONTNEED")
        if sequential:
            advise(fd, "POSIX_FADV_SEQUENTIAL")
        result = hash_fd(fd)
        if evict_after:
            advise(fd, "POSIX_FADV_DONTNEED")
    finally:
        os.close(fd)
    return result


def hash_bytes(data, sha1: bool = False) -> FileDigest:
    """The same digests for bytes already in memory (a small file read whole)."""
    return FileDigest(hashlib.sha256(data).hexdigest(), len(data),
                      hashlib.sha1(data).hexdigest() if sha1 else None)  # nosec: a look-up key, not security
