# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a file is, and when it was taken: content sniffing and metadata, stdlib only.

* :func:`analyse` recognises a photo or video by its magic bytes (never by its name), parses the
  metadata the vault needs (EXIF in JPEG/HEIF/TIFF/RAW/PNG/WebP, the Apple MakerNote
  ContentIdentifier, ISO-BMFF/QuickTime movie headers and Apple keys) and checks the container
  structure, so that truncated or damaged files are rejected before they reach the vault.
* :func:`resolve_capture_date` picks the capture date in the vault's order (EXIF, QuickTime, an
  XMP sidecar next to the source, a date in the file name, the file's mtime) and records which won.
* File-name helpers: icloudpd ``name-id7`` names, dates in names, live-photo base names.

Every parser works on untrusted input: each offset is bounds-checked, every loop is capped and
no recursion is unbounded, so a hostile file costs at most a few milliseconds and is reported as
a problem, never a crash or a hang. Readers give random access to either the bytes already in
memory (small files are read once) or a file descriptor (large videos are never read whole).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import os
import re
import struct
import zlib

from ansible_collections.sovereign.cloud.plugins.module_utils.vault_xmp import XmpError, parse_xmp_properties

# ---------------------------------------------------------------------------------------------
# Formats

# format id -> (normalised extension, media type, MIME type)
FORMATS = {
    "jpeg": ("jpg", "image", "image/jpeg"),
    "heic": ("heic", "image", "image/heic"),
    "heif": ("heif", "image", "image/heif"),
    "avif": ("avif", "image", "image/avif"),
    "png": ("png", "image", "image/png"),
    "gif": ("gif", "image", "image/gif"),
    "webp": ("webp", "image", "image/webp"),
    "tiff": ("tif", "image", "image/tiff"),
    "dng": ("dng", "image", "image/x-adobe-dng"),
    "cr2": ("cr2", "image", "image/x-canon-cr2"),
    "cr3": ("cr3", "image", "image/x-canon-cr3"),
    "crw": ("crw", "image", "image/x-canon-crw"),
    "nef": ("nef", "image", "image/x-nikon-nef"),
    "arw": ("arw", "image", "image/x-sony-arw"),
    "raf": ("raf", "image", "image/x-fuji-raf"),
    "rw2": ("rw2", "image", "image/x-panasonic-rw2"),
    "orf": ("orf", "image", "image/x-olympus-orf"),
    "pef": ("pef", "image", "image/x-pentax-pef"),
    "srw": ("srw", "image", "image/x-samsung-srw"),
    "raw": ("raw", "image", "image/x-raw"),
    "mov": ("mov", "video", "video/quicktime"),
    "mp4": ("mp4", "video", "video/mp4"),
    "m4v": ("m4v", "video", "video/x-m4v"),
    "3gp": ("3gp", "video", "video/3gpp"),
    "avi": ("avi", "video", "video/x-msvideo"),
    "mts": ("mts", "video", "video/mp2t"),
}
RAW_FORMATS = frozenset({"dng", "cr2", "cr3", "crw", "nef", "arw", "raf", "rw2", "orf", "pef", "srw", "raw"})
# Formats a stdlib-free decoder (Pillow, pillow-heif) is expected to decode fully.
DECODABLE_FORMATS = frozenset({"jpeg", "heic", "heif", "avif", "png", "gif", "webp", "tiff"})
# Extensions that promise a photo or video: unknown content under one of these names is
# rejected (it is probably a damaged photo); unknown content under another name is skipped.
MEDIA_EXTENSIONS = frozenset({
    "jpg", "jpeg", "jpe", "jfif", "heic", "heif", "hif", "avif", "png", "gif", "webp", "tif", "tiff",
    "dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "rw2", "orf", "pef", "srw",
    "3fr", "erf", "kdc", "mrw", "x3f", "iiq", "mef", "mos", "dcr", "raw", "rwl",
    "mov", "mp4", "m4v", "3gp", "3g2", "avi", "mts", "m2ts", "qt", "bmp", "mpg", "mpeg", "mkv", "webm",
})
# RAW extensions whose TIFF-based content is kept under the source's own extension.
_RAW_EXTENSIONS = {"nrw": "nef", "srf": "arw", "sr2": "arw", "srw": "srw", "3fr": "raw", "erf": "raw",
                   "kdc": "raw", "mrw": "raw", "iiq": "raw", "mef": "raw", "mos": "raw", "dcr": "raw",
                   "rwl": "raw", "raw": "raw", "nef": "nef", "arw": "arw", "pef": "pef", "dng": "dng"}
_RAW_BY_MAKE = (("NIKON", "nef"), ("SONY", "arw"), ("PENTAX", "pef"), ("RICOH", "pef"), ("SAMSUNG", "srw"),
                ("CANON", "cr2"), ("OLYMPUS", "orf"), ("PANASONIC", "rw2"), ("LEICA", "rw2"), ("FUJIFILM", "raf"))

SMALL_READ = 64 * 1024 * 1024  # files up to this size are read once into memory


class Reader:
    """Random access to a file's bytes: ``data`` in memory, or ``fd`` read with pread."""

    def __init__(self, data: bytes | None = None, fd: int | None = None, size: int | None = None) -> None:
        if data is None and fd is None:
            raise ValueError("Reader needs data or fd")
        self.data = data
        self.fd = fd
        self.size = len(data) if data is not None else int(size if size is not None else os.fstat(fd).st_size)

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at the end of the file, b'' outside it)."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b""
        length = min(length, self.size - offset)
        if self.data is not None:
            return self.data[offset:offset + length]
        return os.pread(self.fd, length, offset)


