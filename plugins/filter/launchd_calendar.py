# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""launchd schedules from systemd calendar expressions: ``launchd_calendar``, ``launchd_calendar_every``
and ``launchd_to_oncalendar`` (the mapping is in plugins/module_utils/macos/launchd.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.sovereign.cloud.plugins.module_utils.macos import launchd


def launchd_calendar(expression):
    """A systemd calendar expression as launchd's ``StartCalendarInterval`` (a dictionary or an array)."""
    try:
        return launchd.start_calendar_interval(str(expression))
    except launchd.ScheduleError as exc:
        raise AnsibleFilterError(f"launchd_calendar: {exc}") from None


def launchd_calendar_every(expression):
    """Seconds of the longest time between two starts of a systemd calendar expression (null: rarer than yearly)."""
    try:
        return launchd.longest_gap(str(expression))
    except launchd.ScheduleError as exc:
        raise AnsibleFilterError(f"launchd_calendar_every: {exc}") from None


def launchd_to_oncalendar(interval):
    """One ``StartCalendarInterval`` dictionary as a systemd calendar expression."""
    try:
        return launchd.to_oncalendar(dict(interval) if hasattr(interval, "items") else interval)
    except launchd.ScheduleError as exc:
        raise AnsibleFilterError(f"launchd_to_oncalendar: {exc}") from None


class FilterModule:
    """sovereign.cloud filters."""

    def filters(self):
        return {
            "launchd_calendar": launchd_calendar,
            "launchd_calendar_every": launchd_calendar_every,
            "launchd_to_oncalendar": launchd_to_oncalendar,
        }
