# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""ISO base media files: HEIF/HEIC/AVIF stills (items, locations, dimensions, the Exif item),
Canon CR3, and QuickTime/MP4 movies (duration, video track size and rotation, Apple's QuickTime
keys: creation date, ContentIdentifier, location, make and model). Every box walk is bounded."""

from __future__ import annotations

import datetime as _dt
import re
import struct

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import (
    date_from_utc, parse_iso_datetime)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.exif import (
    Tiff, clean_text, fill_from_exif_ifd, fill_from_ifd0, fill_gps, parse_exif)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import Damaged, Media, Reader

_MAX_BOXES = 4096
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
                raise Damaged("truncated file: it ends inside a box header")
            return
        head = reader.read(pos, 16)
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1:
            if len(head) < 16:
                raise Damaged("truncated file: it ends inside a box header")
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = end - pos  # runs to the end of the enclosing space
        if size < header:
            if strict:
                raise Damaged(f"corrupt box structure: box {kind!r} has an impossible size {size}")
            return
        if pos + size > end:
            if strict:
                raise Damaged(f"truncated file: the {kind.decode('latin-1')!r} box needs {pos + size - end} more "
                              "bytes than the file has (an interrupted copy or download?)")
            return
        yield kind, pos + header, pos + size, pos
        pos += size
    raise Damaged("corrupt box structure: too many boxes")


def _children(reader: Reader, start: int, end: int) -> dict[bytes, list[tuple[int, int]]]:
    found: dict[bytes, list[tuple[int, int]]] = {}
    for kind, payload, box_end, _pos in _boxes(reader, start, end, strict=False):
        found.setdefault(kind, []).append((payload, box_end))
    return found


def _first(found: dict, kind: bytes) -> tuple[int, int] | None:
    items = found.get(kind)
    return items[0] if items else None


def parse_heif(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    meta = top.get(b"meta")
    if meta is None:
        raise Damaged("corrupt HEIF: no 'meta' box (no image items)")
    children = _children(reader, meta[0] + 4, meta[1])  # meta is a full box
    primary = _heif_primary(reader, children)
    items = _heif_item_types(reader, children)
    locations = _heif_locations(reader, children)
    idat = _first(children, b"idat")
    for item_id, (method, extents) in locations.items():
        for offset, length in extents:
            if method == 0 and offset + length > reader.size:
                raise Damaged("truncated HEIF: image data runs past the end of the file "
                              "(an interrupted copy or download?)")
            if method == 1 and idat is not None and idat[0] + offset + length > idat[1]:
                raise Damaged(f"corrupt HEIF: item {item_id} points outside its data box")
    if primary is not None and primary not in items:
        raise Damaged("corrupt HEIF: the primary image item is missing")
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
        raise Damaged("corrupt HEIF: item location table is cut short")
    return int.from_bytes(raw[pos:pos + size], "big")


def _heif_locations(reader: Reader, children) -> dict[int, tuple[int, list[tuple[int, int]]]]:
    iloc = _first(children, b"iloc")
    if iloc is None:
        return {}
    raw = reader.read(iloc[0], min(iloc[1] - iloc[0], 1 << 20))
    if len(raw) < 8:
        raise Damaged("corrupt HEIF: item location table is cut short")
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
        raise Damaged("corrupt HEIF: implausible item count")
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


def parse_cr3(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    moov = top.get(b"moov")
    if moov is None:
        raise Damaged("corrupt CR3: no 'moov' box")
    for kind, payload, end, _pos in _boxes(reader, moov[0], moov[1], strict=False):
        if kind == b"uuid" and reader.read(payload, 16) == _CANON_UUID:
            inner = _children(reader, payload + 16, end)
            cmt1, cmt2, cmt4 = _first(inner, b"CMT1"), _first(inner, b"CMT2"), _first(inner, b"CMT4")
            try:
                if cmt1:
                    tiff = Tiff(reader, cmt1[0], cmt1[1])
                    fill_from_ifd0(media, tiff, tiff.ifd(tiff.first_ifd)[0])
                if cmt2:
                    tiff = Tiff(reader, cmt2[0], cmt2[1])
                    fill_from_exif_ifd(media, tiff, tiff.ifd(tiff.first_ifd)[0], now)
                if cmt4:
                    tiff = Tiff(reader, cmt4[0], cmt4[1])
                    fill_gps(media, tiff, tiff.ifd(tiff.first_ifd)[0])
            except (Damaged, struct.error) as exc:
                media.notes.append(f"CR3 metadata unreadable: {exc}")
            return


def parse_movie(media: Media, reader: Reader, now) -> None:
    top = {}
    for kind, payload, end, _pos in _boxes(reader, 0, reader.size, strict=True):
        top.setdefault(kind, (payload, end))
    moov = top.get(b"moov")
    if moov is None:
        raise Damaged("incomplete movie: no movie header ('moov' box); the recording or copy was cut short")
    if b"mdat" not in top and b"moof" not in top:
        raise Damaged("incomplete movie: no media data ('mdat' box)")
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
    media.make = clean_text(keys.get("com.apple.quicktime.make")) or media.make
    media.model = clean_text(keys.get("com.apple.quicktime.model")) or media.model
    media.software = clean_text(keys.get("com.apple.quicktime.software")) or media.software
    media.content_identifier = clean_text(keys.get("com.apple.quicktime.content.identifier"))
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
