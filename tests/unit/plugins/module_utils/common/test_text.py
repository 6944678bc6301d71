# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How sizes and durations read in summaries and progress lines."""

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted, human_bytes, human_duration


@pytest.mark.parametrize("size, text", [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (4_900_000, "4.9 MB"),
    (512 * 10 ** 9, "512.0 GB"), (2 * 10 ** 12, "2.0 TB"), (3 * 10 ** 18, "3000.0 PB"),
])
def test_sizes_in_decimal_units(size, text):
    assert human_bytes(size) == text


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (185, "3 min 05 s"), (7620, "2 h 07 min"),
])
def test_durations(seconds, text):
    assert human_duration(seconds) == text


def test_counted_nouns():
    assert counted(1, "photo") == "1 photo"
    assert counted(0, "photo") == "0 photos"
    assert counted(2, "new photo/video", "new photos/videos") == "2 new photos/videos"
