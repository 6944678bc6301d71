# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The records an ingest passes around: what a worker made of one file (:class:`Outcome`, around
the :class:`~..sources.SourceFile` the walk found), and the run's tally of what happened
(:class:`Tally`), which the scan, the commit and the report share."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import path_key
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import SourceFile

SKIP_PREFIX = "skipped: "


@dataclass(slots=True)
class Outcome:  # pylint: disable=too-many-instance-attributes
    """What became of one source file in a worker.

    ``status``: ``new`` (published, or would be in check mode), ``duplicate`` (its content is in
    the vault, or another copy in this run owns it: ``pending``), ``rejected`` (``reason`` says
    why), ``skipped``, ``retry`` (changed while read: next run) or ``error`` (a write failed).
    ``owner``: this worker claimed the content (its sha256) for this run."""

    file: SourceFile
    status: str
    reason: str | None = None
    sha256: str | None = None
    asset: dict | None = None
    publish: str | None = None
    thumbs: tuple | None = None
    owner: bool = False
    pending: bool = False
    icloud_master_id: str | None = None
    sidecar_set_aside: str | None = None

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def name(self) -> str:
        return self.file.name


@dataclass
class Tally:
    """What a run did, for its report: counts, skip reasons, rejected and failed files, warnings."""

    counts: dict = field(default_factory=lambda: {"ingested": 0, "duplicates": 0, "unchanged": 0, "skipped": 0,
                                                  "bytes_ingested": 0, "live_pairs": 0, "adopted": 0,
                                                  "restored": 0})
    skipped_reasons: dict = field(default_factory=dict)
    rejected: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    skipped_links: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    no_thumbnails: dict = field(default_factory=dict)  # why thumbnails could not be made -> new assets
    restored_files: list = field(default_factory=list)  # originals copied again from a source (repair.py)
    set_aside: list = field(default_factory=list)  # files kept as <name>.orig-<time> / .corrupt-<time>
    changed: bool = False

    def skip(self, reason: str) -> None:
        self.counts["skipped"] += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1

    def thumbnails_missing(self, reason: str | None) -> None:
        reason = reason or "unknown error"
        self.no_thumbnails[reason] = self.no_thumbnails.get(reason, 0) + 1

    def skip_link(self, path: str, reason: str) -> None:
        """A symbolic link that was not followed: counted under its reason and listed by path."""
        self.skip(reason)
        self.skipped_links.append({"path": path_key(path), "reason": reason})

    def reject(self, path: str, reason: str) -> None:
        self.rejected.append({"path": path_key(path), "reason": reason})

    def error(self, path: str, reason: str | None) -> None:
        self.errors.append({"path": path_key(path), "reason": reason})
