# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The formats the vault knows (id -> extension, media type, MIME), the random-access
:class:`Reader` every parser reads through, the :class:`Media` record a parse fills, and
:class:`Damaged`, the structural problem that rejects a file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import CaptureDate

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
RAW_EXTENSIONS = {"nrw": "nef", "srf": "arw", "sr2": "arw", "srw": "srw", "3fr": "raw", "erf": "raw",
                  "kdc": "raw", "mrw": "raw", "iiq": "raw", "mef": "raw", "mos": "raw", "dcr": "raw",
                  "rwl": "raw", "raw": "raw", "nef": "nef", "arw": "arw", "pef": "pef", "dng": "dng"}
RAW_BY_MAKE = (("NIKON", "nef"), ("SONY", "arw"), ("PENTAX", "pef"), ("RICOH", "pef"), ("SAMSUNG", "srw"),
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


class Damaged(Exception):
    """A structural problem: the message is the reject reason."""