class Media:  # pylint: disable=too-many-instance-attributes
    """What :func:`analyse` found. ``problem`` set means: damaged, reject it."""

    def __init__(self, fmt: str) -> None:
        self.format = fmt
        self.ext, self.media_type, self.mime = FORMATS[fmt]
        self.width: int | None = None
        self.height: int | None = None
        self.orientation: int | None = None
        self.duration: float | None = None
        self.make: str | None = None
        self.model: str | None = None
        self.software: str | None = None
        self.gps_lat: float | None = None
        self.gps_lon: float | None = None
        self.gps_alt: float | None = None
        self.content_identifier: str | None = None
        self.date: CaptureDate | None = None      # the file's own date (EXIF or QuickTime), if possible
        self.date_note: str | None = None          # why the file's own date was not usable
        self.problem: str | None = None
        self.notes: list[str] = []

    @property
    def from_iphone(self) -> bool:
        return (self.make or "").strip().lower() == "apple" and (self.model or "").startswith("iPhone")

    def as_dict(self) -> dict:
        return {
            "format": self.format, "ext": self.ext, "media_type": self.media_type, "mime": self.mime,
            "width": self.width, "height": self.height, "orientation": self.orientation,
            "duration": self.duration, "make": self.make, "model": self.model, "software": self.software,
            "gps_lat": self.gps_lat, "gps_lon": self.gps_lon, "gps_alt": self.gps_alt,
            "content_identifier": self.content_identifier, "from_iphone": self.from_iphone,
        }


class _Bad(Exception):
    """A structural problem: the message is the reject reason."""


# ---------------------------------------------------------------------------------------------
# Capture dates

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


# ---------------------------------------------------------------------------------------------
# File names

_NAME_DATE_RE = re.compile(
    r"(?<!\d)(?P<y>(?:18[4-9]|19\d|20\d)\d)[-_.]?(?P<m>0[1-9]|1[0-2])[-_.]?(?P<d>0[1-9]|[12]\d|3[01])"
    r"(?:(?:[ _T\-.,]+|[ _]at[ _])(?P<H>[01]\d|2[0-3])[-_.: h]?(?P<M>[0-5]\d)[-_.: m]?(?P<S>[0-5]\d)(?:\d{1,6})?)?"
    r"(?!\d)")
_ID7_RE = re.compile(r"^(?P<stem>.+)_(?P<id7>[A-Za-z0-9+/_=-]{7})$")
_RECORDNAME_CHARS = re.compile(rb"^[A-Za-z0-9_\-+/=.:]+$")
_SIZE_SUFFIX_RE = re.compile(r"-(medium|thumb|adjusted|alternative|original)$", re.IGNORECASE)


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


class IcloudName:
    """An icloudpd ``name-id7`` file name: ``IMG_1234_QVpTNGN.HEIC``."""

    __slots__ = ("stem", "id7", "ext", "record_prefix")

    def __init__(self, stem: str, id7: str, ext: str, record_prefix: str) -> None:
        self.stem, self.id7, self.ext, self.record_prefix = stem, id7, ext, record_prefix

    def __repr__(self) -> str:
        return f"IcloudName({self.stem!r}, {self.id7!r})"


def parse_icloudpd_name(name: str) -> IcloudName | None:
    """Recognise icloudpd's ``--file-match-policy name-id7`` suffix.

    id7 is the first 7 characters of base64(CPLMaster recordName). Record names are ASCII, so a
    genuine id7 decodes to printable record-name characters; ``holiday_picture.jpg`` does not.
    """
    stem, ext = os.path.splitext(name)
    # the id may sit before a live-photo or size suffix: IMG_1234_QVpTNGN_HEVC.MOV
    core = stem
    tail = ""
    for suffix in ("_HEVC",):
        if core.upper().endswith(suffix):
            core, tail = core[: -len(suffix)], core[-len(suffix):]
    match = _ID7_RE.match(core)
    if not match:
        return None
    id7 = match.group("id7")
    encoded = id7.replace("_", "/").replace("-", "+")
    try:
        decoded = base64.b64decode(encoded + "A", validate=True)[:5]
    except (binascii.Error, ValueError):
        return None
    if not _RECORDNAME_CHARS.match(decoded):
        return None
    return IcloudName(match.group("stem") + tail, id7, ext.lstrip("."), decoded.decode("ascii"))


def live_photo_key(name: str) -> str:
    """The base name a Live Photo's still and movie share: ``IMG_1234.HEIC``, ``IMG_1234.MOV``,
    ``IMG_1234_HEVC.MOV`` and their icloudpd ``name-id7`` forms all give ``img_1234``."""
    stem = os.path.splitext(name)[0]
    icloud = parse_icloudpd_name(name)
    if icloud is not None:
        stem = icloud.stem
    if stem.upper().endswith("_HEVC"):
        stem = stem[:-5]
    return stem.lower()


# ---------------------------------------------------------------------------------------------
# TIFF / EXIF

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
                raise _Bad("not a TIFF structure")
            if len(header) < 8:
                raise _Bad("TIFF header cut short")
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
            raise _Bad("an EXIF/TIFF directory points past the end of the data")
        count = struct.unpack(self.e + "H", self.r.read(pos, 2))[0]
        if count > _MAX_IFD_ENTRIES:
            raise _Bad(f"an EXIF/TIFF directory claims {count} entries")
        raw = self.r.read(pos + 2, count * 12 + 4)
        if len(raw) < count * 12:
            raise _Bad("an EXIF/TIFF directory is cut short")
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


