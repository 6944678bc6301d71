# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""systemd ``OnCalendar=`` schedules as launchd ``StartCalendarInterval`` (standard library only).

The collection writes every schedule once, as a systemd calendar expression (the restic tiers'
``*-*-* 01:30:00``, ``Sun *-*-* 03:30:00``); on a Mac, restic_backup turns it into the
``StartCalendarInterval`` of a LaunchDaemon. The mapping:

- ``[WEEKDAYS] [*-MONTH-DAY | MONTH-DAY] [HOUR:MINUTE[:00]]``; an omitted date is ``*-*-*``, an
  omitted time ``00:00:00`` (as in systemd.time(7)). The shorthands ``minutely``, ``hourly``,
  ``daily``, ``weekly``, ``monthly``, ``quarterly``, ``semiannually``, ``yearly``/``annually``
  expand as systemd expands them.
- Each of weekday, month, day, hour and minute is ``*`` (the key is left out: launchd's wildcard),
  a value, a list (``Mon,Thu``, ``1,15``), a range (``Mon..Fri``, ``8..18``) or a repetition
  (``0/15``, ``8..18/2``). A field with several values gives one dictionary per combination, in an
  array (launchd's form for several times), at most :data:`MAX_INTERVALS` of them.
- launchd numbers weekdays 0 (Sunday) to 6; systemd names them: ``Sun`` becomes 0, ``Mon`` 1.

Refused, with the reason (launchd cannot express it): a year other than ``*``; seconds other than
0 (launchd starts jobs on the minute); ``~`` (days counted from the end of the month); a time zone
(launchd uses the Mac's local time); a weekday together with a day of the month (systemd fires when
both match, launchd's cron-like matching does not promise that); a schedule that never fires.

Not carried over, by nature: ``Persistent=`` (launchd runs a job missed during sleep once at wake,
but not one missed while the Mac was off) and ``RandomizedDelaySec=``.

:func:`longest_gap` gives the longest time between two starts over four years from a fixed date
(so it is the same on every run), what the status page should expect of the job.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import re

MAX_INTERVALS = 100
# systemd.time(7) shorthands, written out.
SHORTHANDS = {
    "minutely": "*-*-* *:*:00",
    "hourly": "*-*-* *:00:00",
    "daily": "*-*-* 00:00:00",
    "weekly": "Mon *-*-* 00:00:00",
    "monthly": "*-*-01 00:00:00",
    "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00",
    "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00",
}
# launchd's weekday numbers (0 and 7 are Sunday) by systemd's names, short and long.
WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_LONG_DAYS = {"sunday": "sun", "monday": "mon", "tuesday": "tue", "wednesday": "wed", "thursday": "thu",
              "friday": "fri", "saturday": "sat"}
_SYSTEMD_ORDER = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# launchd's keys, in the order the dictionaries are built, with their ranges.
FIELDS = (("Month", 1, 12), ("Day", 1, 31), ("Weekday", 0, 6), ("Hour", 0, 23), ("Minute", 0, 59))
_RANGES = {name: (low, high) for name, low, high in FIELDS}
_NUMBER = re.compile(r"^\d+$")
# The window longest_gap() looks at: four years from a fixed Monday (one leap day, every weekday/date pair).
_GAP_START = _dt.date(2027, 1, 4)
_GAP_DAYS = 4 * 366


class ScheduleError(ValueError):
    """A schedule launchd cannot express, or one that is not a systemd calendar expression."""


def _fail(expression: str, why: str) -> ScheduleError:
    return ScheduleError(f"OnCalendar {expression!r}: {why}")


def _values(expression: str, text: str, field: str) -> list[int] | None:
    """The values of one numeric field (None: any), from ``*``, lists, ``a..b`` and ``a/n``."""
    low, high = _RANGES[field]
    if text == "*":
        return None
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not _NUMBER.match(step_text) or int(step_text) == 0:
                raise _fail(expression, f"{field.lower()} repetition {step_text!r} is not a positive number")
            step = int(step_text)
            if ".." not in part:
                part = f"{low if part == '*' else part}..{high}"
        if ".." in part:
            first, last = part.split("..", 1)
        else:
            first = last = part
        if not (_NUMBER.match(first) and _NUMBER.match(last)):
            raise _fail(expression, f"{field.lower()} {text!r} is not a number, list, range (a..b) or repetition (a/n)")
        start, stop = int(first), int(last)
        if not low <= start <= stop <= high:
            raise _fail(expression, f"{field.lower()} {text!r} is outside {low}..{high} (or a range runs backwards)")
        out.update(range(start, stop + 1, step))
    if out == set(range(low, high + 1)):
        return None
    return sorted(out)


def _weekdays(expression: str, text: str) -> list[int] | None:
    out: set[int] = set()
    for part in text.lower().split(","):
        names = [_LONG_DAYS.get(name, name) for name in part.split("..", 1)]
        if any(name not in WEEKDAYS for name in names):
            raise _fail(expression, f"weekday {part!r} is not a day name (Mon, Tue, ... Sun, or Mon..Fri)")
        first, last = _SYSTEMD_ORDER.index(names[0]), _SYSTEMD_ORDER.index(names[-1])
        if first > last:
            raise _fail(expression, f"weekday range {part!r} runs backwards; systemd counts Mon..Sun")
        out.update(WEEKDAYS[name] for name in _SYSTEMD_ORDER[first:last + 1])
    return None if len(out) == 7 else sorted(out)


def parse(expression: str) -> dict[str, list[int] | None]:
    """``{launchd key: values or None (any)}`` of a systemd calendar expression, or ScheduleError."""
    text = " ".join(str(expression or "").split())
    if not text:
        raise _fail(expression, "is empty; give a systemd calendar expression such as '*-*-* 01:30:00'")
    text = SHORTHANDS.get(text.lower(), text)
    tokens = text.split(" ")
    fields: dict[str, list[int] | None] = {field[0]: None for field in FIELDS}
    if tokens and re.match(r"^[A-Za-z]", tokens[0]) and "-" not in tokens[0] and ":" not in tokens[0]:
        fields["Weekday"] = _weekdays(expression, tokens.pop(0))
    date, time = "*-*-*", "00:00:00"
    if tokens and "-" in tokens[0] and ":" not in tokens[0]:
        date = tokens.pop(0)
    if tokens and ":" in tokens[0]:
        time = tokens.pop(0)
    if tokens:
        raise _fail(expression, f"{' '.join(tokens)!r} is not understood; launchd uses the Mac's local time, so "
                                "drop any time zone, and write [weekday] [*-month-day] [hour:minute]")
    if "~" in date:
        raise _fail(expression, "launchd cannot count days from the end of the month (~)")
    parts = date.split("-")
    if len(parts) == 2:
        parts = ["*", *parts]
    if len(parts) != 3:
        raise _fail(expression, f"date {date!r} is not YEAR-MONTH-DAY or MONTH-DAY")
    if parts[0] != "*":
        raise _fail(expression, f"launchd has no year (got {parts[0]!r}); use * for the year")
    fields["Month"] = _values(expression, parts[1], "Month")
    fields["Day"] = _values(expression, parts[2], "Day")
    clock = time.split(":")
    if len(clock) not in (2, 3):
        raise _fail(expression, f"time {time!r} is not HOUR:MINUTE or HOUR:MINUTE:SECOND")
    if len(clock) == 3 and not re.match(r"^0*(\.0*)?$", clock[2]):
        raise _fail(expression, f"launchd starts jobs on the minute; seconds must be 00 (got {clock[2]!r})")
    fields["Hour"] = _values(expression, clock[0], "Hour")
    fields["Minute"] = _values(expression, clock[1], "Minute")
    if fields["Weekday"] is not None and fields["Day"] is not None:
        raise _fail(expression, "launchd cannot require a weekday and a day of the month together (systemd fires when "
                                "both match); keep one of the two")
    return fields


def start_calendar_interval(expression: str) -> dict | list[dict]:
    """The ``StartCalendarInterval`` of a systemd calendar expression: one dictionary, or an array of
    them when a field has several values (``{}`` is every minute)."""
    fields = parse(expression)
    if not firings(fields):
        raise _fail(expression, "never fires (no such date)")
    keys = [field[0] for field in FIELDS if fields[field[0]] is not None]
    count = 1
    for key in keys:
        count *= len(fields[key])
    if count > MAX_INTERVALS:
        raise _fail(expression, f"needs {count} StartCalendarInterval entries (launchd has no ranges or repetitions); "
                                f"this collection writes at most {MAX_INTERVALS}: use a coarser schedule")
    out = [dict(zip(keys, combo)) for combo in itertools.product(*(fields[key] for key in keys))]
    return out[0] if len(out) == 1 else out


def _day_matches(fields: dict, day: _dt.date) -> bool:
    weekday = (day.weekday() + 1) % 7
    return all(fields[key] is None or value in fields[key]
               for key, value in (("Month", day.month), ("Day", day.day), ("Weekday", weekday)))


def _minutes_of_day(fields: dict) -> list[int]:
    hours = fields["Hour"] if fields["Hour"] is not None else range(24)
    minutes = fields["Minute"] if fields["Minute"] is not None else range(60)
    return sorted(h * 60 + m for h in hours for m in minutes)


def firings(fields: dict) -> list[_dt.date]:
    """The days of the window (see longest_gap) on which the schedule starts the job."""
    return [day for day in (_GAP_START + _dt.timedelta(days=n) for n in range(_GAP_DAYS)) if _day_matches(fields, day)]


def longest_gap(expression: str) -> int | None:
    """Seconds of the longest time between two starts (None: it starts once in four years or less)."""
    fields = parse(expression)
    days = firings(fields)
    if not days:
        raise _fail(expression, "never fires (no such date)")
    times = _minutes_of_day(fields)
    gaps = [b - a for a, b in zip(times, times[1:])]
    gaps += [(d2 - d1).days * 1440 - times[-1] + times[0] for d1, d2 in zip(days, days[1:])]
    return max(gaps) * 60 if gaps else None


def to_oncalendar(interval) -> str:
    """A single ``StartCalendarInterval`` dictionary (keys Month, Day, Weekday, Hour, Minute; a missing
    key is any) as a systemd calendar expression, such as ``{Hour: 1, Minute: 30}`` -> ``*-*-* 01:30:00``."""
    if not isinstance(interval, dict):
        raise ScheduleError(f"StartCalendarInterval {interval!r}: give one dictionary (keys Month, Day, Weekday, Hour, "
                            "Minute); several times need a systemd calendar expression instead")
    unknown = sorted(set(interval) - set(_RANGES))
    if unknown:
        raise ScheduleError(f"StartCalendarInterval {interval!r}: unknown keys {unknown}; launchd knows Month, Day, "
                            "Weekday, Hour, Minute")
    values = {}
    for key, value in interval.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScheduleError(f"StartCalendarInterval {interval!r}: {key} must be an integer")
        low, high = _RANGES[key]
        if key == "Weekday" and value == 7:
            value = 0
        if not low <= value <= high:
            raise ScheduleError(f"StartCalendarInterval {interval!r}: {key} {value} is outside {low}..{high}")
        values[key] = value

    def num(key: str) -> str:
        return f"{values[key]:02d}" if key in values else "*"

    weekday = ""
    if "Weekday" in values:
        weekday = [name for name, number in WEEKDAYS.items() if number == values["Weekday"]][0].capitalize() + " "
    return f"{weekday}*-{num('Month')}-{num('Day')} {num('Hour')}:{num('Minute')}:00"
