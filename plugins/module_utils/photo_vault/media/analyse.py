# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The entry point of the media package: :func:`analyse` recognises a file by its content
and hands it to its format's parser."""

from __future__ import annotations

import datetime as _dt
import os
import struct

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.exif import parse_tiff_file
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import (
    FORMATS, Damaged, Media, Reader)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.isobmff import (
    parse_cr3, parse_heif, parse_movie)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.raster import (
    parse_avi, parse_gif, parse_jpeg, parse_png, parse_raf, parse_webp)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sniff import sniff


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
            parse_jpeg(media, reader, now)
        elif fmt in ("heic", "heif", "avif"):
            parse_heif(media, reader, now)
        elif fmt == "cr3":
            parse_cr3(media, reader, now)
        elif fmt in ("mov", "mp4", "m4v", "3gp"):
            parse_movie(media, reader, now)
        elif fmt == "png":
            parse_png(media, reader, now)
        elif fmt == "gif":
            parse_gif(media, reader, now)
        elif fmt == "webp":
            parse_webp(media, reader, now)
        elif fmt in ("tiff", "cr2", "orf", "rw2"):
            parse_tiff_file(media, reader, name_ext, now)
        elif fmt == "avi":
            parse_avi(media, reader, now)
        elif fmt == "raf":
            parse_raf(media, reader, now)
    except Damaged as exc:
        media.problem = str(exc)
    except (struct.error, ValueError, IndexError, OverflowError) as exc:
        media.problem = f"corrupt {FORMATS[fmt][0].upper()} structure ({exc})"
    return media