def _clean_text(value) -> str | None:
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
        _fill_from_ifd0(media, tiff, ifd0)
        exif_offset = tiff.int_value(ifd0.get(TAG_EXIF_IFD))
        exif = tiff.ifd(exif_offset)[0] if exif_offset else {}
        _fill_from_exif_ifd(media, tiff, exif, now)
        gps_offset = tiff.int_value(ifd0.get(TAG_GPS_IFD))
        if gps_offset:
            _fill_gps(media, tiff, tiff.ifd(gps_offset)[0])
        return tiff
    except (_Bad, struct.error) as exc:
        media.notes.append(f"EXIF unreadable: {exc}")
        return None


def _fill_from_ifd0(media: Media, tiff: Tiff, ifd0) -> None:
    media.make = _clean_text(tiff.value(ifd0.get(TAG_MAKE))) or media.make
    media.model = _clean_text(tiff.value(ifd0.get(TAG_MODEL))) or media.model
    media.software = _clean_text(tiff.value(ifd0.get(TAG_SOFTWARE))) or media.software
    orientation = tiff.int_value(ifd0.get(TAG_ORIENTATION))
    if orientation is not None and 1 <= orientation <= 8:
        media.orientation = orientation


def _fill_from_exif_ifd(media: Media, tiff: Tiff, exif, now) -> None:
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


def _fill_gps(media: Media, tiff: Tiff, gps) -> None:
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
        return _clean_text(note.value(entries.get(APPLE_CONTENT_IDENTIFIER)))
    except (_Bad, struct.error):
        return None


# ---------------------------------------------------------------------------------------------
# JPEG

_JPEG_SCAN_MARKER = re.compile(rb"\xff(?!\x00)(?!\xff)")
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_AFTER_SCAN_MARKERS = frozenset({0xC4, 0xCC, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE}
                                | set(range(0xE0, 0xF0)) | _SOF_MARKERS)


def _parse_jpeg(media: Media, reader: Reader, now) -> None:
    size = reader.size
    pos, exif_done = 2, False
    for _guard in range(4096):
        head = reader.read(pos, 4)
        if len(head) < 2:
            raise _Bad("truncated JPEG: the file ends inside its headers")
        if head[0] != 0xFF:
            raise _Bad(f"corrupt JPEG: no marker where one must be (byte {pos})")
        marker = head[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            raise _Bad("corrupt JPEG: the image ends before any image data")
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if len(head) < 4:
            raise _Bad("truncated JPEG: the file ends inside its headers")
        length = (head[2] << 8) | head[3]
        if length < 2 or pos + 2 + length > size:
            raise _Bad("truncated JPEG: a header segment runs past the end of the file")
        if marker == 0xE1 and not exif_done:
            if reader.read(pos + 4, 6) == b"Exif\x00\x00":
                exif_done = True
                parse_exif(media, reader, pos + 10, pos + 2 + length, now)
        elif marker in _SOF_MARKERS and length >= 7:
            frame = reader.read(pos + 4, 5)
            media.height, media.width = struct.unpack(">HH", frame[1:5])
        if marker == 0xDA:
            _check_jpeg_scans(reader, pos + 2 + length)
            return
        pos += 2 + length
    raise _Bad("corrupt JPEG: too many header segments")


def _check_jpeg_scans(reader: Reader, pos: int) -> None:
    """Walk the entropy-coded data: restart markers in sequence, only legal markers, an end
    (EOI). Catches truncation and the damage libjpeg reports as 'Corrupt JPEG data', which
    Pillow decodes silently into grey blocks. Needs the bytes in memory (files <= SMALL_READ)."""
    data = reader.data
    if data is None:  # a huge streamed JPEG: just look for the end marker
        if b"\xff\xd9" not in reader.read(max(0, reader.size - 65536), 65536):
            raise _Bad("truncated JPEG: no end-of-image marker")
        return
    size = len(data)
    expected_rst = 0
    for _guard in range(1 << 20):
        match = _JPEG_SCAN_MARKER.search(data, pos)
        if match is None:
            raise _Bad("truncated JPEG: the image data stops before the end-of-image marker "
                       "(an interrupted copy or download?)")
        at = match.start()
        marker = data[at + 1]
        if 0xD0 <= marker <= 0xD7:
            if marker - 0xD0 != expected_rst:
                raise _Bad(f"corrupt JPEG data: restart marker RST{marker - 0xD0} where RST{expected_rst} "
                           f"belongs (byte {at}); the image would decode with damaged blocks")
            expected_rst = (expected_rst + 1) & 7
            pos = at + 2
            continue
        if marker not in _AFTER_SCAN_MARKERS:
            raise _Bad(f"corrupt JPEG data: invalid marker 0xFF{marker:02X} inside the image data (byte {at})")
        if marker == 0xD9:
            return
        # another segment between progressive scans
        if at + 4 > size:
            raise _Bad("truncated JPEG: the file ends inside a header")
        length = (data[at + 2] << 8) | data[at + 3]
        if length < 2 or at + 2 + length > size:
            raise _Bad("truncated JPEG: a header segment runs past the end of the file")
        pos = at + 2 + length
        if marker == 0xDA:
            expected_rst = 0
    raise _Bad("corrupt JPEG: too many markers")


# ---------------------------------------------------------------------------------------------
# ISO base media (HEIF, AVIF, CR3, MOV, MP4)

_MAX_BOXES = 4096
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"mif3", b"miaf"})
_MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
                         b"mp41", b"mp42", b"mp71", b"avc1", b"mmp4", b"dash", b"MSNV", b"f4v ", b"XAVC",
                         b"NDAS", b"caqv", b"niko", b"FACE", b"hvc1"})
