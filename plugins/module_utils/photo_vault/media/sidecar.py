# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""XMP sidecars next to a source file (icloudpd's, or another tool's): the date, GPS, title,
description, keywords and rating they hold."""

from __future__ import annotations

import datetime as _dt

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import XmpError, parse_xmp_properties
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import (
    CaptureDate, parse_iso_datetime)


class SourceSidecar:
    """Metadata from an XMP sidecar next to a source file (``IMG_1.HEIC.xmp`` or ``IMG_1.xmp``)."""

    __slots__ = ("tool", "date", "gps_lat", "gps_lon", "gps_alt", "title", "description", "keywords", "rating")

    def __init__(self) -> None:
        self.tool: str | None = None
        self.date: CaptureDate | None = None
        self.gps_lat = self.gps_lon = self.gps_alt = None
        self.title = self.description = None
        self.keywords: list[str] = []
        self.rating: int | None = None

    @property
    def from_icloudpd(self) -> bool:
        return (self.tool or "").startswith("icloudpd")


def parse_source_sidecar(data: bytes, now: _dt.datetime | None = None) -> SourceSidecar | None:
    """Read an icloudpd (or other) XMP sidecar; None when it is not usable XMP."""
    try:
        tool, props = parse_xmp_properties(data)
    except XmpError:
        return None
    sidecar = SourceSidecar()
    sidecar.tool = tool
    for key in ("exif:DateTimeOriginal", "xmp:CreateDate", "photoshop:DateCreated"):
        date = parse_iso_datetime(_first_text(props.get(key)), "xmp_sidecar", now)
        if date is not None:
            sidecar.date = date
            break
    lat = _xmp_coordinate(_first_text(props.get("exif:GPSLatitude")))
    lon = _xmp_coordinate(_first_text(props.get("exif:GPSLongitude")))
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180 and (lat, lon) != (0.0, 0.0):
        sidecar.gps_lat, sidecar.gps_lon = round(lat, 7), round(lon, 7)
        sidecar.gps_alt = _xmp_number(_first_text(props.get("exif:GPSAltitude")))
    sidecar.title = _first_text(props.get("dc:title"))
    sidecar.description = _first_text(props.get("dc:description"))
    sidecar.keywords = [k for k in props.get("dc:subject", []) if k][:200]
    rating = _xmp_number(_first_text(props.get("xmp:Rating")))
    sidecar.rating = int(rating) if rating is not None and -1 <= rating <= 5 else None
    return sidecar


def _first_text(values) -> str | None:
    if not values:
        return None
    value = values[0] if isinstance(values, list) else values
    value = (value or "").strip()
    return value or None


def _xmp_number(text: str | None) -> float | None:
    if not text:
        return None
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            return float(num) / float(den) if float(den) else None
        return float(text)
    except ValueError:
        return None


def _xmp_coordinate(text: str | None) -> float | None:
    """``48,51.5N`` / ``48,51,30N`` (XMP) or ``48.858`` / ``-2.29`` (icloudpd writes decimals)."""
    if not text:
        return None
    text = text.strip()
    ref = text[-1:].upper()
    if ref in ("N", "S", "E", "W"):
        parts = text[:-1].split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            return None
        value = numbers[0] + (numbers[1] / 60 if len(numbers) > 1 else 0) + (numbers[2] / 3600 if len(numbers) > 2 else 0)
        return -value if ref in ("S", "W") else value
    return _xmp_number(text)
