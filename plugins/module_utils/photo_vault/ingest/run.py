# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One ingest run (:func:`run_ingest`): validate the paths, take the vault lock, clean up after an
interrupted run, open the catalog, scan, process the files that changed on the workers, commit,
pair Live Photos, record the run and report.

Check mode reads, hashes and classifies everything exactly the same way and writes nothing at
all: no catalog, no lock file, no directories.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import time
import uuid

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted, human_bytes
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import identity
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError, utc_now
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.commit import Committer
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.config import IngestConfig, IngestError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.records import Tally
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.scan import scan
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.supervise import run_workers
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.worker import (
    DigestSet, decoder_available, thumbnail_engine)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import (
    ORIGINALS, SQLITE_NAME, owned_by_vault, state_dirs)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.lock import LockHeld, VaultLock
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.publish import clean_partials
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import restore_during_ingest


class _EmptyCatalog:
    """Check mode on a vault without a catalog yet: everything is new."""

    backend = "none"
    location = "(no catalog yet)"
    warnings: list = []

    def source_index(self) -> dict:
        return {}

    def rejection_index(self) -> dict:
        return {}

    def asset_digests(self) -> list:
        return []

    def live_photo_candidates(self) -> list:
        return []

    def close(self) -> None:
        pass


class Ingest:  # pylint: disable=too-many-instance-attributes
    """One ingest run; see :func:`run_ingest`."""

    def __init__(self, config: IngestConfig) -> None:
        self.cfg = config
        self.catalog = None
        self.lock = None
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.started_at = utc_now()
        self.t0 = time.monotonic()
        self.tally = Tally()
        self.crashed_before = False
        self.vault_id = None
        self.state_dir, self.claims_dir, self.runs_dir = state_dirs(config.vault)
        self.run_dir = os.path.join(self.runs_dir, self.run_id)

    # ---------------------------------------------------------------------------------- setup
    def _validate_paths(self) -> None:
        cfg = self.cfg
        if not cfg.sources:
            raise IngestError("no sources given: list the folders to ingest from in the sources option")
        for source in cfg.sources:
            if not os.path.isdir(source):
                raise IngestError(f"source {source} is not a directory (it does not exist, or is a file); create it "
                                  "or remove it from sources")
            # a watched folder next to originals/ is fine (<vault>/icloud-sync); what the vault writes is not
            owned = owned_by_vault(source, cfg.vault, cfg.thumbs_root, cfg.catalog)
            if owned:
                raise IngestError(f"source {source} is {owned} of the vault {cfg.vault}, which the vault writes; "
                                  "watch a folder outside it, or one beside originals/ such as <vault>/icloud-sync")
        if os.path.exists(cfg.vault) and not os.path.isdir(cfg.vault):
            raise IngestError(f"vault {cfg.vault} exists and is not a directory")
        if not cfg.check and not os.path.isdir(os.path.dirname(cfg.vault.rstrip("/")) or "/"):
            raise IngestError(f"the parent of the vault {cfg.vault} does not exist; create it (the photo_vault role "
                              "does) and run again")

    def _open(self) -> None:
        cfg = self.cfg
        try:
            identity.before_open(cfg.vault, cfg.catalog, cfg.state_dir, cfg.create)
        except identity.VaultIdentityError as exc:
            raise IngestError(str(exc)) from exc
        if cfg.check:
            self.catalog = self._open_catalog_read_only()
            if not isinstance(self.catalog, _EmptyCatalog):
                self._check_identity(write=False)
            return
        atomic.ensure_dir(cfg.vault)
        # The catalog and the vault's identity first: a folder that is not the vault (an unmounted NAS)
        # is refused before the lock file or the ingest's state land in it.
        try:
            self.catalog = Catalog.open(cfg.vault, cfg.catalog, create=True)
        except CatalogError as exc:
            raise IngestError(str(exc)) from exc
        self.tally.warnings.extend(self.catalog.warnings)
        self._check_identity(write=True)
        try:
            self.lock = VaultLock(cfg.vault).acquire()
        except LockHeld as exc:
            raise IngestError(str(exc)) from exc
        for directory in (self.state_dir, self.claims_dir, self.runs_dir):
            atomic.ensure_dir(directory)
        stale_runs = os.listdir(self.runs_dir)
        if stale_runs:
            # an earlier run did not finish: remove its temp files, keep its claims (destinations)
            self.crashed_before = True
            removed = clean_partials(os.path.join(cfg.vault, ORIGINALS))
            for name in stale_runs:
                shutil.rmtree(os.path.join(self.runs_dir, name), ignore_errors=True)
            if removed:
                self.tally.warnings.append(f"removed {len(removed)} partial file(s) left by an interrupted ingest")
        if self.crashed_before:
            self._settle_claims()

    def _check_identity(self, write: bool) -> None:
        try:
            self.vault_id, warnings = identity.check(self.cfg.vault, self.catalog, self.cfg.state_dir,
                                                     self.cfg.create, write=write)
        except identity.VaultIdentityError as exc:
            raise IngestError(str(exc)) from exc
        self.tally.warnings.extend(warnings)

    def _open_catalog_read_only(self):
        cfg = self.cfg
        target = cfg.catalog or os.path.join(cfg.vault, SQLITE_NAME)
        if not target.startswith(("postgresql://", "postgres://")) and not os.path.exists(target):
            return _EmptyCatalog()
        try:
            return Catalog.open(cfg.vault, cfg.catalog, create=False, readonly=True)
        except CatalogError as exc:
            if "not a sovereign.cloud catalog" in str(exc) and target.startswith(("postgresql://", "postgres://")):
                return _EmptyCatalog()
            raise IngestError(str(exc)) from exc

    def _settle_claims(self) -> None:
        """Claims whose asset reached the catalog are done; the others keep their destination."""
        try:
            names = os.listdir(self.claims_dir)
        except OSError:
            return
        if not names:
            return
        known = set(self.catalog.asset_paths())
        for name in names:
            if name in known:
                try:
                    os.unlink(os.path.join(self.claims_dir, name))
                except OSError:
                    pass

    def _close(self, clean: bool) -> None:
        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None
        if not self.cfg.check and clean:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ---------------------------------------------------------------------------------- run
    def run(self) -> dict:
        self._validate_paths()
        clean = False
        try:
            self._open()
            rejection_index = self.catalog.rejection_index()
            found = scan(self.cfg, self.catalog.source_index(), rejection_index, self.tally)
            committer = Committer(self.cfg, self.catalog, self.tally, self.claims_dir, self.run_dir, rejection_index)
            if found.rejections and not self.cfg.check:
                committer.batch.rejections.extend(found.rejections)
                committer.commit()
            if found.todo:
                self._process(found.todo, committer)
            committer.pair_live_photos(self.crashed_before)
            if not isinstance(self.catalog, _EmptyCatalog):
                restore_during_ingest(self.cfg, self.catalog, self.tally)
            if not self.cfg.check:
                self.catalog.record_ingest_run(self.started_at, self.cfg.sources, {
                    **self.tally.counts, "rejected": len(self.tally.rejected)})
            clean = True
        finally:
            self._close(clean)
        return self._report()

    def _process(self, todo: list, committer: Committer) -> None:
        cfg = self.cfg
        engine = thumbnail_engine()
        ctx = {"vault": cfg.vault, "thumbs_root": cfg.thumbs_root, "thumbnails": cfg.thumbnails,
               "verify": cfg.verify_writes, "check": cfg.check, "known": DigestSet(self.catalog.asset_digests()),
               "run_dir": self.run_dir, "claims_dir": self.claims_dir, "now": _dt.datetime.now(),
               "min_age": cfg.min_age, "can_decode": decoder_available() and engine is not None, "hooks": cfg.hooks}
        committer.thumb_settings = engine.SETTINGS if engine is not None else None
        if not cfg.check:
            atomic.ensure_dir(self.run_dir)
        if not ctx["can_decode"]:
            self.tally.warnings.append("images were not decoded (no Pillow or pyvips in this Python; the photo_vault "
                                       "role installs them): only their structure was checked, and no thumbnails "
                                       "were made")
        elif cfg.thumbnails and engine is None and not cfg.check:
            self.tally.warnings.append("thumbnails were not made: the thumbnails engine is not available here")
        killed_workers = run_workers(cfg, todo, ctx, committer)
        if killed_workers and not cfg.check:
            # a replaced worker may have left a temp file; every worker is gone and we hold the lock
            clean_partials(os.path.join(cfg.vault, ORIGINALS))

    # ---------------------------------------------------------------------------------- report
    def _report(self) -> dict:
        tally = self.tally
        counts = tally.counts
        elapsed = time.monotonic() - self.t0
        if counts["ingested"]:
            verb = "would ingest" if self.cfg.check else "ingested"
            summary = (f"{verb} {counted(counts['ingested'], 'new photo/video', 'new photos/videos')} "
                       f"({human_bytes(counts['bytes_ingested'])}) in {elapsed:.1f} s")
        else:
            summary = f"nothing new in {elapsed:.1f} s"
        details = [f"{counts['unchanged']} unchanged" if counts["unchanged"] else "",
                   counted(counts["duplicates"], "duplicate path") if counts["duplicates"] else "",
                   counted(counts["live_pairs"], "live photo pair") if counts["live_pairs"] else "",
                   f"{len(tally.restored_files)} damaged original(s) {'would be ' if self.cfg.check else ''}restored "
                   "from a source" if tally.restored_files else "",
                   f"{len(tally.set_aside)} file(s) set aside" if tally.set_aside else "",
                   f"{counts['skipped']} skipped" if counts["skipped"] else "",
                   f"{sum(tally.no_thumbnails.values())} without thumbnails" if tally.no_thumbnails else "",
                   f"{len(tally.rejected)} rejected" if tally.rejected else "",
                   f"{len(tally.errors)} FAILED" if tally.errors else ""]
        if any(details):
            summary += "; " + ", ".join(d for d in details if d)
        for reason, count in sorted(tally.no_thumbnails.items()):
            tally.warnings.append(f"the thumbnails of {counted(count, 'new photo/video', 'new photos/videos')} were not "
                                  f"made ({reason}); the originals are in the vault. Fix that, then run "
                                  "sovereign.cloud.photo_thumbnails (sovereign-photos thumbnails) to make them")
        return {
            "changed": tally.changed,
            "ingested": counts["ingested"], "duplicates": counts["duplicates"], "unchanged": counts["unchanged"],
            "skipped_files": counts["skipped"], "skipped_reasons": dict(tally.skipped_reasons),
            "skipped_links": tally.skipped_links,
            "rejected": tally.rejected, "errors": tally.errors, "bytes_ingested": counts["bytes_ingested"],
            "adopted": counts["adopted"], "live_pairs": counts["live_pairs"], "summary": summary,
            "restored": len(tally.restored_files), "restored_files": tally.restored_files,
            "set_aside": tally.set_aside,
            "warnings": tally.warnings, "vault": self.cfg.vault, "vault_id": self.vault_id, "seconds": round(elapsed, 3),
            "catalog": getattr(self.catalog, "location", None) or self.cfg.catalog or os.path.join(
                self.cfg.vault, SQLITE_NAME),
        }


def run_ingest(config: IngestConfig) -> dict:
    """Run one ingest and return its report (the module's result keys)."""
    return Ingest(config).run()
