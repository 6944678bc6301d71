# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one worker-pool policy: how many workers, how they start, and how they are supervised.

* :func:`default_workers`: every core this process may run on.
* :func:`start_method`: ``fork`` from a single-threaded process (the module, the command line):
  workers start at once and share the parent's memory, and it is what works inside Ansible's
  module packaging, whose imports a fresh interpreter could not repeat. From a process that runs
  threads (libvips or pillow-heif after a decode, a test runner) a fork can hand the child a
  lock that a thread held at the fork, forever: then a fork server (or ``spawn``).
* :class:`WorkerPool`: runs ``fn(task)`` for a queue of tasks with a bounded number in flight,
  hands each result to the caller as it comes, and supervises the workers: a worker that dies
  (the OOM killer, a crash in a C library) raises :class:`BrokenPool` naming the tasks whose
  outcome is lost; a task that runs longer than its allowance (timed from when a worker starts
  it, never from when it was queued) is reported hung and its worker replaced with the rest of
  the pool. With ``inline`` the tasks run in this process (one worker:
  no pool to start).

Standard library only (``multiprocessing`` and ``concurrent.futures`` are imported when a pool
starts, so importing this module costs nothing).
"""

from __future__ import annotations

import gc
import os
import time
from collections import deque


class BrokenPool(Exception):
    """A worker process died; ``lost`` holds the tasks that were in flight (outcome unknown)."""

    def __init__(self, lost: list) -> None:
        super().__init__(f"a worker process died with {len(lost)} task(s) in flight")
        self.lost = lost


# The start time of each in-flight task, by its slot in the window: written by the worker as it
# starts the task (CLOCK_MONOTONIC is one clock for every process of the machine), 0 while queued.
_STARTED = {"stamps": None}


def _init_worker(stamps, initializer, initargs) -> None:
    _STARTED["stamps"] = stamps
    if initializer is not None:
        initializer(*initargs)


def _timed_call(fn, slot: int, task):
    _STARTED["stamps"][slot] = time.monotonic()
    return fn(task)


def default_workers() -> int:
    """The number of cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_count() -> int:
    """Threads of this process, native ones included (0 when it cannot be told: not Linux)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def start_method(forced: str | None = None) -> str:
    """``forced`` when this platform has it (tests), else ``fork`` from a single-threaded process,
    else ``forkserver`` (or ``spawn`` where there is none)."""
    import multiprocessing  # pylint: disable=import-outside-toplevel

    methods = multiprocessing.get_all_start_methods()
    if forced in methods:
        return forced
    if "fork" in methods and thread_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def pool_context(method: str | None = None, preload=()):
    """The multiprocessing context for :func:`start_method` (``method`` forces one).

    ``preload``: modules a fork server imports once for all its workers. Left empty, every worker
    imports what it needs itself: inside Ansible's module wrapper the collection is a zip archive
    on ``sys.path`` that the server (Python < 3.13) does not inherit, and a failed preload would
    cache the wrong ``ansible_collections`` there."""
    import multiprocessing  # pylint: disable=import-outside-toplevel

    method = start_method(method)
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(list(preload))
    return context


class WorkerPool:
    """Run ``fn(task)`` for queued tasks on ``workers`` processes under the one policy above.

    ``window``: tasks in flight at most (default twice the workers, so none idles while the
    parent handles a result). ``initializer(*initargs)`` runs once in each worker process (and
    once in this process with ``inline``). ``method`` forces a start method; ``preload``: see
    :func:`pool_context`. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, fn, workers: int, *, initializer=None, initargs=(), window: int | None = None,
                 inline: bool = False, method: str | None = None, preload=()) -> None:
        self.fn = fn
        self.workers = max(1, int(workers))
        self.window = window or self.workers * 2
        self.initializer, self.initargs = initializer, tuple(initargs)
        self.inline = inline
        self.method, self.preload = method, tuple(preload)
        self._executor = None
        self._stamps = None
        self._frozen = False

    # ------------------------------------------------------------------ lifecycle
    def _start(self):
        if self._executor is None:
            import concurrent.futures  # pylint: disable=import-outside-toplevel

            context = pool_context(self.method, self.preload)
            if context.get_start_method() == "fork" and not self._frozen:
                gc.collect()
                gc.freeze()  # the children share the parent's objects without the collector copying their pages
                self._frozen = True
            self._stamps = context.Array("d", self.window, lock=False)
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=context, initializer=_init_worker,
                initargs=(self._stamps, self.initializer, self.initargs))
        return self._executor

    def kill(self) -> None:
        """Stop every worker at once (a hung one included) and drop the pool; the next task starts a new one."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, AttributeError):
                pass
        try:
            executor.shutdown(wait=True, cancel_futures=True)
        except Exception:  # pylint: disable=broad-exception-caught  # a broken pool may complain; it is gone
            pass

    def close(self) -> None:
        executor, self._executor = self._executor, None
        try:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        finally:
            if self._frozen:
                gc.unfreeze()
                self._frozen = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ running
    def run(self, queue: deque, on_result, *, may_submit=None, poll: float | None = None, on_tick=None,
            allowance=None, on_hung=None) -> None:
        """Run the tasks of ``queue`` (taken from the left) until it is empty and nothing is in flight.

        ``on_result(task, result)`` gets each result in this process; a task it returns is run
        next (a retry). ``may_submit()`` False stops handing out tasks (a time budget): what is in
        flight finishes, the rest stays in ``queue``. ``on_tick()`` runs after every wait, at least
        every ``poll`` seconds. ``allowance(task)``: seconds a task may run once a worker started
        it (time waiting in the queue does not count); a task over it is
        passed to ``on_hung(task)`` and every worker is replaced (the other tasks in flight go
        back to the queue). Raises :class:`BrokenPool` when a worker dies.
        """
        if self.inline:
            self._run_inline(queue, on_result, may_submit, on_tick)
            return
        from concurrent.futures import FIRST_COMPLETED, wait  # pylint: disable=import-outside-toplevel
        from concurrent.futures.process import BrokenProcessPool  # pylint: disable=import-outside-toplevel

        in_flight: dict = {}  # future -> (task, slot)
        while queue or in_flight:
            executor = self._start()
            while queue and len(in_flight) < self.window and (may_submit is None or may_submit()):
                task = queue.popleft()
                slot = min(set(range(self.window)) - {used for _task, used in in_flight.values()})
                self._stamps[slot] = 0.0
                in_flight[executor.submit(_timed_call, self.fn, slot, task)] = (task, slot)
            if not in_flight:
                return
            done, _running = wait(list(in_flight), timeout=poll, return_when=FIRST_COMPLETED)
            for future in done:
                task, _slot = in_flight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    lost = [task] + [item for item, _slot in in_flight.values()]
                    in_flight.clear()
                    self.kill()
                    raise BrokenPool(lost) from exc
                follow_up = on_result(task, result)
                if follow_up is not None:
                    queue.appendleft(follow_up)
            if allowance is not None and in_flight:
                self._replace_hung(in_flight, queue, allowance, on_hung)
            if on_tick is not None:
                on_tick()

    def _replace_hung(self, in_flight: dict, queue: deque, allowance, on_hung) -> None:
        now, stamps = time.monotonic(), self._stamps
        hung = [task for task, slot in in_flight.values() if stamps[slot] and now - stamps[slot] > allowance(task)]
        if not hung:
            return
        for task, _slot in in_flight.values():
            if not any(task is stuck for stuck in hung):
                queue.appendleft(task)
        in_flight.clear()
        self.kill()
        for task in hung:
            on_hung(task)

    def _run_inline(self, queue: deque, on_result, may_submit, on_tick) -> None:
        if self.initializer is not None:
            self.initializer(*self.initargs)
        while queue and (may_submit is None or may_submit()):
            task = queue.popleft()
            follow_up = on_result(task, self.fn(task))
            if follow_up is not None:
                queue.appendleft(follow_up)
            if on_tick is not None:
                on_tick()
