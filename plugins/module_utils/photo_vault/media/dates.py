# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Capture dates: parsing EXIF, QuickTime and XMP dates, dates in file names and mtimes, and
choosing the capture date in the vault's order (:func:`resolve_capture_date`)."""

from __future__ import annotations

import datetime as _dt
import os
import re
from typing import TYPE_CHECKING

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import icloud_base_name

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import Media
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sidecar import SourceSidecar

EARLIEST_YEAR = 1839  # the first photographs
_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_ISO_RE = re.compile(
    r"^\s*(\d{4})[-:](\d{2})[-:](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d{1,9}))?)?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?\s*$")


class CaptureDate:
    """A capture date: wall-clock ``taken_at`` (ISO, no zone), ``offset`` (``+HH:MM`` or None),
    ``utc`` (ISO ``...Z`` when the offset is known) and ``source`` (exif, quicktime, xmp_sidecar,
    filename, mtime)."""

    __slots__ = ("taken_at", "offset", "utc", "source")

    def __init__(self, local: _dt.datetime, offset: str | None, source: str, fraction: str = "") -> None:
        self.taken_at = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "")
        self.offset = offset
        self.source = source
        self.utc = None
        if offset is not None:
            sign = -1 if offset[0] == "-" else 1
            delta = _dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
            utc = local - delta
            self.utc = utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"

    @property
    def folder(self) -> str:
        """``YYYY/MM/DD`` of the wall-clock date."""
        return f"{self.taken_at[0:4]}/{self.taken_at[5:7]}/{self.taken_at[8:10]}"

    @property
    def xmp(self) -> str:
        """The date in XMP form: ``2023-05-01T12:34:56.123+02:00`` (no zone when unknown)."""
        return self.taken_at + (self.offset or "")

    def __repr__(self) -> str:
        return f"CaptureDate({self.xmp!r}, {self.source!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, CaptureDate) and (self.taken_at, self.offset, self.source) == (
            other.taken_at, other.offset, other.source)

    __hash__ = None  # type: ignore[assignment]


def _now() -> _dt.datetime:
    return _dt.datetime.now()


def plausible(local: _dt.datetime, now: _dt.datetime | None = None) -> bool:
    """False for dates no photo can have: before 1839 or more than two days in the future."""
    now = now or _now()
    return local.year >= EARLIEST_YEAR and local <= now + _dt.timedelta(days=2)


def normalise_offset(text: str | None) -> str | None:
    """``+0200``/``+02:00``/``Z`` -> ``+02:00``; None when absent or impossible."""
    if not text:
        return None
    text = text.strip().strip("\x00").strip()
    if text in ("Z", "z"):
        return "+00:00"
    match = _OFFSET_RE.match(text)
    if not match:
        return None
    hours, minutes = int(match.group(2)), int(match.group(3))
    if minutes >= 60 or hours > 14 or (match.group(1) == "-" and hours > 12):
        return None
    return f"{match.group(1)}{hours:02d}:{minutes:02d}"


def _make_local(year, month, day, hour=0, minute=0, second=0) -> _dt.datetime | None:
    try:
        return _dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except (ValueError, TypeError, OverflowError):
        return None


def parse_exif_datetime(value: str | None, subsec: str | None = None, offset: str | None = None,
                        source: str = "exif", now: _dt.datetime | None = None) -> CaptureDate | None:
    """``YYYY:MM:DD HH:MM:SS`` (+ sub-seconds, + offset) -> CaptureDate, None if absent or impossible."""
    if not value:
        return None
    value = value.strip("\x00 ")
    match = re.match(r"^(\d{4})[:\-/.](\d{2})[:\-/.](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", value)
    if not match:
        return None
    local = _make_local(*match.groups())
    if local is None or not plausible(local, now):
        return None
    fraction = re.sub(r"\D", "", subsec or "")[:6] if subsec else ""
    return CaptureDate(local, normalise_offset(offset), source, fraction)


def parse_iso_datetime(value: str | None, source: str, now: _dt.datetime | None = None) -> CaptureDate | None:
    """``2023-05-01T12:34:56[.fff][+0200|+02:00|Z]`` (QuickTime keys, XMP) -> CaptureDate."""
    if not value:
        return None
    match = _ISO_RE.match(value.strip("\x00"))
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    local = _make_local(year, month, day, hour or 0, minute or 0, second or 0)
    if local is None or not plausible(local, now):
        return None
    offset = normalise_offset(zone) if zone else None
    return CaptureDate(local, offset, source, (fraction or "")[:6])


def date_from_utc(utc: _dt.datetime, source: str, now: _dt.datetime | None = None) -> CaptureDate | None:
    """A UTC instant (QuickTime mvhd) -> CaptureDate with wall clock in UTC and offset +00:00."""
    local = utc.replace(tzinfo=None)
    if not plausible(local, now):
        return None
    return CaptureDate(local, "+00:00", source)


_NAME_DATE_RE = re.compile(
    r"(?<!\d)(?P<y>(?:18[4-9]|19\d|20\d)\d)[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?:(?:[ _T\-.,]+|[ _]at[ _])(?P<H>[01]\d|2[0-3])[-_.: h]?(?P<M>[0-5]\d)[-_.: m]?(?P<S>[0-5]\d)(?:\d{1,6})?)?"
    r"(?!\d)")


def filename_date(name: str, now: _dt.datetime | None = None) -> CaptureDate | None:
    """A date (and time when present) in a file name: ``IMG_20230501_123456``,
    ``PXL_20230501_123456789``, ``2023-05-01 12.34.56``, ``Screenshot 2023-05-01 at 12.34.56``,
    ``IMG-20230501-WA0001`` (date only: midnight). Wall clock, no zone."""
    stem = os.path.splitext(name)[0]
    for match in _NAME_DATE_RE.finditer(stem):
        parts = match.groupdict()
        local = _make_local(parts["y"], parts["m"], parts["d"], parts["H"] or 0, parts["M"] or 0, parts["S"] or 0)
        if local is not None and plausible(local, now):
            return CaptureDate(local, None, "filename")
    return None


def mtime_date(mtime_ns: int) -> CaptureDate:
    """The file's mtime in the vault host's local time zone (with that zone's offset)."""
    aware = _dt.datetime.fromtimestamp(mtime_ns / 1e9).astimezone()
    delta = aware.utcoffset() or _dt.timedelta(0)
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    offset = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return CaptureDate(aware.replace(tzinfo=None, microsecond=0), offset, "mtime")


def resolve_capture_date(media: Media | None, name: str, mtime_ns: int,
                         sidecar: SourceSidecar | None = None, now: _dt.datetime | None = None) -> CaptureDate:
    """The first date that is present and possible: the file's own (EXIF or QuickTime), an XMP
    sidecar next to the source (never above the file's own date), the file name, the mtime."""
    if media is not None and media.date is not None:
        return media.date
    if sidecar is not None and sidecar.date is not None:
        return sidecar.date
    name_date = filename_date(icloud_base_name(name), now)
    if name_date is not None:
        return name_date
    return mtime_date(mtime_ns)
