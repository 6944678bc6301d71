# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Making the missing thumbnails of a whole vault: the engine of ``photo_thumbnails``.

``make_missing_thumbnails()`` compares the catalog with the thumbnails root and makes what is due,
in a process pool, with ``vault_thumbnails.make_thumbnails`` (the per-asset engine), recording
each outcome with ``Catalog.record_thumbnails``. An asset is due when:

- it has no thumbnail record for this root (new, or thumbnails never made there);
- its record was made with other settings (sizes, quality, engine version: ``SETTINGS``);
- its record says ``ok`` but a file is gone from disk (a cleaned cache, a new workstation disk);
- it was skipped because ffmpeg was missing and ffmpeg is installed now;
- ``force`` is set.

Assets that failed before with the same settings (the original does not decode) are not retried
on every run (the reason is in the catalog; ``force`` retries them). An ``error`` (the thumbnails
root full or not writable, out of memory) is not recorded: the asset stays due. Originals are only read. The thumbnails root may be on
another machine's disk than the vault (the seed keeps them on a workstation's SSD); each root has
its own records in the catalog, keyed by its absolute path.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import deque
from dataclasses import dataclass, field

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hooks import NO_HOOKS
from ansible_collections.sovereign.cloud.plugins.module_utils.common.pool import BrokenPool, WorkerPool, default_workers
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import identity
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import THUMBS
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import shard_file_names
TASK_ASSETS = 4  # assets per pool task: IPC overhead is negligible next to ~50-500 ms of decoding each
METADATA_FIELDS = ("sha256", "format", "ext", "media_type", "mime", "width", "height", "orientation", "duration",
                   "taken_at", "taken_offset", "taken_utc", "date_source", "gps_lat", "gps_lon", "gps_alt",
                   "make", "model", "from_iphone", "live_pair_sha256", "rel_path")


class ThumbnailRunError(Exception):
    """The run cannot start; the message says what to do."""


@dataclass
class ThumbnailRunReport:
    """Outcome of one run (``as_dict()`` is what the module returns)."""

    thumbs_root: str
    total_assets: int = 0
    due: int = 0
    created: int = 0
    unchanged: int = 0
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    previously_failed: int = 0
    bytes_written: int = 0
    duration_s: float = 0.0
    workers: int = 1
    check_mode: bool = False
    warnings: list = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.due > 0

    def summary(self) -> str:
        if self.check_mode:
            text = (f"would make thumbnails for {self.due} of {self.total_assets} assets ({self.unchanged} up to date) "
                    f"in {self.thumbs_root}: {_reason_text(self.reasons)} (check mode: nothing written)")
        elif not self.due:
            text = f"thumbnails of all {self.total_assets} assets are up to date in {self.thumbs_root}"
        else:
            rate = self.due / self.duration_s if self.duration_s > 0 else 0.0
            text = (f"made thumbnails for {self.created} of {self.due} due assets in {self.thumbs_root} "
                    f"({rate:.1f}/s on {self.workers} workers), {self.unchanged} up to date")
            if self.skipped:
                text += f", {len(self.skipped)} skipped ({self.skipped[0]['reason']})"
            if self.failed:
                text += f", {len(self.failed)} failed (see failed_assets)"
        if self.previously_failed:
            text += f"; {self.previously_failed} failed before and were not retried (force: true retries them)"
        return text

    def as_dict(self) -> dict:
        return {"thumbs_root": self.thumbs_root, "total_assets": self.total_assets, "due": self.due,
                "created": self.due if self.check_mode else self.created, "unchanged": self.unchanged,
                "skipped_assets": self.skipped, "failed_assets": self.failed,
                "reasons": self.reasons, "previously_failed": self.previously_failed,
                "bytes_written": self.bytes_written, "duration_s": round(self.duration_s, 3),
                "workers": self.workers, "summary": self.summary()}


def _reason_text(reasons: dict) -> str:
    return ", ".join(f"{n} {why}" for why, n in sorted(reasons.items())) or "nothing to do"


