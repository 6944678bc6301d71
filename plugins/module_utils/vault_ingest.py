# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The photo vault's ingest pipeline (see docs/photo-vault.md).

:func:`run_ingest` scans the source folders, compares each file's (path, size, mtime) with the
catalog (unchanged files are neither read nor hashed), and hands the rest to a process pool.
A worker reads a file once (files up to 64 MiB) or streams it (larger videos: a hash pass,
then a copy pass that must hash the same), hashes it (sha256 names the original, sha1 is
Immich's key), recognises it by content, parses its metadata, decodes it (the thumbnails, or a
validation decode when thumbnails are off), and publishes the original and its XMP sidecar
with verified atomic writes. The parent process is the only catalog writer: it commits results
in batches (every 200 files or 2 seconds), so a crash loses at most one batch, which the next
run adopts again from the originals already on disk. After the batches, Live Photos are paired.

One sha256, one original, even when two copies of a photo race through the pool with
different fallback dates: the first worker to create ``.sovereign-ingest/runs/<run>/<sha256>``
owns the content for this run, and ``.sovereign-ingest/claims/<sha256>`` (kept until the catalog
has the asset) fixes its destination across a crash.

Check mode reads, hashes and classifies everything exactly the same way and writes nothing at
all: no catalog, no lock file, no directories.
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import os
import shutil
import signal
import stat
import sys
import time
import uuid

from ansible_collections.sovereign.cloud.plugins.module_utils import vault_fs
from ansible_collections.sovereign.cloud.plugins.module_utils.vault_catalog import (
    Catalog, CatalogError, path_key, utc_now)
from ansible_collections.sovereign.cloud.plugins.module_utils.vault_media import (
    DECODABLE_FORMATS, MEDIA_EXTENSIONS, SMALL_READ, Reader, analyse, describe_unknown,
    live_photo_key, parse_icloudpd_name, parse_source_sidecar, resolve_capture_date, sniff)
from ansible_collections.sovereign.cloud.plugins.module_utils.vault_xmp import (
    VaultSidecar, XmpError, read_sidecar, render_sidecar, update_sidecar)
from ansible_collections.sovereign.cloud.plugins.module_utils.vault_text import counted, human_bytes


def thumbnail_engine():
    """The vault_thumbnails module (imported on first use: a no-op rescan never needs it), or
    None where it is missing; originals never depend on it."""
    try:
        from ansible_collections.sovereign.cloud.plugins.module_utils import vault_thumbnails  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return vault_thumbnails


BATCH_FILES = 200
BATCH_SECONDS = 2.0
PROGRESS_SECONDS = 1.0
LIVE_PHOTO_MAX_SECONDS = 10.0
CRASH_ENV = "SOVEREIGN_CLOUD_TEST_CRASH_AT"  # test hook: "<point>:<n>" kills the run at that point
HANG_ON = None  # test hook: a file name on which a worker blocks, as a hung decoder would
SKIP_PREFIX = "skipped: "

STILL_FORMATS = frozenset({"jpeg", "heic", "heif"})
LIVE_MOVIE_FORMATS = frozenset({"mov", "mp4"})


class IngestError(Exception):
    """The ingest cannot run or went wrong as a whole; the message says what to do."""


class IngestConfig:  # pylint: disable=too-many-instance-attributes,too-few-public-methods
    """What to ingest where (the module's options)."""

    def __init__(self, sources, vault: str, catalog: str | None = None, thumbnails: bool = True,
                 thumbs_root: str | None = None, min_age: float = 60, workers: int | None = None,
                 verify_writes: bool = True, check: bool = False, progress=None,
                 progress_interval: float = PROGRESS_SECONDS) -> None:
        self.sources = [os.path.abspath(os.path.expanduser(s)) for s in sources]
        self.vault = os.path.abspath(os.path.expanduser(vault))
        self.catalog = catalog
        self.thumbnails = bool(thumbnails)
        self.thumbs_root = os.path.abspath(os.path.expanduser(thumbs_root)) if thumbs_root else os.path.join(
            self.vault, "thumbs")
        self.min_age = float(min_age)
        self.workers = int(workers) if workers else default_workers()
        self.verify_writes = bool(verify_writes)
        self.check = bool(check)
        self.progress = progress
        self.progress_interval = progress_interval


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ============================================================================================ helpers

class DigestSet:
    """A compact, sorted set of sha256 digests (32 bytes each in one bytes object), shared
    copy-on-write with forked workers: 500,000 assets cost 16 MB, not 80."""

    def __init__(self, hex_digests) -> None:
        raw = sorted(bytes.fromhex(h) for h in hex_digests if h and len(h) == 64)
        self._data = b"".join(raw)
        self._count = len(raw)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, hex_digest: str) -> bool:
        try:
            key = bytes.fromhex(hex_digest)
        except (ValueError, TypeError):
            return False
        lo, hi, data = 0, self._count, self._data
        while lo < hi:
            mid = (lo + hi) // 2
            probe = data[mid * 32:mid * 32 + 32]
            if probe < key:
                lo = mid + 1
            elif probe > key:
                hi = mid
            else:
                return True
        return False


def crash_hook():
    """The test hook (``SOVEREIGN_CLOUD_TEST_CRASH_AT=<point>:<n>``): at the n-th time this
    process reaches ``point``, SIGKILL the whole process group, like a power cut for the run.
    Returns None when unset (always, outside the crash tests)."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return None
    point, _sep, count = spec.partition(":")
    limit = int(count or 1)
    seen = {"n": 0}

    def fault(name: str) -> None:
        if name == point:
            seen["n"] += 1
            if seen["n"] >= limit:
                os.killpg(os.getpgrp(), signal.SIGKILL)
    return fault


def _now_local() -> _dt.datetime:
    return _dt.datetime.now()


def _state_dirs(vault: str) -> tuple[str, str, str]:
    state = os.path.join(vault, vault_fs.STATE_DIR)
    return state, os.path.join(state, "claims"), os.path.join(state, "runs")


# ============================================================================================ worker

_CTX: dict = {}


def decoder_available() -> bool:
    """True when an image decoder (Pillow or pyvips) can be imported here. Without one, ingest
    still checks each file's structure, but cannot decode it."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    return any(importlib.util.find_spec(name) is not None for name in ("PIL", "pyvips"))


