"""The one worker-pool policy (common.pool): results, a dying worker, a hung task, a time budget."""

from __future__ import annotations

import os
import signal
import time
from collections import deque

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import pool


def square_or_die(task):
    """A worker's task: a number is squared; "die" kills its worker, "hang" never returns."""
    if task == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if task == "hang":
        time.sleep(3600)
    return task * task, os.getpid()


@pytest.mark.parametrize("inline", [False, True])
def test_every_task_comes_back_once_and_a_follow_up_runs_next(inline):
    results = {}

    def collect(task, result):
        results[task] = result[0]
        return 10 if task == 3 else None  # a retry, as the ingest resubmits a waiting copy

    with pool.WorkerPool(square_or_die, 2, inline=inline, method="fork") as workers:
        workers.run(deque(range(6)), collect)
    assert results == {n: n * n for n in (0, 1, 2, 3, 4, 5, 10)}


def test_a_dying_worker_names_the_tasks_whose_outcome_is_lost():
    done = []
    with pool.WorkerPool(square_or_die, 2, method="fork") as workers:
        with pytest.raises(pool.BrokenPool) as broken:
            workers.run(deque([1, 2, "die", 3]), lambda task, result: done.append(task))
    assert "die" in broken.value.lost
    assert set(done) | set(broken.value.lost) | {3} >= {1, 2, "die"}


def test_a_hung_task_is_reported_and_the_others_finish_on_fresh_workers():
    done, hung = [], []
    with pool.WorkerPool(square_or_die, 2, method="fork") as workers:
        workers.run(deque([1, "hang", 2, 3, 4]), lambda task, result: done.append(task), poll=0.2,
                    allowance=lambda task: 3.0, on_hung=hung.append)
    assert hung == ["hang"]
    assert sorted(done) == [1, 2, 3, 4]


def slow_square(task):
    """A healthy task that takes a second (a large file on a slow NAS)."""
    time.sleep(1.0)
    return task * task, os.getpid()


def test_the_allowance_counts_from_when_a_worker_starts_a_task_not_from_when_it_was_queued():
    # 6 tasks of 1 s on 2 workers are all handed out at once; the last ones wait 2 s in the queue
    done, hung = [], []
    with pool.WorkerPool(slow_square, 2, window=6, method="fork") as workers:
        workers.run(deque(range(6)), lambda task, result: done.append(task), poll=0.1,
                    allowance=lambda task: 1.8, on_hung=hung.append)
    assert hung == []
    assert sorted(done) == list(range(6))


def test_a_budget_stops_handing_out_work_and_leaves_the_rest_queued():
    queue = deque(range(10))
    handed = []

    def may_submit():
        return len(handed) < 3 and not handed.append(1)

    with pool.WorkerPool(square_or_die, 1, inline=True) as workers:
        workers.run(queue, lambda task, result: None, may_submit=may_submit)
    assert list(queue) == list(range(3, 10))


def test_a_single_threaded_process_forks_and_a_threaded_one_does_not():
    import threading  # pylint: disable=import-outside-toplevel

    if pool.thread_count() == 1:
        assert pool.start_method() == "fork"
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert pool.start_method() in ("forkserver", "spawn")
        assert pool.start_method("spawn") == "spawn"
    finally:
        stop.set()
        thread.join()
