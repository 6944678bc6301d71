# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Write what the status page should expect of a role's scheduled jobs (runs on the host).

One file per job, ``<dir>/<kind>--<name>.json``: ``kind``, ``name``, ``title``, ``every`` (seconds
between two runs of the job's systemd ``OnCalendar=`` schedule, as ``systemd-analyze calendar``
computes them), ``fix`` (the one command that runs the job now), optional ``amber_after`` and
``red_after``. :mod:`.gather` reads them back; an expected job without a status is red.

The roles that install scheduled jobs (photo_vault, restic_backup, zfs_datasets, pve_host) call
this through the ``status_expectations`` module: it writes only what differs, removes the files
of jobs that no longer run, and changes nothing in check mode.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import subprocess

from ..common import atomic
from ..common.status import safe_part

DEFAULT_DIR = "/etc/sovereign/status.d"
FIELDS = ("kind", "name", "title", "every", "fix", "amber_after", "red_after", "source")
_ELAPSE = re.compile(r"(?:Next elapse|Iter\. #2): \S+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


class ExpectationError(ValueError):
    pass


def parse_calendar(output: str) -> list[int | None]:
    """Seconds between the first two elapses of each block of ``systemd-analyze calendar
    --iterations=2`` output, in the order of the expressions given (None: it never repeats)."""
    out: list[int | None] = []
    for block in re.split(r"\n\s*\n", output.strip()):
        if "Normalized form:" not in block:
            continue
        times = [_dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in _ELAPSE.findall(block)]
        out.append(int((times[1] - times[0]).total_seconds()) if len(times) == 2 else None)
    return out


def intervals(schedules: list[str], run=subprocess.run) -> dict[str, int | None]:
    """``{schedule: seconds between two runs}``; every value None when systemd-analyze is not on
    the host (the status page then uses the kind's own interval)."""
    unique = sorted({s for s in schedules if s})
    if not unique or not shutil.which("systemd-analyze"):
        return {s: None for s in unique}
    done = run(["systemd-analyze", "calendar", "--iterations=2", *unique],  # pylint: disable=ansible-bad-function
               capture_output=True, text=True, env=dict(os.environ, LC_ALL="C", TZ="UTC"), check=False)
    if done.returncode != 0:
        raise ExpectationError(f"systemd-analyze calendar does not accept the schedules {unique}: "
                               f"{(done.stderr or done.stdout).strip()}. Fix the OnCalendar expression in the inventory.")
    secs = parse_calendar(done.stdout)
    if len(secs) != len(unique):
        raise ExpectationError(f"systemd-analyze calendar printed {len(secs)} schedules for {len(unique)}: {done.stdout!r}")
    return dict(zip(unique, secs))


def launchd_every(interval) -> int | None:
    """Seconds between two runs of a launchd ``StartCalendarInterval`` (a dict, or a list of them: keys left out
    are wildcards, so ``{Hour: 1, Minute: 30}`` is daily and ``{Weekday: 0, Hour: 3}`` weekly)."""
    if isinstance(interval, list):
        periods = [launchd_every(entry) for entry in interval if isinstance(entry, dict)]
        periods = [period for period in periods if period]
        if not periods:
            return None
        shortest = min(periods)
        return max(60, shortest // periods.count(shortest))
    if not isinstance(interval, dict):
        return None
    for key, period in (("Month", 365 * 86400), ("Day", 31 * 86400), ("Weekday", 7 * 86400), ("Hour", 86400),
                        ("Minute", 3600)):
        if key in interval:
            return period
    return 60


def file_name(kind: str, name: str) -> str:
    return f"{safe_part(kind)}--{safe_part(name)}.json"


def document(entry: dict, every: dict) -> dict:
    """The expectation file's content for one entry of the module's ``expectations``."""
    for key in ("kind", "name", "fix"):
        if not str(entry.get(key) or "").strip():
            raise ExpectationError(f"expectation {entry!r} has no {key}: every expected job needs a kind, a name "
                                   "and the command that runs it now")
    doc = {"kind": str(entry["kind"]), "name": str(entry["name"]), "title": entry.get("title") or None,
           "every": (entry.get("every") or every.get(entry.get("schedule") or "")
                     or launchd_every(entry.get("calendar_interval")) or None), "fix": str(entry["fix"])}
    for key in ("amber_after", "red_after"):
        if entry.get(key) not in (None, ""):
            doc[key] = entry[key]
    if entry.get("source"):
        doc["source"] = entry["source"]
    return doc


def render(doc: dict) -> str:
    """The same bytes as Ansible's ``to_nice_json`` (photo_vault's files before this module)."""
    return json.dumps(doc, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def apply(expectations: list[dict], folder: str = DEFAULT_DIR, purge_kinds: list[str] | None = None,
          check_mode: bool = False, run=subprocess.run) -> dict:
    """Make ``folder`` hold exactly these expectations (entries with ``state: absent`` removed) and,
    for every kind in ``purge_kinds``, no other file of that kind (jobs removed from the inventory).

    Returns ``changed``, ``written``, ``removed`` (paths), ``expectations`` (the documents) and
    ``diff`` (``{"before": {file: doc}, "after": {file: doc}}`` of what changed)."""
    present = [e for e in expectations if (e.get("state") or "present") == "present"]
    absent = [e for e in expectations if (e.get("state") or "present") == "absent"]
    every = intervals([str(e.get("schedule") or "") for e in present if not e.get("every")], run=run)
    wanted = {}
    for entry in present:
        doc = document(entry, every)
        wanted[os.path.join(folder, file_name(doc["kind"], doc["name"]))] = doc
    remove = {os.path.join(folder, file_name(str(e.get("kind")), str(e.get("name")))) for e in absent}
    if os.path.isdir(folder):
        for kind in purge_kinds or []:
            prefix = f"{safe_part(kind)}--"
            for entry in os.listdir(folder):
                if entry.startswith(prefix) and entry.endswith(".json"):
                    remove.add(os.path.join(folder, entry))
    remove = sorted(p for p in remove - set(wanted) if os.path.lexists(p))
    written, before, after = [], {}, {}
    for path, doc in sorted(wanted.items()):
        text = render(doc)
        old = _read(path)
        if old == text:
            continue
        written.append(path)
        before[path] = atomic.read_json(path) if old is not None else None
        after[path] = doc
        if not check_mode:
            atomic.ensure_dir(folder)
            atomic.replace_bytes(path, text.encode("utf-8"), mode=0o644)
    for path in remove:
        before[path] = atomic.read_json(path)
        after[path] = None
        if not check_mode:
            os.unlink(path)
    if remove and not check_mode:
        atomic.fsync_dir(folder)
    return {"changed": bool(written or remove), "written": written, "removed": remove,
            "expectations": [wanted[p] for p in sorted(wanted)], "diff": {"before": before, "after": after}}
