# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a worker does with one file (:func:`process_file`): it reads the file once (files up to
64 MiB) or streams it (larger videos: a hash pass, then a copy pass that must hash the same),
hashes it (sha256 names the original, sha1 is Immich's key), recognises it by content, parses its
metadata, decodes it (the thumbnails, or a validation decode when thumbnails are off), and
publishes the original and its XMP sidecar with verified atomic writes. It never writes the
catalog: its :class:`~.records.Outcome` goes back to the parent.

One sha256, one original, even when two copies of a photo race through the pool with different
fallback dates: the first worker to create ``.sovereign-ingest/runs/<run>/<sha256>`` owns the
content for this run, and ``.sovereign-ingest/claims/<sha256>`` (kept until the catalog has the
asset) fixes its destination across a crash.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import signal
import stat
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.hashing import (
    SizeChanged, advise, hash_bytes, hash_fd)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import publish, sources
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import utc_now
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.records import SKIP_PREFIX, Outcome
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.analyse import analyse
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import resolve_capture_date
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import (
    DECODABLE_FORMATS, MEDIA_EXTENSIONS, SMALL_READ, Reader)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import parse_icloudpd_name
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sidecar import parse_source_sidecar
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.sniff import describe_unknown, sniff
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.names import escape_path
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import set_aside
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.sources import SourceFile, open_source
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.xmp import (
    VaultSidecar, XmpError, merge_sidecar, read_sidecar, render_sidecar, update_sidecar)


def thumbnail_engine():
    """The thumbnails module (imported on first use: a no-op rescan never needs it), or None where
    it is missing; originals never depend on it."""
    try:
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import (  # pylint: disable=import-outside-toplevel
            thumbnails)
    except ImportError:
        return None
    return thumbnails


def decoder_available() -> bool:
    """True when an image decoder (Pillow or pyvips) can be imported here. Without one, ingest
    still checks each file's structure, but cannot decode it."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    return any(importlib.util.find_spec(name) is not None for name in ("PIL", "pyvips"))


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


# The worker's context: what every file needs (the vault, the known digests, the hooks, ...), set
# once per worker process by :func:`init_worker`, or in the parent for a one-worker run.
_CTX: dict = {}


def init_worker(ctx: dict) -> None:
    """Set up a worker process (or, with one worker, this process) for :func:`process_file`."""
    _CTX.clear()
    _CTX.update(ctx)
    if multiprocessing_child():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
        engine = thumbnail_engine()
        if engine is not None:
            try:
                engine.configure_worker(1)
            except Exception:  # pylint: disable=broad-exception-caught  # tuning only
                pass


def reset_worker() -> None:
    """Forget the context (a one-worker run in the parent)."""
    _CTX.clear()


def multiprocessing_child() -> bool:
    """True in a pool's worker process, False in the process that runs the ingest."""
    import multiprocessing  # pylint: disable=import-outside-toplevel  # loaded already wherever a pool runs
    return multiprocessing.parent_process() is not None


def process_file(task: SourceFile) -> Outcome:
    """Ingest one source file (in a worker). Never raises: the outcome is in ``status``
    (new, duplicate, rejected, skipped, retry, error)."""
    ctx = _CTX
    try:
        fd = open_source(task.path)
    except PermissionError:
        return Outcome(task, "rejected", reason="cannot read the file: permission denied; give the ingest user "
                                                "read access (the file was not touched) and run again")
    except FileNotFoundError:
        return Outcome(task, "skipped", reason="the file disappeared after the scan")
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symbolic link after the walk: never followed
            return Outcome(task, "skipped", reason="it became a symbolic link after the scan (not followed)")
        return Outcome(task, "rejected", reason=f"cannot open the file: {exc.strerror}")
    try:
        return _process_open(task, fd, ctx)
    except MemoryError:
        return Outcome(task, "error", reason="out of memory; run with fewer workers")
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one file never aborts a batch
        return Outcome(task, "error", reason=f"unexpected error ({type(exc).__name__}: {exc}); the file was "
                                             "not ingested. Please report this with the file if you can")
    finally:
        os.close(fd)


def _process_open(task: SourceFile, fd: int, ctx: dict) -> Outcome:  # pylint: disable=too-many-return-statements
    ctx["hooks"].task_started(task.path)
    name, size, mtime_ns = task.name, task.size, task.mtime_ns
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        return Outcome(task, "rejected", reason="not a regular file (a pipe, device or socket named like a photo)")
    if (st.st_size, st.st_mtime_ns) != (size, mtime_ns):
        size, mtime_ns = st.st_size, st.st_mtime_ns
        task = dataclasses.replace(task, size=size, mtime_ns=mtime_ns)
        if 0 <= time.time() - st.st_mtime < ctx["min_age"]:
            return Outcome(task, "retry", reason="modified since the scan (still being written?)")
    if size == 0:
        if ext in MEDIA_EXTENSIONS:
            return Outcome(task, "rejected", reason="empty file (0 bytes): an interrupted copy or download; "
                                                    "copy it again and run again")
        return Outcome(task, "skipped", reason="empty file")
    try:
        head = os.pread(fd, 4096, 0)
    except OSError as exc:
        return Outcome(task, "rejected", reason=f"cannot read the file: {exc.strerror} (the source disk may be "
                                                f"failing)")
    if sniff(head) is None:
        # not media by content: reject under a photo/video name, skip otherwise (without reading more)
        if ext in MEDIA_EXTENSIONS:
            return Outcome(task, "rejected", reason=describe_unknown(head, size))
        return Outcome(task, "skipped", reason=SKIP_PREFIX + "not a photo or video")
    try:
        if size <= SMALL_READ:
            data = sources.read_exactly(fd, size)
            if data is None:
                return Outcome(task, "retry", reason="changed while it was read")
            digest = hash_bytes(data, sha1=True)
            reader = Reader(data=data)
        else:
            data = None
            digest = _hash_stream(fd, size)
            if digest is None:
                return Outcome(task, "retry", reason="changed while it was read")
            reader = Reader(fd=fd, size=size)
        sha256, sha1 = digest.sha256, digest.sha1
    except OSError as exc:
        return Outcome(task, "rejected", reason=f"cannot read the file: {exc.strerror} (the source disk may be "
                                                f"failing; the file was not touched)")
    after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (size, mtime_ns):
        return Outcome(task, "retry", reason="changed while it was read")
    media = analyse(reader, name, ctx["now"])
    if media is None:
        return Outcome(task, "rejected", reason=describe_unknown(head, size))
    if media.problem:
        return Outcome(task, "rejected", reason=media.problem, sha256=sha256)
    if sha256 in ctx["known"]:
        return _duplicate(task, sha256, name, pending=False)

    source_sidecar = _read_source_sidecar(task.sidecar, ctx["now"])
    icloud = parse_icloudpd_name(name)
    date = resolve_capture_date(media, name, mtime_ns, source_sidecar, ctx["now"])
    asset = _asset_record(media, date, sha256, sha1, size, icloud, source_sidecar)
    decodable = media.format in DECODABLE_FORMATS and data is not None and ctx["can_decode"]

    if ctx["check"]:
        if decodable:
            ok, why = thumbnail_engine().validate_image(data, media.ext)
            if not ok:
                return Outcome(task, "rejected", reason=_decode_reason(why), sha256=sha256)
        return Outcome(task, "new", sha256=sha256, asset=asset, publish="check")

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
            return Outcome(task, "rejected", reason=why, sha256=sha256, owner=True)

    folder = _claim_destination(ctx, sha256, date.folder)
    rel_dir = f"originals/{folder}"
    rel_path = f"{rel_dir}/{sha256}.{media.ext}"
    rel_sidecar = f"{rel_dir}/{sha256}.xmp"
    asset["rel_path"], asset["sidecar_rel_path"] = rel_path, rel_sidecar
    final = os.path.join(ctx["vault"], rel_path)
    fault = ctx["hooks"].fault
    try:
        atomic.ensure_dir(os.path.dirname(final))
        # the directory is fsynced once per catalog batch by the parent, before the rows that name it
        if data is not None:
            outcome = publish.publish_bytes(final, data, sha256, ctx["verify"], mtime_ns=mtime_ns, fault=fault,
                                            sync_dir=False)
        else:
            outcome = publish.publish_stream(final, fd, size, sha256, ctx["verify"], mtime_ns=mtime_ns,
                                             fault=fault, sync_dir=False)
        fault("published")
        sidecar_names = [escape_path(name)]  # a name that is not UTF-8 is recorded losslessly escaped
        moved = _write_sidecar(os.path.join(ctx["vault"], rel_sidecar), asset, sidecar_names, source_sidecar, outcome)
        fault("sidecar-written")
    except publish.SourceChanged as exc:
        _release_destination(ctx, sha256, final)
        return Outcome(task, "retry", reason=str(exc), sha256=sha256, owner=True)
    except publish.VaultWriteError as exc:
        _release_destination(ctx, sha256, final)
        return Outcome(task, "error", reason=str(exc), sha256=sha256, owner=True)
    except OSError as exc:
        _release_destination(ctx, sha256, final)
        where = exc.filename or ctx["vault"]
        return Outcome(task, "error", sha256=sha256, owner=True,
                       reason=f"cannot write to the vault ({where}): {exc.strerror}. Check free space and "
                              "permissions, then run again")
    if thumbs is None and ctx["thumbnails"] and ctx["can_decode"]:
        thumbs, _why = _decode_and_thumbnails(data, final, media, sha256, asset, ctx, after_publish=True)
    return Outcome(task, "new", sha256=sha256, asset=asset, publish=outcome, thumbs=thumbs, owner=True,
                   sidecar_set_aside=moved)


def _hash_stream(fd: int, size: int):
    """The digests of a large file read in place, or None when it was not ``size`` bytes long."""
    try:
        digest = hash_fd(fd, size, sha1=True)
    except SizeChanged:
        return None
    advise(fd, "POSIX_FADV_DONTNEED")  # keep the page cache for the photos
    return digest


def _duplicate(task: SourceFile, sha256: str, name: str, pending: bool) -> Outcome:
    icloud = parse_icloudpd_name(name)
    return Outcome(task, "duplicate", sha256=sha256, pending=pending,
                   icloud_master_id=f"id7:{icloud.id7}" if icloud else None)


def _read_source_sidecar(path: str | None, now):
    if not path:
        return None
    try:  # never through a symbolic link (the walk lists only sidecars that are not links)
        with open(open_source(path), "rb") as handle:
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
        # only "failed" means the original does not decode; an "error" (the thumbnails root full or
        # not writable, out of memory, an encoder error) never rejects it: it lands without thumbnails
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


def _write_sidecar(path: str, asset: dict, names, source_sidecar, outcome: str) -> str | None:
    """Write the sidecar, or update one already there; its directory is synced by the parent with
    the batch. Another tool's sidecar is never overwritten: its fields are kept (merged), or,
    when it does not parse or names another original, it is set aside as ``<sha256>.xmp.orig-<time>``
    (returned, for the report)."""
    del outcome  # an existing sidecar is kept whether the original was written or adopted
    if os.path.lexists(path):
        try:
            with open(path, "rb") as handle:
                existing = handle.read()
            if not os.path.islink(path) and read_sidecar(existing).sha256 in ("", asset["sha256"]):
                updated = update_sidecar(existing, add_names=names) or existing
                # our fields go into our namespace beside theirs (a sidecar darktable took over has none)
                merged = merge_sidecar(updated, render_sidecar(sidecar_for(asset, names, source_sidecar)))
                if merged is not None or updated is not existing:
                    atomic.replace_bytes(path, merged or updated, sync_dir=False)
                return None
        except (OSError, XmpError):
            pass
        moved = set_aside(path, "orig")
        atomic.replace_bytes(path, render_sidecar(sidecar_for(asset, names, source_sidecar)), sync_dir=False)
        return moved
    atomic.replace_bytes(path, render_sidecar(sidecar_for(asset, names, source_sidecar)), sync_dir=False)
    return None
