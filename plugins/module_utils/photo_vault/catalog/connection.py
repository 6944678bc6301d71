# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Opening a catalog on either back end and talking to it: SQLite (a file, WAL unless it sits on
a network filesystem; read-only opens never write the catalog and see a concurrent writer) or PostgreSQL (a ``postgresql://``
DSN, through psycopg), ``?`` placeholders on both, nested transactions, the schema's creation
and version check, and the ``meta`` table (schema version, vault id)."""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
import uuid
from contextlib import contextmanager

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog.schema import (
    INDEXES, SCHEMA_LOCK_KEY, SCHEMA_VERSION, TABLES)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import SQLITE_NAME
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.names import escape_path

NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afpfs"})


class CatalogError(Exception):
    """The catalog cannot be opened or used; the message says what to do."""


def utc_now() -> str:
    """The current time as the catalog stores it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def path_key(path: str) -> str:
    """A path as the catalog stores it: valid UTF-8 text, losslessly escaped when the name is not
    UTF-8 (:func:`..names.escape_path`; :func:`..names.unescape_path` gives the path back)."""
    return escape_path(path)


def filesystem_type(path: str) -> str:
    """The Linux filesystem type holding ``path`` ('' when unknown), from /proc/mounts."""
    try:
        with open("/proc/mounts", encoding="utf-8", errors="replace") as handle:
            mounts = [line.split()[1:3] for line in handle if len(line.split()) > 2]
    except OSError:
        return ""
    target = os.path.realpath(path)
    best, fstype = "", ""
    for mountpoint, kind in mounts:
        mountpoint = mountpoint.replace("\\040", " ")
        inside = target == mountpoint or target.startswith(mountpoint.rstrip("/") + "/")
        if inside and len(mountpoint) >= len(best):
            best, fstype = mountpoint, kind
    return fstype


