# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run document: what a playbook run did, per host, as plain JSON data.

:class:`RunRecorder` is fed by the callback (one call per task result) and :meth:`RunRecorder.finish`
returns the document described in docs/reports.md (``schema`` :data:`SCHEMA`). Only a few chosen
fields of a result are kept (the task name, the first line of ``msg``, the last line of
``stderr``, the module's one-line ``summary``); a result that is ``no_log`` (the task's flag, the
result's ``_ansible_no_log`` or an already censored result) contributes its task name and nothing
else.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import secrets

SCHEMA = "sovereign.cloud/run-report/1"
HIDDEN = "output hidden (no_log)"
MESSAGE_CHARS = 300
SUMMARY_CHARS = 300
MAX_LISTED = 200
COUNTS = ("ok", "changed", "failed", "skipped", "unreachable", "rescued", "ignored")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def one_line(value, limit: int) -> str:
    """The first non-empty line of ``value`` as a plain str, cut to ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    for line in value.splitlines():
        line = line.strip()
        if line:
            return "" + (line if len(line) <= limit else line[: limit - 1] + "\u2026")
    return ""


def last_line(value, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    lines = [line for line in value.splitlines() if line.strip()]
    return one_line(lines[-1], limit) if lines else ""


def is_hidden(result: dict, task_no_log: bool = False) -> bool:
    """Whether a result must not be looked into: no_log on the task or the result, or censored."""
    if task_no_log or not isinstance(result, dict):
        return True
    return bool(result.get("_ansible_no_log")) or "censored" in result


def run_id(playbook: str, started: _dt.datetime) -> str:
    """``20261204T053012Z-site-1a2b3c``: sortable by time, unique, safe as a file name."""
    stem = _SAFE.sub("-", os.path.splitext(os.path.basename(playbook or "run"))[0]).strip("-") or "run"
    return f"{started.astimezone(_dt.timezone.utc):%Y%m%dT%H%M%SZ}-{stem}-{secrets.token_hex(3)}"


def task_label(task_name: str) -> str:
    """``sovereign.cloud.base : Ensure x`` reads better as ``base: Ensure x``."""
    name = (task_name or "").strip()
    role, sep, task = name.partition(" : ")
    if sep:
        name = f"{role.rsplit('.', 1)[-1]}: {task}"
    return one_line(name, MESSAGE_CHARS) or "(unnamed task)"


class HostRecord:
    """What happened on one host, in order."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)
        self.changes: list[dict] = []
        self.failures: list[dict] = []
        self.summaries: list[str] = []
        self.more_changes = 0

    def as_dict(self, stats: dict | None) -> dict:
        counts = dict(self.counts)
        if stats:
            # ansible's own recap wins: it knows about rescued blocks and handlers.
            counts.update({key: int(stats.get(key, counts[key])) for key in COUNTS})
        if counts["unreachable"]:
            status = "unreachable"
        elif counts["failed"]:
            status = "failed"
        elif counts["changed"]:
            status = "changed"
        else:
            status = "ok"
        failures = self.failures
        if not counts["failed"] and not counts["unreachable"] and failures:
            failures = [dict(f, rescued=True) for f in failures]
        return {"status": status, **counts, "changes": self.changes, "more_changes": self.more_changes,
                "failures": failures, "summaries": self.summaries}


class RunRecorder:
    """Collects task results; :meth:`finish` returns the run document."""

    def __init__(self, playbook: str = "", check_mode: bool = False, started: _dt.datetime | None = None,
                 controller: str = "") -> None:
        self.started = started or utc_now()
        self.playbook = playbook
        self.check_mode = bool(check_mode)
        self.controller = controller
        self.hosts: dict[str, HostRecord] = {}
        self.run_id = run_id(playbook, self.started)

    def set_playbook(self, playbook: str) -> None:
        self.playbook = playbook
        self.run_id = run_id(playbook, self.started)

    def host(self, name: str) -> HostRecord:
        return self.hosts.setdefault(str(name), HostRecord())

    def _summaries(self, record: HostRecord, result: dict) -> None:
        candidates = [result]
        items = result.get("results")
        if isinstance(items, list):
            candidates += [item for item in items if isinstance(item, dict) and not is_hidden(item)]
        for candidate in candidates:
            note = candidate.get("summary")
            if isinstance(note, str):
                note = one_line(note, SUMMARY_CHARS)
                if note and note not in record.summaries:
                    record.summaries.append(note)

    def ok(self, host: str, task: str, result: dict, task_no_log: bool = False) -> None:
        record = self.host(host)
        record.counts["ok"] += 1
        hidden = is_hidden(result, task_no_log)
        changed = bool(result.get("changed")) if isinstance(result, dict) else False
        if changed:
            record.counts["changed"] += 1
            if len(record.changes) < MAX_LISTED:
                record.changes.append({"task": task_label(task)})
            else:
                record.more_changes += 1
        if not hidden:
            self._summaries(record, result)

    def failed(self, host: str, task: str, result: dict, task_no_log: bool = False,
               ignore_errors: bool = False) -> None:
        record = self.host(host)
        if ignore_errors:
            record.counts["ignored"] += 1
            return
        record.counts["failed"] += 1
        entry = {"task": task_label(task), "message": HIDDEN, "hidden": True}
        if not is_hidden(result, task_no_log):
            message = one_line(result.get("msg"), MESSAGE_CHARS)
            detail = last_line(result.get("stderr"), MESSAGE_CHARS)
            if not message and isinstance(result.get("results"), list):
                message = "one or more loop items failed"
            entry = {"task": task_label(task), "message": message or "failed (no message)", "hidden": False}
            if detail and detail != message:
                entry["detail"] = detail
        if len(record.failures) < MAX_LISTED:
            record.failures.append(entry)

    def unreachable(self, host: str, task: str, result: dict, task_no_log: bool = False) -> None:
        record = self.host(host)
        record.counts["unreachable"] += 1
        message = HIDDEN if is_hidden(result, task_no_log) else one_line(result.get("msg"), MESSAGE_CHARS)
        record.failures.append({"task": task_label(task), "message": f"unreachable: {message}".rstrip(": "),
                                "hidden": message == HIDDEN, "unreachable": True})

    def skipped(self, host: str) -> None:
        self.host(host).counts["skipped"] += 1

    def finish(self, stats: dict | None = None, finished: _dt.datetime | None = None) -> dict:
        """The document. ``stats``: ``{host: {ok, changed, failed, ...}}`` from ansible's recap."""
        finished = finished or utc_now()
        stats = stats or {}
        for name in stats:
            self.host(name)
        hosts = {name: self.hosts[name].as_dict(stats.get(name)) for name in sorted(self.hosts)}
        totals = {key: sum(h[key] for h in hosts.values()) for key in COUNTS}
        success = totals["failed"] == 0 and totals["unreachable"] == 0
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "playbook": os.path.basename(self.playbook or ""),
            "playbook_path": self.playbook or "",
            "controller": self.controller,
            "check_mode": self.check_mode,
            "started_at": iso(self.started),
            "finished_at": iso(finished),
            "duration_seconds": round(max(0.0, (finished - self.started).total_seconds()), 3),
            "success": success,
            "status": "failed" if not success else ("changed" if totals["changed"] else "ok"),
            "totals": totals,
            "hosts": hosts,
        }


def headline(document: dict) -> str:
    """One line for a notification: ``site.yml FAILED on nas (2 failed); 3 hosts, 5 changed, 41 s``."""
    totals = document["totals"]
    bad = [name for name, h in document["hosts"].items() if h["status"] in ("failed", "unreachable")]
    verb = "would change" if document.get("check_mode") else "changed"
    seconds = document.get("duration_seconds", 0)
    tail = f"{len(document['hosts'])} host(s), {totals['changed']} {verb}, {seconds:.0f} s"
    if bad:
        return (f"{document['playbook']} FAILED on {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''} "
                f"({totals['failed'] + totals['unreachable']} failed); {tail}")
    return f"{document['playbook']} ok; {tail}"
