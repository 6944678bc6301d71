# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The photo vault's catalog: one schema on SQLite (default, WAL) or PostgreSQL, and every SQL
statement the vault runs.

The catalog records what the vault holds (assets, keyed by sha256), every source path ever seen,
rejected inputs, thumbnails, verification runs, restore drills and ingest runs. The files under
``originals/`` are the truth; the catalog is the index that makes rescans, verification and
reports fast, and it can be rebuilt from the vault (the files and their XMP sidecars).

* :mod:`.schema`: the tables and indexes; :mod:`.connection`: opening either back end, plumbing,
  transactions, the schema's creation and version check;
* :mod:`.store`: :class:`~.store.Catalog`, the domain methods the engines call (ingest, verify,
  thumbnails, restore drills); :mod:`.report_queries`: the read-only report figures.

Timestamps are ISO-8601 UTC text (``2026-11-22T15:04:05Z``) and booleans are 0/1 integers, so
both back ends store exactly the same values.
"""

from __future__ import annotations

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.connection import (
    CatalogError, path_key, redact_dsn, utc_now)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.store import Catalog

__all__ = ["CATALOG_ARG_SPEC", "Catalog", "CatalogError", "path_key", "redact_dsn", "utc_now"]

# The catalog option of every photo-vault module (documented in plugins/doc_fragments/photo_vault.py).
# no_log: a PostgreSQL DSN may carry a password.
CATALOG_ARG_SPEC = {"catalog": {"type": "str", "no_log": True}}