class Connection:
    """A connection to one vault's catalog (the domain methods are :class:`..store.Catalog`'s).
    Use :meth:`open`; close it (or use ``with``)."""

    def __init__(self, conn, backend: str, location: str) -> None:
        self.conn = conn
        self.backend = backend
        self.location = location
        self.warnings: list[str] = []
        self._depth = 0

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, vault: str, catalog: str | None = None, create: bool = True, readonly: bool = False,
             busy: bool = False) -> Connection:  # pylint: disable=unused-argument
        """Open (and with ``create``, initialise) the catalog of ``vault``.

        ``catalog`` is ``None`` (SQLite at ``<vault>/catalog.sqlite``), a file path (SQLite there),
        or a ``postgresql://`` DSN. ``readonly`` (check mode, reports) never writes the catalog and
        sees what a concurrent writer commits (SQLite may create its empty ``-wal``/``-shm`` files);
        ``busy`` is accepted for older callers and no longer matters.
        """
        if readonly:
            create = False
        if catalog and catalog.startswith(("postgresql://", "postgres://")):
            self = cls._open_postgresql(catalog)
            if readonly:
                self.conn.execute("SET default_transaction_read_only = on")
        else:
            path = catalog or os.path.join(vault, SQLITE_NAME)
            if not create and not os.path.exists(path):
                raise CatalogError(f"no catalog at {path}: run sovereign.cloud.photo_ingest first, "
                                   "or pass the catalog option that ingest used")
            self = cls._open_sqlite_readonly(path) if readonly else cls._open_sqlite(path)
        if create:
            self._create_schema()
        else:
            self._check_schema()
        return self

    @classmethod
    def _open_sqlite(cls, path: str) -> Connection:
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise CatalogError(f"cannot create the catalog {path}: directory {parent} does not exist")
        try:
            conn = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CatalogError(f"cannot open the SQLite catalog {path}: {exc}") from exc
        self = cls(conn, "sqlite", path)
        fstype = filesystem_type(parent)
        if fstype in NETWORK_FILESYSTEMS:
            # WAL needs shared memory that network filesystems do not provide safely.
            self.warnings.append(f"the catalog {path} is on a network filesystem ({fstype}); using "
                                 "rollback journaling instead of WAL. For speed and safety keep it on a local "
                                 "disk (option catalog) or use PostgreSQL")
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=FULL")
        else:
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a power cut can lose the last commits, never corrupt; ingest re-adopts
            # originals that reached the disk but not the catalog.
            conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        return self

    @classmethod
    def _open_sqlite_readonly(cls, path: str) -> Connection:
        # mode=ro reads through the WAL and its shared-memory index, so a writer that runs meanwhile
        # (verify and thumbnails write without the ingest lock) is seen, never torn. SQLite may create
        # its empty -wal/-shm coordination files for that. immutable=1 only where nothing can write:
        # a read-only mount, or (with a warning) a directory this user cannot create them in.
        uri_path = urllib.parse.quote(os.path.abspath(path))
        warnings = []
        try:
            conn = sqlite3.connect(f"file:{uri_path}?mode=ro", uri=True, timeout=60, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            parent = os.path.dirname(os.path.abspath(path))
            read_only_mount = bool(os.statvfs(parent).f_flag & os.ST_RDONLY) if os.path.isdir(parent) else False
            if not read_only_mount and os.access(parent, os.W_OK):
                raise CatalogError(f"cannot open the SQLite catalog {path} read-only: {exc}") from exc
            if not read_only_mount:
                warnings.append(f"cannot share {path}'s write-ahead log from this account (no write access to "
                                f"{parent}): read it as a snapshot, which does not see a run writing meanwhile; "
                                "run as the vault's service user for a live view")
            try:
                conn = sqlite3.connect(f"file:{uri_path}?immutable=1", uri=True, timeout=60, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA query_only=ON")
            except sqlite3.Error as exc2:
                raise CatalogError(f"cannot open the SQLite catalog {path} read-only: {exc2}") from exc2
        self = cls(conn, "sqlite", path)
        self.warnings.extend(warnings)
        return self

    @classmethod
    def _open_postgresql(cls, dsn: str) -> Connection:
        try:
            import psycopg  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise CatalogError("a postgresql:// catalog needs the psycopg package (pip install 'psycopg[binary]') "
                               "in the Python that runs the module") from exc
        try:
            conn = psycopg.connect(dsn, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            safe = redact_dsn(dsn)
            raise CatalogError(f"cannot connect to the PostgreSQL catalog {safe}: {str(exc).strip()}") from exc
        return cls(conn, "postgresql", redact_dsn(dsn))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _sql(self, statement: str) -> str:
        # psycopg uses %s placeholders, so a literal % (LIKE patterns) must be doubled there.
        if self.backend == "postgresql":
            return statement.replace("%", "%%").replace("?", "%s")
        return statement

    def execute(self, statement: str, params: tuple | list = ()):
        """Run one statement (``?`` placeholders on both back ends) and return the cursor."""
        return self.conn.execute(self._sql(statement), params)

    def executemany(self, statement: str, rows) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.backend == "postgresql":
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(statement), rows)
        else:
            self.conn.executemany(statement, rows)

    def query(self, statement: str, params: tuple | list = ()) -> list[dict]:
        cur = self.execute(statement, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    @contextmanager
    def transaction(self):
        """Group writes; nested use joins the outer transaction."""
        if self._depth == 0:
            self.conn.execute("BEGIN IMMEDIATE" if self.backend == "sqlite" else "BEGIN")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.conn.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self.conn.execute("COMMIT")

    def _insert_returning_id(self, statement: str, params: tuple) -> int:
        if self.backend == "postgresql":
            return int(self.execute(statement + " RETURNING id", params).fetchone()[0])
        return int(self.execute(statement, params).lastrowid)

    # ------------------------------------------------------------------ schema
    def _create_schema(self) -> None:
        serial = "BIGSERIAL PRIMARY KEY" if self.backend == "postgresql" else "INTEGER PRIMARY KEY AUTOINCREMENT"
        with self.transaction():
            if self.backend == "postgresql":
                # CREATE TABLE IF NOT EXISTS races on PostgreSQL (two modules opening a new catalog at
                # once fail on pg_type's unique index); a transaction-scoped advisory lock serialises it.
                # SQLite's BEGIN IMMEDIATE already does.
                self.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))
            for table, columns in TABLES.items():
                self.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns.format(serial=serial)})")
            for statement in INDEXES:
                self.execute(statement)
            version = self.meta("schema_version")
            if version is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("created_at", utc_now())
                self.set_meta("vault_id", str(uuid.uuid4()))
            elif int(version) > SCHEMA_VERSION:
                raise CatalogError(f"the catalog {self.location} has schema version {version}, newer than this "
                                   f"collection understands ({SCHEMA_VERSION}); upgrade sovereign.cloud")

    def _check_schema(self) -> None:
        try:
            version = self.meta("schema_version")
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise CatalogError(f"{self.location} is not a sovereign.cloud catalog ({str(exc).strip()}): run "
                               "sovereign.cloud.photo_ingest first, or pass the catalog option that ingest used") from exc
        if version is None:
            raise CatalogError(f"{self.location} is not a sovereign.cloud catalog (no schema version): run "
                               "sovereign.cloud.photo_ingest first, or pass the catalog option that ingest used")

    def meta(self, key: str) -> str | None:
        row = self.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def redact_dsn(dsn: str) -> str:
    """A DSN safe to print: the password replaced by ***."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, _at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else dsn
