# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One ingest per vault: ``flock`` on ``<vault>/.sovereign-ingest.lock``, holding the holder's
pid so that a second run can say who holds it."""

from __future__ import annotations

import errno
import fcntl
import os
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import LOCK_NAME


class LockHeld(Exception):
    """Another ingest holds the vault lock."""


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
