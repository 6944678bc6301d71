# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The names a vault uses on disk, in one place.

::

    <vault>/originals/YYYY/MM/DD/<sha256>.<ext>   the originals, never replaced
    <vault>/originals/YYYY/MM/DD/<sha256>.xmp     their sidecars
    <vault>/thumbs/                               thumbnails (unless thumbs_root is elsewhere)
    <vault>/catalog.sqlite                        the SQLite catalog (unless catalog is elsewhere)
    <vault>/.sovereign-ingest/                    the ingest's claims and per-run state
    <vault>/.sovereign-ingest.lock                one ingest at a time
    <vault>/.sovereign-vault                      the vault id (the catalog's), so that an empty mount point is never taken for the vault
"""

from __future__ import annotations

import os

ORIGINALS = "originals"
THUMBS = "thumbs"
SQLITE_NAME = "catalog.sqlite"
STATE_DIR = ".sovereign-ingest"
LOCK_NAME = ".sovereign-ingest.lock"
MARKER_NAME = ".sovereign-vault"


def state_dirs(vault: str) -> tuple[str, str, str]:
    """The ingest's state directory, its claims and its per-run directories."""
    state = os.path.join(vault, STATE_DIR)
    return state, os.path.join(state, "claims"), os.path.join(state, "runs")
