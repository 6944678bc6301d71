# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The test seams of an engine, as one object the engine takes from its config.

Production runs with :data:`NO_HOOKS` (every method does nothing). The crash, hang and pool tests
pass a subclass instead (tests/support/faults.py): an engine never reads a test switch from the
environment. The object travels to worker processes with the rest of the worker's context, so a
subclass must be picklable and importable there.
"""

from __future__ import annotations


class Hooks:
    """No-op seams: override what a test needs."""

    #: a multiprocessing start method to force (None: the pool policy chooses)
    start_method: str | None = None

    def fault(self, point: str) -> None:
        """Called at each named step of a crash-safe sequence (``partial-written``, ``linked``,
        ``published``, ``before-commit``, ...); a test may kill the run here."""

    def task_started(self, path: str) -> None:
        """Called in a worker as it starts on one file; a test may block here (a hung decoder)."""

    def allowance(self, seconds: float) -> float:
        """The seconds a task may run before it counts as hung (a test may shorten them)."""
        return seconds


NO_HOOKS = Hooks()
