# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The catalog's domain: what the vault holds (assets, keyed by sha256), every source path ever
seen, rejected inputs, thumbnails, verification runs, restore drills and ingest runs; every
query an engine needs is a method here, so that no SQL lives outside this package."""

from __future__ import annotations

import json
import random

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.connection import (
    Connection, path_key, utc_now)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.report_queries import ReportQueries
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.schema import ASSET_COLUMNS


class Catalog(Connection, ReportQueries):
    """One vault's catalog. Use :meth:`open`; close it (or use ``with``)."""

    # ------------------------------------------------------------------ assets
    def get_asset(self, sha256: str) -> dict | None:
        rows = self.query("SELECT * FROM assets WHERE sha256 = ?", (sha256,))
        return rows[0] if rows else None

    def asset_paths(self) -> dict[str, str]:
        """sha256 -> rel_path for every asset (verification and rescans)."""
        return dict(self.execute("SELECT sha256, rel_path FROM assets").fetchall())

    def add_asset(self, record: dict) -> None:
        """Insert an asset; an existing sha256 keeps its row (originals are never re-filed)."""
        values = [record.get(name) for name in ASSET_COLUMNS]
        values[ASSET_COLUMNS.index("from_iphone")] = int(bool(record.get("from_iphone")))
        placeholders = ", ".join("?" for _column in ASSET_COLUMNS)
        self.execute(f"INSERT INTO assets ({', '.join(ASSET_COLUMNS)}) VALUES ({placeholders}) "
                     "ON CONFLICT (sha256) DO NOTHING", values)

    def update_asset(self, sha256: str, **fields) -> None:
        """Update selected columns of an asset (live-photo pair, iCloud ids, verification)."""
        unknown = set(fields) - set(ASSET_COLUMNS)
        if unknown:
            raise ValueError(f"unknown asset columns: {sorted(unknown)}")
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self.execute(f"UPDATE assets SET {assignments} WHERE sha256 = ?", [*fields.values(), sha256])

    def count_assets(self) -> int:
        return int(self.execute("SELECT COUNT(*) FROM assets").fetchone()[0])

    def sample_asset_paths(self, limit: int) -> list[str]:
        """The rel_path of up to ``limit`` assets (the vault's identity check looks for them on disk)."""
        return [row[0] for row in self.execute("SELECT rel_path FROM assets ORDER BY sha256 LIMIT ?", (int(limit),)).fetchall()]

    def asset_digests(self) -> list[str]:
        """The sha256 of every asset (the ingest's set of known contents)."""
        return [row[0] for row in self.execute("SELECT sha256 FROM assets").fetchall()]

    def asset_files(self) -> dict[str, dict]:
        """sha256 -> {sha256, rel_path, sidecar_rel_path, size} of every asset (what verification expects on disk)."""
        return {row["sha256"]: row for row in self.query("SELECT sha256, rel_path, sidecar_rel_path, size FROM assets")}

    def original_sizes(self) -> list[tuple[str, str, int]]:
        """(sha256, rel_path, size) of every asset as plain tuples: ingest's per-run existence check."""
        return self.execute("SELECT sha256, rel_path, size FROM assets").fetchall()

    def assets_for_thumbnails(self, fields) -> list[dict]:
        """``fields`` (asset columns) of every asset, the most recently taken first (what a person looks at first)."""
        unknown = set(fields) - set(ASSET_COLUMNS)
        if unknown:
            raise ValueError(f"unknown asset columns: {sorted(unknown)}")
        return self.query(f"SELECT {', '.join(fields)} FROM assets ORDER BY taken_at DESC, sha256")

    def live_photo_candidates(self) -> list[dict]:
        """{sha256, format, content_identifier, duration, path}: one row per source path of every still or movie
        that is not paired yet."""
        return self.query(
            "SELECT a.sha256, a.format, a.content_identifier, a.duration, s.path FROM assets a "
            "JOIN sources s ON s.sha256 = a.sha256 WHERE a.live_pair_sha256 IS NULL AND a.format IN "
            "('jpeg', 'heic', 'heif', 'mov', 'mp4')")

    # ------------------------------------------------------------------ sources
    def source_index(self) -> dict[str, tuple[int, int, str]]:
        """path -> (size, mtime_ns, sha256) of the most recent content seen at each path."""
        # One pass without sorting (most paths have one row), then the few paths that held several
        # contents, most recent last. Half the time of a sorted scan on 50,000 rows.
        rows = self.execute("SELECT path, size, mtime_ns, sha256 FROM sources").fetchall()
        index: dict[str, tuple[int, int, str]] = {path: (size, mtime_ns, sha256) for path, size, mtime_ns, sha256 in rows}
        if len(index) < len(rows):
            for path, size, mtime_ns, sha256 in self.execute(
                    "SELECT path, size, mtime_ns, sha256 FROM sources WHERE path IN "
                    "(SELECT path FROM sources GROUP BY path HAVING COUNT(*) > 1) ORDER BY last_seen, id").fetchall():
                index[path] = (size, mtime_ns, sha256)
        return index

    def record_source(self, path: str, root: str, size: int, mtime_ns: int, sha256: str,
                      seen_at: str | None = None, icloud_asset_id: str | None = None,
                      icloud_master_id: str | None = None) -> None:
        """Remember that ``path`` held ``sha256`` (the asset row must exist)."""
        seen_at = seen_at or utc_now()
        self.execute(
            "INSERT INTO sources (path, root, size, mtime_ns, sha256, first_seen, last_seen, icloud_asset_id, "
            "icloud_master_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path, sha256) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, last_seen = excluded.last_seen, "
            "root = excluded.root, "
            "icloud_asset_id = COALESCE(excluded.icloud_asset_id, sources.icloud_asset_id), "
            "icloud_master_id = COALESCE(excluded.icloud_master_id, sources.icloud_master_id)",
            (path_key(path), root, size, mtime_ns, sha256, seen_at, seen_at, icloud_asset_id, icloud_master_id))

    def sources_of(self, sha256: str) -> list[dict]:
        return self.query("SELECT * FROM sources WHERE sha256 = ? ORDER BY first_seen, id", (sha256,))

    # ------------------------------------------------------------------ rejections
    def rejection_index(self) -> dict[str, tuple[int, int, str]]:
        """path -> (size, mtime_ns, reason) for inputs rejected before."""
        cur = self.execute("SELECT path, size, mtime_ns, reason FROM rejections")
        return {path: (size, mtime_ns, reason) for path, size, mtime_ns, reason in cur.fetchall()}

    def record_rejection(self, path: str, root: str, size: int, mtime_ns: int, reason: str,
                         seen_at: str | None = None) -> None:
        seen_at = seen_at or utc_now()
        self.execute(
            "INSERT INTO rejections (path, root, size, mtime_ns, reason, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
            "mtime_ns = excluded.mtime_ns, reason = excluded.reason, last_seen = excluded.last_seen, "
            "root = excluded.root",
            (path_key(path), root, size, mtime_ns, reason, seen_at, seen_at))

    def clear_rejection(self, path: str) -> None:
        self.execute("DELETE FROM rejections WHERE path = ?", (path_key(path),))

    # ------------------------------------------------------------------ thumbnails
    def thumbnail_index(self, thumbs_root: str) -> dict[str, tuple[str, str]]:
        """sha256 -> (status, settings) of the thumbnails under ``thumbs_root``."""
        cur = self.execute("SELECT sha256, status, settings FROM thumbnail_status WHERE thumbs_root = ?",
                           (thumbs_root,))
        return {sha: (status, settings) for sha, status, settings in cur.fetchall()}

    def thumbnail_records(self, thumbs_root: str) -> dict[str, tuple[str, str, str]]:
        """sha256 -> (status, settings, reason or '') of the thumbnails under ``thumbs_root``."""
        cur = self.execute("SELECT sha256, status, settings, reason FROM thumbnail_status WHERE thumbs_root = ?",
                           (thumbs_root,))
        return {sha: (status, settings, reason or "") for sha, status, settings, reason in cur.fetchall()}

    def recorded_thumbnail_sizes(self, thumbs_root: str) -> dict[str, set[str]]:
        """sha256 -> the size names (``medium``, ...) recorded as made under ``thumbs_root``."""
        recorded: dict[str, set[str]] = {}
        for sha, name in self.execute("SELECT sha256, size_name FROM thumbnails WHERE thumbs_root = ?",
                                      (thumbs_root,)).fetchall():
            recorded.setdefault(sha, set()).add(name)
        return recorded

    def record_thumbnails(self, sha256: str, thumbs_root: str, status: str, settings: str,
                          sizes: dict[str, tuple[int, int, int]] | None = None, reason: str | None = None) -> None:
        """Record the outcome for one asset: status ok|skipped|failed, ``sizes`` name -> (w, h, bytes)."""
        now = utc_now()
        with self.transaction():
            self.execute(
                "INSERT INTO thumbnail_status (sha256, thumbs_root, status, reason, settings, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256, thumbs_root) DO UPDATE SET status = excluded.status, "
                "reason = excluded.reason, settings = excluded.settings, updated_at = excluded.updated_at",
                (sha256, thumbs_root, status, reason, settings, now))
            self.execute("DELETE FROM thumbnails WHERE sha256 = ? AND thumbs_root = ?", (sha256, thumbs_root))
            self.executemany(
                "INSERT INTO thumbnails (sha256, thumbs_root, size_name, width, height, bytes) VALUES (?, ?, ?, ?, ?, ?)",
                [(sha256, thumbs_root, name, w, h, n) for name, (w, h, n) in (sizes or {}).items()])

    # ------------------------------------------------------------------ verification
    def verification_order(self) -> list[tuple[str, str, int]]:
        """(sha256, rel_path, size) of every asset, least recently verified (never first)."""
        return [tuple(row) for row in self.execute(
            "SELECT sha256, rel_path, size FROM assets "
            "ORDER BY CASE WHEN last_verified_at IS NULL THEN 0 ELSE 1 END, last_verified_at, sha256").fetchall()]

    def start_verify_run(self, mode: str, params: dict) -> int:
        return self._insert_returning_id(
            "INSERT INTO verify_runs (started_at, mode, params) VALUES (?, ?, ?)",
            (utc_now(), mode, json.dumps(params, sort_keys=True)))

    def finish_verify_run(self, run_id: int, counts: dict, problems: list[dict],
                          verified: list[tuple[str, str]]) -> None:
        """Close a run: ``counts`` (checked, checked_bytes, ok, corrupt, missing, unknown,
        missing_sidecars, missing_thumbnails), ``problems`` ({sha256, path, status, detail}) and
        ``verified`` (sha256, status) pairs that update each asset's last verification."""
        now = utc_now()
        keys = ("checked", "checked_bytes", "ok", "corrupt", "missing", "unknown",
                "missing_sidecars", "missing_thumbnails")
        result = "ok" if not problems else "problems"
        with self.transaction():
            self.execute(
                f"UPDATE verify_runs SET finished_at = ?, {', '.join(f'{k} = ?' for k in keys)}, result = ? WHERE id = ?",
                (now, *[int(counts.get(k, 0)) for k in keys], result, run_id))
            self.executemany(
                "INSERT INTO verify_results (run_id, sha256, path, status, detail) VALUES (?, ?, ?, ?, ?)",
                [(run_id, p.get("sha256"), p["path"], p["status"], p.get("detail")) for p in problems])
            self.executemany("UPDATE assets SET last_verified_at = ?, last_verify_status = ? WHERE sha256 = ?",
                             [(now, status, sha) for sha, status in verified])

    def last_verify_run(self) -> dict | None:
        rows = self.query("SELECT * FROM verify_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    # ------------------------------------------------------------------ restore drills
    def sample_assets(self, count: int | None = None, byte_budget: int | None = None,
                      rng: random.Random | None = None) -> list[dict]:
        """A random sample of assets (sha256, rel_path, size): ``count`` of them, or as many as
        fit in ``byte_budget`` bytes (at least one), or both limits together."""
        rng = rng or random.SystemRandom()
        rows = self.query("SELECT sha256, rel_path, size FROM assets ORDER BY sha256")
        rng.shuffle(rows)
        picked, used = [], 0
        for row in rows:
            if count is not None and len(picked) >= count:
                break
            if byte_budget is not None and picked and used + row["size"] > byte_budget:
                continue
            picked.append(row)
            used += row["size"]
        return picked

    def record_restore_drill(self, repository: str, snapshot_id: str, files: list[dict],
                             duration_s: float, detail: dict | None = None) -> int:
        """Record one drill. ``files``: {sha256, size, status ok|mismatch|missing, detail}.
        The drill passes when every file is ok."""
        failed = [f for f in files if f["status"] != "ok"]
        with self.transaction():
            drill_id = self._insert_returning_id(
                "INSERT INTO restore_drills (performed_at, repository, snapshot_id, sample_count, sample_bytes, "
                "passed, failed_count, duration_s, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (utc_now(), repository, snapshot_id, len(files), sum(int(f.get("size") or 0) for f in files),
                 0 if failed or not files else 1, len(failed), round(duration_s, 3),
                 json.dumps(detail or {}, sort_keys=True)))
            self.executemany(
                "INSERT INTO restore_drill_files (drill_id, sha256, status, detail) VALUES (?, ?, ?, ?)",
                [(drill_id, f["sha256"], f["status"], f.get("detail")) for f in files])
        return drill_id

    def last_restore_drill(self) -> dict | None:
        rows = self.query("SELECT * FROM restore_drills ORDER BY id DESC LIMIT 1")
        return rows[0] if rows else None

    # ------------------------------------------------------------------ ingest runs
    def record_ingest_run(self, started_at: str, sources: list[str], counts: dict) -> int:
        return self._insert_returning_id(
            "INSERT INTO ingest_runs (started_at, finished_at, sources, ingested, duplicates, unchanged, rejected, "
            "bytes_ingested) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (started_at, utc_now(), json.dumps(sources), int(counts.get("ingested", 0)),
             int(counts.get("duplicates", 0)), int(counts.get("unchanged", 0)), int(counts.get("rejected", 0)),
             int(counts.get("bytes_ingested", 0))))
