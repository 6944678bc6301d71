# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Verification of the photo vault: re-hash originals against the catalog.

``verify_vault()`` is the engine behind ``sovereign.cloud.photo_verify`` (and any by-hand command
line): it reads the catalog, walks ``originals/`` once (which tells, for every asset, whether its
original and sidecar exist and which files the catalog does not know), re-hashes the selected
originals in a process pool, checks the thumbnails when a thumbnails root exists, and records
the run. It never writes under ``originals/`` and never "repairs" anything: a corrupt original
is reported, left untouched for a person (or a restore from backup) to deal with.

Selection: ``full`` re-hashes every original. ``sample`` re-hashes the least recently verified
first (never-verified before anything else), up to ``percent`` of the assets, ``max_bytes`` bytes
and ``max_seconds`` seconds, whichever comes first; a weekly sample therefore rotates through the
whole vault. Missing originals, missing sidecars and unknown files are found by the walk for the
whole vault in both modes (it costs a directory walk, no reads).

Speed: each worker streams a file through the collection's one hasher (``common.hashing``: a
reused 1 MiB buffer, the hash releases the GIL), so memory per worker is ~1 MiB whatever the file
size and throughput is the disk's or ``hashlib``'s; the workers follow the one pool policy
(``common.pool``). Before and after reading, a file's clean pages are dropped from the
page cache (``drop_cache``): the check then reads the disk, not a cached copy, and a full pass
over 500 GB does not evict everything else from memory.
"""

from __future__ import annotations

import errno
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import hash_file
from ansible_collections.sovereign.cloud.plugins.module_utils.common.hooks import NO_HOOKS
from ansible_collections.sovereign.cloud.plugins.module_utils.common.pool import BrokenPool, WorkerPool, default_workers
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import human_bytes, human_duration
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import identity
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import ORIGINALS, THUMBS
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import is_set_aside
# Batches handed to a worker: large enough that inter-process overhead stays far below the
# hashing time, small enough that a time budget stops promptly. Guided scheduling: a batch is
# about a (4 x workers)th of what remains, so batches shrink towards the end and no worker sits
# idle while another finishes a big one.
BATCH_BYTES = 32 << 20
MIN_BATCH_BYTES = 1 << 20
BATCH_FILES = 64
# Files that file browsers and NAS indexers drop into shared folders; never photos, never reported.
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".localized"})
JUNK_DIRS = frozenset({"@eaDir", ".AppleDouble", "#recycle", ".Trashes", ".Spotlight-V100", ".fseventsd"})
PROBLEM_STATUSES = ("corrupt", "missing", "unreadable")
LINKED_ORIGINAL = ("the original is a symbolic link, not a file: it was not hashed through the link; put the file "
                   "itself back (from the link's target if it is the right one, or from a backup)")
LINKED_SIDECAR = ("the sidecar is a symbolic link, not a file: it was not read through the link; remove the link "
                  "and run sovereign.cloud.photo_ingest, which writes the sidecar again")


class VerifyError(Exception):
    """Verification cannot run; the message says what to do."""


@dataclass
class VerifyReport:
    """The outcome of one verification run (``as_dict()`` is what the module returns)."""

    mode: str
    checked: int = 0
    checked_bytes: int = 0
    ok: int = 0
    corrupt: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unreadable: list = field(default_factory=list)
    unknown: list = field(default_factory=list)
    missing_sidecars: list = field(default_factory=list)
    missing_thumbnails: list = field(default_factory=list)
    details: list = field(default_factory=list)
    total_assets: int = 0
    total_bytes: int = 0
    selected: int = 0
    selected_bytes: int = 0
    budget_exhausted: bool = False
    thumbs_root: str | None = None
    run_id: int | None = None
    recorded: bool = False
    duration_s: float = 0.0
    workers: int = 1
    warnings: list = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when an original is corrupt, missing or unreadable (data at risk)."""
        return bool(self.corrupt or self.missing or self.unreadable)

    @property
    def mb_per_s(self) -> float:
        return round(self.checked_bytes / 1e6 / self.duration_s, 1) if self.duration_s > 0 else 0.0

    def summary(self) -> str:
        what = "every original" if self.mode == "full" else "a sample"
        rate = f"{self.mb_per_s:.0f}" if self.mb_per_s >= 10 else f"{self.mb_per_s:.1f}"
        head = (f"verified {self.checked} of {self.total_assets} originals ({what}, "
                f"{human_bytes(self.checked_bytes)} at {rate} MB/s)")
        problems = [f"{len(items)} {label}" for items, label in (
            (self.corrupt, "corrupt"), (self.missing, "missing"), (self.unreadable, "unreadable"),
            (self.unknown, "unknown files in originals/"), (self.missing_sidecars, "missing sidecars"),
            (self.missing_thumbnails, "missing thumbnails")) if items]
        text = head + (": " + ", ".join(problems) if problems else ": all match")
        if self.budget_exhausted:
            text += "; the time budget ran out, the next sample continues where this one stopped"
        if self.failed:
            text += ("; corrupt or missing originals were left untouched: check the disk, then run "
                     "'sovereign-photos repair' (copies them again from a watched folder that still holds them) "
                     "or restore them from a backup (restic restore)")
        if self.recorded:
            text += f"; recorded as verification run {self.run_id}"
        else:
            text += " (check mode: nothing recorded)"
        return text

    def as_dict(self) -> dict:
        return {
            "mode": self.mode, "checked": self.checked, "checked_bytes": self.checked_bytes, "ok": self.ok,
            "corrupt": self.corrupt, "missing": self.missing, "unreadable": self.unreadable,
            "unknown": self.unknown, "missing_sidecars": self.missing_sidecars,
            "missing_thumbnails": self.missing_thumbnails, "details": self.details,
            "total_assets": self.total_assets, "total_bytes": self.total_bytes, "selected": self.selected,
            "selected_bytes": self.selected_bytes, "budget_exhausted": self.budget_exhausted,
            "thumbs_root": self.thumbs_root, "run_id": self.run_id, "recorded": self.recorded,
            "duration_s": round(self.duration_s, 3), "mb_per_s": self.mb_per_s, "workers": self.workers,
            "data_at_risk": self.failed, "summary": self.summary(),
        }