def _init_worker(ctx: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _CTX.clear()
    _CTX.update(ctx)
    _CTX["fault"] = crash_hook()
    engine = thumbnail_engine()
    if engine is not None:
        try:
            engine.configure_worker(1)
        except Exception:  # pylint: disable=broad-exception-caught  # tuning only
            pass


def _result(task, status: str, **fields) -> dict:
    path, root, size, mtime_ns, _sidecar = task
    result = {"path": path, "root": root, "size": size, "mtime_ns": mtime_ns, "status": status,
              "name": os.path.basename(path)}
    result.update(fields)
    return result


def process_file(task) -> dict:
    """Ingest one source file (in a worker). Never raises: the outcome is in ``status``
    (new, duplicate, rejected, skipped, retry, error)."""
    ctx = _CTX
    path = task[0]
    try:
        fd = vault_fs.open_source(path)
    except PermissionError:
        return _result(task, "rejected", reason="cannot read the file: permission denied; give the ingest user "
                                                "read access (the file was not touched) and run again")
    except FileNotFoundError:
        return _result(task, "skipped", reason="the file disappeared after the scan")
    except OSError as exc:
        return _result(task, "rejected", reason=f"cannot open the file: {exc.strerror}")
    try:
        return _process_open(task, fd, ctx)
    except MemoryError:
        return _result(task, "error", reason="out of memory; run with fewer workers")
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one file never aborts a batch
        return _result(task, "error", reason=f"unexpected error ({type(exc).__name__}: {exc}); the file was "
                                             "not ingested. Please report this with the file if you can")
    finally:
        os.close(fd)


def _process_open(task, fd: int, ctx: dict) -> dict:  # pylint: disable=too-many-return-statements
    path, root, size, mtime_ns, sidecar_path = task
    name = os.path.basename(path)
    if ctx.get("hang_on") == name:
        time.sleep(3600)
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return _result(task, "rejected", reason="not a regular file (a pipe, device or socket named like a photo)")
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        size, mtime_ns = st.st_size, st.st_mtime_ns
        task = (path, root, size, mtime_ns, sidecar_path)
        if 0 <= time.time() - st.st_mtime < ctx["min_age"]:
            return _result(task, "retry", reason="modified since the scan (still being written?)")
    if size == 0:
        if ext in MEDIA_EXTENSIONS:
            return _result(task, "rejected", reason="empty file (0 bytes): an interrupted copy or download; "
                                                    "copy it again and run again")
        return _result(task, "skipped", reason="empty file")
    try:
        head = os.pread(fd, 4096, 0)
    except OSError as exc:
        return _result(task, "rejected", reason=f"cannot read the file: {exc.strerror} (the source disk may be "
                                                f"failing)")
    if sniff(head) is None:
        # not media by content: reject under a photo/video name, skip otherwise (without reading more)
        if ext in MEDIA_EXTENSIONS:
            return _result(task, "rejected", reason=describe_unknown(head, size))
        return _result(task, "skipped", reason=SKIP_PREFIX + "not a photo or video")
    try:
        if size <= SMALL_READ:
            data = vault_fs.read_exactly(fd, size)
            if data is None:
                return _result(task, "retry", reason="changed while it was read")
            sha256 = hashlib.sha256(data).hexdigest()
            sha1 = hashlib.sha1(data).hexdigest()  # nosec: Immich's look-up key, not security
            reader = Reader(data=data)
        else:
            data = None
            sha256, sha1, ok = _hash_stream(fd, size)
            if not ok:
                return _result(task, "retry", reason="changed while it was read")
            reader = Reader(fd=fd, size=size)
    except OSError as exc:
        return _result(task, "rejected", reason=f"cannot read the file: {exc.strerror} (the source disk may be "
                                                f"failing; the file was not touched)")
    after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (size, mtime_ns):
        return _result(task, "retry", reason="changed while it was read")
    media = analyse(reader, name, ctx["now"])
    if media is None:
        return _result(task, "rejected", reason=describe_unknown(head, size))
    if media.problem:
        return _result(task, "rejected", reason=media.problem, sha256=sha256)
    if sha256 in ctx["known"]:
        return _duplicate(task, sha256, name, pending=False)

    source_sidecar = _read_source_sidecar(sidecar_path, ctx["now"])
    icloud = parse_icloudpd_name(name)
    date = resolve_capture_date(media, name, mtime_ns, source_sidecar, ctx["now"])
    asset = _asset_record(media, date, sha256, sha1, size, icloud, source_sidecar)
    decodable = media.format in DECODABLE_FORMATS and data is not None and ctx["can_decode"]

    if ctx["check"]:
        if decodable:
            ok, why = thumbnail_engine().validate_image(data, media.ext)
            if not ok:
                return _result(task, "rejected", reason=_decode_reason(why), sha256=sha256)
        return _result(task, "new", sha256=sha256, asset=asset, publish="check")

    # one owner per sha256 in this run
    run_claim = os.path.join(ctx["run_dir"], sha256)
    try:
        os.close(os.open(run_claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return _duplicate(task, sha256, name, pending=True)

    thumbs = None
    if decodable:
        thumbs, why = _decode_and_thumbnails(data, None, media, sha256, asset, ctx)
        if why:
            return _result(task, "rejected", reason=why, sha256=sha256, owner=True)

    folder = _claim_destination(ctx, sha256, date.folder)
    rel_dir = f"originals/{folder}"
    rel_path = f"{rel_dir}/{sha256}.{media.ext}"
    rel_sidecar = f"{rel_dir}/{sha256}.xmp"
    asset["rel_path"], asset["sidecar_rel_path"] = rel_path, rel_sidecar
    final = os.path.join(ctx["vault"], rel_path)
    fault = ctx.get("fault")
    try:
        vault_fs.ensure_dir(os.path.dirname(final))
        # the directory is fsynced once per catalog batch by the parent, before the rows that name it
        if data is not None:
            outcome = vault_fs.publish_bytes(final, data, sha256, ctx["verify"], mtime_ns=mtime_ns, fault=fault,
                                             sync_dir=False)
        else:
            outcome = vault_fs.publish_stream(final, fd, size, sha256, ctx["verify"], mtime_ns=mtime_ns,
                                              fault=fault, sync_dir=False)
        if fault:
            fault("published")
        sidecar_names = [name]
        _write_sidecar(os.path.join(ctx["vault"], rel_sidecar), asset, sidecar_names, source_sidecar, outcome)
        if fault:
            fault("sidecar-written")
    except vault_fs.SourceChanged as exc:
        _release_destination(ctx, sha256, final)
        return _result(task, "retry", reason=str(exc), sha256=sha256, owner=True)
    except vault_fs.VaultWriteError as exc:
        _release_destination(ctx, sha256, final)
        return _result(task, "error", reason=str(exc), sha256=sha256, owner=True)
    except OSError as exc:
        _release_destination(ctx, sha256, final)
        where = exc.filename or ctx["vault"]
        return _result(task, "error", sha256=sha256, owner=True,
                       reason=f"cannot write to the vault ({where}): {exc.strerror}. Check free space and "
                              "permissions, then run again")
    if thumbs is None and ctx["thumbnails"] and ctx["can_decode"]:
        thumbs, _why = _decode_and_thumbnails(data, final, media, sha256, asset, ctx, after_publish=True)
    return _result(task, "new", sha256=sha256, asset=asset, publish=outcome, thumbs=thumbs, owner=True)


def _hash_stream(fd: int, size: int) -> tuple[str, str, bool]:
    sha256, sha1 = hashlib.sha256(), hashlib.sha1()  # nosec: sha1 is Immich's look-up key
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(vault_fs.CHUNK, size - offset), offset)
        if not chunk:
            return "", "", False
        sha256.update(chunk)
        sha1.update(chunk)
        offset += len(chunk)
    if os.pread(fd, 1, size):
        return "", "", False
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # keep the page cache for the photos
    except (AttributeError, OSError):
        pass
    return sha256.hexdigest(), sha1.hexdigest(), True


def _duplicate(task, sha256: str, name: str, pending: bool) -> dict:
    icloud = parse_icloudpd_name(name)
    return _result(task, "duplicate", sha256=sha256, pending=pending,
                   icloud_master_id=f"id7:{icloud.id7}" if icloud else None)


def _read_source_sidecar(path: str | None, now):
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(4 * 1024 * 1024 + 1)
    except OSError:
        return None
    if len(data) > 4 * 1024 * 1024:
        return None
    return parse_source_sidecar(data, now)


def _asset_record(media, date, sha256: str, sha1: str, size: int, icloud, source_sidecar) -> dict:
    record = media.as_dict()
    if record["gps_lat"] is None and source_sidecar is not None and source_sidecar.gps_lat is not None:
        record["gps_lat"], record["gps_lon"] = source_sidecar.gps_lat, source_sidecar.gps_lon
        record["gps_alt"] = source_sidecar.gps_alt
    record.update({
        "sha256": sha256, "sha1": sha1, "size": size, "taken_at": date.taken_at, "taken_offset": date.offset,
        "taken_utc": date.utc, "date_source": date.source, "date_xmp": date.xmp, "folder": date.folder,
        "live_pair_sha256": None, "icloud_asset_id": None,
        "icloud_master_id": f"id7:{icloud.id7}" if icloud else None,
        "ingested_at": utc_now(),
    })
    return record


def _decode_reason(why: str | None) -> str:
    return f"the image does not decode: {why or 'unknown decoder error'}"


def _decode_and_thumbnails(data, path, media, sha256: str, asset: dict, ctx: dict, after_publish: bool = False):
    """The one place ingest decodes: thumbnails (which validate the decode) or, with thumbnails
    off, a validation decode. Returns (thumbnail outcome or None, reject reason or None)."""
    engine = thumbnail_engine()
    if ctx["thumbnails"] and engine is not None:
        keys = ("taken_at", "taken_offset", "date_source", "make", "model", "gps_lat", "gps_lon", "width",
                "height", "orientation", "duration", "media_type")
        metadata = {k: asset.get(k) for k in keys}
        result = engine.make_thumbnails(data, path, media.ext, sha256, ctx["thumbs_root"], write=True,
                                        metadata=metadata)
        outcome = (result.status, result.reason, dict(result.sizes))
        decisive = not after_publish and media.format in DECODABLE_FORMATS
        if result.status == "failed" and decisive:
            return outcome, _decode_reason(result.reason)
        return outcome, None
    if engine is not None and not after_publish and media.format in DECODABLE_FORMATS:
        ok, why = engine.validate_image(data, media.ext)
        if not ok:
            return None, _decode_reason(why)
    return None, None


def _claim_destination(ctx: dict, sha256: str, folder: str) -> str:
    """The date folder for this sha256: ours, or the one an interrupted run already chose."""
    claim = os.path.join(ctx["claims_dir"], sha256)
    try:
        fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            with open(claim, encoding="ascii") as handle:
                previous = handle.read().strip()
            if len(previous) == 10 and previous[4] == "/" and previous[7] == "/":
                return previous
        except (OSError, UnicodeDecodeError):
            pass
        fd = os.open(claim, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, folder.encode("ascii"))
    finally:
        os.close(fd)
    return folder


def _release_destination(ctx: dict, sha256: str, final: str) -> None:
    if not os.path.lexists(final):
        try:
            os.unlink(os.path.join(ctx["claims_dir"], sha256))
        except OSError:
            pass


def sidecar_for(asset: dict, names, source_sidecar=None) -> VaultSidecar:
    """The sidecar content for an asset record (values from the same parse as the catalog)."""
    extra = {}
    if source_sidecar is not None:
        extra = {"title": source_sidecar.title, "description": source_sidecar.description,
                 "keywords": source_sidecar.keywords, "rating": source_sidecar.rating}
    date = asset.get("date_xmp") or ((asset.get("taken_at") or "") + (asset.get("taken_offset") or "")) or None
    return VaultSidecar(
        sha256=asset["sha256"], original_names=list(names), date=date, date_source=asset.get("date_source"),
        gps_lat=asset.get("gps_lat"), gps_lon=asset.get("gps_lon"), gps_alt=asset.get("gps_alt"),
        make=asset.get("make"), model=asset.get("model"), content_identifier=asset.get("content_identifier"),
        live_pair_sha256=asset.get("live_pair_sha256"), icloud_asset_id=asset.get("icloud_asset_id"),
        icloud_master_id=asset.get("icloud_master_id"), **extra)


def _write_sidecar(path: str, asset: dict, names, source_sidecar, outcome: str) -> None:
    """Write (or, for an adopted original, update) the sidecar; its directory is synced by the
    parent with the batch."""
    if outcome == "adopted" and os.path.exists(path):
        # keep what is there (another tool may have added tags); only add what is missing
        try:
            with open(path, "rb") as handle:
                existing = handle.read()
            if read_sidecar(existing).sha256 in ("", asset["sha256"]):
                updated = update_sidecar(existing, add_names=names)
                if updated is not None:
                    vault_fs.replace_bytes(path, updated, sync_dir=False)
                return
        except (OSError, XmpError):
            pass
    vault_fs.replace_bytes(path, render_sidecar(sidecar_for(asset, names, source_sidecar)), sync_dir=False)


# ============================================================================================ parent

class _Batch:  # pylint: disable=too-few-public-methods
    def __init__(self) -> None:
        self.assets: list[dict] = []
        self.thumbs: list[tuple] = []
        self.sources: list[tuple] = []
        self.rejections: list[tuple] = []
        self.cleared: list[str] = []
        self.names: dict[str, list[str]] = {}
        self.claims: list[str] = []
        self.dirs: set[str] = set()
        self.started = time.monotonic()

    def __len__(self) -> int:
        return len(self.assets) + len(self.sources) + len(self.rejections) + len(self.cleared)


class _EmptyCatalog:
    """Check mode on a vault without a catalog yet: everything is new."""

    backend = "none"
    location = "(no catalog yet)"
    warnings: list = []

    def source_index(self) -> dict:
        return {}

    def rejection_index(self) -> dict:
        return {}

    def query(self, *_args, **_kwargs) -> list:
        return []

    def execute(self, *_args, **_kwargs):
        raise CatalogError("no catalog")

    def close(self) -> None:
        pass


class Ingest:  # pylint: disable=too-many-instance-attributes
    """One ingest run; see :func:`run_ingest`."""

    def __init__(self, config: IngestConfig) -> None:
        self.cfg = config
        self.catalog = None
        self.lock = None
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.started_at = utc_now()
        self.t0 = time.monotonic()
        self.fault = crash_hook()
        self.counts = {"ingested": 0, "duplicates": 0, "unchanged": 0, "skipped": 0, "bytes_ingested": 0,
                       "live_pairs": 0, "adopted": 0}
        self.skipped_reasons: dict[str, int] = {}
        self.rejected: list[dict] = []
        self.errors: list[dict] = []
        self.warnings: list[str] = []
        self.changed = False
        self.crashed_before = False
        self.new_assets: dict[str, dict] = {}
        self.state_dir, self.claims_dir, self.runs_dir = _state_dirs(config.vault)
        self.run_dir = os.path.join(self.runs_dir, self.run_id)
        self.source_index: dict = {}
        self.rejection_index: dict = {}
        # in-run ownership: sha -> 'done' | 'rejected:<reason>' | 'failed' | 'resubmitted'
        self.owner_state: dict[str, str] = {}
        self.waiting: dict[str, list[dict]] = {}
        self.resubmitted: set[str] = set()
        self.check_seen: dict[str, str] = {}
        self.thumb_settings: str | None = None
        self.killed_workers = False

    # ---------------------------------------------------------------------------------- setup
    def _validate_paths(self) -> None:
        cfg = self.cfg
        if not cfg.sources:
            raise IngestError("no sources given: list the folders to ingest from in the sources option")
        vault_real = os.path.realpath(cfg.vault)
        for source in cfg.sources:
            if not os.path.isdir(source):
                raise IngestError(f"source {source} is not a directory (it does not exist, or is a file); create it "
                                  "or remove it from sources")
            real = os.path.realpath(source)
            if real == vault_real or real.startswith(vault_real.rstrip("/") + "/"):
                raise IngestError(f"source {source} is inside the vault {cfg.vault}; ingest from a folder outside it")
        if os.path.exists(cfg.vault) and not os.path.isdir(cfg.vault):
            raise IngestError(f"vault {cfg.vault} exists and is not a directory")
        if not cfg.check and not os.path.isdir(os.path.dirname(cfg.vault.rstrip("/")) or "/"):
            raise IngestError(f"the parent of the vault {cfg.vault} does not exist; create it (the photo_vault role "
                              "does) and run again")

    def _open(self) -> None:
        cfg = self.cfg
        if cfg.check:
            self.catalog = self._open_catalog_read_only()
            return
        vault_fs.ensure_dir(cfg.vault)
        try:
            self.lock = vault_fs.VaultLock(cfg.vault).acquire()
        except vault_fs.LockHeld as exc:
            raise IngestError(str(exc)) from exc
        for directory in (self.state_dir, self.claims_dir, self.runs_dir):
            vault_fs.ensure_dir(directory)
        stale_runs = os.listdir(self.runs_dir)
        if stale_runs:
            # an earlier run did not finish: remove its temp files, keep its claims (destinations)
            self.crashed_before = True
            removed = vault_fs.clean_partials(os.path.join(cfg.vault, "originals"))
            for name in stale_runs:
                shutil.rmtree(os.path.join(self.runs_dir, name), ignore_errors=True)
            if removed:
                self.warnings.append(f"removed {len(removed)} partial file(s) left by an interrupted ingest")
        try:
            self.catalog = Catalog.open(cfg.vault, cfg.catalog, create=True)
        except CatalogError as exc:
            raise IngestError(str(exc)) from exc
        self.warnings.extend(self.catalog.warnings)
        if self.crashed_before:
            self._settle_claims()

    def _open_catalog_read_only(self):
        cfg = self.cfg
        target = cfg.catalog or os.path.join(cfg.vault, "catalog.sqlite")
        if not target.startswith(("postgresql://", "postgres://")) and not os.path.exists(target):
            return _EmptyCatalog()
        try:
            return Catalog.open(cfg.vault, cfg.catalog, create=False, readonly=True,
                                busy=vault_fs.lock_holder(cfg.vault) is not None)
        except CatalogError as exc:
            if "not a sovereign.cloud catalog" in str(exc) and target.startswith(("postgresql://", "postgres://")):
                return _EmptyCatalog()
            raise IngestError(str(exc)) from exc

    def _settle_claims(self) -> None:
        """Claims whose asset reached the catalog are done; the others keep their destination."""
        try:
            names = os.listdir(self.claims_dir)
        except OSError:
            return
        if not names:
            return
        known = set(self.catalog.asset_paths())
        for name in names:
            if name in known:
                try:
                    os.unlink(os.path.join(self.claims_dir, name))
                except OSError:
                    pass

    def _close(self, clean: bool) -> None:
        if self.catalog is not None:
            self.catalog.close()
            self.catalog = None
        if not self.cfg.check and clean:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    # ---------------------------------------------------------------------------------- scan
    def _scan(self) -> list[tuple]:
        cfg = self.cfg
        self.source_index = self.catalog.source_index()
        self.rejection_index = self.catalog.rejection_index()
        problems: list = []
        todo = []
        known = self.source_index.get
        rejected_before = self.rejection_index
        min_age_ns = int(cfg.min_age * 1e9)
        now_ns = time.time_ns()
        unchanged = 0
        # the hot loop of a no-op rescan: one dict look-up per file
        for found in vault_fs.walk_sources(cfg.sources, skip=(cfg.vault, cfg.thumbs_root), problems=problems):
            path = found.path
            key = path if path.isascii() else path_key(path)
            if 0 <= now_ns - found.mtime_ns < min_age_ns:
                self._skip("modified less than min_age seconds ago (still being written?)")
                continue
            previous = known(key)
            if previous is not None and previous[0] == found.size and previous[1] == found.mtime_ns:
                unchanged += 1
                continue
            if rejected_before and self._rejected_before(found, key):
                continue
            ext = os.path.splitext(path)[1].lower().lstrip(".")
            if vault_fs.not_utf8(path):
                self._reject_in_scan(found, key, "the file name is not valid UTF-8 (shown with \\x escapes): rename "
                                                 "it to UTF-8 and run again; the file was not touched")
                continue
            if not found.regular:
                if ext in MEDIA_EXTENSIONS:
                    self._reject_in_scan(found, key, "not a regular file (a pipe, device, socket or broken link "
                                                     "named like a photo)")
                else:
                    self._skip("not a regular file")
                continue
            todo.append((path, found.root, found.size, found.mtime_ns, found.sidecar))
        self.counts["unchanged"] += unchanged
        for directory, reason in problems:
            self.rejected.append({"path": path_key(directory), "reason": reason})
        todo.sort()
        return todo

    def _rejected_before(self, found, key: str) -> bool:
        """True when the file was rejected (or skipped as not media) before and is unchanged:
        report it again from the catalog without reading it."""
        rejected = self.rejection_index.get(key)
        if rejected is None or rejected[0] != found.size or rejected[1] != found.mtime_ns:
            return False
        reason = rejected[2]
        if reason.startswith(SKIP_PREFIX):
            self._skip(reason[len(SKIP_PREFIX):])
            return True
        if reason.startswith("cannot read") and os.access(found.path, os.R_OK):
            return False  # readable now (permissions fixed): try again
        self.rejected.append({"path": key, "reason": reason})
        return True

    def _skip(self, reason: str) -> None:
        self.counts["skipped"] += 1
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + 1

    def _reject_in_scan(self, found, key: str, reason: str) -> None:
        self.rejected.append({"path": key, "reason": reason})
        self.changed = True
        self._pending_scan_rejections.append((found.path, found.root, found.size, found.mtime_ns, reason))

    # ---------------------------------------------------------------------------------- run
    def run(self) -> dict:
        self._validate_paths()
        self._pending_scan_rejections: list[tuple] = []
        clean = False
        try:
            self._open()
            todo = self._scan()
            if self._pending_scan_rejections and not self.cfg.check:
                batch = _Batch()
                batch.rejections.extend(self._pending_scan_rejections)
                self._commit(batch)
            if todo:
                self._process(todo)
            self._pair_live_photos()
            if not self.cfg.check:
                self.catalog.record_ingest_run(self.started_at, self.cfg.sources, {
                    **self.counts, "rejected": len(self.rejected)})
            clean = True
        finally:
            self._close(clean)
        return self._report()

    def _process(self, todo: list[tuple]) -> None:
        cfg = self.cfg
        known_hex = [] if isinstance(self.catalog, _EmptyCatalog) else [
            row[0] for row in self.catalog.execute("SELECT sha256 FROM assets").fetchall()]
        ctx = {"vault": cfg.vault, "thumbs_root": cfg.thumbs_root, "thumbnails": cfg.thumbnails,
               "verify": cfg.verify_writes, "check": cfg.check, "known": DigestSet(known_hex),
               "run_dir": self.run_dir, "claims_dir": self.claims_dir, "now": _now_local(), "min_age": cfg.min_age,
               "can_decode": decoder_available() and thumbnail_engine() is not None, "hang_on": HANG_ON}
        engine = thumbnail_engine()
        self.thumb_settings = engine.SETTINGS if engine is not None else None
        del known_hex
        if not cfg.check:
            vault_fs.ensure_dir(self.run_dir)
        if not ctx["can_decode"]:
            self.warnings.append("images were not decoded (no Pillow or pyvips in this Python; the photo_vault role "
                                 "installs them): only their structure was checked, and no thumbnails were made")
        elif cfg.thumbnails and engine is None and not cfg.check:
            self.warnings.append("thumbnails were not made: the vault_thumbnails engine is not available here")
        import concurrent.futures  # pylint: disable=import-outside-toplevel  # not needed by a no-op rescan
        total_bytes = sum(t[2] for t in todo)
        progress = _Progress(cfg.progress, len(todo), total_bytes, cfg.progress_interval)
        batch = _Batch()
        queue = list(reversed(todo))
        workers = max(1, min(cfg.workers, len(todo)))
        executor = _InlineExecutor(ctx) if workers == 1 else _pool(workers, ctx)
        in_flight: dict = {}
        limit = workers * 2 + 2
        try:
            while queue or in_flight:
                while queue and len(in_flight) < limit:
                    task = queue.pop()
                    in_flight[executor.submit(process_file, task)] = (task, time.monotonic())
                done, _pending = concurrent.futures.wait(list(in_flight), timeout=BATCH_SECONDS,
                                                         return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    task, _started = in_flight.pop(future)
                    try:
                        result = future.result()
                    except concurrent.futures.process.BrokenProcessPool as exc:
                        self._commit(batch)
                        raise IngestError("a worker process died (killed, or out of memory?); what was finished "
                                          "is saved. Run again to continue, with fewer workers if memory is "
                                          "short") from exc
                    resubmit = self._handle(result, batch)
                    if resubmit is not None:
                        queue.append(resubmit)
                    progress.advance(task[2])
                hung = [(f, t) for f, (t, started) in in_flight.items() if time.monotonic() - started > _allowance(t[2])]
                if hung:
                    executor = self._recover_from_hang(executor, hung, in_flight, queue, batch, workers, ctx)
                if len(batch) >= BATCH_FILES or (len(batch) and time.monotonic() - batch.started >= BATCH_SECONDS):
                    self._commit(batch)
                    batch = _Batch()
            for waiting in self.waiting.values():
                for _unresolved in waiting:
                    self._skip("its content's first copy did not finish; it will be picked up next run")
            self._commit(batch)
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
            progress.finish()
        if self.killed_workers and not cfg.check:
            # a replaced worker may have left a temp file; every worker is gone and we hold the lock
            vault_fs.clean_partials(os.path.join(cfg.vault, "originals"))

    def _recover_from_hang(self, executor, hung, in_flight: dict, queue: list, batch: _Batch, workers: int, ctx):
        """A worker is stuck on one file (a decoder that never returns): stop the pool, reject that
        file with the reason (so it is not retried forever), and go on with a fresh pool."""
        for _future, task in hung:
            seconds = int(_allowance(task[2]))
            self._reject(_result(task, "rejected", reason=f"processing did not finish within {seconds} s (a hung "
                                                          "decoder or an unreadable disk?); the file was not "
                                                          "touched. Check it, then touch it to retry"), batch)
        self.killed_workers = True
        hung_futures = {future for future, _task in hung}
        for future, (task, _started) in list(in_flight.items()):
            if future not in hung_futures:
                queue.append(task)
        in_flight.clear()
        _kill_pool(executor)
        return _pool(workers, ctx)

    # ---------------------------------------------------------------------------------- results
    def _handle(self, result: dict, batch: _Batch):  # pylint: disable=too-many-branches,too-many-return-statements
        status = result["status"]
        sha = result.get("sha256")
        if status == "new":
            if self.cfg.check:
                if sha in self.check_seen:
                    result = dict(result, status="duplicate", pending=False)
                    return self._handle_duplicate(result, batch)
                self.check_seen[sha] = result["path"]
                self._count_new(result)
                return None
            self._count_new(result)
            asset = {k: v for k, v in result["asset"].items() if k not in ("date_xmp", "folder")}
            self.new_assets[sha] = result["asset"]
            batch.assets.append(asset)
            batch.claims.append(sha)
            batch.dirs.add(os.path.dirname(os.path.join(self.cfg.vault, asset["rel_path"])))
            if result.get("thumbs") and self.thumb_settings is not None:
                status_, reason, sizes = result["thumbs"]
                batch.thumbs.append((sha, status_, reason, sizes))
            self._add_source(batch, result, asset.get("icloud_master_id"))
            self.owner_state[sha] = "done"
            for waiting in self.waiting.pop(sha, []):
                self._record_duplicate(waiting, batch, names_to=sha)
            return None
        if status == "duplicate":
            return self._handle_duplicate(result, batch)
        if status == "rejected":
            self._reject(result, batch)
            if result.get("owner") and sha:
                self.owner_state[sha] = "rejected:" + result["reason"]
                for waiting in self.waiting.pop(sha, []):
                    self._reject(dict(waiting, reason=result["reason"]), batch)
            return None
        if status == "skipped":
            reason = result.get("reason") or "skipped"
            self._skip(reason[len(SKIP_PREFIX):] if reason.startswith(SKIP_PREFIX) else reason)
            if reason.startswith(SKIP_PREFIX):
                # remembered, so an unchanged non-media file is not opened again next run
                self.changed = True
                if not self.cfg.check:
                    batch.rejections.append((result["path"], result["root"], result["size"], result["mtime_ns"],
                                             reason))
            return None
        # retry / error: the owner (if any) gave up this content; let a waiting copy try
        if status == "retry":
            self._skip(result.get("reason") or "changed while it was read")
        else:
            self.errors.append({"path": path_key(result["path"]), "reason": result.get("reason")})
        if result.get("owner") and sha:
            self.owner_state[sha] = "failed"
            return self._resubmit_waiting(sha)
        return None

    def _handle_duplicate(self, result: dict, batch: _Batch):
        sha = result["sha256"]
        if not result.get("pending"):
            self._record_duplicate(result, batch, names_to=sha)
            return None
        state = self.owner_state.get(sha)
        if state == "done":
            self._record_duplicate(result, batch, names_to=sha)
        elif state and state.startswith("rejected:"):
            self._reject(dict(result, reason=state[len("rejected:"):]), batch)
        elif state == "failed" and result["path"] not in self.resubmitted:
            self.waiting.setdefault(sha, []).append(result)
            return self._resubmit_waiting(sha)
        else:
            self.waiting.setdefault(sha, []).append(result)
        return None

    def _resubmit_waiting(self, sha: str):
        candidates = [w for w in self.waiting.get(sha, []) if w["path"] not in self.resubmitted]
        if not candidates:
            return None
        chosen = candidates[0]
        self.waiting[sha].remove(chosen)
        self.resubmitted.add(chosen["path"])
        self.owner_state[sha] = "resubmitted"
        try:
            os.unlink(os.path.join(self.run_dir, sha))
        except OSError:
            pass
        return (chosen["path"], chosen["root"], chosen["size"], chosen["mtime_ns"], None)

    def _count_new(self, result: dict) -> None:
        self.counts["ingested"] += 1
        self.counts["bytes_ingested"] += result["size"]
        if result.get("publish") == "adopted":
            self.counts["adopted"] += 1
        self.changed = True

    def _record_duplicate(self, result: dict, batch: _Batch, names_to: str) -> None:
        self.counts["duplicates"] += 1
        if self.cfg.check:
            self.changed = True
            return
        self._add_source(batch, result, result.get("icloud_master_id"))
        batch.names.setdefault(names_to, []).append(result["name"])

    def _add_source(self, batch: _Batch, result: dict, icloud_master_id) -> None:
        batch.sources.append((result["path"], result["root"], result["size"], result["mtime_ns"], result["sha256"],
                              icloud_master_id))
        key = path_key(result["path"])
        if key in self.rejection_index:
            batch.cleared.append(result["path"])
        self.changed = True

    def _reject(self, result: dict, batch: _Batch) -> None:
        key = path_key(result["path"])
        self.rejected.append({"path": key, "reason": result["reason"]})
        self.changed = True  # a new catalog row (known, unchanged rejections never get here)
        if not self.cfg.check:
            batch.rejections.append((result["path"], result["root"], result["size"], result["mtime_ns"],
                                     result["reason"]))

    # ---------------------------------------------------------------------------------- commit
    def _commit(self, batch: _Batch) -> None:
        if self.cfg.check or not len(batch):
            return
        if self.fault:
            self.fault("before-commit")
        for directory in sorted(batch.dirs):  # the originals' names are durable before the catalog names them
            vault_fs.fsync_dir(directory)
        for sha, names in batch.names.items():
            self._add_sidecar_names(sha, names)
        with self.catalog.transaction():
            for asset in batch.assets:
                self.catalog.add_asset(asset)
            for sha, status, reason, sizes in batch.thumbs:
                self.catalog.record_thumbnails(sha, self.cfg.thumbs_root, status, self.thumb_settings,
                                               {k: tuple(v) for k, v in (sizes or {}).items()}, reason)
            for path, root, size, mtime_ns, sha, master_id in batch.sources:
                self.catalog.record_source(path, root, size, mtime_ns, sha, icloud_master_id=master_id)
            for path in batch.cleared:
                self.catalog.clear_rejection(path)
            for path, root, size, mtime_ns, reason in batch.rejections:
                self.catalog.record_rejection(path, root, size, mtime_ns, reason)
                self.changed = True
        if self.fault:
            self.fault("after-commit")
        for sha in batch.claims:
            try:
                os.unlink(os.path.join(self.claims_dir, sha))
            except OSError:
                pass

    def _sidecar_path(self, sha: str) -> tuple[str | None, dict | None]:
        asset = self.new_assets.get(sha)
        if asset is None:
            asset = self.catalog.get_asset(sha)
        if not asset or not asset.get("sidecar_rel_path"):
            return None, asset
        return os.path.join(self.cfg.vault, asset["sidecar_rel_path"]), asset

    def _add_sidecar_names(self, sha: str, names) -> None:
        path, asset = self._sidecar_path(sha)
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                existing = handle.read()
            updated = update_sidecar(existing, add_names=names)
        except (OSError, XmpError):
            updated = self._fresh_sidecar(sha, asset, extra_names=names)
        if updated is not None:
            vault_fs.replace_bytes(path, updated)
            self.changed = True

    def _fresh_sidecar(self, sha: str, asset: dict, extra_names=(), live_pair: str | None = None) -> bytes:
        """Rebuild a missing or unreadable sidecar from the catalog."""
        names = [os.path.basename(row["path"]) for row in self.catalog.sources_of(sha)] if self.catalog else []
        names += [n for n in extra_names if n not in names]
        record = dict(asset)
        if live_pair:
            record["live_pair_sha256"] = live_pair
        return render_sidecar(sidecar_for(record, list(dict.fromkeys(names))))

    # ---------------------------------------------------------------------------------- live photos
    def _pair_live_photos(self) -> None:
        if not self.new_assets and not self.crashed_before and not (self.cfg.check and self.check_seen):
            return
        if self.cfg.check:
            return  # pairs are recorded only by a real run; check mode reports the assets
        rows = self.catalog.query(
            "SELECT a.sha256, a.format, a.content_identifier, a.duration, s.path FROM assets a "
            "JOIN sources s ON s.sha256 = a.sha256 WHERE a.live_pair_sha256 IS NULL AND a.format IN "
            "('jpeg', 'heic', 'heif', 'mov', 'mp4')")
        pairs = find_live_pairs(rows, None if self.crashed_before else set(self.new_assets))
        if not pairs:
            return
        for still, movie in pairs:
            for sha, partner in ((still, movie), (movie, still)):
                self._set_sidecar_pair(sha, partner)
            if self.fault:
                self.fault("pairing-sidecars")
            with self.catalog.transaction():
                self.catalog.update_asset(still, live_pair_sha256=movie)
                self.catalog.update_asset(movie, live_pair_sha256=still)
            self.counts["live_pairs"] += 1
            self.changed = True

    def _set_sidecar_pair(self, sha: str, partner: str) -> None:
        path, asset = self._sidecar_path(sha)
        if path is None:
            return
        try:
            with open(path, "rb") as handle:
                updated = update_sidecar(handle.read(), live_pair_sha256=partner)
        except (OSError, XmpError):
            updated = self._fresh_sidecar(sha, asset, live_pair=partner)
        if updated is not None:
            vault_fs.replace_bytes(path, updated)

    # ---------------------------------------------------------------------------------- report
    def _report(self) -> dict:
        counts = self.counts
        elapsed = time.monotonic() - self.t0
        if counts["ingested"]:
            verb = "would ingest" if self.cfg.check else "ingested"
            summary = (f"{verb} {counted(counts['ingested'], 'new photo/video', 'new photos/videos')} "
                       f"({human_bytes(counts['bytes_ingested'])}) in {elapsed:.1f} s")
        else:
            summary = f"nothing new in {elapsed:.1f} s"
        details = [f"{counts['unchanged']} unchanged" if counts["unchanged"] else "",
                   counted(counts["duplicates"], "duplicate path") if counts["duplicates"] else "",
                   counted(counts["live_pairs"], "live photo pair") if counts["live_pairs"] else "",
                   f"{counts['skipped']} skipped" if counts["skipped"] else "",
                   f"{len(self.rejected)} rejected" if self.rejected else "",
                   f"{len(self.errors)} FAILED" if self.errors else ""]
        if any(details):
            summary += "; " + ", ".join(d for d in details if d)
        return {
            "changed": self.changed,
            "ingested": counts["ingested"], "duplicates": counts["duplicates"], "unchanged": counts["unchanged"],
            "skipped_files": counts["skipped"], "skipped_reasons": dict(self.skipped_reasons),
            "rejected": self.rejected, "errors": self.errors, "bytes_ingested": counts["bytes_ingested"],
            "adopted": counts["adopted"], "live_pairs": counts["live_pairs"], "summary": summary,
            "warnings": self.warnings, "vault": self.cfg.vault, "seconds": round(elapsed, 3),
            "catalog": getattr(self.catalog, "location", None) or self.cfg.catalog or os.path.join(
                self.cfg.vault, "catalog.sqlite"),
        }


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


def _allowance(size: int) -> float:
    """Seconds a single file may take before its worker is considered hung: generous, and
    proportional to its size (three passes at 10 MB/s on a slow NAS, plus ten minutes)."""
    return 600.0 + 3 * size / 10e6


START_METHOD = None  # tests force "fork", "forkserver" or "spawn"; None chooses


def start_method() -> str:
    """``fork`` from a single-threaded process (the module, the CLI): workers start at once and
    share the parent's memory. Otherwise ``forkserver`` (or ``spawn``): forking a process that
    runs threads (libvips in a test runner, say) can hand the child locks held forever. ``fork``
    is also what works inside Ansible's module packaging, whose imports a fresh interpreter
    could not repeat."""
    import multiprocessing  # pylint: disable=import-outside-toplevel
    methods = multiprocessing.get_all_start_methods()
    if START_METHOD in methods:
        return START_METHOD
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        import threading  # pylint: disable=import-outside-toplevel
        threads = threading.active_count() if "fork" in methods and sys.platform.startswith("linux") else 2
    if threads == 1 and "fork" in methods:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _pool(workers: int, ctx: dict):
    import concurrent.futures  # pylint: disable=import-outside-toplevel
    import multiprocessing  # pylint: disable=import-outside-toplevel
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload([__name__])
    elif method == "fork":
        gc.collect()
        gc.freeze()  # the children share the parent's objects without the collector copying their pages
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                  initializer=_init_worker, initargs=(ctx,))


def _kill_pool(executor) -> None:
    for process in list((getattr(executor, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass
    try:
        executor.shutdown(wait=True, cancel_futures=True)
    except Exception:  # pylint: disable=broad-exception-caught  # a broken pool may complain; it is gone
        pass


class _InlineExecutor:
    """One worker: run tasks in this process (no pool to start)."""

    def __init__(self, ctx: dict) -> None:
        self._saved = dict(_CTX)
        _CTX.clear()
        _CTX.update(ctx)
        _CTX["fault"] = crash_hook()

    def submit(self, fn, *args):
        import concurrent.futures  # pylint: disable=import-outside-toplevel
        future: concurrent.futures.Future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        del wait, cancel_futures
        _CTX.clear()
        _CTX.update(self._saved)


class _Progress:  # pylint: disable=too-few-public-methods
    """Calls ``callback(dict)`` at most every ``interval`` seconds: files done/total, bytes,
    MB/s and ETA."""

    def __init__(self, callback, total: int, total_bytes: int, interval: float) -> None:
        self.callback, self.total, self.total_bytes, self.interval = callback, total, total_bytes, interval
        self.done = 0
        self.bytes = 0
        self.t0 = time.monotonic()
        self.last = 0.0

    def advance(self, size: int) -> None:
        self.done += 1
        self.bytes += size
        if self.callback and time.monotonic() - self.last >= self.interval:
            self._emit()

    def _emit(self) -> None:
        self.last = time.monotonic()
        elapsed = max(self.last - self.t0, 1e-6)
        rate = self.bytes / elapsed
        remaining = self.total_bytes - self.bytes
        self.callback({"files_done": self.done, "files_total": self.total, "bytes_done": self.bytes,
                       "bytes_total": self.total_bytes, "mb_per_s": round(rate / 1e6, 2),
                       "files_per_s": round(self.done / elapsed, 2),
                       "eta_s": round(remaining / rate, 1) if rate > 0 else None, "elapsed_s": round(elapsed, 1)})

    def finish(self) -> None:
        if self.callback:
            self._emit()


def run_ingest(config: IngestConfig) -> dict:
    """Run one ingest and return its report (the module's result keys)."""
    return Ingest(config).run()
