# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the photo vault holds, read from its catalog: the engine of ``photo_catalog_info``.

``catalog_report(cat)`` returns plain JSON-ready data (counts, bytes, per year/month, per source
root, per device, per date source, live pairs, thumbnails, rejections, and the last verification,
restore drill and ingest), so the module, a by-hand command line and a later HTML report all
show the same figures. Read-only: the catalog's report queries run SELECTs and nothing else.
"""

from __future__ import annotations

import json
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted, human_bytes
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError

UNKNOWN = "unknown"


class ReportError(Exception):
    """The report cannot be made; the message says what to do."""


def camera_name(make: str | None, model: str | None) -> str | None:
    """How photo tools name a camera: "Canon EOS 40D", not "Canon Canon EOS 40D" (the model alone
    when it already starts with the make, case-insensitive), "Apple iPhone 13" otherwise."""
    make, model = (make or "").strip(), (model or "").strip()
    if make and model.lower().startswith(make.lower()):
        return model
    return " ".join(part for part in (make, model) if part) or None


def _grouped(cat: Catalog, grouping: str) -> dict[str, dict[str, int]]:
    return {(key if key not in (None, "") else UNKNOWN): {"count": count, "bytes": size}
            for key, count, size in cat.assets_grouped(grouping)}


def _parse_json(row: dict | None, *keys: str) -> dict | None:
    if row is None:
        return None
    row = dict(row)
    for key in keys:
        if isinstance(row.get(key), str):
            try:
                row[key] = json.loads(row[key])
            except ValueError:
                pass
    return row


def catalog_report(cat: Catalog, thumbs_root: str | None = None) -> dict:
    """Everything ``photo_catalog_info`` returns (see its RETURN documentation)."""
    total = cat.asset_totals()
    report: dict = {
        "catalog": {"backend": cat.backend, "location": cat.location, "schema_version": cat.meta("schema_version"),
                    "vault_id": cat.meta("vault_id"), "created_at": cat.meta("created_at")},
        "assets": total["count"],
        "bytes": total["bytes"],
        "taken_range": {"first": total["first"], "last": total["last"]},
        "per_media_type": _grouped(cat, "media_type"),
        "per_format": _grouped(cat, "format"),
        "per_year": _grouped(cat, "year"),
        "per_month": _grouped(cat, "month"),
        "per_date_source": _grouped(cat, "date_source"),
    }
    report["images"] = report["per_media_type"].get("image", {}).get("count", 0)
    report["videos"] = report["per_media_type"].get("video", {}).get("count", 0)
    report["per_device"] = [{**device, "camera": camera_name(device["make"], device["model"])}
                            for device in cat.assets_per_device()]
    report["per_source"] = cat.assets_per_source_root()
    report["source_paths"] = cat.source_path_count()
    report.update(cat.asset_flags())
    report["thumbnails"] = _thumbnail_counts(cat, report["assets"], thumbs_root)
    rejected = cat.rejection_reasons()
    report["rejected"] = sum(count for _reason, count in rejected)
    report["rejected_reasons"] = dict(rejected[:20])
    report["verification"] = cat.verification_coverage()
    report["last_verification"] = _parse_json(cat.last_verify_run(), "params")
    report["last_restore_drill"] = _parse_json(cat.last_restore_drill(), "detail")
    report["last_ingest"] = _parse_json(cat.last_ingest_run(), "sources")
    report["summary"] = summarise(report)
    return report


def _thumbnail_counts(cat: Catalog, assets: int, thumbs_root: str | None) -> dict:
    """Per thumbnails root: assets with status ok / skipped / failed, and ``missing`` (none recorded)."""
    out: dict[str, dict[str, int]] = {}
    if thumbs_root:
        out[thumbs_root] = {}
    for root, status, count in cat.thumbnail_state_counts(thumbs_root):
        out.setdefault(root, {})[status] = count
    for counts in out.values():
        for status in ("ok", "skipped", "failed"):
            counts.setdefault(status, 0)
        counts["missing"] = max(0, assets - sum(counts.values()))
    return out


def summarise(report: dict) -> str:
    """One line for the end-of-run summary."""
    text = (f"{counted(report['assets'], 'asset')} ({counted(report['images'], 'photo')}, "
            f"{counted(report['videos'], 'video')}, {human_bytes(report['bytes'])})")
    if report["taken_range"]["first"]:
        text += f" from {report['taken_range']['first'][:4]} to {report['taken_range']['last'][:4]}"
    text += f", {counted(report['live_pairs'], 'live photo')}, {report['rejected']} rejected"
    last = report["last_verification"]
    if last:
        text += (f"; last verification {last['finished_at']} ({last['mode']}, {last['checked']} checked, "
                 f"{last['result']})")
    else:
        text += "; never verified: run sovereign.cloud.photo_verify"
    drill = report["last_restore_drill"]
    if drill:
        text += f"; last restore drill {drill['performed_at']} ({'passed' if drill['passed'] else 'FAILED'})"
    return text


def catalog_info(vault: str | None, catalog: str | None = None, thumbs_root: str | None = None) -> dict:
    """Open the catalog read-only (never created, never written) and report on it."""
    if not vault and not catalog:
        raise ReportError("give the vault (SQLite catalog inside it) or the catalog option")
    thumbs_root = os.path.abspath(thumbs_root) if thumbs_root else None
    try:
        # Read-only: nothing is written, not even SQLite's -wal/-shm files; works on a read-only mount.
        with Catalog.open(vault or "", catalog, readonly=True) as cat:
            report = catalog_report(cat, thumbs_root)
            report["warnings"] = list(cat.warnings)
            return report
    except CatalogError as exc:
        raise ReportError(str(exc)) from exc
