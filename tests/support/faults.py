"""Test hooks for the engines (common.hooks.Hooks subclasses): a power cut at a named step, a
worker that hangs or dies on one file, a forced pool start method.

They are passed in an engine's config, never through the environment, and travel to worker
processes with the worker's context: they live here, importable as ``support.faults`` in the
workers too (the tests' ``sys.path`` reaches spawned and fork-server workers)."""

from __future__ import annotations

import os
import signal
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hooks import Hooks


class StartMethod(Hooks):
    """Only force a multiprocessing start method."""

    def __init__(self, method: str | None) -> None:
        self.start_method = method


class CrashAt(Hooks):
    """At the ``count``-th time a process reaches ``point``, SIGKILL the whole process group, like
    a power cut for the run (the run must be in its own session). Each process counts for itself."""

    def __init__(self, point: str, count: int = 1) -> None:
        self.point, self.count = point, count
        self.seen = 0

    def fault(self, point: str) -> None:
        if point == self.point:
            self.seen += 1
            if self.seen >= self.count:
                os.killpg(os.getpgrp(), signal.SIGKILL)


class HangOn(Hooks):
    """A worker blocks on the file named ``name``, as a hung decoder would; every task may run
    ``seconds`` before it counts as hung."""

    def __init__(self, name: str, seconds: float, start_method: str | None = None) -> None:
        self.name, self.seconds, self.start_method = name, seconds, start_method

    def task_started(self, path: str) -> None:
        if os.path.basename(path) == self.name:
            time.sleep(3600)

    def allowance(self, seconds: float) -> float:
        return self.seconds


class DieOn(Hooks):
    """The worker process that starts on the file named ``name`` dies at once (a segfault in a
    decoder, the OOM killer)."""

    def __init__(self, name: str, start_method: str | None = None) -> None:
        self.name, self.start_method = name, start_method

    def task_started(self, path: str) -> None:
        if os.path.basename(path) == self.name:
            os.kill(os.getpid(), signal.SIGKILL)


class SlowDisk(Hooks):
    """Every file takes ``seconds`` to read (a slow NAS) and may run ``allowance`` seconds: healthy
    files that only wait in the pool's queue behind slow ones must not count as hung."""

    def __init__(self, seconds: float, allowance: float, start_method: str | None = None) -> None:
        self.seconds, self.limit, self.start_method = seconds, allowance, start_method

    def task_started(self, path: str) -> None:
        time.sleep(self.seconds)

    def allowance(self, seconds: float) -> float:
        return self.limit
