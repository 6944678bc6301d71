# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The commit: the parent process is the only catalog writer.

:class:`Committer` takes each worker's :class:`~.records.Outcome`, settles who owns a content
that several paths hold in this run (the first copy to finish; a waiting copy retries when the
owner failed), and collects the catalog rows in a batch that it commits every
:data:`BATCH_FILES` files or :data:`BATCH_SECONDS` seconds: the directories of the new originals
are fsynced first, so the catalog never names a file that a power cut could lose. A crash loses
at most one batch, which the next run adopts again from the originals already on disk. After
the batches, Live Photos are paired (:meth:`Committer.pair_live_photos`).
"""

from __future__ import annotations

import os
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import path_key
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.live import find_live_pairs
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.records import (
    SKIP_PREFIX, Outcome, Tally)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.worker import sidecar_for
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import set_aside
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import SourceFile
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import (
    XmpError, render_sidecar, update_sidecar)

BATCH_FILES = 200
BATCH_SECONDS = 2.0


class Batch:  # pylint: disable=too-few-public-methods
    """Catalog rows waiting for one transaction."""

    def __init__(self) -> None:
        self.assets: list[dict] = []
        self.thumbs: list[tuple] = []
        self.sources: list[tuple[SourceFile, str, str | None]] = []  # (file, sha256, icloud master id)
        self.rejections: list[tuple[SourceFile, str]] = []
        self.cleared: list[str] = []
        self.names: dict[str, list[str]] = {}
        self.claims: list[str] = []
        self.dirs: set[str] = set()
        self.started = time.monotonic()

    def __len__(self) -> int:
        return len(self.assets) + len(self.sources) + len(self.rejections) + len(self.cleared)


class Committer:  # pylint: disable=too-many-instance-attributes
    """Outcomes in, catalog rows out (nothing at all in check mode)."""

    def __init__(self, cfg, catalog, tally: Tally, claims_dir: str, run_dir: str,
                 rejection_index: dict) -> None:
        self.cfg, self.catalog, self.tally = cfg, catalog, tally
        self.fault = cfg.hooks.fault
        self.claims_dir, self.run_dir = claims_dir, run_dir
        self.rejection_index = rejection_index
        self.thumb_settings: str | None = None
        self.batch = Batch()
        self.new_assets: dict[str, dict] = {}
        # in-run ownership: sha -> 'done' | 'rejected:<reason>' | 'failed' | 'resubmitted'
        self.owner_state: dict[str, str] = {}
        self.waiting: dict[str, list[Outcome]] = {}
        self.resubmitted: set[str] = set()
        self.check_seen: dict[str, str] = {}

    # ---------------------------------------------------------------------------------- outcomes
    def handle(self, result: Outcome) -> SourceFile | None:  # pylint: disable=too-many-return-statements
        """Take one worker's outcome; returns a file to run next (a waiting copy whose owner failed)."""
        batch, status, sha = self.batch, result.status, result.sha256
        if status == "new":
            if self.cfg.check:
                if sha in self.check_seen:
                    result.status, result.pending = "duplicate", False
                    return self._handle_duplicate(result)
                self.check_seen[sha] = result.path
                self._count_new(result)
                return None
            self._count_new(result)
            if result.sidecar_set_aside:
                self.tally.set_aside.append(os.path.relpath(result.sidecar_set_aside, self.cfg.vault))
            asset = {k: v for k, v in result.asset.items() if k not in ("date_xmp", "folder")}
            self.new_assets[sha] = result.asset
            batch.assets.append(asset)
            batch.claims.append(sha)
            batch.dirs.add(os.path.dirname(os.path.join(self.cfg.vault, asset["rel_path"])))
            if result.thumbs and self.thumb_settings is not None:
                thumb_status, reason, sizes = result.thumbs
                if thumb_status == "error":  # not recorded: the next photo_thumbnails run makes them
                    self.tally.thumbnails_missing(reason)
                else:
                    batch.thumbs.append((sha, thumb_status, reason, sizes))
            self._add_source(result, asset.get("icloud_master_id"))
            self.owner_state[sha] = "done"
            for waiting in self.waiting.pop(sha, []):
                self._record_duplicate(waiting, names_to=sha)
            return None
        if status == "duplicate":
            return self._handle_duplicate(result)
        if status == "rejected":
            self.reject(result.file, result.reason)
            if result.owner and sha:
                self.owner_state[sha] = "rejected:" + result.reason
                for waiting in self.waiting.pop(sha, []):
                    self.reject(waiting.file, result.reason)
            return None
        if status == "skipped":
            reason = result.reason or "skipped"
            self.tally.skip(reason[len(SKIP_PREFIX):] if reason.startswith(SKIP_PREFIX) else reason)
            if reason.startswith(SKIP_PREFIX):
                # remembered, so an unchanged non-media file is not opened again next run
                self.tally.changed = True
                if not self.cfg.check:
                    batch.rejections.append((result.file, reason))
            return None
        # retry / error: the owner (if any) gave up this content; let a waiting copy try
        if status == "retry":
            self.tally.skip(result.reason or "changed while it was read")
        else:
            self.tally.error(result.path, result.reason)
        if result.owner and sha:
            self.owner_state[sha] = "failed"
            return self._resubmit_waiting(sha)
        return None

    def _handle_duplicate(self, result: Outcome) -> SourceFile | None:
        sha = result.sha256
        if not result.pending:
            self._record_duplicate(result, names_to=sha)
            return None
        state = self.owner_state.get(sha)
        if state == "done":
            self._record_duplicate(result, names_to=sha)
        elif state and state.startswith("rejected:"):
            self.reject(result.file, state[len("rejected:"):])
        elif state == "failed" and result.path not in self.resubmitted:
            self.waiting.setdefault(sha, []).append(result)
            return self._resubmit_waiting(sha)
        else:
            self.waiting.setdefault(sha, []).append(result)
        return None

    def _resubmit_waiting(self, sha: str) -> SourceFile | None:
        candidates = [w for w in self.waiting.get(sha, []) if w.path not in self.resubmitted]
        if not candidates:
            return None
        chosen = candidates[0]
        self.waiting[sha].remove(chosen)
        self.resubmitted.add(chosen.path)
        self.owner_state[sha] = "resubmitted"
        try:
            os.unlink(os.path.join(self.run_dir, sha))
        except OSError:
            pass
        return chosen.file

    def unresolved(self) -> int:
        """Copies still waiting for a first copy that never finished (picked up next run)."""
        return sum(len(waiting) for waiting in self.waiting.values())

    def _count_new(self, result: Outcome) -> None:
        counts = self.tally.counts
        counts["ingested"] += 1
        counts["bytes_ingested"] += result.file.size
        if result.publish == "adopted":
            counts["adopted"] += 1
        self.tally.changed = True

    def _record_duplicate(self, result: Outcome, names_to: str) -> None:
        self.tally.counts["duplicates"] += 1
        if self.cfg.check:
            self.tally.changed = True
            return
        self._add_source(result, result.icloud_master_id)
        self.batch.names.setdefault(names_to, []).append(path_key(result.name))

    def _add_source(self, result: Outcome, icloud_master_id) -> None:
        self.batch.sources.append((result.file, result.sha256, icloud_master_id))
        if path_key(result.path) in self.rejection_index:
            self.batch.cleared.append(result.path)
        self.tally.changed = True

    def reject(self, file: SourceFile, reason: str) -> None:
        """A rejected input: reported now, remembered in the catalog (unless check mode)."""
        self.tally.reject(file.path, reason)
        self.tally.changed = True  # a new catalog row (known, unchanged rejections never get here)
        if not self.cfg.check:
            self.batch.rejections.append((file, reason))

    # ---------------------------------------------------------------------------------- commit
    def commit_if_due(self) -> None:
        batch = self.batch
        if len(batch) >= BATCH_FILES or (len(batch) and time.monotonic() - batch.started >= BATCH_SECONDS):
            self.commit()

    def commit(self) -> None:
        """Write the batch in one transaction (after making its new originals' names durable)."""
        batch, self.batch = self.batch, Batch()
        if self.cfg.check or not len(batch):
            return
        self.fault("before-commit")
        for directory in sorted(batch.dirs):  # the originals' names are durable before the catalog names them
            atomic.fsync_dir(directory)
        for sha, names in batch.names.items():
            self._add_sidecar_names(sha, names)
        catalog = self.catalog
        with catalog.transaction():
            for asset in batch.assets:
                catalog.add_asset(asset)
            for sha, status, reason, sizes in batch.thumbs:
                catalog.record_thumbnails(sha, self.cfg.thumbs_root, status, self.thumb_settings,
                                          {k: tuple(v) for k, v in (sizes or {}).items()}, reason)
            for file, sha, master_id in batch.sources:
                catalog.record_source(file.path, file.root, file.size, file.mtime_ns, sha, icloud_master_id=master_id)
            for path in batch.cleared:
                catalog.clear_rejection(path)
            for file, reason in batch.rejections:
                catalog.record_rejection(file.path, file.root, file.size, file.mtime_ns, reason)
                self.tally.changed = True
        self.fault("after-commit")
        for sha in batch.claims:
            try:
                os.unlink(os.path.join(self.claims_dir, sha))
            except OSError:
                pass

    # ---------------------------------------------------------------------------------- sidecars
    def _sidecar_path(self, sha: str) -> tuple[str | None, dict | None]:
        asset = self.new_assets.get(sha)
        if asset is None:
            asset = self.catalog.get_asset(sha)
        if not asset or not asset.get("sidecar_rel_path"):
            return None, asset
        return os.path.join(self.cfg.vault, asset["sidecar_rel_path"]), asset

    def _update_sidecar(self, sha: str, names=(), live_pair: str | None = None) -> bool:
        """Add original names or a Live Photo partner to an asset's sidecar (a missing or unreadable
        one is rebuilt from the catalog); True when it was written."""
        path, asset = self._sidecar_path(sha)
        if path is None:
            return False
        try:
            with open(path, "rb") as handle:
                updated = update_sidecar(handle.read(), add_names=names, live_pair_sha256=live_pair)
        except FileNotFoundError:
            updated = self._fresh_sidecar(sha, asset, extra_names=names, live_pair=live_pair)
        except (OSError, XmpError):
            # another tool's file that our strict parser refuses: kept beside, never overwritten
            self.tally.set_aside.append(os.path.relpath(set_aside(path, "orig"), self.cfg.vault))
            updated = self._fresh_sidecar(sha, asset, extra_names=names, live_pair=live_pair)
        if updated is None:
            return False
        atomic.replace_bytes(path, updated)
        return True

    def _add_sidecar_names(self, sha: str, names) -> None:
        if self._update_sidecar(sha, names=names):
            self.tally.changed = True

    def _fresh_sidecar(self, sha: str, asset: dict, extra_names=(), live_pair: str | None = None) -> bytes:
        """Rebuild a missing or unreadable sidecar from the catalog."""
        names = [os.path.basename(row["path"]) for row in self.catalog.sources_of(sha)] if self.catalog else []
        names += [n for n in extra_names if n not in names]
        record = dict(asset)
        if live_pair:
            record["live_pair_sha256"] = live_pair
        return render_sidecar(sidecar_for(record, list(dict.fromkeys(names))))

    # ---------------------------------------------------------------------------------- live photos
    def pair_live_photos(self, crashed_before: bool) -> None:
        """Pair the new stills and movies (every unpaired one after an interrupted run)."""
        if not self.new_assets and not crashed_before and not (self.cfg.check and self.check_seen):
            return
        if self.cfg.check:
            return  # pairs are recorded only by a real run; check mode reports the assets
        pairs = find_live_pairs(self.catalog.live_photo_candidates(), None if crashed_before else set(self.new_assets))
        for still, movie in pairs:
            for sha, partner in ((still, movie), (movie, still)):
                self._update_sidecar(sha, live_pair=partner)
            self.fault("pairing-sidecars")
            with self.catalog.transaction():
                self.catalog.update_asset(still, live_pair_sha256=movie)
                self.catalog.update_asset(movie, live_pair_sha256=still)
            self.tally.counts["live_pairs"] += 1
            self.tally.changed = True
