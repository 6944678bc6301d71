# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The status file: one JSON document per scheduled job, the same shape for every kind.

Every job the collection installs (an ingest, a restic backup or check, a scrub, a PBS media
backup, an iMessage archive, an iCloud session check, ...) records its last run with
:func:`write_status` in ``<state_dir>/status/<kind>--<name>.json``; the status page globs that
one folder and needs no per-kind code to show age, success and the fix. A new kind plugs in by
writing this file; nothing else has to learn about it.

The document (``schema`` 1)::

    {"schema": 1, "kind": "restic.backup", "name": "media", "ok": true,
     "summary": "1,204 files, 3.1 GB added", "started_at": "2026-12-02T02:00:04Z",
     "finished_at": "2026-12-02T02:03:11Z", "last_success_at": "2026-12-02T02:03:11Z",
     "every": 86400, "fix": null, "details": {...}}

* ``kind``: ``<domain>.<job>``; ``name``: the instance (a repository, a pool, a person);
* ``ok``: whether the last run did what it is for; ``summary``: one line a person reads;
* ``last_success_at`` is carried over from the previous file when a run fails, so a failing job
  still says when it last worked (the status page's age is the age of the last success);
* ``every``: seconds between scheduled runs, a hint for staleness (inventory thresholds win);
* ``fix``: the one command a person runs when ``ok`` is false (it must exist);
* ``details``: kind-specific, JSON only. Never a secret: status files are world-readable.

Standard library only, so roles ship it to hosts with the rest of ``common``.
"""

from __future__ import annotations

import datetime as _dt
import os
import re

from . import atomic

SCHEMA = 1
STATUS_DIR = "status"
_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")
REQUIRED = ("schema", "kind", "name", "ok", "summary", "finished_at")


def utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(moment: _dt.datetime | None) -> str | None:
    """``2026-12-02T02:03:11Z`` (UTC, whole seconds), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text) -> _dt.datetime | None:
    """The aware datetime of an ISO-8601 text (``Z`` or an offset; naive means UTC), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def safe_part(text: str) -> str:
    """A kind or name as a file-name part: anything outside ``[A-Za-z0-9._@+-]`` becomes ``_``."""
    return _UNSAFE.sub("_", str(text)).strip(".") or "_"


def status_path(state_dir: str, kind: str, name: str) -> str:
    return os.path.join(state_dir, STATUS_DIR, f"{safe_part(kind)}--{safe_part(name)}.json")


def build(kind: str, name: str, ok: bool, summary: str, *, started_at=None, finished_at=None,
          fix: str | None = None, every: int | None = None, details: dict | None = None,
          previous: dict | None = None) -> dict:
    """The status document of one run; ``previous`` (the last document) carries
    ``last_success_at`` over a failed run."""
    finished = finished_at or utc_now()
    finished_text = finished if isinstance(finished, str) else iso(finished)
    if ok:
        last_success = finished_text
    else:
        last_success = (previous or {}).get("last_success_at")
    return {
        "schema": SCHEMA,
        "kind": kind,
        "name": name,
        "ok": bool(ok),
        "summary": summary,
        "started_at": started_at if isinstance(started_at, str) or started_at is None else iso(started_at),
        "finished_at": finished_text,
        "last_success_at": last_success,
        "every": every,
        "fix": None if ok else fix,
        "details": details or {},
    }


def read_status(path: str) -> dict | None:
    """A status document, or None when the file is missing, not JSON or not a status file."""
    doc = atomic.read_json(path)
    if not isinstance(doc, dict) or any(key not in doc for key in REQUIRED):
        return None
    return doc


def write_status(state_dir: str, kind: str, name: str, ok: bool, summary: str, **fields) -> str:
    """Record one run of ``kind``/``name`` under ``state_dir`` (see :func:`build` for ``fields``);
    returns the file's path. The write is atomic: a reader never sees half a document."""
    path = status_path(state_dir, kind, name)
    doc = build(kind, name, ok, summary, previous=read_status(path), **fields)
    return atomic.write_json(path, doc, mode=0o644)


def list_statuses(state_dir: str) -> list[tuple[str, dict | None]]:
    """Every ``(path, document)`` in ``<state_dir>/status``, sorted; a file that is not a valid
    status document comes back with None, so a reader can show it as broken, not skip it."""
    folder = os.path.join(state_dir, STATUS_DIR)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except OSError:
        return []
    return [(os.path.join(folder, n), read_status(os.path.join(folder, n))) for n in names]