_M4V_BRANDS = frozenset({b"M4V ", b"M4VH", b"M4VP"})
_CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
_QT_EPOCH = _dt.datetime(1904, 1, 1)


def _boxes(reader: Reader, start: int, end: int, strict: bool):
    """Yield (type, payload start, payload end, box start) of the boxes in [start, end).

    ``strict``: a box that runs past ``end`` is a truncation (top level, sample tables);
    otherwise iteration just stops."""
    pos = start
    for _guard in range(_MAX_BOXES):
        if pos + 8 > end:
            if strict and pos != end and reader.read(pos, end - pos).strip(b"\x00"):
                raise _Bad("truncated file: it ends inside a box header")
            return
        head = reader.read(pos, 16)
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                raise _Bad("truncated file: it ends inside a box header")
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = end - pos  # runs to the end of the enclosing space
        if size < header:
            if strict:
                raise _Bad(f"corrupt box structure: box {kind!r} has an impossible size {size}")
            return
        if pos + size > end:
            if strict:
                raise _Bad(f"truncated file: the {kind.decode('latin-1')!r} box needs {pos + size - end} more "
                           "bytes than the file has (an interrupted copy or download?)")
            return
        yield kind, pos + header, pos + size, pos
        pos += size
    raise _Bad("corrupt box structure: too many boxes")


def _children(reader: Reader, start: int, end: int) -> dict[bytes, list[tuple[int, int]]]:
    found: dict[bytes, list[tuple[int, int]]] = {}
    for kind, payload, box_end, _pos in _boxes(reader, start, end, strict=False):
        found.setdefault(kind, []).append((payload, box_end))
    return found


def _first(found: dict, kind: bytes) -> tuple[int, int] | None:
    items = found.get(kind)
    return items[0] if items else None


