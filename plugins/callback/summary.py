# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: summary
type: aggregate
short_description: A short, readable account of what a run did
description:
  - At the end of a playbook, prints one block per host - what changed, what failed, and the
    one-line C(summary) that sovereign.cloud modules return (photos ingested, files verified,
    snapshots kept) - instead of leaving the reader to scroll back through the task log.
  - Enable it with C(callbacks_enabled = sovereign.cloud.summary); the project's C(ansible.cfg) does.
  - Optionally also writes the same account as JSON for dashboards and scheduled-run reports.
author: sovereign.cloud developers (@sovereign-cloud)
options:
  json_path:
    description: Also write the summary as JSON to this file (parent directory must exist).
    type: path
    ini:
      - section: callback_sovereign_summary
        key: json_path
    env:
      - name: SOVEREIGN_SUMMARY_JSON
  max_changed:
    description: List at most this many changed tasks per host; the rest are counted.
    type: int
    default: 8
    ini:
      - section: callback_sovereign_summary
        key: max_changed
    env:
      - name: SOVEREIGN_SUMMARY_MAX_CHANGED
"""

import json
import time

from ansible.plugins.callback import CallbackBase


class HostAccount:
    """What happened on one host, in the order it happened."""

    def __init__(self) -> None:
        self.changed: list[str] = []
        self.failed: list[str] = []
        self.notes: list[str] = []
        self.ok = 0
        self.skipped = 0

    def as_dict(self) -> dict:
        return {"ok": self.ok, "changed": self.changed, "failed": self.failed,
                "notes": self.notes, "skipped": self.skipped}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sovereign.cloud.summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, HostAccount] = {}
        self.started = time.monotonic()
        self.playbook = ""

    def _account(self, result) -> HostAccount:
        return self.hosts.setdefault(result._host.get_name(), HostAccount())

    @staticmethod
    def _task_name(result) -> str:
        name = result._task.get_name().strip()
        # "sovereign.cloud.base : Ensure ..." reads better as "base: Ensure ...".
        role, sep, task = name.partition(" : ")
        if sep:
            name = f"{role.rsplit('.', 1)[-1]}: {task}"
        return name

    def _record_note(self, account: HostAccount, result) -> None:
        # Modules in this collection return a one-line human summary of what they did.
        note = result._result.get("summary")
        if isinstance(note, str) and note and note not in account.notes:
            account.notes.append(note)

    def v2_playbook_on_start(self, playbook) -> None:
        self.playbook = playbook._file_name

    def v2_runner_on_ok(self, result) -> None:
        account = self._account(result)
        account.ok += 1
        if result._result.get("changed"):
            account.changed.append(self._task_name(result))
        self._record_note(account, result)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        if ignore_errors:
            return
        account = self._account(result)
        message = str(result._result.get("msg", "")).strip().splitlines()
        detail = f" - {message[0][:160]}" if message else ""
        account.failed.append(f"{self._task_name(result)}{detail}")

    def v2_runner_on_unreachable(self, result) -> None:
        self._account(result).failed.append(f"unreachable: {result._result.get('msg', '')}"[:200])

    def v2_runner_on_skipped(self, result) -> None:
        self._account(result).skipped += 1

    def v2_playbook_on_stats(self, stats) -> None:
        limit = self.get_option("max_changed")
        elapsed = time.monotonic() - self.started
        lines = ["", f"sovereign.cloud - what this run did ({elapsed:.0f} s)"]
        for name in sorted(self.hosts):
            account = self.hosts[name]
            state = "FAILED" if account.failed else ("changed" if account.changed else "no changes")
            lines.append(f"  {name}: {state} ({account.ok} ok, {len(account.changed)} changed, "
                         f"{len(account.failed)} failed)")
            lines.extend(f"    * {note}" for note in account.notes)
            for task in account.changed[:limit]:
                lines.append(f"    ~ {task}")
            if len(account.changed) > limit:
                lines.append(f"    ~ ... and {len(account.changed) - limit} more changes")
            lines.extend(f"    ! {failure}" for failure in account.failed)
        if not self.hosts:
            lines.append("  no hosts matched")
        self._display.display("\n".join(lines))
        path = self.get_option("json_path")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"playbook": self.playbook, "seconds": round(elapsed, 1),
                           "hosts": {n: a.as_dict() for n, a in self.hosts.items()}}, handle, indent=2)
