# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Green, amber or red per item, with its age and the one command that fixes it.

An item is one ``(host, kind, name)``: a status a host recorded, an expectation a role wrote, or
both. Rules, in order:

1. expected but no status recorded: **red** ("never ran");
2. a status file that cannot be read: **red**;
3. the last run failed (``ok: false``): **red**, its age the age of the last success;
4. a kind's own check of the details (a degraded pool: red; a paused scrub: amber);
5. the age of the last success past ``red_after``: **red**; past ``amber_after``: **amber**;
6. otherwise **green**.

Thresholds, first found wins: the inventory (``thresholds`` keyed ``<kind>--<name>``, then
``<kind>``, then ``default``), the expectation file, then ``every`` (expectation, status file, the
kind's default) times ``amber_factor`` (1.5) and ``red_factor`` (3). A threshold is seconds or a
duration text (``36h``, ``2d``, ``1w``).
"""

from __future__ import annotations

import re

from ..common import status as common_status
from ..common.text import human_age
from . import kinds

STATES = ("red", "amber", "green")
AMBER_FACTOR = 1.5
RED_FACTOR = 3.0
DEFAULT_EVERY = kinds.DAY
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": kinds.HOUR, "d": kinds.DAY, "w": kinds.WEEK}


class ThresholdError(ValueError):
    pass


def seconds(value, what: str = "threshold") -> int | None:
    """``90``, ``"90"``, ``"36h"``, ``"2d"``, ``"1w"`` as seconds; None for None or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ThresholdError(f"{what}: {value!r} is not a duration")
    if isinstance(value, (int, float)):
        return int(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ThresholdError(f"{what}: {value!r} is not a duration (use seconds or 90m, 36h, 2d, 1w)")
    return int(float(match.group(1)) * _UNIT[match.group(2)])


def human_every(secs: int | None) -> str:
    """``day``, ``36 hours``, ``week``, ``month``: how often a job runs, as a person says it."""
    if not secs:
        return "unknown"

    def say(count: float, word: str) -> str:
        count = round(count)
        return word if count == 1 else f"{count} {word}s"
    if secs >= 28 * kinds.DAY:
        return say(secs / (30 * kinds.DAY), "month")
    if secs % kinds.WEEK == 0:
        return say(secs / kinds.WEEK, "week")
    if secs % kinds.DAY == 0 or secs >= 3 * kinds.DAY:
        return say(secs / kinds.DAY, "day")
    if secs % kinds.HOUR == 0 or secs >= 2 * kinds.HOUR:
        return say(secs / kinds.HOUR, "hour")
    return say(max(1, secs // 60), "minute")


def _lenient(value) -> int | None:
    try:
        return seconds(value) or None
    except ThresholdError:
        return None


def thresholds_for(kind: str, name: str, expectation: dict | None, doc: dict | None,
                   overrides: dict | None) -> dict:
    """``every``, ``amber_after`` and ``red_after`` (seconds) for one item."""
    overrides = overrides or {}
    chosen: dict = {}
    for key in (f"{kind}--{name}", kind, "default"):
        entry = overrides.get(key)
        if isinstance(entry, dict):
            for field in ("every", "amber_after", "red_after"):
                if field not in chosen and entry.get(field) not in (None, ""):
                    chosen[field] = seconds(entry[field], f"status threshold {key}.{field}")
    # A host's own files are read leniently: a value that is not a duration is ignored there (the
    # inventory's are the user's, and a typo in them fails the run).
    expectation = expectation or {}
    for field in ("every", "amber_after", "red_after"):
        if field not in chosen and _lenient(expectation.get(field)):
            chosen[field] = _lenient(expectation[field])
    if "every" not in chosen:
        entry = kinds.lookup(kind)
        from_doc = _lenient((doc or {}).get("every"))
        chosen["every"] = from_doc or (entry.every if entry else DEFAULT_EVERY)
    every = chosen["every"]
    chosen.setdefault("amber_after", int(every * AMBER_FACTOR))
    chosen.setdefault("red_after", max(int(every * RED_FACTOR), chosen["amber_after"]))
    return chosen


def _age(since: str | None, now) -> int | None:
    moment = common_status.parse_iso(since)
    if moment is None:
        return None
    return max(0, int((now - moment).total_seconds()))


def evaluate_item(host: str, kind: str, name: str, entry: dict | None, expectation: dict | None,
                  overrides: dict | None, now) -> dict:
    """One item of the page (see the module docstring for the rules)."""
    doc = (entry or {}).get("doc")
    registered = kinds.lookup(kind)
    limits = thresholds_for(kind, name, expectation, doc, overrides)
    title = (expectation or {}).get("title")
    if not title:
        title = f"{registered.title if registered else kind}: {name}" if name else (
            registered.title if registered else kind)
    item = {
        "host": host, "kind": kind, "name": name, "title": title,
        "group": registered.group if registered else "Other", "known_kind": registered is not None,
        "expected": expectation is not None, "file": (entry or {}).get("file"),
        "every": limits["every"], "amber_after": limits["amber_after"], "red_after": limits["red_after"],
        "fix": kinds.fix_for(kind, name, host, (expectation or {}).get("fix"), (doc or {}).get("fix")),
        "summary": (doc or {}).get("summary") or "", "finished_at": (doc or {}).get("finished_at"),
        "last_success_at": (doc or {}).get("last_success_at"), "age": None, "age_text": "never",
    }
    if entry is None:
        every = human_every(limits["every"])
        return dict(item, state="red", reason=f"No record of it: it should run every {every}.")
    if doc is None:
        return dict(item, state="red", reason=f"Its status file cannot be read: {entry.get('error')}.",
                    summary="", age_text="unknown")
    age = _age(doc.get("last_success_at"), now)
    item.update(age=age, age_text=(f"{human_age(age)} ago" if age and age >= 60 else "just now")
                if age is not None else "never")
    verdict = (registered.check(doc) if registered and registered.check else None) or ()
    if len(verdict) > 2 and verdict[2]:
        item["fix"] = verdict[2].format(name=name, host=host)
    if not doc.get("ok"):
        if verdict:
            return dict(item, state="red", reason=verdict[1])
        return dict(item, state="red", reason="The last run failed." if age is not None else
                    "The last run failed, and it has never succeeded.")
    if verdict and verdict[0] == "red":
        return dict(item, state="red", reason=verdict[1])
    if verdict:
        item.update(state="amber", reason=verdict[1])
    if registered and not registered.ages:
        return item if verdict else dict(item, state="green", reason="Fine.")
    if age is None:
        return dict(item, state="red", reason="Its status says ok but records no time of success.")
    every = human_every(limits["every"])
    advice = f" {registered.advice}" if registered and registered.advice else ""
    if age > limits["red_after"]:
        return dict(item, state="red", reason=f"Overdue: it should succeed every {every}.{advice}")
    if age > limits["amber_after"]:
        return dict(item, state="amber", reason=f"Late: it should succeed every {every}.{advice}")
    if item.get("state") == "amber":
        return item
    return dict(item, state="green", reason=f"Fine: it runs every {every}.")


def evaluate_host(host: str, gathered: dict, overrides: dict | None = None, now=None) -> list[dict]:
    """Every item of one host: its statuses joined with its expectations on (kind, name)."""
    now = now or common_status.parse_iso(gathered.get("now")) or common_status.utc_now()
    entries: dict = {}
    for entry in gathered.get("statuses") or []:
        doc = entry.get("doc") or {}
        key = (str(doc.get("kind") or entry.get("kind") or "unknown"), str(doc.get("name") or entry.get("name") or ""))
        entries.setdefault(key, entry)
    expected = {}
    for expectation in gathered.get("expectations") or []:
        expected[(expectation["kind"], expectation["name"])] = expectation
    for expectation in (overrides or {}).get("expected") or []:
        # Inventory expectations (status_expected): for hosts without /etc/sovereign/status.d.
        key = (str(expectation["kind"]), str(expectation.get("name") or ""))
        expected.setdefault(key, dict(expectation, file=None))
    items = [evaluate_item(host, kind, name, entries.get((kind, name)), expected.get((kind, name)),
                           (overrides or {}).get("thresholds"), now)
             for kind, name in sorted(set(entries) | set(expected))]
    return items


def overall(items: list[dict]) -> str:
    if not items:
        return "amber"  # nothing recorded and nothing expected: nobody can say it is safe
    for state in STATES:
        if any(item["state"] == state for item in items):
            return state
    return "green"


def report(hosts: dict, settings: dict | None = None, now=None) -> dict:
    """The whole page as data: ``hosts`` maps a host name to its :func:`gather` result (or to
    None when the host could not be reached: one red item then); ``settings`` maps a host name to
    ``{"thresholds": {...}, "expected": [...]}`` from the inventory."""
    settings = settings or {}
    items: list[dict] = []
    for host in sorted(hosts):
        gathered = hosts[host]
        if gathered is None:
            items.append({"host": host, "kind": "host.reachable", "name": host, "title": f"Host {host}",
                          "group": "Other", "known_kind": True, "expected": True, "file": None, "every": None,
                          "amber_after": None, "red_after": None, "state": "red", "age": None, "age_text": "unknown",
                          "summary": "",
                          "reason": "The host did not answer: is it on, and reachable over SSH?",
                          "fix": f"ansible {host} -m ansible.builtin.ping", "finished_at": None,
                          "last_success_at": None})
            continue
        items.extend(evaluate_host(host, gathered, settings.get(host), now))
    order = {state: index for index, state in enumerate(STATES)}
    groups = {group: index for index, group in enumerate(kinds.GROUP_ORDER)}
    items.sort(key=lambda i: (order[i["state"]], i["host"], groups.get(i["group"], len(groups)), i["title"]))
    counts = {state: sum(1 for item in items if item["state"] == state) for state in STATES}
    return {"schema": 1, "generated_at": common_status.iso(now or common_status.utc_now()),
            "overall": overall(items), "counts": counts, "hosts": sorted(hosts), "items": items}
