# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""EXIF and TIFF: the IFD walker (:class:`Tiff`) shared by EXIF blocks, TIFF/DNG/RAW files and
Apple MakerNotes, what the vault takes from them (make, model, orientation, dates, GPS, the Live
Photo ContentIdentifier), and the structure check of TIFF-based files."""

from __future__ import annotations

import datetime as _dt
import struct

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import parse_exif_datetime
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import (
    FORMATS, RAW_BY_MAKE, RAW_EXTENSIONS, Damaged, Media, Reader)

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_MAX_IFD_ENTRIES = 1024
_MAX_IFDS = 32
TAG_MAKE, TAG_MODEL, TAG_ORIENTATION, TAG_SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
TAG_EXIF_IFD, TAG_GPS_IFD, TAG_SUB_IFDS = 0x8769, 0x8825, 0x014A
TAG_DTO, TAG_DTD, TAG_OFFSET_DTO, TAG_OFFSET_DTD = 0x9003, 0x9004, 0x9011, 0x9012
TAG_SUBSEC_DTO, TAG_SUBSEC_DTD, TAG_MAKERNOTE = 0x9291, 0x9292, 0x927C
TAG_PIXEL_X, TAG_PIXEL_Y, TAG_WIDTH, TAG_HEIGHT = 0xA002, 0xA003, 0x0100, 0x0101
TAG_DNG_VERSION, TAG_PHOTOMETRIC = 0xC612, 0x0106
TAG_STRIP_OFFSETS, TAG_STRIP_COUNTS, TAG_TILE_OFFSETS, TAG_TILE_COUNTS = 0x0111, 0x0117, 0x0144, 0x0145
APPLE_MAKERNOTE = b"Apple iOS\x00"
APPLE_CONTENT_IDENTIFIER = 0x0011


class Tiff:
    """A TIFF structure (EXIF, a TIFF/RAW file, an Apple MakerNote) over a :class:`Reader`.

    ``base`` is where offsets count from; ``limit`` is where the structure ends."""

    def __init__(self, reader: Reader, base: int = 0, limit: int | None = None,
                 endian: str | None = None, first_ifd: int | None = None) -> None:
        self.r = reader
        self.base = base
        self.limit = min(reader.size, limit if limit is not None else reader.size)
        header = reader.read(base, 8)
        if endian is None:
            if header[:2] == b"II":
                endian = "<"
            elif header[:2] == b"MM":
                endian = ">"
            else:
                raise Damaged("not a TIFF structure")
            if len(header) < 8:
                raise Damaged("TIFF header cut short")
            self.magic = struct.unpack(endian + "H", header[2:4])[0]
            first_ifd = struct.unpack(endian + "I", header[4:8])[0]
        else:
            self.magic = 42
        self.e = endian
        self.first_ifd = first_ifd or 0
        self._visited: set[int] = set()

    def _abs(self, offset: int, size: int) -> int | None:
        pos = self.base + offset
        if offset < 0 or pos + size > self.limit:
            return None
        return pos

    def ifd(self, offset: int) -> tuple[dict[int, tuple[int, int, int]], int]:
        """Entries tag -> (type, count, absolute value position) and the next IFD offset."""
        if offset in self._visited or len(self._visited) >= _MAX_IFDS:
            return {}, 0
        self._visited.add(offset)
        pos = self._abs(offset, 2)
        if pos is None:
            raise Damaged("an EXIF/TIFF directory points past the end of the data")
        count = struct.unpack(self.e + "H", self.r.read(pos, 2))[0]
        if count > _MAX_IFD_ENTRIES:
            raise Damaged(f"an EXIF/TIFF directory claims {count} entries")
        raw = self.r.read(pos + 2, count * 12 + 4)
        if len(raw) < count * 12:
            raise Damaged("an EXIF/TIFF directory is cut short")
        entries = {}
        for i in range(count):
            tag, typ, n = struct.unpack(self.e + "HHI", raw[i * 12:i * 12 + 8])
            size = _TYPE_SIZES.get(typ, 0) * n
            if size <= 4:
                value_pos = pos + 2 + i * 12 + 8
            else:
                value_pos = self._abs(struct.unpack(self.e + "I", raw[i * 12 + 8:i * 12 + 12])[0], size)
                if value_pos is None:
                    continue  # a value outside the data: ignore that tag, keep the others
            entries[tag] = (typ, n, value_pos)
        nxt = struct.unpack(self.e + "I", raw[count * 12:count * 12 + 4])[0] if len(raw) >= count * 12 + 4 else 0
        return entries, nxt

    def value(self, entry: tuple[int, int, int] | None, max_count: int = 64):
        """Decode an entry: str (ASCII), int/tuple of ints, (num, den) rationals, bytes (UNDEFINED)."""
        if entry is None:
            return None
        typ, count, pos = entry
        if typ == 2:
            raw = self.r.read(pos, min(count, 4096))
            return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip() or None
        if typ in (1, 6, 7):
            return self.r.read(pos, min(count, 1 << 16))
        count = min(count, max_count)
        fmt = {3: "H", 4: "I", 8: "h", 9: "i", 13: "I", 11: "f", 12: "d"}.get(typ)
        if fmt:
            size = struct.calcsize(fmt)
            raw = self.r.read(pos, size * count)
            values = struct.unpack(self.e + fmt * (len(raw) // size), raw[: size * (len(raw) // size)])
            return values[0] if len(values) == 1 else values
        if typ in (5, 10):
            raw = self.r.read(pos, 8 * count)
            pairs = struct.unpack(self.e + ("II" if typ == 5 else "ii") * (len(raw) // 8), raw[: 8 * (len(raw) // 8)])
            return [(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
        return None

    def int_value(self, entry) -> int | None:
        value = self.value(entry, max_count=1)
        return value if isinstance(value, int) else None

    def offsets(self, entry, max_count: int = 1 << 16) -> tuple[int, ...]:
        """A SHORT/LONG array (strip/tile offsets, sub-IFDs) as a tuple."""
        value = self.value(entry, max_count=max_count)
        if isinstance(value, int):
            return (value,)
        return tuple(value) if isinstance(value, tuple) else ()


def _rational(value) -> float | None:
    if isinstance(value, list) and value:
        num, den = value[0]
        return num / den if den else None
    return None


def _gps_coordinate(tiff: Tiff, entries, tag: int, ref_tag: int, negative: str, limit: float) -> float | None:
    value = tiff.value(entries.get(tag), max_count=3)
    if not isinstance(value, list) or len(value) < 1 or any(den == 0 for _num, den in value):
        return None
    parts = [num / den for num, den in value] + [0.0, 0.0]
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    ref = _as_text(tiff.value(entries.get(ref_tag)))
    if (ref or "").strip().upper().startswith(negative):
        degrees = -degrees
    if abs(degrees) > limit:
        return None
    return round(degrees, 7)


def _as_text(value) -> str | None:
    """An EXIF value as text whatever type a (possibly damaged) file gave it."""
    if isinstance(value, bytes):
        return value.split(b"\x00", 1)[0].decode("ascii", "replace")
    return value if isinstance(value, str) else None


def clean_text(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = "".join(ch for ch in value if ch >= " " and ch != "\x7f").strip()
    return value or None


def parse_exif(media: Media, reader: Reader, base: int, limit: int | None = None,
               now: _dt.datetime | None = None) -> Tiff | None:
    """Fill ``media`` from a TIFF/EXIF structure at ``base``; returns the Tiff (or None if unusable).

    A damaged EXIF block is a note, not a reason to reject a photo whose pixels are fine."""
    try:
        tiff = Tiff(reader, base, limit)
        ifd0, _next = tiff.ifd(tiff.first_ifd)
        fill_from_ifd0(media, tiff, ifd0)
        exif_offset = tiff.int_value(ifd0.get(TAG_EXIF_IFD))
        exif = tiff.ifd(exif_offset)[0] if exif_offset else {}
        fill_from_exif_ifd(media, tiff, exif, now)
        gps_offset = tiff.int_value(ifd0.get(TAG_GPS_IFD))
        if gps_offset:
            fill_gps(media, tiff, tiff.ifd(gps_offset)[0])
        return tiff
    except (Damaged, struct.error) as exc:
        media.notes.append(f"EXIF unreadable: {exc}")
        return None


def fill_from_ifd0(media: Media, tiff: Tiff, ifd0) -> None:
    media.make = clean_text(tiff.value(ifd0.get(TAG_MAKE))) or media.make
    media.model = clean_text(tiff.value(ifd0.get(TAG_MODEL))) or media.model
    media.software = clean_text(tiff.value(ifd0.get(TAG_SOFTWARE))) or media.software
    orientation = tiff.int_value(ifd0.get(TAG_ORIENTATION))
    if orientation is not None and 1 <= orientation <= 8:
        media.orientation = orientation


def fill_from_exif_ifd(media: Media, tiff: Tiff, exif, now) -> None:
    if not exif:
        return
    original = _as_text(tiff.value(exif.get(TAG_DTO)))
    digitized = _as_text(tiff.value(exif.get(TAG_DTD)))
    date = parse_exif_datetime(original, _as_text(tiff.value(exif.get(TAG_SUBSEC_DTO))),
                               _as_text(tiff.value(exif.get(TAG_OFFSET_DTO))), now=now)
    if date is None and digitized:
        # Immich and exiftool fall back to CreateDate (DateTimeDigitized) the same way.
        date = parse_exif_datetime(digitized, _as_text(tiff.value(exif.get(TAG_SUBSEC_DTD))),
                                   _as_text(tiff.value(exif.get(TAG_OFFSET_DTD))), now=now)
    if date is not None:
        media.date = date
    elif original or digitized:
        media.date_note = f"EXIF date {str(original or digitized).strip()!r} is impossible"
    if media.width is None:
        width, height = tiff.int_value(exif.get(TAG_PIXEL_X)), tiff.int_value(exif.get(TAG_PIXEL_Y))
        if width and height:
            media.width, media.height = width, height
    note = exif.get(TAG_MAKERNOTE)
    if note is not None:
        media.content_identifier = apple_content_identifier(tiff.r, note[2], note[1]) or media.content_identifier


def fill_gps(media: Media, tiff: Tiff, gps) -> None:
    lat = _gps_coordinate(tiff, gps, 2, 1, "S", 90.0)
    lon = _gps_coordinate(tiff, gps, 4, 3, "W", 180.0)
    if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
        return
    media.gps_lat, media.gps_lon = lat, lon
    alt = _rational(tiff.value(gps.get(6), max_count=1))
    if alt is not None:
        ref = tiff.value(gps.get(5))
        below = (isinstance(ref, bytes) and ref[:1] == b"\x01") or ref == 1
        media.gps_alt = round(-alt if below else alt, 3)


def apple_content_identifier(reader: Reader, pos: int, size: int) -> str | None:
    """The ContentIdentifier (tag 0x11) of an Apple MakerNote at ``pos`` (Live Photo pairing).

    Layout: ``Apple iOS\\0``, version (2 bytes), ``MM``, then an IFD at +14; offsets count from
    the start of the MakerNote."""
    if size < 16 or reader.read(pos, len(APPLE_MAKERNOTE)) != APPLE_MAKERNOTE:
        return None
    order = reader.read(pos + 12, 2)
    endian = ">" if order == b"MM" else "<" if order == b"II" else None
    if endian is None:
        return None
    try:
        note = Tiff(reader, base=pos, limit=pos + size, endian=endian, first_ifd=14)
        entries, _next = note.ifd(14)
        return clean_text(note.value(entries.get(APPLE_CONTENT_IDENTIFIER)))
    except (Damaged, struct.error):
        return None


def parse_tiff_file(media: Media, reader: Reader, name_ext: str, now) -> None:
    """TIFF, DNG and TIFF-based RAW: EXIF from IFD0, format by DNG tag/make, and image data
    (strips/tiles) that must lie inside the file."""
    tiff = Tiff(reader, 0)
    ifd0, nxt = tiff.ifd(tiff.first_ifd)
    if not ifd0:
        raise Damaged("corrupt TIFF: its first directory is empty")
    fill_from_ifd0(media, tiff, ifd0)
    width, height = tiff.int_value(ifd0.get(TAG_WIDTH)), tiff.int_value(ifd0.get(TAG_HEIGHT))
    directories = [ifd0]
    for sub in tiff.offsets(ifd0.get(TAG_SUB_IFDS), max_count=8):
        directories.append(tiff.ifd(sub)[0])
    for _guard in range(4):
        if not nxt:
            break
        entries, nxt = tiff.ifd(nxt)
        directories.append(entries)
    cfa = False
    for entries in directories:
        photometric = tiff.int_value(entries.get(TAG_PHOTOMETRIC))
        cfa = cfa or photometric in (32803, 34892)
        for offsets_tag, counts_tag in ((TAG_STRIP_OFFSETS, TAG_STRIP_COUNTS), (TAG_TILE_OFFSETS, TAG_TILE_COUNTS)):
            offsets, counts = tiff.offsets(entries.get(offsets_tag)), tiff.offsets(entries.get(counts_tag))
            if offsets and counts and max(o + c for o, c in zip(offsets, counts)) > reader.size:
                raise Damaged("truncated TIFF/RAW: image data runs past the end of the file "
                              "(an interrupted copy or download?)")
    exif_offset = tiff.int_value(ifd0.get(TAG_EXIF_IFD))
    if exif_offset:
        fill_from_exif_ifd(media, tiff, tiff.ifd(exif_offset)[0], now)
    gps_offset = tiff.int_value(ifd0.get(TAG_GPS_IFD))
    if gps_offset:
        fill_gps(media, tiff, tiff.ifd(gps_offset)[0])
    if width and height:
        media.width, media.height = width, height
    if media.format == "tiff":
        fmt = None
        if TAG_DNG_VERSION in ifd0:
            fmt = "dng"
        elif cfa or name_ext in RAW_EXTENSIONS:
            make = (media.make or "").upper()
            fmt = next((f for prefix, f in RAW_BY_MAKE if make.startswith(prefix)), None)
            fmt = fmt or RAW_EXTENSIONS.get(name_ext) or "raw"
        if fmt:
            media.format = fmt
            media.ext, media.media_type, media.mime = FORMATS[fmt]
            if fmt == "raw" and name_ext in RAW_EXTENSIONS:
                media.ext = name_ext
