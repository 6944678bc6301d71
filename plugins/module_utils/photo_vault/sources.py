# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading the watched folders: the walk that finds candidate files, and how a source is opened
and read.

Sources are only ever opened ``O_RDONLY`` (plus ``O_NOATIME`` where permitted, ``O_NONBLOCK``
so that a FIFO swapped in after the scan cannot hang a worker, and ``O_NOFOLLOW``: a symbolic
link in a watched folder is never followed, see :func:`walk_sources`).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from dataclasses import dataclass

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import open_readonly

# Names ignored silently in source folders (exact, lower-case) and by prefix/suffix.
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".stignore", ".stfolder", ".localized",
                           "ehthumbs.db", ".picasa.ini", "picasa.ini", ".nomedia"})
IGNORED_PREFIXES = ("._", "~syncthing~", ".syncthing.")
IGNORED_SUFFIXES = (".part", ".tmp", ".xmp", ".aae", ".json", ".crdownload", ".download")
IGNORED_DIRS = frozenset({"@eadir", "#recycle", "$recycle.bin", "lost+found", ".stversions", ".stfolder"})


def open_source(path: str) -> int:
    """Open a source read-only, without updating its atime where we may, without blocking on a FIFO
    and without following a symbolic link (a file swapped for a link after the walk: ``ELOOP``)."""
    return open_readonly(path, nonblock=True, follow_symlinks=False)


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


def ignored_dir(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_DIRS


@dataclass(slots=True)
class SourceFile:
    """One file found in a watched folder: the record that travels from the walk through the scan, a
    worker and its :class:`~..ingest.records.Outcome` to the catalog. ``link``: why a symbolic
    link was not followed (the scan counts it as skipped)."""

    path: str
    root: str
    size: int
    mtime_ns: int
    regular: bool = True
    sidecar: str | None = None
    link: str | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


LINK_OUTSIDE = "a symbolic link to a file outside the watched folder (not followed)"
LINK_INSIDE = "a symbolic link to a file inside the watched folder (not followed: the file is ingested under its own name)"
LINK_FOLDER = "a symbolic link to a folder (not followed)"
LINK_LOOP = "a symbolic link loop (not followed)"
LINK_BROKEN = "a broken symbolic link (its target does not exist)"


def link_reason(path: str, root_real: str) -> str:
    """Why the symbolic link at ``path`` in the watched folder ``root_real`` is not followed. Loops
    and dangling links cost one failed ``stat``: nothing is walked through a link."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return LINK_LOOP if exc.errno == errno.ELOOP else LINK_BROKEN
    if stat.S_ISDIR(st.st_mode):
        return LINK_FOLDER
    target = os.path.realpath(path)
    inside = target.startswith(root_real.rstrip("/") + "/")
    return LINK_INSIDE if inside else LINK_OUTSIDE


def walk_sources(roots, skip: tuple[str, ...] = (), problems: list | None = None):
    """Yield a :class:`SourceFile` for every file under ``roots`` that is not ignored (in no
    particular order). Directories whose real path is in ``skip`` (the vault itself, the
    thumbnails) are not entered; unreadable directories are reported into ``problems`` as
    ``(path, reason)``. Symbolic links are never followed (Syncthing syncs them as links: one may
    point anywhere, or at itself): each is yielded with ``link`` saying why it was not. One
    ``stat`` per file and nothing else: this walk is most of a no-op rescan."""
    skip_real = {os.path.realpath(p) for p in skip if p}
    for root in roots:
        root_real = os.path.realpath(root)
        stack = [root]
        while stack:
            directory = stack.pop()
            if directory != root and skip_real and os.path.realpath(directory) in skip_real:
                continue
            files, sidecars, links = [], {}, []
            try:
                with os.scandir(directory) as iterator:
                    for entry in iterator:
                        name = entry.name
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                if not ignored_dir(name):
                                    stack.append(entry.path)
                                continue
                            is_link = entry.is_symlink()
                        except OSError:
                            continue
                        lower = name.lower()
                        if lower.endswith(IGNORED_SUFFIXES) or lower in IGNORED_NAMES or \
                                lower.startswith(IGNORED_PREFIXES):
                            if lower.endswith(".xmp") and not is_link:
                                sidecars[lower] = entry.path
                            continue
                        if is_link:
                            links.append(entry.path)
                            continue
                        files.append(entry)
            except OSError as exc:
                if problems is not None:
                    problems.append((directory, f"cannot list this folder: {exc.strerror}; its files were not "
                                                "ingested. Fix its permissions and run again"))
                continue
            for path in links:
                yield SourceFile(path, root, 0, 0, regular=False, link=link_reason(path, root_real))
            for entry in files:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                sidecar = None
                if sidecars:
                    lower = entry.name.lower()
                    sidecar = sidecars.get(lower + ".xmp") or sidecars.get(os.path.splitext(lower)[0] + ".xmp")
                yield SourceFile(entry.path, root, st.st_size, st.st_mtime_ns, stat.S_ISREG(st.st_mode), sidecar)
