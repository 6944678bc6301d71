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
    <vault>/.sovereign-*                          any other state of the vault (temp dirs)

Anything else under the vault root is not the vault's: a watched folder may live there (the
picture_pipeline example watches ``<vault>/icloud-sync``), see :func:`owned_by_vault`.
"""

from __future__ import annotations

import os

ORIGINALS = "originals"
THUMBS = "thumbs"
SQLITE_NAME = "catalog.sqlite"
STATE_DIR = ".sovereign-ingest"
LOCK_NAME = ".sovereign-ingest.lock"
# Every name the vault keeps its own state under starts so (the ingest state, its lock, the marker).
STATE_PREFIX = ".sovereign"
MARKER_NAME = ".sovereign-vault"


def state_dirs(vault: str) -> tuple[str, str, str]:
    """The ingest's state directory, its claims and its per-run directories."""
    state = os.path.join(vault, STATE_DIR)
    return state, os.path.join(state, "claims"), os.path.join(state, "runs")


def owned_by_vault(path: str, vault: str, thumbs_root: str | None = None, catalog: str | None = None) -> str | None:
    """What of the vault's own ``path`` is (originals, thumbnails, catalog, state), or None when it
    is not the vault's: a folder the vault does not write, which may be watched. Real paths are
    compared, so a symlink to ``originals/`` is ``originals/``."""
    real = os.path.realpath(path)
    vault_real = os.path.realpath(vault)

    def within(parent: str) -> bool:
        parent = os.path.realpath(parent)
        return real == parent or real.startswith(parent.rstrip("/") + "/")

    if real == vault_real:
        return "the vault itself"
    if thumbs_root and within(thumbs_root):
        return "its thumbnails"
    if catalog and not catalog.startswith(("postgresql://", "postgres://")) and within(catalog):
        return "its catalog"
    if not within(vault_real):
        return None
    top = os.path.relpath(real, vault_real).split("/", 1)[0]
    if top == ORIGINALS:
        return "its originals"
    if top == THUMBS:
        return "its thumbnails"
    if top.startswith(SQLITE_NAME):
        return "its catalog"
    if top.startswith(STATE_PREFIX):
        return "its state (locks, claims, temp files)"
    return None
