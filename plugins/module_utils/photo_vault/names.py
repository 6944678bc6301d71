# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File names and paths as the vault writes them down (catalog rows, XMP sidecars, results).

A Linux file name is bytes; old cameras, Windows and SMB shares leave names that are not UTF-8
(Latin-1 ``b'\\xe9t\\xe9.jpg'``). Python hands them over surrogate-escaped, which neither
PostgreSQL text nor XML can hold. So a path is written as :func:`escape_path` gives it:

* valid UTF-8 without a backslash (nearly every name): the text itself, unchanged;
* anything else: every byte that is not UTF-8 as ``\\xNN`` (lower-case hex) and every backslash
  as ``\\\\``; so ``b'\\xe9t\\xe9.jpg'`` is written ``\\xe9t\\xe9.jpg``.

The escaping is lossless and unambiguous (an escaped text always holds a backslash, a text kept
as it was never does): :func:`unescape_path` gives back the exact bytes (as the surrogate-escaped
str that ``open()`` takes), and the written form is plain readable text.
"""

from __future__ import annotations

import os
import re

_ESCAPE = re.compile(r"\\(\\|x[0-9a-fA-F]{2})")


def escape_path(path: str) -> str:
    """``path`` (a str from the OS, surrogate-escaped) as the vault writes it: valid UTF-8 text."""
    if path.isascii() and "\\" not in path:
        return path
    raw = os.fsencode(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\\" not in text:
        return text
    # 0x5c never occurs inside a multi-byte UTF-8 sequence: doubling it first keeps \xNN unambiguous
    return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def unescape_path(text: str) -> str:
    """The path that :func:`escape_path` wrote as ``text`` (surrogate-escaped, as ``open()`` takes it)."""
    if "\\" not in text:
        return text

    def byte(match: re.Match) -> bytes:
        token = match.group(1)
        return b"\\" if token == "\\" else bytes([int(token[1:], 16)])

    out, last = bytearray(), 0
    for match in _ESCAPE.finditer(text):
        out += text[last:match.start()].encode("utf-8")
        out += byte(match)
        last = match.end()
    out += text[last:].encode("utf-8")
    return os.fsdecode(bytes(out))