class ProgressLog:
    """A ``progress`` callback for long runs: one line every ``interval`` seconds on ``stream``
    (a journal when run from a systemd timer), with files done/total, MB/s (or files/s when no
    byte counts are given, as for thumbnails) and the ETA."""

    def __init__(self, stream, label: str = "verify", interval: float = 30.0) -> None:
        self.stream, self.label, self.interval = stream, label, interval
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, done: int, total: int, bytes_done: int | None = None, bytes_total: int | None = None) -> None:
        now = time.monotonic()
        if now - self.last < self.interval and done < total:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        if bytes_total is None:  # counted in files (thumbnails)
            rate = done / elapsed
            eta = (total - done) / rate if rate > 0 else 0.0
            line = f"{self.label}: {done}/{total} files, {rate:.1f} files/s, ETA {human_duration(eta)}"
        else:
            rate = (bytes_done or 0) / elapsed
            eta = (bytes_total - (bytes_done or 0)) / rate if rate > 0 else 0.0
            line = (f"{self.label}: {done}/{total} files, {human_bytes(bytes_done or 0)} of {human_bytes(bytes_total)}, "
                    f"{rate / 1e6:.0f} MB/s, ETA {human_duration(eta)}")
        self.stream.write(line + "\n")
        self.stream.flush()


