# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The scan: which files of the watched folders a worker must read.

Each file's (path, size, mtime) is compared with the catalog: an unchanged file is neither read
nor hashed, and an unchanged file rejected (or skipped as not media) before is reported again
from the catalog without opening it. This loop is most of a no-op rescan: one ``stat`` per file
(in the walk) and one dictionary look-up.
"""

from __future__ import annotations

import os
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import path_key
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.records import SKIP_PREFIX, Tally
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import MEDIA_EXTENSIONS
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import (
    SourceFile, walk_sources)

# How earlier versions rejected a file name that is not UTF-8; such names are ingested now.
OLD_NAME_RULE = "the file name is not valid UTF-8"


class Scan:
    """The files to process (``todo``, sorted by path) and the rejections found by the scan
    itself (``rejections``, to record in the catalog)."""

    def __init__(self) -> None:
        self.todo: list[SourceFile] = []
        self.rejections: list[tuple[SourceFile, str]] = []


def scan(cfg, source_index: dict, rejection_index: dict, tally: Tally) -> Scan:
    """Walk ``cfg.sources`` (never the vault or its thumbnails) against the catalog's indexes."""
    result = Scan()
    problems: list = []
    todo = result.todo
    known = source_index.get
    min_age_ns = int(cfg.min_age * 1e9)
    now_ns = time.time_ns()
    unchanged = 0
    # the hot loop of a no-op rescan: one dict look-up per file
    # never the vault (from a source around it), its thumbnails or catalog; a source beside originals/ is walked
    skip = (cfg.vault, cfg.thumbs_root, cfg.catalog if cfg.catalog and "://" not in cfg.catalog else None)
    for found in walk_sources(cfg.sources, skip=skip, problems=problems):
        path = found.path
        if found.link:
            tally.skip_link(path, found.link)
            continue
        key = path if path.isascii() and "\\" not in path else path_key(path)
        if 0 <= now_ns - found.mtime_ns < min_age_ns:
            tally.skip("modified less than min_age seconds ago (still being written?)")
            continue
        previous = known(key)
        if previous is None and key is not path and "\\" in path:
            previous = known(path)  # recorded before backslashes were escaped: the same file
        if previous is not None and previous[0] == found.size and previous[1] == found.mtime_ns:
            unchanged += 1
            continue
        if rejection_index and _rejected_before(found, rejection_index.get(key), tally):
            continue
        ext = os.path.splitext(path)[1].lower().lstrip(".")
        if not found.regular:
            if ext in MEDIA_EXTENSIONS:
                _reject(result, tally, found, "not a regular file (a pipe, device or socket named like a photo)")
            else:
                tally.skip("not a regular file")
            continue
        todo.append(found)
    tally.counts["unchanged"] += unchanged
    for directory, reason in problems:
        tally.reject(directory, reason)
    todo.sort(key=lambda file: file.path)
    return result


# Reasons an earlier version rejected good originals for (a thumbnail it could not write, memory).
STALE_THUMBNAIL_REJECTIONS = ("the image does not decode: cannot write thumbnails under",
                              "the image does not decode: out of memory")


def _rejected_before(found: SourceFile, rejected, tally: Tally) -> bool:
    """True when the file was rejected (or skipped as not media) before and is unchanged: report
    it again from the catalog without reading it."""
    if rejected is None or rejected[0] != found.size or rejected[1] != found.mtime_ns:
        return False
    reason = rejected[2]
    if reason.startswith(OLD_NAME_RULE):
        return False  # an earlier version refused names that are not UTF-8: ingest it now
    if reason.startswith(SKIP_PREFIX):
        tally.skip(reason[len(SKIP_PREFIX):])
        return True
    if reason.startswith("cannot read") and os.access(found.path, os.R_OK):
        return False  # readable now (permissions fixed): try again
    if reason.startswith(STALE_THUMBNAIL_REJECTIONS):
        return False  # rejected by an earlier version for its thumbnails, not its content: try again
    tally.reject(found.path, reason)
    return True


def _reject(result: Scan, tally: Tally, found: SourceFile, reason: str) -> None:
    tally.reject(found.path, reason)
    tally.changed = True
    result.rejections.append((found, reason))
