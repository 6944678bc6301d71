# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""iCloud file names: icloudpd's ``name-id7`` suffix, and the base name a Live Photo's still and
movie share."""

from __future__ import annotations

import base64
import binascii
import os
import re

_ID7_RE = re.compile(r"^(?P<stem>.+)_(?P<id7>[A-Za-z0-9+/_=-]{7})$")
_RECORDNAME_CHARS = re.compile(rb"^[A-Za-z0-9_\-+/=.:]+$")


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


def icloud_base_name(name: str) -> str:
    """The name without icloudpd's id7 suffix (so the id never looks like part of a date)."""
    parsed = parse_icloudpd_name(name)
    return f"{parsed.stem}.{parsed.ext}" if parsed else name
