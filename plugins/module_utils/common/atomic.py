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

PARTIAL_MARK = ".partial-"


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
    """The hidden temp name next to ``final_path`` (``.<name>.partial-<pid>``)."""
    directory, name = os.path.split(final_path)
    return os.path.join(directory, f".{name}{PARTIAL_MARK}{os.getpid()}")


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def replace_bytes(final_path: str, data: bytes, mode: int = 0o644, sync_dir: bool = True) -> None:
    """Atomically replace (or create) ``final_path`` with ``data``; the file gets ``mode`` before
    it becomes visible (0600 for anything holding a secret). ``sync_dir=False`` leaves the
    directory fsync to a caller that writes many files into one directory."""
    temp = temp_name(final_path)
    try:
        unlink_quietly(temp)  # a stale temp of a crashed writer with our pid
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            _write_all(fd, data)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final_path)
    except BaseException:
        unlink_quietly(temp)
        raise
    if sync_dir:
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
