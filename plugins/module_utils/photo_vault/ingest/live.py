# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Live Photos: pairing a still with its short movie once both are in the vault, by Apple's
ContentIdentifier first, else by an unambiguous shared base name in the same folder."""

from __future__ import annotations

import os

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import live_photo_key

LIVE_PHOTO_MAX_SECONDS = 10.0
STILL_FORMATS = frozenset({"jpeg", "heic", "heif"})
LIVE_MOVIE_FORMATS = frozenset({"mov", "mp4"})


def find_live_pairs(rows, new_shas: set | None) -> list[tuple[str, str]]:
    """(still sha256, movie sha256) pairs among unpaired assets. ``rows``: dicts with sha256,
    format, content_identifier, duration, path (one per source path). Apple ContentIdentifier
    first; else the same base name in the same folder (icloudpd ``IMG_1.HEIC`` + ``IMG_1.MOV`` or
    ``IMG_1_HEVC.MOV``), when it is unambiguous, the identifiers do not disagree and the movie is
    short. ``new_shas``: only pairs touching these (None: all)."""
    info: dict[str, dict] = {}
    for row in rows:
        entry = info.setdefault(row["sha256"], {"format": row["format"], "cid": row.get("content_identifier"),
                                                "duration": row.get("duration"), "paths": []})
        entry["paths"].append(row["path"])
    used: set[str] = set()
    pairs: list[tuple[str, str]] = []

    def still(sha):
        return info[sha]["format"] in STILL_FORMATS

    def movie(sha):
        return info[sha]["format"] in LIVE_MOVIE_FORMATS

    def wanted(a, b):
        return new_shas is None or a in new_shas or b in new_shas

    by_cid: dict[str, list[str]] = {}
    for sha, entry in info.items():
        if entry["cid"]:
            by_cid.setdefault(entry["cid"], []).append(sha)
    for cid in sorted(by_cid):
        shas = by_cid[cid]
        stills, movies = [s for s in shas if still(s)], [s for s in shas if movie(s)]
        if len(stills) == 1 and len(movies) == 1 and wanted(stills[0], movies[0]):
            pairs.append((stills[0], movies[0]))
            used.update((stills[0], movies[0]))
    by_name: dict[tuple[str, str], set[str]] = {}
    for sha, entry in info.items():
        if sha in used:
            continue
        for path in entry["paths"]:
            key = (os.path.dirname(path), live_photo_key(os.path.basename(path)))
            by_name.setdefault(key, set()).add(sha)
    for key in sorted(by_name):
        shas = [s for s in by_name[key] if s not in used]
        stills, movies = [s for s in shas if still(s)], [s for s in shas if movie(s)]
        if len(stills) != 1 or len(movies) != 1:
            continue
        a, b = stills[0], movies[0]
        cid_a, cid_b = info[a]["cid"], info[b]["cid"]
        duration = info[b]["duration"]
        if cid_a and cid_b and cid_a != cid_b:
            continue
        if duration is not None and duration > LIVE_PHOTO_MAX_SECONDS:
            continue
        if wanted(a, b):
            pairs.append((a, b))
            used.update((a, b))
    return pairs
