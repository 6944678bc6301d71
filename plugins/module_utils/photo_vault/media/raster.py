# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""JPEG (headers, EXIF, and a walk of the entropy-coded data that finds truncation and corrupt
scans), PNG (chunks and CRCs), GIF, WebP, Fujifilm RAF (its embedded preview's EXIF) and AVI:
the structure checks and metadata of the formats that are not ISO-BMFF or TIFF."""

from __future__ import annotations

import re
import struct
import zlib

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.exif import parse_exif
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import (
    SMALL_READ, Damaged, Media, Reader)

_JPEG_SCAN_MARKER = re.compile(rb"\xff(?!\x00)(?!\xff)")
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_AFTER_SCAN_MARKERS = frozenset({0xC4, 0xCC, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE}
                                | set(range(0xE0, 0xF0)) | _SOF_MARKERS)


def parse_jpeg(media: Media, reader: Reader, now) -> None:
    size = reader.size
    pos, exif_done = 2, False
    for _guard in range(4096):
        head = reader.read(pos, 4)
        if len(head) < 2:
            raise Damaged("truncated JPEG: the file ends inside its headers")
        if head[0] != 0xFF:
            raise Damaged(f"corrupt JPEG: no marker where one must be (byte {pos})")
        marker = head[1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            raise Damaged("corrupt JPEG: the image ends before any image data")
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if len(head) < 4:
            raise Damaged("truncated JPEG: the file ends inside its headers")
        length = (head[2] << 8) | head[3]
        if length < 2 or pos + 2 + length > size:
            raise Damaged("truncated JPEG: a header segment runs past the end of the file")
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
    raise Damaged("corrupt JPEG: too many header segments")


def _check_jpeg_scans(reader: Reader, pos: int) -> None:
    """Walk the entropy-coded data: restart markers in sequence, only legal markers, an end
    (EOI). Catches truncation and the damage libjpeg reports as 'Corrupt JPEG data', which
    Pillow decodes silently into grey blocks. Needs the bytes in memory (files <= SMALL_READ)."""
    data = reader.data
    if data is None:  # a huge streamed JPEG: just look for the end marker
        if b"\xff\xd9" not in reader.read(max(0, reader.size - 65536), 65536):
            raise Damaged("truncated JPEG: no end-of-image marker")
        return
    size = len(data)
    expected_rst = 0
    for _guard in range(1 << 20):
        match = _JPEG_SCAN_MARKER.search(data, pos)
        if match is None:
            raise Damaged("truncated JPEG: the image data stops before the end-of-image marker "
                          "(an interrupted copy or download?)")
        at = match.start()
        marker = data[at + 1]
        if 0xD0 <= marker <= 0xD7:
            if marker - 0xD0 != expected_rst:
                raise Damaged(f"corrupt JPEG data: restart marker RST{marker - 0xD0} where RST{expected_rst} "
                              f"belongs (byte {at}); the image would decode with damaged blocks")
            expected_rst = (expected_rst + 1) & 7
            pos = at + 2
            continue
        if marker not in _AFTER_SCAN_MARKERS:
            raise Damaged(f"corrupt JPEG data: invalid marker 0xFF{marker:02X} inside the image data (byte {at})")
        if marker == 0xD9:
            return
        # another segment between progressive scans
        if at + 4 > size:
            raise Damaged("truncated JPEG: the file ends inside a header")
        length = (data[at + 2] << 8) | data[at + 3]
        if length < 2 or at + 2 + length > size:
            raise Damaged("truncated JPEG: a header segment runs past the end of the file")
        pos = at + 2 + length
        if marker == 0xDA:
            expected_rst = 0
    raise Damaged("corrupt JPEG: too many markers")


def parse_png(media: Media, reader: Reader, now) -> None:
    pos, size = 8, reader.size
    for index in range(200000):
        head = reader.read(pos, 8)
        if len(head) < 8:
            raise Damaged("truncated PNG: the file ends before its IEND chunk (an interrupted copy or download?)")
        length, kind = struct.unpack(">I4s", head)
        if pos + 12 + length > size:
            raise Damaged(f"truncated PNG: chunk {kind.decode('latin-1')!r} runs past the end of the file")
        if index == 0 and (kind != b"IHDR" or length < 13):
            raise Damaged("corrupt PNG: it does not start with an IHDR chunk")
        body = reader.read(pos + 8, length)
        crc = struct.unpack(">I", reader.read(pos + 8 + length, 4))[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise Damaged(f"corrupt PNG: chunk {kind.decode('latin-1')!r} fails its checksum (byte {pos})")
        if kind == b"IHDR":
            media.width, media.height = struct.unpack(">II", body[:8])
        elif kind == b"eXIf":
            parse_exif(media, reader, pos + 8, pos + 8 + length, now)
        elif kind == b"IEND":
            return
        pos += 12 + length
    raise Damaged("corrupt PNG: too many chunks")


def parse_gif(media: Media, reader: Reader, _now) -> None:
    head = reader.read(0, 10)
    if len(head) < 10:
        raise Damaged("truncated GIF")
    media.width, media.height = struct.unpack("<HH", head[6:10])


def parse_webp(media: Media, reader: Reader, now) -> None:
    riff_size = struct.unpack("<I", reader.read(4, 4))[0]
    end = 8 + riff_size
    if end > reader.size:
        raise Damaged("truncated WebP: the file is shorter than its header says")
    pos = 12
    for _guard in range(4096):
        head = reader.read(pos, 8)
        if len(head) < 8:
            return
        kind, length = head[:4], struct.unpack("<I", head[4:8])[0]
        if pos + 8 + length > end:
            raise Damaged(f"truncated WebP: chunk {kind.decode('latin-1')!r} runs past the end")
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


def parse_avi(media: Media, reader: Reader, _now) -> None:
    riff_size = struct.unpack("<I", reader.read(4, 4))[0]
    if 8 + riff_size > reader.size:
        raise Damaged("truncated AVI: the file is shorter than its header says")
    head = reader.read(12, 64)
    if head[:4] == b"LIST" and head[8:12] == b"hdrl" and head[12:16] == b"avih" and len(head) >= 56:
        media.width, media.height = struct.unpack("<II", head[52:60]) if len(head) >= 60 else (None, None)


def parse_raf(media: Media, reader: Reader, now) -> None:
    """Fujifilm RAF: an embedded JPEG preview (offset at byte 84) carries the EXIF."""
    raw = reader.read(84, 8)
    if len(raw) < 8:
        raise Damaged("truncated RAF")
    offset, length = struct.unpack(">II", raw)
    if offset + length > reader.size:
        raise Damaged("truncated RAF: the preview runs past the end of the file")
    if reader.read(offset, 2) == b"\xff\xd8":
        sub = Reader(data=reader.read(offset, length)) if length <= SMALL_READ else None
        if sub is not None:
            probe = Media("jpeg")
            try:
                parse_jpeg(probe, sub, now)
            except Damaged:
                pass
            for attr in ("make", "model", "software", "orientation", "gps_lat", "gps_lon", "gps_alt", "date"):
                setattr(media, attr, getattr(probe, attr))