def _sniff_ftyp(head: bytes) -> str | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = {major} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major == b"crx ":
        return "cr3"
    if major == b"qt  ":
        return "mov"
    if brands & _HEIC_BRANDS:
        return "heic"
    if brands & _AVIF_BRANDS:
        return "avif"
    if major in _HEIF_BRANDS or brands & {b"mif1", b"msf1"}:
        return "heif"
    if major in (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "):
        return None  # audio
    if major in _M4V_BRANDS:
        return "m4v"
    if major[:3] in (b"3gp", b"3g2", b"3ge", b"3gg"):
        return "3gp"
    if major in _MP4_BRANDS or brands & _MP4_BRANDS:
        return "mp4"
    return None


def _parse_heif(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    meta = top.get(b"meta")
    if meta is None:
        raise _Bad("corrupt HEIF: no 'meta' box (no image items)")
    children = _children(reader, meta[0] + 4, meta[1])  # meta is a full box
    primary = _heif_primary(reader, children)
    items = _heif_item_types(reader, children)
    locations = _heif_locations(reader, children)
    idat = _first(children, b"idat")
    for item_id, (method, extents) in locations.items():
        for offset, length in extents:
            if method == 0 and offset + length > reader.size:
                raise _Bad("truncated HEIF: image data runs past the end of the file "
                           "(an interrupted copy or download?)")
            if method == 1 and idat is not None and idat[0] + offset + length > idat[1]:
                raise _Bad(f"corrupt HEIF: item {item_id} points outside its data box")
    if primary is not None and primary not in items:
        raise _Bad("corrupt HEIF: the primary image item is missing")
    _heif_dimensions(media, reader, children, primary)
    for item_id, kind in items.items():
        if kind == b"Exif" and item_id in locations:
            method, extents = locations[item_id]
            if not extents:
                continue
            offset, length = extents[0]
            if method == 1 and idat is not None:
                offset += idat[0]
            elif method != 0:
                continue
            start = reader.read(offset, 4)
            if len(start) < 4:
                continue
            skip = struct.unpack(">I", start)[0]
            tiff_at = offset + 4 + skip
            if skip > 64 or reader.read(tiff_at, 2) not in (b"II", b"MM"):
                probe = reader.read(offset, 32)
                at = probe.find(b"Exif\x00\x00")
                if at < 0:
                    media.notes.append("HEIF Exif item has no TIFF header")
                    continue
                tiff_at = offset + at + 6
            parse_exif(media, reader, tiff_at, offset + length, now)
            break


def _heif_primary(reader: Reader, children) -> int | None:
    pitm = _first(children, b"pitm")
    if pitm is None:
        return None
    raw = reader.read(pitm[0], 8)
    if len(raw) < 6:
        return None
    return struct.unpack(">H", raw[4:6])[0] if raw[0] == 0 else (struct.unpack(">I", raw[4:8])[0] if len(raw) >= 8 else None)


def _heif_item_types(reader: Reader, children) -> dict[int, bytes]:
    iinf = _first(children, b"iinf")
    if iinf is None:
        return {}
    version = reader.read(iinf[0], 1)
    start = iinf[0] + (6 if version == b"\x00" else 8)
    items = {}
    for kind, payload, end, _pos in _boxes(reader, start, iinf[1], strict=False):
        if kind != b"infe":
            continue
        raw = reader.read(payload, min(end - payload, 16))
        if len(raw) < 4:
            continue
        version = raw[0]
        if version == 2 and len(raw) >= 12:
            items[struct.unpack(">H", raw[4:6])[0]] = raw[8:12]
        elif version == 3 and len(raw) >= 14:
            items[struct.unpack(">I", raw[4:8])[0]] = raw[10:14]
    return items


def _uint(raw: bytes, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(raw):
        raise _Bad("corrupt HEIF: item location table is cut short")
    return int.from_bytes(raw[pos:pos + size], "big")


def _heif_locations(reader: Reader, children) -> dict[int, tuple[int, list[tuple[int, int]]]]:
    iloc = _first(children, b"iloc")
    if iloc is None:
        return {}
    raw = reader.read(iloc[0], min(iloc[1] - iloc[0], 1 << 20))
    if len(raw) < 8:
        raise _Bad("corrupt HEIF: item location table is cut short")
    version = raw[0]
    offset_size, length_size = raw[4] >> 4, raw[4] & 15
    base_size = raw[5] >> 4
    index_size = raw[5] & 15 if version in (1, 2) else 0
    pos = 6
    if version < 2:
        count, pos = _uint(raw, pos, 2), pos + 2
    else:
        count, pos = _uint(raw, pos, 4), pos + 4
    if count > 65536:
        raise _Bad("corrupt HEIF: implausible item count")
    result = {}
    for _item in range(count):
        id_size = 2 if version < 2 else 4
        item_id, pos = _uint(raw, pos, id_size), pos + id_size
        method = 0
        if version in (1, 2):
            method, pos = _uint(raw, pos, 2) & 15, pos + 2
        pos += 2  # data_reference_index
        base, pos = _uint(raw, pos, base_size), pos + base_size
        extent_count, pos = _uint(raw, pos, 2), pos + 2
        extents = []
        for _e in range(extent_count):
            pos += index_size
            offset, pos = _uint(raw, pos, offset_size), pos + offset_size
            length, pos = _uint(raw, pos, length_size), pos + length_size
            extents.append((base + offset, length))
        result[item_id] = (method, extents)
    return result


def _heif_dimensions(media: Media, reader: Reader, children, primary: int | None) -> None:
    iprp = _first(children, b"iprp")
    if iprp is None:
        return
    inner = _children(reader, iprp[0], iprp[1])
    ipco, ipma = _first(inner, b"ipco"), _first(inner, b"ipma")
    if ipco is None:
        return
    props = [(kind, payload, end) for kind, payload, end, _pos in _boxes(reader, ipco[0], ipco[1], strict=False)]
    indices = None
    if ipma is not None and primary is not None:
        raw = reader.read(ipma[0], min(ipma[1] - ipma[0], 1 << 20))
        if len(raw) >= 8:
            version, flags = raw[0], int.from_bytes(raw[1:4], "big")
            count, pos = struct.unpack(">I", raw[4:8])[0], 8
            for _entry in range(min(count, 65536)):
                id_size = 2 if version < 1 else 4
                if pos + id_size + 1 > len(raw):
                    break
                item_id = int.from_bytes(raw[pos:pos + id_size], "big")
                n = raw[pos + id_size]
                pos += id_size + 1
                width = 2 if flags & 1 else 1
                assoc = [int.from_bytes(raw[pos + i * width:pos + (i + 1) * width], "big") for i in range(n)]
                pos += n * width
                if item_id == primary:
                    mask = 0x7FFF if width == 2 else 0x7F
                    indices = [a & mask for a in assoc]
                    break
    chosen = [props[i - 1] for i in indices if 0 < i <= len(props)] if indices else props
    for kind, payload, _end in chosen:
        if kind == b"ispe":
            raw = reader.read(payload, 12)
            if len(raw) == 12:
                width, height = struct.unpack(">II", raw[4:12])
                if width and height and (media.width is None or width * height > media.width * media.height):
                    media.width, media.height = width, height
                if indices:
                    break


def _parse_cr3(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    moov = top.get(b"moov")
    if moov is None:
        raise _Bad("corrupt CR3: no 'moov' box")
    for kind, payload, end, _pos in _boxes(reader, moov[0], moov[1], strict=False):
        if kind == b"uuid" and reader.read(payload, 16) == _CANON_UUID:
            inner = _children(reader, payload + 16, end)
            cmt1, cmt2, cmt4 = _first(inner, b"CMT1"), _first(inner, b"CMT2"), _first(inner, b"CMT4")
            try:
                if cmt1:
                    tiff = Tiff(reader, cmt1[0], cmt1[1])
                    _fill_from_ifd0(media, tiff, tiff.ifd(tiff.first_ifd)[0])
                if cmt2:
                    tiff = Tiff(reader, cmt2[0], cmt2[1])
                    _fill_from_exif_ifd(media, tiff, tiff.ifd(tiff.first_ifd)[0], now)
                if cmt4:
                    tiff = Tiff(reader, cmt4[0], cmt4[1])
                    _fill_gps(media, tiff, tiff.ifd(tiff.first_ifd)[0])
            except (_Bad, struct.error) as exc:
                media.notes.append(f"CR3 metadata unreadable: {exc}")
            return


def _parse_movie(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    moov = top.get(b"moov")
    if moov is None:
        raise _Bad("incomplete movie: no movie header ('moov' box); the recording or copy was cut short")
    if b"mdat" not in top and b"moof" not in top:
        raise _Bad("incomplete movie: no media data ('mdat' box)")
    children = _children(reader, moov[0], moov[1])
    mvhd = _first(children, b"mvhd")
    created = None
    if mvhd is not None:
        raw = reader.read(mvhd[0], 32)
        if len(raw) >= 20 and raw[0] == 0:
            created, _modified, timescale, duration = struct.unpack(">IIII", raw[4:20])
        elif len(raw) >= 32 and raw[0] == 1:
            created, _modified, timescale, duration = struct.unpack(">QQIQ", raw[4:32])
        else:
            timescale = duration = 0
        if timescale:
            media.duration = round(duration / timescale, 3)
    _movie_tracks(media, reader, children)
    keys = _movie_keys(reader, children)
    _movie_udta(media, reader, children, keys)
    media.make = _clean_text(keys.get("com.apple.quicktime.make")) or media.make
    media.model = _clean_text(keys.get("com.apple.quicktime.model")) or media.model
    media.software = _clean_text(keys.get("com.apple.quicktime.software")) or media.software
    media.content_identifier = _clean_text(keys.get("com.apple.quicktime.content.identifier"))
    location = keys.get("com.apple.quicktime.location.ISO6709")
    if location and media.gps_lat is None:
        _set_iso6709(media, location)
    date = parse_iso_datetime(keys.get("com.apple.quicktime.creationdate"), "quicktime", now)
    if date is None and created:
        try:
            date = date_from_utc(_QT_EPOCH + _dt.timedelta(seconds=created), "quicktime", now)
        except OverflowError:
            date = None
        if date is None:
            media.date_note = "the movie's creation time is impossible"
    media.date = date


def _movie_tracks(media: Media, reader: Reader, children) -> None:
    for payload, end in children.get(b"trak", [])[:16]:
        trak = _children(reader, payload, end)
        tkhd, mdia = _first(trak, b"tkhd"), _first(trak, b"mdia")
        handler = b""
        if mdia is not None:
            hdlr = _first(_children(reader, mdia[0], mdia[1]), b"hdlr")
            if hdlr is not None:
                handler = reader.read(hdlr[0] + 8, 4)
        if handler != b"vide" or tkhd is None:
            continue
        raw = reader.read(tkhd[0], 96)
        version = raw[:1]
        base = 4 + (32 if version == b"\x01" else 20)  # past ids, times, duration
        matrix_at, size_at = base + 16, base + 52
        if len(raw) < size_at + 8:
            continue
        a, b, _u, c, d = struct.unpack(">iiiii", raw[matrix_at:matrix_at + 20])
        width, height = struct.unpack(">II", raw[size_at:size_at + 8])
        media.width, media.height = width >> 16, height >> 16
        rotation = {(0, 1, -1, 0): 6, (-1, 0, 0, -1): 3, (0, -1, 1, 0): 8}
        one = 1 << 16
        media.orientation = rotation.get((_sign(a, one), _sign(b, one), _sign(c, one), _sign(d, one)), 1)
        return


def _sign(value: int, one: int) -> int:
    if abs(value - one) < one // 100:
        return 1
    if abs(value + one) < one // 100:
        return -1
    return 0


def _movie_keys(reader: Reader, children) -> dict[str, str]:
    """QuickTime metadata (moov/meta with 'keys' + 'ilst'): Apple's creation date, content
    identifier, location, make and model."""
    found: dict[str, str] = {}
    metas = list(children.get(b"meta", []))
    udta = _first(children, b"udta")
    if udta is not None:  # ffmpeg writes the keys under moov/udta/meta
        metas += _children(reader, udta[0], udta[1]).get(b"meta", [])
    for meta in metas[:4]:
        for key, value in _movie_meta_keys(reader, meta).items():
            found.setdefault(key, value)
    return found


def _movie_meta_keys(reader: Reader, meta: tuple[int, int]) -> dict[str, str]:
    found: dict[str, str] = {}
    start = meta[0]
    if reader.read(start + 4, 4) != b"hdlr":  # ISO full box (version + flags) rather than QuickTime's
        start += 4
    inner = _children(reader, start, meta[1])
    keys_box, ilst = _first(inner, b"keys"), _first(inner, b"ilst")
    if keys_box is None or ilst is None:
        return found
    raw = reader.read(keys_box[0], min(keys_box[1] - keys_box[0], 1 << 16))
    names = []
    if len(raw) >= 8:
        count, pos = struct.unpack(">I", raw[4:8])[0], 8
        for _key in range(min(count, 1024)):
            if pos + 8 > len(raw):
                break
            size = struct.unpack(">I", raw[pos:pos + 4])[0]
            if size < 8 or pos + size > len(raw):
                break
            names.append(raw[pos + 8:pos + size].decode("utf-8", "replace"))
            pos += size
    for kind, payload, end, _pos in _boxes(reader, ilst[0], ilst[1], strict=False):
        index = struct.unpack(">I", kind)[0]
        if not 1 <= index <= len(names):
            continue
        for dkind, dpayload, dend, _dpos in _boxes(reader, payload, end, strict=False):
            if dkind == b"data" and dend - dpayload >= 8:
                type_code = struct.unpack(">I", reader.read(dpayload, 4))[0] & 0xFFFFFF
                if type_code in (1, 4):  # UTF-8 / UTF-16 text
                    value = reader.read(dpayload + 8, min(dend - dpayload - 8, 4096))
                    found[names[index - 1]] = value.decode("utf-8" if type_code == 1 else "utf-16-be", "replace")
                break
    return found


def _movie_udta(media: Media, reader: Reader, children, keys: dict) -> None:
    udta = _first(children, b"udta")
    if udta is None:
        return
    for kind, payload, end, _pos in _boxes(reader, udta[0], udta[1], strict=False):
        if kind == b"\xa9xyz" and end - payload > 4 and "com.apple.quicktime.location.ISO6709" not in keys:
            length = struct.unpack(">H", reader.read(payload, 2))[0]
            text = reader.read(payload + 4, min(length, end - payload - 4, 256)).decode("latin-1")
            keys["com.apple.quicktime.location.ISO6709"] = text
        elif kind in (b"\xa9mak", b"\xa9mod") and end - payload > 4:
            length = struct.unpack(">H", reader.read(payload, 2))[0]
            text = reader.read(payload + 4, min(length, end - payload - 4, 256)).decode("utf-8", "replace")
            keys.setdefault("com.apple.quicktime.make" if kind == b"\xa9mak" else "com.apple.quicktime.model", text)


_ISO6709_RE = re.compile(r"^([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def _set_iso6709(media: Media, text: str) -> None:
    match = _ISO6709_RE.match(text.strip())
    if not match:
        return
    lat, lon = float(match.group(1)), float(match.group(2))
    if abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return
    media.gps_lat, media.gps_lon = round(lat, 7), round(lon, 7)
    if match.group(3):
        media.gps_alt = round(float(match.group(3)), 3)


# ---------------------------------------------------------------------------------------------
# PNG, GIF, WebP, TIFF/RAW, AVI, MPEG-TS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _parse_png(media: Media, reader: Reader, now) -> None:
    pos, size = 8, reader.size
    for index in range(200000):
        head = reader.read(pos, 8)
        if len(head) < 8:
            raise _Bad("truncated PNG: the file ends before its IEND chunk (an interrupted copy or download?)")
        length, kind = struct.unpack(">I4s", head)
        if pos + 12 + length > size:
            raise _Bad(f"truncated PNG: chunk {kind.decode('latin-1')!r} runs past the end of the file")
        if index == 0 and (kind != b"IHDR" or length < 13):
            raise _Bad("corrupt PNG: it does not start with an IHDR chunk")
        body = reader.read(pos + 8, length)
        crc = struct.unpack(">I", reader.read(pos + 8 + length, 4))[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise _Bad(f"corrupt PNG: chunk {kind.decode('latin-1')!r} fails its checksum (byte {pos})")
        if kind == b"IHDR":
            media.width, media.height = struct.unpack(">II", body[:8])
        elif kind == b"eXIf":
            parse_exif(media, reader, pos + 8, pos + 8 + length, now)
        elif kind == b"IEND":
            return
        pos += 12 + length
    raise _Bad("corrupt PNG: too many chunks")


def _parse_gif(media: Media, reader: Reader, _now) -> None:
    head = reader.read(0, 10)
    if len(head) < 10:
        raise _Bad("truncated GIF")
    media.width, media.height = struct.unpack("<HH", head[6:10])


def _parse_webp(media: Media, reader: Reader, now) -> None:
    riff_size = struct.unpack("<I", reader.read(4, 4))[0]
    end = 8 + riff_size
    if end > reader.size:
        raise _Bad("truncated WebP: the file is shorter than its header says")
    pos = 12
    for _guard in range(4096):
        head = reader.read(pos, 8)
        if len(head) < 8:
            return
        kind, length = head[:4], struct.unpack("<I", head[4:8])[0]
        if pos + 8 + length > end:
            raise _Bad(f"truncated WebP: chunk {kind.decode('latin-1')!r} runs past the end")
        body = reader.read(pos + 8, min(length, 30))
        if kind == b"VP8X" and len(body) >= 10:
            media.width = 1 + int.from_bytes(body[4:7], "little")
            media.height = 1 + int.from_bytes(body[7:10], "little")
        elif kind == b"VP8 " and len(body) >= 10 and media.width is None:
            media.width = struct.unpack("<H", body[6:8])[0] & 0x3FFF
            media.height = struct.unpack("<H", body[8:10])[0] & 0x3FFF
        elif kind == b"VP8L" and len(body) >= 5 and media.width is None:
            bits = int.from_bytes(body[1:5], "little")
            media.width, media.height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif kind == b"EXIF":
            at = pos + 8 + (6 if reader.read(pos + 8, 6) == b"Exif\x00\x00" else 0)
            parse_exif(media, reader, at, pos + 8 + length, now)
        pos += 8 + length + (length & 1)


def _tiff_kind(head: bytes) -> str | None:
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        if head[8:10] == b"CR" and head[:2] == b"II":
            return "cr2"
        return "tiff"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    return None


def _parse_tiff_file(media: Media, reader: Reader, name_ext: str, now) -> None:
    """TIFF, DNG and TIFF-based RAW: EXIF from IFD0, format by DNG tag/make, and image data
    (strips/tiles) that must lie inside the file."""
    tiff = Tiff(reader, 0)
    ifd0, nxt = tiff.ifd(tiff.first_ifd)
    if not ifd0:
        raise _Bad("corrupt TIFF: its first directory is empty")
    _fill_from_ifd0(media, tiff, ifd0)
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
                raise _Bad("truncated TIFF/RAW: image data runs past the end of the file "
                           "(an interrupted copy or download?)")
    exif_offset = tiff.int_value(ifd0.get(TAG_EXIF_IFD))
    if exif_offset:
        _fill_from_exif_ifd(media, tiff, tiff.ifd(exif_offset)[0], now)
    gps_offset = tiff.int_value(ifd0.get(TAG_GPS_IFD))
    if gps_offset:
        _fill_gps(media, tiff, tiff.ifd(gps_offset)[0])
    if width and height:
        media.width, media.height = width, height
    if media.format == "tiff":
        fmt = None
        if TAG_DNG_VERSION in ifd0:
            fmt = "dng"
        elif cfa or name_ext in _RAW_EXTENSIONS:
            make = (media.make or "").upper()
            fmt = next((f for prefix, f in _RAW_BY_MAKE if make.startswith(prefix)), None)
            fmt = fmt or _RAW_EXTENSIONS.get(name_ext) or "raw"
        if fmt:
            media.format = fmt
            media.ext, media.media_type, media.mime = FORMATS[fmt]
            if fmt == "raw" and name_ext in _RAW_EXTENSIONS:
                media.ext = name_ext


def _parse_avi(media: Media, reader: Reader, _now) -> None:
    riff_size = struct.unpack("<I", reader.read(4, 4))[0]
    if 8 + riff_size > reader.size:
        raise _Bad("truncated AVI: the file is shorter than its header says")
    head = reader.read(12, 64)
    if head[:4] == b"LIST" and head[8:12] == b"hdrl" and head[12:16] == b"avih" and len(head) >= 56:
        media.width, media.height = struct.unpack("<II", head[52:60]) if len(head) >= 60 else (None, None)


def _is_mpeg_ts(head: bytes) -> bool:
    for packet, lead in ((192, 4), (188, 0)):
        if len(head) >= packet * 3 + lead and all(head[lead + i * packet] == 0x47 for i in range(3)):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Entry point


def sniff(head: bytes) -> str | None:
    """The format id for the first bytes of a file (at least 4 KiB when available), or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == _PNG_SIGNATURE:
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:16] == b"FUJIFILMCCD-RAW ":
        return "raf"
    if head[:14] == b"II\x1a\x00\x00\x00HEAPCCDR":
        return "crw"
    kind = _tiff_kind(head)
    if kind:
        return kind
    kind = _sniff_ftyp(head)
    if kind:
        return kind
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot") and len(head) >= 8:
        return "mov"
    if _is_mpeg_ts(head):
        return "mts"
    return None


def analyse(reader: Reader, name: str = "", now: _dt.datetime | None = None) -> Media | None:
    """Recognise and parse a file. None: not a photo or video we know. ``problem`` set: damaged."""
    head = reader.read(0, 4096)
    fmt = sniff(head)
    if fmt is None:
        return None
    media = Media(fmt)
    name_ext = os.path.splitext(name)[1].lower().lstrip(".")
    try:
        if fmt == "jpeg":
            _parse_jpeg(media, reader, now)
        elif fmt in ("heic", "heif", "avif"):
            _parse_heif(media, reader, now)
        elif fmt == "cr3":
            _parse_cr3(media, reader, now)
        elif fmt in ("mov", "mp4", "m4v", "3gp"):
            _parse_movie(media, reader, now)
        elif fmt == "png":
            _parse_png(media, reader, now)
        elif fmt == "gif":
            _parse_gif(media, reader, now)
        elif fmt == "webp":
            _parse_webp(media, reader, now)
        elif fmt in ("tiff", "cr2", "orf", "rw2"):
            _parse_tiff_file(media, reader, name_ext, now)
        elif fmt == "avi":
            _parse_avi(media, reader, now)
        elif fmt == "raf":
            _parse_raf(media, reader, now)
    except _Bad as exc:
        media.problem = str(exc)
    except (struct.error, ValueError, IndexError, OverflowError) as exc:
        media.problem = f"corrupt {FORMATS[fmt][0].upper()} structure ({exc})"
    return media


def _parse_raf(media: Media, reader: Reader, now) -> None:
    """Fujifilm RAF: an embedded JPEG preview (offset at byte 84) carries the EXIF."""
    raw = reader.read(84, 8)
    if len(raw) < 8:
        raise _Bad("truncated RAF")
    offset, length = struct.unpack(">II", raw)
    if offset + length > reader.size:
        raise _Bad("truncated RAF: the preview runs past the end of the file")
    if reader.read(offset, 2) == b"\xff\xd8":
        sub = Reader(data=reader.read(offset, length)) if length <= SMALL_READ else None
        if sub is not None:
            probe = Media("jpeg")
            try:
                _parse_jpeg(probe, sub, now)
            except _Bad:
                pass
            for attr in ("make", "model", "software", "orientation", "gps_lat", "gps_lon", "gps_alt", "date"):
                setattr(media, attr, getattr(probe, attr))


def describe_unknown(head: bytes, size: int) -> str:
    """Why unrecognised content under a photo/video name was rejected, in words."""
    if size == 0:
        return "empty file (0 bytes)"
    if not head.strip(b"\x00"):
        return "the file holds only zero bytes (an interrupted copy or a failed download?)"
    sample = head[:512]
    try:
        text = sample.decode("utf-8")
        if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
            if text.lstrip().lower().startswith(("<!doctype html", "<html")):
                return "the file is an HTML page, not a photo or video (a failed download?)"
            return "the file holds text, not a photo or video"
    except UnicodeDecodeError:
        pass
    return f"content not recognised as a photo or video (it starts with {head[:8].hex(' ')})"


# ---------------------------------------------------------------------------------------------
# Sidecars next to the source (icloudpd and other tools)


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


# ---------------------------------------------------------------------------------------------
# Capture date resolution


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


def icloud_base_name(name: str) -> str:
    """The name without icloudpd's id7 suffix (so the id never looks like part of a date)."""
    parsed = parse_icloudpd_name(name)
    return f"{parsed.stem}.{parsed.ext}" if parsed else name
