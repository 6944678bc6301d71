"""systemd calendar expressions as launchd StartCalendarInterval (plugins/module_utils/macos/launchd.py) and the
filters that expose it: what maps, what is refused and why, and how often the status page expects a run."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sovereign.cloud.plugins.filter.launchd_calendar import (
    FilterModule, launchd_calendar, launchd_calendar_every, launchd_to_oncalendar)
from ansible_collections.sovereign.cloud.plugins.module_utils.macos import launchd

DAY, WEEK = 86400, 604800


@pytest.mark.parametrize("expression, interval, every", [
    # The restic tiers and the weekly check (restic_backup's defaults).
    ("*-*-* 01:30:00", {"Hour": 1, "Minute": 30}, DAY),
    ("Sun *-*-* 03:30:00", {"Weekday": 0, "Hour": 3, "Minute": 30}, WEEK),
    ("*-*-* 02:30:00", {"Hour": 2, "Minute": 30}, DAY),
    ("Sat *-*-* 05:00:00", {"Weekday": 6, "Hour": 5, "Minute": 0}, WEEK),
    # Omitted parts: no date is *-*-*, no time 00:00:00; seconds may be left out.
    ("Sunday 04:00", {"Weekday": 0, "Hour": 4, "Minute": 0}, WEEK),
    ("  *-*-*   1:05  ", {"Hour": 1, "Minute": 5}, DAY),
    ("*-*-15", {"Day": 15, "Hour": 0, "Minute": 0}, 31 * DAY),
    ("12-24 18:00", {"Month": 12, "Day": 24, "Hour": 18, "Minute": 0}, 366 * DAY),
    ("*-*-* 03:00:00.000", {"Hour": 3, "Minute": 0}, DAY),
    # Shorthands as systemd.time(7) writes them out.
    ("daily", {"Hour": 0, "Minute": 0}, DAY),
    ("Weekly", {"Weekday": 1, "Hour": 0, "Minute": 0}, WEEK),
    ("monthly", {"Day": 1, "Hour": 0, "Minute": 0}, 31 * DAY),
    ("hourly", {"Minute": 0}, 3600),
    ("minutely", {}, 60),
    ("yearly", {"Month": 1, "Day": 1, "Hour": 0, "Minute": 0}, 366 * DAY),
    # Every value of a field is the wildcard.
    ("Mon..Sun *-1..12-* 00..23:30", {"Minute": 30}, 3600),
])
def test_schedules_that_map_to_one_dictionary(expression, interval, every):
    assert launchd.start_calendar_interval(expression) == interval
    assert launchd.longest_gap(expression) == every


def test_lists_ranges_and_repetitions_become_an_array_of_every_combination():
    assert launchd.start_calendar_interval("Mon..Fri *-*-* 02:00") == [
        {"Weekday": day, "Hour": 2, "Minute": 0} for day in (1, 2, 3, 4, 5)]
    # Friday 02:00 to Monday 02:00 is the longest wait.
    assert launchd.longest_gap("Mon..Fri *-*-* 02:00") == 3 * DAY
    assert launchd.start_calendar_interval("Mon,Thu 8..10/2:15") == [
        {"Weekday": 1, "Hour": 8, "Minute": 15}, {"Weekday": 1, "Hour": 10, "Minute": 15},
        {"Weekday": 4, "Hour": 8, "Minute": 15}, {"Weekday": 4, "Hour": 10, "Minute": 15}]
    assert launchd.start_calendar_interval("*:0/15") == [{"Minute": m} for m in (0, 15, 30, 45)]
    assert launchd.longest_gap("*:0/15") == 900
    assert launchd.start_calendar_interval("quarterly") == [
        {"Month": m, "Day": 1, "Hour": 0, "Minute": 0} for m in (1, 4, 7, 10)]
    assert launchd.longest_gap("quarterly") == 92 * DAY
    # 09:00 and 17:30 daily: the night is the longest wait.
    assert launchd.start_calendar_interval("*-*-* 9,17:00,30")[0] == {"Hour": 9, "Minute": 0}
    assert launchd.longest_gap("*-*-* 9,17:0") == 16 * 3600


@pytest.mark.parametrize("expression, words", [
    ("2027-01-01 00:00:00", "launchd has no year"),
    ("*-*-* 01:30:15", "seconds must be 00"),
    ("*:*:*", "seconds must be 00"),
    ("*-*-* 01:30:00 UTC", "drop any time zone"),
    ("*-*-* 01:30:00 Europe/Berlin", "drop any time zone"),
    ("*-02~01", "end of the month"),
    ("Mon *-*-01 00:00", "a weekday and a day of the month together"),
    ("*-02-30 00:00", "never fires"),
    ("*-*-* 24:00", "outside 0..23"),
    ("*-13-01", "outside 1..12"),
    ("*-*-* 10..8:00", "runs backwards"),
    ("Fri..Mon 01:00", "runs backwards"),
    ("Funday 01:00", "not a day name"),
    ("*:0/0", "not a positive number"),
    ("*-*-* x:00", "not a number"),
    ("", "is empty"),
    ("*-*-*-* 00:00", "not YEAR-MONTH-DAY"),
    ("*-*-* 1", "is not understood"),
    ("*-*-* *:*", None),  # every minute is fine ({}), shown here as the edge of the refusals
])
def test_what_launchd_cannot_express_is_refused_with_the_reason(expression, words):
    if words is None:
        assert launchd.start_calendar_interval(expression) == {}
        return
    with pytest.raises(launchd.ScheduleError, match=words) as caught:
        launchd.start_calendar_interval(expression)
    assert str(caught.value).startswith(f"OnCalendar {expression!r}: ")


def test_too_many_combinations_are_refused():
    with pytest.raises(launchd.ScheduleError, match="needs 120 StartCalendarInterval entries"):
        launchd.start_calendar_interval("*-*-* 0..9:0/5")
    assert len(launchd.start_calendar_interval("*-*-* 0..7:0/5")) == 96


def test_a_date_that_comes_once_in_four_years_has_no_interval():
    assert launchd.start_calendar_interval("*-02-29 12:00") == {"Month": 2, "Day": 29, "Hour": 12, "Minute": 0}
    assert launchd.longest_gap("*-02-29 12:00") is None


def test_the_interval_is_the_same_on_every_run():
    """The window is fixed (not today), so status expectation files do not change from run to run."""
    assert {launchd.longest_gap("Mon,Wed 03:00") for attempt in range(3)} == {5 * DAY}


@pytest.mark.parametrize("interval, expression", [
    ({"Hour": 1, "Minute": 30}, "*-*-* 01:30:00"),
    ({"Weekday": 0, "Hour": 3, "Minute": 30}, "Sun *-*-* 03:30:00"),
    ({"Weekday": 7, "Hour": 3, "Minute": 0}, "Sun *-*-* 03:00:00"),
    ({"Month": 6, "Day": 1, "Hour": 4, "Minute": 0}, "*-06-01 04:00:00"),
    ({"Hour": 1}, "*-*-* 01:*:00"),
    ({}, "*-*-* *:*:00"),
])
def test_a_launchd_dictionary_becomes_the_same_systemd_schedule(interval, expression):
    assert launchd.to_oncalendar(interval) == expression
    expected = dict(interval)
    if expected.get("Weekday") == 7:
        expected["Weekday"] = 0
    assert launchd.start_calendar_interval(expression) == (expected if expected else {})


@pytest.mark.parametrize("interval, words", [
    ([{"Hour": 1}], "give one dictionary"),
    ({"Hour": 1, "Second": 3}, "unknown keys"),
    ({"Hour": "1"}, "must be an integer"),
    ({"Hour": True}, "must be an integer"),
    ({"Minute": 60}, "outside 0..59"),
])
def test_launchd_dictionaries_that_are_not_one_schedule_are_refused(interval, words):
    with pytest.raises(launchd.ScheduleError, match=words):
        launchd.to_oncalendar(interval)


def test_the_filters_wrap_the_engine_and_name_themselves_in_errors():
    assert set(FilterModule().filters()) == {"launchd_calendar", "launchd_calendar_every", "launchd_to_oncalendar"}
    assert launchd_calendar("Sun *-*-* 03:30:00") == {"Weekday": 0, "Hour": 3, "Minute": 30}
    assert launchd_calendar_every("Sun *-*-* 03:30:00") == WEEK
    assert launchd_to_oncalendar({"Hour": 1, "Minute": 30}) == "*-*-* 01:30:00"
    for call, arg in ((launchd_calendar, "2027-*-* 00:00"), (launchd_calendar_every, "*-02-30"),
                      (launchd_to_oncalendar, [{"Hour": 1}])):
        with pytest.raises(AnsibleFilterError, match=f"^{call.__name__}: "):
            call(arg)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
@pytest.mark.parametrize("expression", ["*-*-* 01:30:00", "Sun *-*-* 03:30:00", "Mon..Fri 02:00", "*:0/15",
                                        "Sunday 04:00", "12-24 18:00", "quarterly", "Mon,Thu 8..10/2:15"])
def test_systemd_reads_the_expressions_the_mapping_accepts(expression):
    """Every accepted example is a real systemd calendar expression (systemd's own parser says so)."""
    done = subprocess.run(["systemd-analyze", "calendar", expression], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
