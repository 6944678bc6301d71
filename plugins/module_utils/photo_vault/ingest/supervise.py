# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ingest's workers and their supervision, on the collection's one pool policy
(``common.pool``): every file goes to :func:`~.worker.process_file` in a worker process (or in
this process for a one-worker run), each outcome goes to the committer as it arrives, progress is
reported, and the batch is committed on time even when no file finishes.

Supervision: a worker that dies (killed, out of memory) stops the run after what was finished is
committed; a worker stuck on one file longer than that file's allowance (a decoder that never
returns, an unreadable disk) is replaced with the rest of the pool, and the file is rejected with
the reason so that it is not retried forever.
"""

from __future__ import annotations

import time
from collections import deque

from ansible_collections.sovereign.cloud.plugins.module_utils.common.pool import BrokenPool, WorkerPool
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import worker
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.commit import BATCH_SECONDS, Committer
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.config import IngestError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import SourceFile


def allowance(size: int) -> float:
    """Seconds a single file may take before its worker is considered hung: generous, and
    proportional to its size (three passes at 10 MB/s on a slow NAS, plus ten minutes)."""
    return 600.0 + 3 * size / 10e6


class Progress:  # pylint: disable=too-few-public-methods
    """Calls ``callback(dict)`` at most every ``interval`` seconds: files done/total, bytes,
    MB/s and ETA."""

    def __init__(self, callback, total: int, total_bytes: int, interval: float) -> None:
        self.callback, self.total, self.total_bytes, self.interval = callback, total, total_bytes, interval
        self.done = 0
        self.bytes = 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def advance(self, size: int) -> None:
        self.done += 1
        self.bytes += size
        if self.callback and time.monotonic() - self.last >= self.interval:
            self._emit()

    def _emit(self) -> None:
        self.last = time.monotonic()
        elapsed = max(self.last - self.t0, 1e-6)
        rate = self.bytes / elapsed
        remaining = self.total_bytes - self.bytes
        self.callback({"files_done": self.done, "files_total": self.total, "bytes_done": self.bytes,
                       "bytes_total": self.total_bytes, "mb_per_s": round(rate / 1e6, 2),
                       "files_per_s": round(self.done / elapsed, 2),
                       "eta_s": round(remaining / rate, 1) if rate > 0 else None, "elapsed_s": round(elapsed, 1)})

    def finish(self) -> None:
        if self.callback:
            self._emit()


def run_workers(cfg, todo: list[SourceFile], ctx: dict, committer: Committer) -> bool:
    """Process ``todo`` and hand every outcome to ``committer``; True when a hung worker was
    killed (it may have left a temp file behind)."""
    hooks = cfg.hooks
    progress = Progress(cfg.progress, len(todo), sum(file.size for file in todo), cfg.progress_interval)
    workers = max(1, min(cfg.workers, len(todo)))
    killed = False

    def on_result(file: SourceFile, outcome):
        follow_up = committer.handle(outcome)
        progress.advance(file.size)
        return follow_up

    def on_hung(file: SourceFile) -> None:
        nonlocal killed
        killed = True
        seconds = int(hooks.allowance(allowance(file.size)))
        committer.reject(file, f"processing did not finish within {seconds} s (a hung decoder or an unreadable "
                               "disk?); the file was not touched. Check it, then touch it to retry")

    pool = WorkerPool(worker.process_file, workers, initializer=worker.init_worker, initargs=(ctx,),
                      window=workers * 2 + 2, inline=workers == 1, method=hooks.start_method,
                      preload=[worker.__name__])
    try:
        pool.run(deque(todo), on_result, poll=BATCH_SECONDS, on_tick=committer.commit_if_due,
                 allowance=lambda file: hooks.allowance(allowance(file.size)), on_hung=on_hung)
        for _unresolved in range(committer.unresolved()):
            committer.tally.skip("its content's first copy did not finish; it will be picked up next run")
        committer.commit()
    except BrokenPool as exc:
        committer.commit()
        raise IngestError("a worker process died (killed, or out of memory?); what was finished is saved. Run "
                          "again to continue, with fewer workers if memory is short") from exc
    finally:
        pool.close()
        worker.reset_worker()
        progress.finish()
    return killed
