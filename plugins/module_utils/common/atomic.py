# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one atomic writer for derived files: sidecars, generated configs, JSON status files.

:func:`replace_bytes` writes a temp file in the same directory, ``fsync``s it, ``rename``s it over
the old file and ``fsync``s the directory, so a reader (or a crash) sees the old file or the new
one, never a mix. Originals are never written here: the photo vault publishes them with its own
verified, never-replacing link sequence. Standard library only.
"""

from __future__ import annotations

import errno
import json
import os
import threading

PARTIAL_MARK = ".partial-"
WRITE_SLICE = 8 << 20


class AtomicWriteError(OSError):
    """A directory on the way to a file exists but is not a directory."""


def fsync_dir(path: str) -> None:
    """Make a directory's entries durable; a filesystem that cannot fsync a directory is fine."""
    fd = os.open(path or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):
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
            raise AtomicWriteError(errno.ENOTDIR, f"{path} exists and is not a directory") from None
        return
    fsync_dir(parent or ".")


def temp_name(final_path: str) -> str:
    """The hidden temp name next to ``final_path``: ``.<name>.partial-<pid>``, plus ``-<thread>``
    outside the main thread, so two writers never share one."""
    directory, name = os.path.split(final_path)
    thread = "" if threading.current_thread() is threading.main_thread() else f"-{threading.get_ident()}"
    return os.path.join(directory, f".{name}{PARTIAL_MARK}{os.getpid()}{thread}")


def open_temp(temp: str, mode: int = 0o600) -> int:
    """Create ``temp`` exclusively; a stale one (a crashed writer whose pid we reuse) is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        return os.open(temp, flags, mode)
    except FileExistsError:
        os.unlink(temp)
        return os.open(temp, flags, mode)


def write_all(fd: int, data) -> None:
    """Write all of ``data`` (bytes or a memoryview), in slices of at most 8 MiB."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:WRITE_SLICE])
        view = view[written:]


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def replace_bytes(final_path: str, data: bytes, mode: int | None = 0o644, sync_dir: bool = True,
                  durable: bool = True) -> None:
    """Atomically replace (or create) ``final_path`` with ``data``; the file gets ``mode`` before
    it becomes visible (0600 for anything holding a secret; None: 0666 less the umask).
    ``sync_dir=False`` leaves the directory fsync to a caller that writes many files into one
    directory. ``durable=False`` skips both fsyncs, for files that can be made again (thumbnails):
    a reader still never sees half a file, a power cut may leave the old one."""
    temp = temp_name(final_path)
    try:
        fd = open_temp(temp, 0o600 if mode is not None else 0o666)
        try:
            write_all(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final_path)
    except BaseException:
        unlink_quietly(temp)
        raise
    if sync_dir and durable:
        fsync_dir(os.path.dirname(final_path))


def write_text(path: str, text: str, mode: int = 0o644) -> str:
    """Atomically replace ``path`` with UTF-8 ``text``, creating its directory; returns the path."""
    path = os.path.abspath(path)
    ensure_dir(os.path.dirname(path))
    replace_bytes(path, text.encode("utf-8"), mode=mode)
    return path


def write_json(path: str, payload, mode: int = 0o644) -> str:
    """Atomically replace (or create) the JSON file ``path`` with ``payload`` (indented, sorted
    keys; values JSON cannot hold are written as strings), creating its directory. The payload is
    encoded before anything is written, so a payload that cannot be encoded leaves the old file as
    it was. Returns the absolute path."""
    return write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", mode=mode)


def read_json(path: str, default=None):
    """The JSON document in ``path``, or ``default`` when it is missing, unreadable or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default
