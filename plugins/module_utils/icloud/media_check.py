# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Does the vault's copy of an original decode, and is it the bytes the catalog names?

The copy that stays after iCloud deletes its own is the one in the vault, so that is the one
checked: read once (read-only, never through a link), its sha256 compared with its name in the
catalog, its structure parsed by the vault's own media parser (a truncated or cut-short file, a
movie without its ``moov`` or ``mdat`` box), and images decoded by the vault's one validation
(``photo_vault.thumbnails.validate_image``: JPEG entropy-decoded at 1/8 scale, PNG/TIFF/WebP/GIF
fully decoded, HEIC/HEIF container and headers). ``level="full"`` also decodes a HEIC's primary
image with pillow-heif (about 0.3-0.5 s a photo; libheif reports truncation, not every damaged
HEVC slice, so the default stops at the container). RAW files are checked for structure only.

Results are cached by the report (sha256 + the file's size and mtime), so a file is read once, not
on every run: an original is immutable under its sha256 name, and a changed size or mtime (a
restore, a damaged disk that someone "fixed") makes it checked again. A result that depends on
this machine (an image library missing) is never cached.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import hash_fd
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.analyse import analyse
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import (
    DECODABLE_FORMATS, SMALL_READ, Reader)

LEVELS = ("standard", "full")
HEIF = frozenset({"heic", "heif", "avif"})


def check_original(task: tuple) -> tuple:
    """``task`` = (sha256, path, level). Returns (sha256, size, mtime_ns, ok, reason, cacheable);
    size/mtime_ns are None when the file cannot be read. Never raises."""
    sha, path, level = task
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == 40 else exc.strerror
        return sha, None, None, False, f"the vault's copy cannot be read ({why}): run sovereign.cloud.photo_verify", True
    try:
        info = os.fstat(fd)
        size, mtime_ns = info.st_size, info.st_mtime_ns
        ok, reason, cacheable = _check_fd(fd, sha, size, path, level)
        return sha, size, mtime_ns, ok, reason, cacheable
    except OSError as exc:
        return sha, None, None, False, f"the vault's copy cannot be read ({exc.strerror})", False
    finally:
        os.close(fd)


def _check_fd(fd: int, sha: str, size: int, path: str, level: str) -> tuple[bool, str | None, bool]:
    data = None
    if size <= SMALL_READ:
        data = _read_all(fd, size)
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        reader = Reader(data=data) if data is not None else None
    else:
        digest = hash_fd(fd, size).sha256
        reader = Reader(fd=fd, size=size)
    if reader is None:
        return False, "the vault's copy changed size while it was read", False
    if digest != sha:
        return False, (f"the vault's copy is not the original the catalog names (its sha256 is {digest[:12]}...): "
                       "it is damaged; run sovereign.cloud.photo_verify and restore it from a backup"), True
    media = analyse(reader, path)
    if media is None:
        return False, "the vault's copy is not a photo or video format this collection recognises", True
    if media.problem:
        return False, f"the vault's copy is damaged: {media.problem}", True
    if media.format in DECODABLE_FORMATS:
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails import validate_image
        ok, why = validate_image(data, media.ext, path=None if data is not None else path)
        if ok and why and why.startswith("not checked"):
            return False, (f"it was not decoded ({why}): install Pillow and pillow-heif where the report runs "
                           "(the photo_vault role's Python environment has them)"), False
        if not ok:
            return False, why or "it does not decode", True
        if level == "full" and media.format in HEIF:
            return _decode_heif(data if data is not None else _read_all(fd, size))
    return True, None, True


def _decode_heif(data: bytes | None) -> tuple[bool, str | None, bool]:
    try:
        import pillow_heif  # pylint: disable=import-outside-toplevel
    except ImportError:
        return False, "it was not decoded: pillow-heif is not installed where the report runs", False
    try:
        image = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        _pixels = image[0].data  # decodes the primary image
        return True, None, True
    except Exception as exc:  # pylint: disable=broad-exception-caught
        return False, f"the HEIF image does not decode: {str(exc).strip() or type(exc).__name__}", True


def _read_all(fd: int, size: int) -> bytes | None:
    chunks, got = [], 0
    while True:
        chunk = os.pread(fd, max(size - got, 1 << 16), got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
        if got > size:
            return None
    return b"".join(chunks) if got == size else None