# ---------------------------------------------------------------------------------------- what is due
def present_files(thumbs_root: str, names) -> dict[str, set[str]]:
    """File names on disk per thumbnail directory (``medium``, ..., ``metadata``): one walk, no stats."""
    out = {}
    for name in names:
        suffix = ".json" if name == "metadata" else ".jpg"
        out[name] = shard_file_names(os.path.join(thumbs_root, name), suffix)
    return out


def due_assets(cat: Catalog, thumbs_root: str, force: bool = False) -> tuple[list[dict], dict[str, int], int, int]:
    """(assets due with a ``why``, count per reason, assets up to date, failed-before count)."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import (  # pylint: disable=import-outside-toplevel
        SETTINGS, thumbnail_paths)

    assets = cat.assets_for_thumbnails(METADATA_FIELDS)
    index = cat.thumbnail_records(thumbs_root)
    sample_paths = thumbnail_paths(thumbs_root, "0" * 64)
    present = present_files(thumbs_root, sample_paths)
    ffmpeg = shutil.which("ffmpeg") is not None
    due, reasons, up_to_date, failed_before = [], {}, 0, 0
    for asset in assets:
        sha = asset["sha256"]
        status, settings, reason = index.get(sha, (None, None, ""))
        why = None
        if force:
            why = "forced"
        elif status is None:
            why = "new"
        elif settings != SETTINGS:
            why = "settings changed"
        elif status == "ok":
            paths = thumbnail_paths(thumbs_root, sha)
            if any(os.path.basename(path) not in present.get(name, ()) for name, path in paths.items()):
                why = "files deleted"
        elif status == "skipped" and ffmpeg and "ffmpeg" in reason and "not installed" in reason:
            why = "ffmpeg installed"
        elif status == "failed":
            failed_before += 1
        if why:
            due.append({**asset, "why": why})
            reasons[why] = reasons.get(why, 0) + 1
        else:
            up_to_date += 1
    return due, reasons, up_to_date, failed_before


# ---------------------------------------------------------------------------------------- making them
_HOOKS = {"hooks": NO_HOOKS}


def _make_batch(task) -> list[tuple]:
    """In a worker: (sha256, status, reason, sizes) for each (sha256, path, ext, metadata) of a batch."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import (  # pylint: disable=import-outside-toplevel
        make_thumbnails)

    batch, thumbs_root, search_path = task
    # Workers started by a fork server carry the environment of when it started: look tools such
    # as ffmpeg up on the caller's PATH of now, as the decision about what is due did.
    if search_path is not None and os.environ.get("PATH") != search_path:
        os.environ["PATH"] = search_path
    hooks = _HOOKS["hooks"]
    out = []
    for sha, path, ext, metadata in batch:
        if not os.path.isfile(path):
            out.append((sha, "failed", f"the original {path} is not on disk; run sovereign.cloud.photo_verify", {}))
            continue
        hooks.task_started(path)
        result = make_thumbnails(None, path, ext, sha, thumbs_root, write=True, metadata=metadata)
        out.append((sha, result.status, result.reason, dict(result.sizes)))
    return out


def _worker_init(hooks) -> None:
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import (  # pylint: disable=import-outside-toplevel
        configure_worker)

    _HOOKS["hooks"] = hooks
    configure_worker(1)  # one decode thread per process: the pool already uses every core


CRASHED = ("the decoder crashed on this file (its worker process died); the file may be damaged or crafted: open it "
           "by hand, or check the system log for the OOM killer")


