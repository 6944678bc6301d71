# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``to_plist`` filter: a mapping as an XML property list (launchd jobs, preferences)."""

from __future__ import annotations

import datetime
import plistlib
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _plain(value, where: str):
    """The value as the plain types plistlib writes (Ansible hands over its own str/dict subclasses)."""
    if value is None:
        raise AnsibleFilterError(f"to_plist: {where} is null; a property list has no null (drop the key instead)")
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise AnsibleFilterError(f"to_plist: key {key!r} in {where} is not a string; plist keys are strings")
            out[str(key)] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise AnsibleFilterError(f"to_plist: {where} is a {type(value).__name__}, which a property list cannot hold")


def to_plist(data, sort_keys: bool = True) -> str:
    """``data`` (a mapping) as an XML property list, the format launchd and ``plutil -lint`` accept."""
    if not isinstance(data, Mapping):
        raise AnsibleFilterError(f"to_plist: expects a mapping at the top, got a {type(data).__name__}")
    return plistlib.dumps(_plain(data, "the top"), fmt=plistlib.FMT_XML, sort_keys=sort_keys).decode("utf-8")


class FilterModule:
    """sovereign.cloud filters."""

    def filters(self):
        return {"to_plist": to_plist}