# ---------------------------------------------------------------------------------------- hashing
def check_batch(batch: list[tuple[str, str, int]], drop_cache: bool = True) -> list[tuple]:
    """Hash each (sha256, absolute path, catalog size); returns (sha256, status, bytes, detail).

    status: ``ok``, ``corrupt`` (content differs; detail gives the sha256 found), ``missing``
    (no such file) or ``unreadable`` (permission or I/O error; detail gives it). Never raises for
    one file, so one bad file never stops the others.
    """
    out = []
    for sha256, path, size in batch:
        try:
            digest = hash_file(path, from_disk=drop_cache, evict_after=drop_cache, sequential=True,
                               follow_symlinks=False)
        except FileNotFoundError:
            out.append((sha256, "missing", 0, "the original is not on disk"))
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # made a link after the walk: never hashed through it
                out.append((sha256, "corrupt", 0, LINKED_ORIGINAL))
                continue
            out.append((sha256, "unreadable", 0, f"cannot read the original: {exc.strerror or exc}"))
            continue
        if digest.sha256 == sha256:
            out.append((sha256, "ok", digest.size, None))
        else:
            detail = f"content sha256 is {digest.sha256}"
            if digest.size != size:
                detail += f"; size is {digest.size} bytes, the catalog says {size}"
            out.append((sha256, "corrupt", digest.size, detail))
    return out