def _run_pool(tasks: list, thumbs_root: str, workers: int, on_results, hooks=NO_HOOKS) -> None:
    """Make thumbnails for ``tasks`` in worker processes, even with one worker.

    Decoders never run in this process: a decoder that crashes (a segfault in a C library on a
    crafted file, the OOM killer) takes down one worker, not the run. The batches that were in
    flight are then retried one asset at a time in a single-worker pool, so the asset that kills
    its worker is found, recorded as failed with the reason, and every other asset still gets
    its thumbnails.
    """
    search_path = os.environ.get("PATH")
    queue = deque((tasks[i:i + TASK_ASSETS], thumbs_root, search_path) for i in range(0, len(tasks), TASK_ASSETS))

    def pool(size: int) -> WorkerPool:
        return WorkerPool(_make_batch, size, initializer=_worker_init, initargs=(hooks,), method=hooks.start_method)

    def record(_task, results) -> None:
        on_results(results)

    while queue:
        try:
            with pool(workers) as workers_pool:
                workers_pool.run(queue, record)
        except BrokenPool as broken:
            for batch, _root, _path in broken.lost:
                for item in batch:
                    try:
                        with pool(1) as single:
                            single.run(deque([([item], thumbs_root, search_path)]), record)
                    except BrokenPool:
                        on_results([(item[0], "failed", CRASHED, {})])


def make_missing_thumbnails(vault: str, catalog: str | None = None, thumbs_root: str | None = None,
                            workers: int = 0, force: bool = False, check_mode: bool = False,
                            progress=None, hooks=NO_HOOKS, state_dir: str | None = None) -> ThumbnailRunReport:
    """Make the thumbnails that are due (see the module docstring). ``progress(done, total)`` is
    called as assets finish (``photo_vault.verify.ProgressLog`` prints it)."""
    started = time.monotonic()
    vault = os.path.abspath(vault)
    thumbs_root = os.path.abspath(thumbs_root or os.path.join(vault, THUMBS))
    report = ThumbnailRunReport(thumbs_root=thumbs_root, workers=workers or default_workers(), check_mode=check_mode)
    try:
        identity.before_open(vault, catalog, state_dir)
        cat = Catalog.open(vault, catalog, create=False, readonly=check_mode)
    except (CatalogError, identity.VaultIdentityError) as exc:
        raise ThumbnailRunError(str(exc)) from exc
    with cat:
        report.warnings.extend(cat.warnings)
        try:
            report.warnings.extend(identity.check(vault, cat, state_dir, write=not check_mode)[1])
        except identity.VaultIdentityError as exc:
            raise ThumbnailRunError(str(exc)) from exc
        due, report.reasons, report.unchanged, report.previously_failed = due_assets(cat, thumbs_root, force)
        report.total_assets = len(due) + report.unchanged
        report.due = len(due)
        if check_mode or not due:
            report.duration_s = time.monotonic() - started
            return report
        parent = os.path.dirname(thumbs_root.rstrip(os.sep)) or os.sep
        if not os.path.isdir(thumbs_root) and not os.path.isdir(parent):
            raise ThumbnailRunError(f"cannot make thumbnails in {thumbs_root}: {parent} does not exist (a disk not "
                                    "mounted?); mount it or set thumbs_root")
        tasks = [(a["sha256"], os.path.join(vault, a["rel_path"]), a["ext"],
                  {k: a[k] for k in METADATA_FIELDS if a.get(k) is not None}) for a in due]
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import (  # pylint: disable=import-outside-toplevel
            SETTINGS)
        done = 0

        def record(results):
            nonlocal done
            for sha, status, reason, sizes in results:
                if status == "error":  # not the file's fault (a full disk, memory): not recorded, due next run
                    report.failed.append({"sha256": sha, "reason": f"{reason}; the next run tries again"})
                    continue
                cat.record_thumbnails(sha, thumbs_root, status, SETTINGS, sizes, reason)
                if status == "ok":
                    report.created += 1
                    report.bytes_written += sum(int(v[2]) for v in sizes.values())
                elif status == "skipped":
                    report.skipped.append({"sha256": sha, "reason": reason})
                else:
                    report.failed.append({"sha256": sha, "reason": reason})
            done += len(results)
            if progress:
                progress(done, len(tasks))

        _run_pool(tasks, thumbs_root, report.workers, record, hooks)
        report.skipped.sort(key=lambda item: item["sha256"])
        report.failed.sort(key=lambda item: item["sha256"])
    report.duration_s = time.monotonic() - started
    return report
