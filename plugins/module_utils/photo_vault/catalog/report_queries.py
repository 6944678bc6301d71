# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The read-only queries behind ``photo_catalog_info`` and ``sovereign-photos info``: counts and
bytes per media type, format, year, month, date source, device and source root, flags, thumbnail
states, rejections and verification coverage. SELECTs only; the same SQL runs on SQLite and
PostgreSQL (``substr`` on the ISO text dates; sums are cast back to ``int`` because PostgreSQL
returns ``numeric`` for ``SUM(bigint)``)."""

from __future__ import annotations

# What assets can be grouped by (a fixed set: no caller passes SQL in).
GROUPINGS = {
    "media_type": "media_type",
    "format": "format",
    "year": "substr(taken_at, 1, 4)",
    "month": "substr(taken_at, 1, 7)",
    "date_source": "date_source",
}


def _int(value) -> int:
    return int(value or 0)


class ReportQueries:
    """Mixed into :class:`.store.Catalog`; needs its ``query``."""

    def query(self, statement: str, params: tuple | list = ()) -> list[dict]:  # pragma: no cover
        raise NotImplementedError

    def asset_totals(self) -> dict:
        """{count, bytes, first, last}: every asset, and the first and last capture date."""
        row = self.query("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b, MIN(taken_at) AS first, "
                         "MAX(taken_at) AS last FROM assets")[0]
        return {"count": _int(row["n"]), "bytes": _int(row["b"]), "first": row["first"], "last": row["last"]}

    def assets_grouped(self, grouping: str) -> list[tuple[str | None, int, int]]:
        """(key, count, bytes) per value of ``grouping`` (a key of :data:`GROUPINGS`), in key order."""
        expression = GROUPINGS[grouping]
        rows = self.query(f"SELECT {expression} AS k, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM assets "
                          f"GROUP BY {expression} ORDER BY {expression}")
        return [(row["k"], _int(row["n"]), _int(row["b"])) for row in rows]

    def assets_per_device(self) -> list[dict]:
        """{make, model, count, bytes}, the most used camera first."""
        rows = self.query("SELECT make, model, COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM assets "
                          "GROUP BY make, model ORDER BY COUNT(*) DESC, make, model")
        return [{"make": row["make"], "model": row["model"], "count": _int(row["n"]), "bytes": _int(row["b"])}
                for row in rows]

    def assets_per_source_root(self) -> dict[str, dict[str, int]]:
        """root -> {count, bytes}: the distinct photos each watched folder contributed (one photo can come from
        several)."""
        rows = self.query("SELECT s.root AS root, COUNT(*) AS n, COALESCE(SUM(a.size), 0) AS b FROM assets a "
                          "JOIN (SELECT DISTINCT root, sha256 FROM sources) s ON s.sha256 = a.sha256 "
                          "GROUP BY s.root ORDER BY s.root")
        return {row["root"]: {"count": _int(row["n"]), "bytes": _int(row["b"])} for row in rows}

    def source_path_count(self) -> int:
        return _int(self.query("SELECT COUNT(*) AS n FROM sources")[0]["n"])

    def asset_flags(self) -> dict[str, int]:
        """How many assets come from an iPhone, are the still of a Live Photo, carry GPS, carry iCloud ids."""
        row = self.query(
            "SELECT COALESCE(SUM(CASE WHEN from_iphone = 1 THEN 1 ELSE 0 END), 0) AS iphone, "
            "COALESCE(SUM(CASE WHEN live_pair_sha256 IS NOT NULL AND media_type = 'image' THEN 1 ELSE 0 END), 0) "
            "AS live, "
            "COALESCE(SUM(CASE WHEN gps_lat IS NOT NULL THEN 1 ELSE 0 END), 0) AS gps, "
            "COALESCE(SUM(CASE WHEN icloud_asset_id IS NOT NULL OR icloud_master_id IS NOT NULL THEN 1 ELSE 0 END), 0) "
            "AS icloud FROM assets")[0]
        return {"from_iphone": _int(row["iphone"]), "live_pairs": _int(row["live"]), "with_gps": _int(row["gps"]),
                "with_icloud_ids": _int(row["icloud"])}

    def thumbnail_state_counts(self, thumbs_root: str | None = None) -> list[tuple[str, str, int]]:
        """(thumbs_root, status, assets) for one thumbnails root, or all of them."""
        where, params = ("WHERE thumbs_root = ?", (thumbs_root,)) if thumbs_root else ("", ())
        rows = self.query(f"SELECT thumbs_root, status, COUNT(*) AS n FROM thumbnail_status {where} "
                          "GROUP BY thumbs_root, status ORDER BY thumbs_root, status", params)
        return [(row["thumbs_root"], row["status"], _int(row["n"])) for row in rows]

    def rejection_reasons(self) -> list[tuple[str, int]]:
        """(reason, inputs) for every rejection reason, the most common first."""
        rows = self.query("SELECT reason, COUNT(*) AS n FROM rejections GROUP BY reason ORDER BY COUNT(*) DESC, reason")
        return [(row["reason"], _int(row["n"])) for row in rows]

    def verification_coverage(self) -> dict:
        """{never_verified, last_status_not_ok, oldest_verification}."""
        row = self.query(
            "SELECT COALESCE(SUM(CASE WHEN last_verified_at IS NULL THEN 1 ELSE 0 END), 0) AS never, "
            "COALESCE(SUM(CASE WHEN last_verify_status IS NOT NULL AND last_verify_status <> 'ok' THEN 1 ELSE 0 END), "
            "0) AS bad, MIN(last_verified_at) AS oldest FROM assets")[0]
        return {"never_verified": _int(row["never"]), "last_status_not_ok": _int(row["bad"]),
                "oldest_verification": row["oldest"]}

    def last_ingest_run(self) -> dict | None:
        rows = self.query("SELECT * FROM ingest_runs ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None
