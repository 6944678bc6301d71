# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sizes, durations, ages and counts as people read them, for summaries, progress lines, reports
and the status page. Standard library only."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units, as disks and file managers count them: ``950 B``, ``4.9 MB``."""
    value = float(n)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """``1 photo``, ``2 photos``; ``plural`` where adding an s is wrong."""
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def human_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def human_age(seconds: float) -> str:
    """How long ago, coarsely: ``just now``, ``5 min``, ``3 h``, ``2 days``, ``6 weeks``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    if seconds < 14 * 86400:
        return counted(seconds // 86400, "day")
    return counted(seconds // (7 * 86400), "week")
