# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The catalog's schema, the same on SQLite and PostgreSQL: column types are portable names
(SQLite maps them to its affinities, PostgreSQL uses them as they are)."""

from __future__ import annotations

SCHEMA_VERSION = 1

ASSET_COLUMNS = (
    "sha256", "sha1", "size", "format", "ext", "media_type", "mime", "width", "height",
    "orientation", "duration", "taken_at", "taken_offset", "taken_utc", "date_source",
    "gps_lat", "gps_lon", "gps_alt", "make", "model", "software", "from_iphone",
    "content_identifier", "live_pair_sha256", "rel_path", "sidecar_rel_path",
    "icloud_asset_id", "icloud_master_id", "ingested_at", "last_verified_at", "last_verify_status",
)

TABLES = {
    "meta": """
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL""",
    "assets": """
        sha256 TEXT PRIMARY KEY,
        sha1 TEXT NOT NULL,
        size BIGINT NOT NULL,
        format TEXT NOT NULL,
        ext TEXT NOT NULL,
        media_type TEXT NOT NULL,
        mime TEXT,
        width INTEGER,
        height INTEGER,
        orientation INTEGER,
        duration DOUBLE PRECISION,
        taken_at TEXT NOT NULL,
        taken_offset TEXT,
        taken_utc TEXT,
        date_source TEXT NOT NULL,
        gps_lat DOUBLE PRECISION,
        gps_lon DOUBLE PRECISION,
        gps_alt DOUBLE PRECISION,
        make TEXT,
        model TEXT,
        software TEXT,
        from_iphone INTEGER NOT NULL DEFAULT 0,
        content_identifier TEXT,
        live_pair_sha256 TEXT,
        rel_path TEXT NOT NULL UNIQUE,
        sidecar_rel_path TEXT,
        icloud_asset_id TEXT,
        icloud_master_id TEXT,
        ingested_at TEXT NOT NULL,
        last_verified_at TEXT,
        last_verify_status TEXT""",
    "sources": """
        id {serial},
        path TEXT NOT NULL,
        root TEXT NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        sha256 TEXT NOT NULL REFERENCES assets(sha256),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        icloud_asset_id TEXT,
        icloud_master_id TEXT,
        UNIQUE (path, sha256)""",
    "rejections": """
        path TEXT PRIMARY KEY,
        root TEXT NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        reason TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL""",
    "thumbnail_status": """
        sha256 TEXT NOT NULL REFERENCES assets(sha256),
        thumbs_root TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        settings TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (sha256, thumbs_root)""",
    "thumbnails": """
        sha256 TEXT NOT NULL REFERENCES assets(sha256),
        thumbs_root TEXT NOT NULL,
        size_name TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        bytes BIGINT NOT NULL,
        PRIMARY KEY (sha256, thumbs_root, size_name)""",
    "verify_runs": """
        id {serial},
        started_at TEXT NOT NULL,
        finished_at TEXT,
        mode TEXT NOT NULL,
        params TEXT NOT NULL,
        checked INTEGER NOT NULL DEFAULT 0,
        checked_bytes BIGINT NOT NULL DEFAULT 0,
        ok INTEGER NOT NULL DEFAULT 0,
        corrupt INTEGER NOT NULL DEFAULT 0,
        missing INTEGER NOT NULL DEFAULT 0,
        unknown INTEGER NOT NULL DEFAULT 0,
        missing_sidecars INTEGER NOT NULL DEFAULT 0,
        missing_thumbnails INTEGER NOT NULL DEFAULT 0,
        result TEXT""",
    "verify_results": """
        run_id BIGINT NOT NULL REFERENCES verify_runs(id),
        sha256 TEXT,
        path TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT""",
    "restore_drills": """
        id {serial},
        performed_at TEXT NOT NULL,
        repository TEXT NOT NULL,
        snapshot_id TEXT NOT NULL,
        sample_count INTEGER NOT NULL,
        sample_bytes BIGINT NOT NULL,
        passed INTEGER NOT NULL,
        failed_count INTEGER NOT NULL,
        duration_s DOUBLE PRECISION NOT NULL,
        detail TEXT""",
    "restore_drill_files": """
        drill_id BIGINT NOT NULL REFERENCES restore_drills(id),
        sha256 TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT""",
    "ingest_runs": """
        id {serial},
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        sources TEXT NOT NULL,
        ingested INTEGER NOT NULL,
        duplicates INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        bytes_ingested BIGINT NOT NULL""",
}

INDEXES = (
    "CREATE INDEX IF NOT EXISTS sources_path ON sources (path)",
    "CREATE INDEX IF NOT EXISTS sources_sha256 ON sources (sha256)",
    "CREATE INDEX IF NOT EXISTS assets_sha1 ON assets (sha1)",
    "CREATE INDEX IF NOT EXISTS assets_verified ON assets (last_verified_at)",
    "CREATE INDEX IF NOT EXISTS assets_content_identifier ON assets (content_identifier)",
    "CREATE INDEX IF NOT EXISTS verify_results_run ON verify_results (run_id)",
    "CREATE INDEX IF NOT EXISTS restore_drill_files_sha ON restore_drill_files (sha256)",
)


# pg_advisory_xact_lock key serialising schema creation ("sovereign" in ASCII, fits a bigint).
SCHEMA_LOCK_KEY = int.from_bytes(b"sovereig", "big") >> 1