def _batches(items: list[tuple[str, str, int]], workers: int = 1):
    remaining = sum(item[2] for item in items)
    batch, size = [], 0
    target = BATCH_BYTES
    for item in items:
        if not batch:
            target = max(MIN_BATCH_BYTES, min(BATCH_BYTES, remaining // (4 * max(1, workers))))
        batch.append(item)
        size += item[2]
        if size >= target or len(batch) >= BATCH_FILES:
            yield batch
            remaining -= size
            batch, size = [], 0
    if batch:
        yield batch


def _check(task) -> list[tuple]:
    batch, drop_cache = task
    return check_batch(batch, drop_cache)


def hash_many(items: list[tuple[str, str, int]], workers: int = 0, drop_cache: bool = True,
              deadline: float | None = None, progress=None, hooks=NO_HOOKS) -> tuple[list[tuple], bool]:
    """Check ``items`` (sha256, absolute path, size) on ``workers`` processes (0: every core).

    Stops handing out work at ``deadline`` (``time.monotonic()``), finishing what is in flight;
    the first batch always runs, so a time budget always makes progress.
    Returns (results as :func:`check_batch` gives them, True when the deadline cut it short).
    ``progress(files_done, files_total, bytes_done, bytes_total)`` is called as batches finish.
    """
    workers = workers or default_workers()
    total_files, total_bytes = len(items), sum(item[2] for item in items)
    results: list[tuple] = []
    done_bytes = 0
    queue = deque((batch, drop_cache) for batch in _batches(items, workers))
    submitted = 0

    def report(_task, chunk) -> None:
        nonlocal done_bytes
        results.extend(chunk)
        done_bytes += sum(r[2] for r in chunk)
        if progress:
            progress(len(results), total_files, done_bytes, total_bytes)

    def may_submit() -> bool:
        nonlocal submitted
        if deadline is not None and submitted and time.monotonic() >= deadline:
            return False
        submitted += 1
        return True

    inline = workers <= 1 or total_files <= 1
    try:
        with WorkerPool(_check, workers, inline=inline, method=hooks.start_method) as pool:
            pool.run(queue, report, may_submit=may_submit)
    except BrokenPool as exc:
        raise VerifyError(f"a hashing worker died ({exc.__cause__ or exc}); run again with fewer workers, and "
                          "check the system log for the OOM killer") from exc
    return results, bool(queue)


# ---------------------------------------------------------------------------------------- the vault walk
def is_in_flight(name: str) -> bool:
    """An ingest's temp file (``.<sha256>.<ext>.partial-<pid>``), published or removed by ingest."""
    return name.startswith(".") and ".partial-" in name


def walk_originals(vault: str, links: set[str] | None = None) -> set[str]:
    """Paths (relative to the vault, ``/``-separated) of every file under ``originals/``, except
    in-flight temp files and file-browser junk. Symbolic links are not followed; their paths are
    also added to ``links``."""
    found: set[str] = set()
    root = os.path.join(vault, ORIGINALS)
    stack = [(root, ORIGINALS)]
    while stack:
        directory, rel = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            continue
        for entry in entries:
            name = entry.name
            if entry.is_dir(follow_symlinks=False):
                if name not in JUNK_DIRS:
                    stack.append((entry.path, f"{rel}/{name}"))
            elif not (name in JUNK_NAMES or name.startswith("._") or is_in_flight(name)):
                found.add(f"{rel}/{name}")
                if links is not None and entry.is_symlink():
                    links.add(f"{rel}/{name}")
    return found


def sidecar_of(rel_path: str, sidecar_rel_path: str | None) -> str:
    if sidecar_rel_path:
        return sidecar_rel_path
    return os.path.splitext(rel_path)[0] + ".xmp"


def missing_thumbnail_assets(cat: Catalog, thumbs_root: str, assets: dict[str, dict]) -> list[dict]:
    """Assets whose thumbnails are absent under ``thumbs_root``: {sha256, path, detail}.

    Expected: every size the catalog recorded for assets with status ``ok``, plus the metadata
    file; every default size for assets with no thumbnails yet (or a failed attempt). Assets
    recorded as ``skipped`` (a video without ffmpeg) have none to check.
    """
    # Lazy: the thumbnail engine is another module; its path helpers need only the standard library.
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import (  # pylint: disable=import-outside-toplevel
        DEFAULT_SIZES, METADATA_DIR, shard_file_names, thumbnail_paths)

    status = cat.thumbnail_index(thumbs_root)
    recorded = cat.recorded_thumbnail_sizes(thumbs_root)
    default_names = {name for name, _w, _h in DEFAULT_SIZES}
    names = {name: shard_file_names(os.path.join(thumbs_root, name), ".jpg")
             for name in default_names | {n for s in recorded.values() for n in s}}
    names[METADATA_DIR] = shard_file_names(os.path.join(thumbs_root, METADATA_DIR), ".json")
    problems = []
    for sha in sorted(assets):
        state = status.get(sha, (None, None))[0]
        if state == "skipped":
            continue
        wanted = recorded.get(sha, set()) if state == "ok" else default_names
        paths = thumbnail_paths(thumbs_root, sha, [(n, 1, 1) for n in sorted(wanted)])
        absent = [name for name, path in paths.items() if os.path.basename(path) not in names.get(name, ())]
        if absent:
            detail = ("no thumbnails made yet: run sovereign.cloud.photo_thumbnails" if state is None
                      else f"thumbnails not on disk: {', '.join(sorted(absent))}; photo_thumbnails makes them again")
            if state == "failed":
                detail = "making the thumbnails failed before; photo_thumbnails says why"
            problems.append({"sha256": sha, "path": paths[sorted(absent)[0]], "detail": detail})
    return problems


# ---------------------------------------------------------------------------------------- selection
def select_sample(order: list[tuple[str, str, int]], percent: float | None,
                  max_bytes: int | None) -> list[tuple[str, str, int]]:
    """The head of ``order`` (least recently verified first) within ``percent`` and ``max_bytes``.

    The byte budget stops at the first file that does not fit (so a large video is verified when
    it reaches the head of the queue instead of being skipped forever); at least one file is taken.
    """
    picked = list(order)
    if percent is not None:
        picked = picked[:max(1, math.ceil(len(order) * percent / 100.0))] if order else []
    if max_bytes is not None:
        used, cut = 0, 0
        for _sha, _rel, size in picked:
            if cut and used + size > max_bytes:
                break
            used += size
            cut += 1
        picked = picked[:cut]
    return picked


def _validate(mode: str, percent, max_bytes, max_seconds) -> None:
    if mode not in ("full", "sample"):
        raise VerifyError(f"mode must be full or sample, not {mode!r}")
    limits = {"percent": percent, "max_bytes": max_bytes, "max_seconds": max_seconds}
    given = [name for name, value in limits.items() if value is not None]
    if mode == "full" and given:
        raise VerifyError(f"{', '.join(given)} only apply to mode=sample; remove them or set mode: sample")
    if mode == "sample" and not given:
        raise VerifyError("mode=sample needs a limit: percent (e.g. 5), max_bytes (e.g. 50G) or max_seconds "
                          "(e.g. 3600), or several of them")
    if percent is not None and not 0 < percent <= 100:
        raise VerifyError(f"percent must be more than 0 and at most 100, not {percent}")
    if max_bytes is not None and max_bytes <= 0:
        raise VerifyError(f"max_bytes must be positive, not {max_bytes}")
    if max_seconds is not None and max_seconds <= 0:
        raise VerifyError(f"max_seconds must be positive, not {max_seconds}")


# ---------------------------------------------------------------------------------------- the engine
def verify_vault(vault: str, catalog: str | None = None, mode: str = "full", percent: float | None = None,
                 max_bytes: int | None = None, max_seconds: float | None = None, thumbs_root: str | None = None,
                 workers: int = 0, record: bool = True, drop_cache: bool = True, progress=None,
                 hooks=NO_HOOKS, state_dir: str | None = None) -> VerifyReport:
    """Verify ``vault`` against its catalog (see the module docstring). ``record=False`` is check
    mode: everything is read and hashed, nothing is written to the catalog."""
    _validate(mode, percent, max_bytes, max_seconds)
    started = time.monotonic()
    deadline = started + max_seconds if max_seconds else None
    vault = os.path.abspath(vault)
    if not os.path.isdir(vault):
        raise VerifyError(f"the vault {vault} does not exist (or is not mounted); check the vault option")
    explicit_thumbs = thumbs_root is not None
    thumbs_root = os.path.abspath(thumbs_root or os.path.join(vault, THUMBS))
    report = VerifyReport(mode=mode, workers=workers or default_workers())
    try:
        identity.before_open(vault, catalog, state_dir)
        # Check mode never writes the catalog.
        cat = Catalog.open(vault, catalog, create=False, readonly=not record)
    except (CatalogError, identity.VaultIdentityError) as exc:
        raise VerifyError(str(exc)) from exc
    with cat:
        report.warnings.extend(cat.warnings)
        try:
            report.warnings.extend(identity.check(vault, cat, state_dir, write=record)[1])
        except identity.VaultIdentityError as exc:
            raise VerifyError(str(exc)) from exc
        # The catalog first, then the walk: an asset ingested in between shows as a file the
        # snapshot does not know (re-checked below), never as a missing original.
        assets = cat.asset_files()
        order = cat.verification_order()
        links: set[str] = set()
        on_disk = walk_originals(vault, links)
        report.total_assets, report.total_bytes = len(assets), sum(int(a["size"]) for a in assets.values())

        absent = {sha for sha, row in assets.items() if row["rel_path"] not in on_disk}
        # an original that is a symbolic link is corrupt, in every mode, and never hashed through the link
        linked = {sha for sha, row in assets.items() if row["rel_path"] in links}
        present_order = [item for item in order if item[0] not in absent and item[0] not in linked]
        chosen = present_order if mode == "full" else select_sample(present_order, percent, max_bytes)
        report.selected, report.selected_bytes = len(chosen), sum(item[2] for item in chosen)

        known = set()
        for sha, row in assets.items():
            known.add(row["rel_path"])
            known.add(sidecar_of(row["rel_path"], row["sidecar_rel_path"]))
            if sidecar_of(row["rel_path"], row["sidecar_rel_path"]) in links and sha not in linked:
                report.corrupt.append(sha)
                report.details.append({"sha256": sha, "path": sidecar_of(row["rel_path"], row["sidecar_rel_path"]),
                                       "status": "corrupt", "detail": LINKED_SIDECAR})
            if sidecar_of(row["rel_path"], row["sidecar_rel_path"]) not in on_disk and sha not in absent:
                report.missing_sidecars.append(sha)
                report.details.append({"sha256": sha, "path": sidecar_of(row["rel_path"], row["sidecar_rel_path"]),
                                       "status": "missing_sidecar",
                                       "detail": "the XMP sidecar is not on disk; 'sovereign-photos repair' writes "
                                                 "it again from the catalog"})
        report.unknown = _unknown_files(cat, on_disk - known)
        for rel in report.unknown:
            report.details.append({"sha256": None, "path": rel, "status": "unknown",
                                   "detail": "not in the catalog; if the catalog was lost, 'sovereign-photos "
                                             "rebuild-catalog' catalogs every original again; otherwise move it "
                                             "out of originals/"})

        run_id = None
        if record:
            run_id = cat.start_verify_run(mode, {"percent": percent, "max_bytes": max_bytes,
                                                 "max_seconds": max_seconds, "thumbs_root": thumbs_root})

        items = [(sha, os.path.join(vault, rel), int(size)) for sha, rel, size in chosen]
        results, report.budget_exhausted = hash_many(items, workers, drop_cache, deadline, progress, hooks)
        verified: list[tuple[str, str]] = []
        for sha in sorted(absent):
            results.append((sha, "missing", 0, "the original is not on disk"))
        for sha in sorted(linked):
            results.append((sha, "corrupt", 0, LINKED_ORIGINAL))
        for sha, status, nbytes, detail in results:
            verified.append((sha, status))
            if sha not in absent and sha not in linked:
                report.checked += 1
                report.checked_bytes += nbytes
            if status == "ok":
                report.ok += 1
                continue
            getattr(report, status).append(sha)
            report.details.append({"sha256": sha, "path": assets[sha]["rel_path"], "status": status, "detail": detail})
        for name in PROBLEM_STATUSES:
            setattr(report, name, sorted(set(getattr(report, name))))

        if os.path.isdir(thumbs_root):
            report.thumbs_root = thumbs_root
            for problem in missing_thumbnail_assets(cat, thumbs_root, {s: a for s, a in assets.items()
                                                                       if s not in absent}):
                report.missing_thumbnails.append(problem["sha256"])
                report.details.append({**problem, "status": "missing_thumbnail"})
        elif explicit_thumbs:
            report.warnings.append(f"thumbs_root {thumbs_root} does not exist (not mounted?); thumbnails were not "
                                   "checked")

        report.duration_s = time.monotonic() - started
        if record:
            counts = {"checked": report.checked, "checked_bytes": report.checked_bytes, "ok": report.ok,
                      "corrupt": len(report.corrupt), "missing": len(report.missing), "unknown": len(report.unknown),
                      "missing_sidecars": len(report.missing_sidecars),
                      "missing_thumbnails": len(report.missing_thumbnails)}
            cat.finish_verify_run(run_id, counts, report.details, verified)
            report.run_id, report.recorded = run_id, True
    return report


def _unknown_files(cat: Catalog, candidates: set[str]) -> list[str]:
    """Files the catalog snapshot did not know, minus originals an ingest recorded meanwhile."""
    unknown = []
    for rel in sorted(candidates):
        if is_set_aside(os.path.basename(rel)):
            continue  # kept by repair or ingest on purpose (a damaged original, another tool's sidecar)
        stem = os.path.basename(rel).split(".", 1)[0]
        if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
            row = cat.get_asset(stem)
            if row and rel in (row["rel_path"], sidecar_of(row["rel_path"], row["sidecar_rel_path"])):
                continue
        unknown.append(rel)
    return unknown
