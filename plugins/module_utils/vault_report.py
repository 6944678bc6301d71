# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the photo vault holds, read from its catalog: the engine of ``photo_catalog_info``.

``catalog_report(cat)`` returns plain JSON-ready data (counts, bytes, per year/month, per source
root, per device, per date source, live pairs, thumbnails, rejections, and the last verification,
restore drill and ingest), so the module, a by-hand command line and a later HTML report all
show the same figures. Read-only: it runs SELECTs and nothing else. The same SQL runs on SQLite
and PostgreSQL (``substr`` on the ISO text dates; sums are cast back to ``int`` because
PostgreSQL returns ``numeric`` for ``SUM(bigint)``).
"""

from __future__ import annotations

import json
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.vault_catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.vault_text import counted, human_bytes

UNKNOWN = "unknown"


class ReportError(Exception):
    """The report cannot be made; the message says what to do."""


def _int(value) -> int:
    return int(value or 0)


def _grouped(cat: Catalog, expression: str, where: str = "") -> dict[str, dict[str, int]]:
    rows = cat.query(f"SELECT {expression} AS k, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM assets "
                     f"{where} GROUP BY {expression} ORDER BY {expression}")
    return {(row["k"] if row["k"] not in (None, "") else UNKNOWN): {"count": _int(row["n"]), "bytes": _int(row["b"])}
            for row in rows}


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
    total = cat.query("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b, MIN(taken_at) AS first, "
                      "MAX(taken_at) AS last FROM assets")[0]
    report: dict = {
        "catalog": {"backend": cat.backend, "location": cat.location, "schema_version": cat.meta("schema_version"),
                    "vault_id": cat.meta("vault_id"), "created_at": cat.meta("created_at")},
        "assets": _int(total["n"]),
        "bytes": _int(total["b"]),
        "taken_range": {"first": total["first"], "last": total["last"]},
        "per_media_type": _grouped(cat, "media_type"),
        "per_format": _grouped(cat, "format"),
        "per_year": _grouped(cat, "substr(taken_at, 1, 4)"),
        "per_month": _grouped(cat, "substr(taken_at, 1, 7)"),
        "per_date_source": _grouped(cat, "date_source"),
    }
    report["images"] = report["per_media_type"].get("image", {}).get("count", 0)
    report["videos"] = report["per_media_type"].get("video", {}).get("count", 0)

    devices = cat.query("SELECT make, model, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM assets "
                        "GROUP BY make, model ORDER BY COUNT(*) DESC, make, model")
    report["per_device"] = [{"make": row["make"], "model": row["model"], "count": _int(row["n"]),
                             "bytes": _int(row["b"])} for row in devices]

    # Per source root: the distinct photos each watched folder contributed (one photo can come from several).
    roots = cat.query("SELECT s.root AS root, COUNT(*) AS n, COALESCE(SUM(a.size), 0) AS b FROM assets a "
                      "JOIN (SELECT DISTINCT root, sha256 FROM sources) s ON s.sha256 = a.sha256 "
                      "GROUP BY s.root ORDER BY s.root")
    report["per_source"] = {row["root"]: {"count": _int(row["n"]), "bytes": _int(row["b"])} for row in roots}
    report["source_paths"] = _int(cat.query("SELECT COUNT(*) AS n FROM sources")[0]["n"])

    flags = cat.query(
        "SELECT COALESCE(SUM(CASE WHEN from_iphone = 1 THEN 1 ELSE 0 END), 0) AS iphone, "
        "COALESCE(SUM(CASE WHEN live_pair_sha256 IS NOT NULL AND media_type = 'image' THEN 1 ELSE 0 END), 0) AS live, "
        "COALESCE(SUM(CASE WHEN gps_lat IS NOT NULL THEN 1 ELSE 0 END), 0) AS gps, "
        "COALESCE(SUM(CASE WHEN icloud_asset_id IS NOT NULL OR icloud_master_id IS NOT NULL THEN 1 ELSE 0 END), 0) "
        "AS icloud FROM assets")[0]
    report["from_iphone"] = _int(flags["iphone"])
    report["live_pairs"] = _int(flags["live"])
    report["with_gps"] = _int(flags["gps"])
    report["with_icloud_ids"] = _int(flags["icloud"])

    report["thumbnails"] = _thumbnail_counts(cat, report["assets"], thumbs_root)

    rejected = cat.query("SELECT reason, COUNT(*) AS n FROM rejections GROUP BY reason ORDER BY COUNT(*) DESC, reason")
    report["rejected"] = sum(_int(row["n"]) for row in rejected)
    report["rejected_reasons"] = {row["reason"]: _int(row["n"]) for row in rejected[:20]}

    coverage = cat.query(
        "SELECT COALESCE(SUM(CASE WHEN last_verified_at IS NULL THEN 1 ELSE 0 END), 0) AS never, "
        "COALESCE(SUM(CASE WHEN last_verify_status IS NOT NULL AND last_verify_status <> 'ok' THEN 1 ELSE 0 END), 0) "
        "AS bad, MIN(last_verified_at) AS oldest FROM assets")[0]
    report["verification"] = {"never_verified": _int(coverage["never"]), "last_status_not_ok": _int(coverage["bad"]),
                              "oldest_verification": coverage["oldest"]}
    report["last_verification"] = _parse_json(cat.last_verify_run(), "params")
    report["last_restore_drill"] = _parse_json(cat.last_restore_drill(), "detail")
    last_ingest = cat.query("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT 1")
    report["last_ingest"] = _parse_json(last_ingest[0] if last_ingest else None, "sources")
    report["summary"] = summarise(report)
    return report


def _thumbnail_counts(cat: Catalog, assets: int, thumbs_root: str | None) -> dict:
    """Per thumbnails root: assets with status ok / skipped / failed, and ``missing`` (none recorded)."""
    where, params = ("WHERE thumbs_root = ?", (thumbs_root,)) if thumbs_root else ("", ())
    rows = cat.query(f"SELECT thumbs_root, status, COUNT(*) AS n FROM thumbnail_status {where} "
                     "GROUP BY thumbs_root, status ORDER BY thumbs_root, status", params)
    out: dict[str, dict[str, int]] = {}
    if thumbs_root:
        out[thumbs_root] = {}
    for row in rows:
        out.setdefault(row["thumbs_root"], {})[row["status"]] = _int(row["n"])
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
