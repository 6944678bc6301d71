# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a file is by its first bytes (never by its name): :func:`sniff`, and
:func:`describe_unknown` for content that is no photo or video."""

from __future__ import annotations

import struct

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"mif3", b"miaf"})
_MP4_BRANDS = frozenset({b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
                         b"mp41", b"mp42", b"mp71", b"avc1", b"mmp4", b"dash", b"MSNV", b"f4v ", b"XAVC",
                         b"NDAS", b"caqv", b"niko", b"FACE", b"hvc1"})
_M4V_BRANDS = frozenset({b"M4V ", b"M4VH", b"M4VP"})


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_ftyp(head: bytes) -> str | None:
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


def tiff_kind(head: bytes) -> str | None:
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        if head[8:10] == b"CR" and head[:2] == b"II":
            return "cr2"
        return "tiff"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    return None


def is_mpeg_ts(head: bytes) -> bool:
    for packet, lead in ((192, 4), (188, 0)):
        if len(head) >= packet * 3 + lead and all(head[lead + i * packet] == 0x47 for i in range(3)):
            return True
    return False


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
    kind = tiff_kind(head)
    if kind:
        return kind
    kind = sniff_ftyp(head)
    if kind:
        return kind
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot") and len(head) >= 8:
        return "mov"
    if is_mpeg_ts(head):
        return "mts"
    return None


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
