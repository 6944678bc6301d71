# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine of ``icloud_safe_to_delete``: for every asset of an iCloud account, the evidence that
it may be deleted from iCloud, or the reason it must be kept.

An asset is **safe** only when, for every file it has in iCloud (the original, a RAW or alternative
original, a Live Photo's video, an edit; see :mod:`.library`):

1. the file was downloaded: the vault's catalog holds a source file for it, found by the iCloud id
   ingest recorded from icloudpd's ``name-id7`` file name (``sources.icloud_master_id``; a full
   CPLMaster id when one was recorded), else by file name + size + capture date (icloudpd sets a
   download's mtime to the capture time), for the files icloudpd names without the id
   (alternative and adjusted versions, other file-match policies);
2. that file's size equals iCloud's;
3. its sha256 is in the catalog (the source row points at an asset row) and the vault's copy did
   not fail ``photo_verify``;
4. the vault's copy decodes and still has that sha256 (:mod:`.media_check`; cached by sha256 +
   size + mtime in the state directory, so each original is read once);
5. it is in at least ``min_copies`` verified backup copies (:mod:`.backup_evidence`: restic
   snapshots taken before the repository's last passing check, PBS snapshots that passed
   verification); by default a copy is a repository, because two snapshots of one repository share
   the same stored data;
6. the vault's last restore drill passed, no more than ``drill_max_age_days`` ago.

Everything else is "keep, because ...", with every reason that applies (the first one groups the
page). The engine reads the catalog read-only, the iCloud listing through a private copy of the
session, and never deletes or writes anything in the vault or in iCloud. Outputs (JSON, CSV, HTML;
:mod:`.report_output`) are written atomically and only when their content changed, so a second run
with the same evidence changes nothing; check mode computes the same report and writes nothing.

Speed: the join is dictionaries keyed by (name stem, extension) and by id; per asset the work is a
few dictionary look-ups, so 100,000 assets are assessed in seconds (tests/benchmarks).
"""

from __future__ import annotations

import base64
import datetime as _dt
import itertools
import os
import re
import time
from collections import deque

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted, human_bytes
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import backup_evidence, library, media_check
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import report_output
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.session_files import account_key
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog, CatalogError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.icloud import parse_icloudpd_name
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.names import unescape_path

# Reason codes, in the order the page groups them (an asset's first reason is its group).
REASONS = {
    "icloud_size_unknown": "iCloud does not say how large a file is",
    "not_downloaded": "Not downloaded from iCloud",
    "live_video_missing": "Live-photo video not downloaded",
    "size_differs": "The downloaded file's size differs from iCloud's",
    "not_in_catalog": "Downloaded, but not in the vault's catalog",
    "vault_copy_bad": "The vault's copy is missing or damaged",
    "does_not_decode": "Does not decode",
    "decode_pending": "Decode check not done yet",
    "backup_unverified": "Backed up, but that backup is not verified",
    "too_few_copies": "Too few verified backup copies",
    "no_drill": "No restore drill has run",
    "drill_failed": "The last restore drill failed",
    "drill_old": "The last restore drill is too old",
}
REQUIRED_DEFAULT = ("original", "alternative", "live_video", "edited", "edited_video")
VERIFY_PROBLEMS = frozenset({"corrupt", "missing", "unreadable"})
DATE_TOLERANCE_S = 2.0
DECODE_CACHE_VERSION = 2
_DECODES = (True, None)
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00]')
_NO_NAME = re.compile(r"[^0-9a-zA-Z]")
_SIZE_SUFFIX = re.compile(r"^(.*)-(\d+)$")
_VERSION_SUFFIXES = ("-adjusted", "-alternative", "-original")
SKIP_NAMES = (".xmp", ".part", ".json", ".aae")


class SafeDeleteError(Exception):
    """The report cannot be made; the message says what to do."""


class Hooks:
    """What tests and the benchmark replace: pyicloud's HTTP transport, the clock, and the listing
    itself (an iterable of :class:`.library.ICloudAsset`, to measure the assessment alone)."""

    def __init__(self, transport=None, now=None, assets=None, workers: int | None = None) -> None:
        self.transport = transport
        self.now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.assets = assets
        self.workers = workers


# ------------------------------------------------------------------------------------------------
# Names: the key a downloaded file and an iCloud resource share


def norm_ext(name: str) -> str:
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    return {"jpeg": "jpg", "tif": "tiff", "hif": "heif"}.get(ext, ext)


def norm_id7(id7: str) -> str:
    """icloudpd cleans '/' out of a file name; compare id7s with one spelling."""
    return id7.replace("_", "/").replace("-", "+")


def icloud_id7(master_id: str) -> str:
    return norm_id7(base64.b64encode(master_id.encode("utf-8")).decode("ascii")[:7])


def local_keys(name: str, size: int) -> list[tuple[str, str | None]]:
    """(stem key, id7 or None) under which a downloaded file is found: its name without icloudpd's
    id7, version (``-adjusted``), Live Photo (``_HEVC``) and size-dedup (``-<size>``) suffixes; a
    name whose tail only looks like an id7 is also indexed as it is."""
    stem = os.path.splitext(name)[0]
    keys: list[tuple[str, str | None]] = []
    id7 = None
    core = stem
    for _round in range(3):
        changed = False
        lower = core.lower()
        for suffix in _VERSION_SUFFIXES:
            if lower.endswith(suffix):
                core, changed = core[: -len(suffix)], True
                break
        if core.upper().endswith("_HEVC"):
            core, changed = core[:-5], True
        match = _SIZE_SUFFIX.match(core)
        if match and int(match.group(2)) == size:
            core, changed = match.group(1), True
        if id7 is None:
            parsed = parse_icloudpd_name(core + ".x")
            if parsed is not None:
                id7, core, changed = norm_id7(parsed.id7), parsed.stem, True
        if not changed:
            break
    keys.append((core.lower(), id7))
    if id7 is not None:
        keys.append((stem.lower(), None))
    return keys


def icloud_stems(asset: library.ICloudAsset) -> tuple[str, ...]:
    """The stem keys icloudpd's file names for this asset can have (unicode kept or dropped)."""
    base = os.path.splitext(asset.filename)[0]
    if asset.filename == asset.asset_id:  # no filenameEnc: icloudpd names it after the record
        base = _NO_NAME.sub("_", asset.master_id)[:12]
    clean = _BAD_CHARS.sub("_", base)
    ascii_only = clean.encode("ascii", "ignore").decode("ascii")
    return tuple(dict.fromkeys((clean.lower(), ascii_only.lower())))


# ------------------------------------------------------------------------------------------------
# The catalog side


class Source:
    """A file ingest saw (a row of ``sources`` joined with its asset)."""

    __slots__ = ("path", "size", "mtime", "sha256", "master", "id7")

    def __init__(self, path: str, size: int, mtime: float, sha256: str, master: str | None, id7: str | None) -> None:
        self.path, self.size, self.mtime, self.sha256, self.master, self.id7 = path, size, mtime, sha256, master, id7


class VaultIndex:
    """The catalog loaded into dictionaries: sources by (stem key, ext), originals by sha256, and
    the files ingest rejected or has not seen yet (for the reason's wording)."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], list[Source]] = {}
        self.originals: dict[str, tuple] = {}  # sha256 -> (rel_path, size, verify status, ingested epoch, taken)
        self.rejected: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
        self.unseen: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self.drill: dict | None = None
        self.drills_by_repository: dict[str, dict] = {}  # the last drill from each repository
        self.sources = 0

    def add_source(self, source: Source, recorded: str | None) -> None:
        """``recorded``: ``sources.icloud_master_id`` (``id7:XXXXXXX`` from a name-id7 file name, or
        a CPLMaster record name) - the iCloud id ingest recorded, used before the name's own."""
        name = os.path.basename(source.path)
        ext = norm_ext(name)
        recorded_id7 = norm_id7(recorded[4:]) if recorded and recorded.startswith("id7:") else None
        source.master = recorded if recorded and recorded_id7 is None else None
        for position, (stem, id7) in enumerate(local_keys(name, source.size)):
            if position == 0:
                source.id7 = recorded_id7 or id7
                entry = source
                if recorded_id7 is not None and recorded_id7 == id7:
                    # ingest read the same id7 from the name: it is one (a name whose tail only looks
                    # like an id7 would, at worst, be kept as "not downloaded", never called safe)
                    self.by_key.setdefault((stem, ext), []).append(entry)
                    break
            else:  # the whole stem, in case its tail only looked like an id7: matched by name, size and date
                entry = Source(source.path, source.size, source.mtime, source.sha256, None, None)
            self.by_key.setdefault((stem, ext), []).append(entry)
        self.sources += 1


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


def _under(path: str, roots: list[str]) -> bool:
    return not roots or any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def load_vault(vault: str, catalog: str | None, roots: list[str]) -> VaultIndex:
    """Read the catalog (read-only) into a :class:`VaultIndex`."""
    try:
        cat = Catalog.open(vault, catalog, readonly=True)
    except CatalogError as exc:
        raise SafeDeleteError(str(exc)) from None
    index = VaultIndex()
    try:
        rows = cat.execute(
            "SELECT a.sha256, a.rel_path, a.size, a.last_verify_status, a.ingested_at, a.taken_utc FROM assets a")
        for sha, rel_path, size, status, ingested, taken in rows:
            index.originals[sha] = (rel_path, int(size), status, _epoch(ingested), taken, sha)
        for path, size, mtime_ns, sha, master_id, asset_id in cat.execute(
                "SELECT path, size, mtime_ns, sha256, icloud_master_id, icloud_asset_id FROM sources"):
            if not _under(path, roots):
                continue
            known = index.originals.get(sha)
            sha = known[5] if known is not None else sha  # one string object per sha256 (100,000 of them)
            index.add_source(Source(path, int(size), int(mtime_ns) / 1e9, sha, None, None),
                             master_id or asset_id or None)
        for path, size, reason in cat.execute("SELECT path, size, reason FROM rejections").fetchall():
            if _under(path, roots):
                name = os.path.basename(path)
                for stem, _id7 in local_keys(name, int(size)):
                    index.rejected.setdefault((stem, norm_ext(name)), []).append((path, int(size), reason))
        index.drill = cat.last_restore_drill()
        for repository, passed, performed_at in cat.execute(
                "SELECT repository, passed, performed_at FROM restore_drills ORDER BY id").fetchall():
            index.drills_by_repository[repository] = {"passed": bool(passed), "performed_at": performed_at}
    finally:
        cat.close()
    return index


def walk_downloads(index: VaultIndex, roots: list[str]) -> None:
    """Files in the download folders that the catalog does not know yet (downloaded, not ingested)."""
    known = {s.path for entries in index.by_key.values() for s in entries}
    known.update(p for entries in index.rejected.values() for p, _s, _r in entries)
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith(".") or name.lower().endswith(SKIP_NAMES):
                    continue
                path = os.path.join(folder, name)
                if path in known:
                    continue
                try:
                    size = os.lstat(path).st_size
                except OSError:
                    continue
                for stem, _id7 in local_keys(name, size):
                    index.unseen.setdefault((stem, norm_ext(name)), []).append((path, size))


# ------------------------------------------------------------------------------------------------
# Matching one iCloud asset to the vault


def _date_ok(source: Source, asset: library.ICloudAsset, originals: dict) -> bool:
    if abs(source.mtime - asset.created) <= DATE_TOLERANCE_S:
        return True
    taken = _epoch((originals.get(source.sha256) or (None,) * 5)[4])
    return taken is not None and abs(taken - asset.created) <= DATE_TOLERANCE_S


def _is_this_asset(source: Source, asset: library.ICloudAsset, id7: str, originals: dict) -> bool:
    if source.master:
        return source.master in (asset.master_id, asset.asset_id)
    if source.id7:
        return source.id7 == id7
    return _date_ok(source, asset, originals)


_UNSET = object()


class FileEvidence:
    """The evidence for one file of an asset: a dict to the report (:meth:`as_dict`), slots in
    memory (a plain dict per file cost ~0.7 KB, 70 MB over 100,000 assets). ``backups`` is a tuple
    of verified counts in the order of ``labels`` (the providers' labels, one shared tuple)."""

    __slots__ = ("kind", "filename", "size", "downloaded", "sha256", "vault_path", "decodes", "copies", "backups",
                 "labels")
    FIELDS = ("kind", "filename", "size", "downloaded", "sha256", "vault_path", "decodes", "copies", "backups")

    def __init__(self, kind: str, filename: str, size, downloaded, sha256) -> None:
        self.kind, self.filename, self.size, self.downloaded, self.sha256 = kind, filename, size, downloaded, sha256
        self.vault_path = self.decodes = self.copies = self.backups = self.labels = _UNSET

    def get(self, key: str, default=None):
        value = getattr(self, key, _UNSET) if key in self.FIELDS else _UNSET
        if value is _UNSET:
            return default
        if key == "backups":
            return dict(zip(self.labels, value))
        return value

    def __getitem__(self, key: str):
        value = self.get(key, _UNSET)
        if value is _UNSET:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        return self.get(key, _UNSET) is not _UNSET

    def as_dict(self) -> dict:
        out = {}
        for key in self.FIELDS:
            value = self.get(key, _UNSET)
            if value is not _UNSET:
                out[key] = value
        return out


class Match:
    """What was found for one resource: the source (or None) and why not."""

    __slots__ = ("resource", "source", "code", "detail")

    def __init__(self, resource, source: Source | None = None, code: str | None = None, detail: str = "") -> None:
        self.resource, self.source, self.code, self.detail = resource, source, code, detail


def match_resource(index: VaultIndex, asset: library.ICloudAsset, resource, stems, id7: str,
                   used: set) -> Match:
    ext = norm_ext(resource.filename)
    what = f"the {library.KIND_TEXT[resource.kind]} {resource.filename}"
    if resource.size is None:
        return Match(resource, code="icloud_size_unknown",
                     detail=f"iCloud lists {what} without a size, so a download cannot be compared with it")
    mine: list[Source] = []
    for stem in stems:
        for source in index.by_key.get((stem, ext), ()):
            if source.path not in used and _is_this_asset(source, asset, id7, index.originals):
                mine.append(source)
    exact = [s for s in mine if s.size == resource.size]
    if exact:
        exact.sort(key=lambda s: (index.originals.get(s.sha256, (None, 0, None))[2] in VERIFY_PROBLEMS, s.path))
        used.add(exact[0].path)
        return Match(resource, exact[0])
    if mine:
        other = mine[0]
        return Match(resource, code="size_differs",
                     detail=f"{what} has {resource.size} bytes in iCloud, the downloaded {os.path.basename(other.path)} "
                            f"has {other.size}: download it again (icloudpd keeps the first file of a name)")
    for stem in stems:
        for path, size, reason in index.rejected.get((stem, ext), ()):
            if size == resource.size:
                return Match(resource, code="not_in_catalog",
                             detail=f"{what} was downloaded ({path}), but ingest rejected it: {reason}")
        for path, size in index.unseen.get((stem, ext), ()):
            if size == resource.size:
                return Match(resource, code="not_in_catalog",
                             detail=f"{what} was downloaded ({path}) but is not ingested yet: run "
                                    "playbooks/photo_ingest.yml")
    code = "live_video_missing" if resource.kind == "live_video" else "not_downloaded"
    return Match(resource, code=code, detail=f"{what} ({resource.size} bytes) is not downloaded")


# ------------------------------------------------------------------------------------------------
# The assessment


class Assessment:
    """One asset's verdict: ``reasons`` is a list of (code, text); empty means safe."""

    __slots__ = ("asset", "reasons", "files")

    def __init__(self, asset: library.ICloudAsset) -> None:
        self.asset = asset
        self.reasons: list[tuple[str, str]] = []
        self.files: list[dict] = []

    @property
    def safe(self) -> bool:
        return not self.reasons

    def primary(self) -> str | None:
        if not self.reasons:
            return None
        return min(self.reasons, key=lambda r: list(REASONS).index(r[0]))[0]


def drill_verdict(drill: dict | None, now: float, max_age_days: float) -> tuple[str, str] | None:
    """The reason every asset is kept because of the restore drill, or None when it passed recently."""
    if drill is None:
        return ("no_drill", "no restore drill has run on this vault: run sovereign.cloud.restore_drill (or the "
                            "PBS media drill) and make sure it passes")
    performed = _epoch(drill.get("performed_at"))
    when = drill.get("performed_at") or "an unknown date"
    if not drill.get("passed"):
        return ("drill_failed", f"the last restore drill ({when}, from {drill.get('repository')} snapshot "
                                f"{str(drill.get('snapshot_id'))[:12]}) failed for {drill.get('failed_count')} of "
                                f"{drill.get('sample_count')} file(s): find out why (sovereign.cloud.restore_drill "
                                "reports each file) and run it again")
    if performed is None or (now - performed) / 86400 > max_age_days:
        return ("drill_old", f"the last restore drill passed on {when}, longer ago than {max_age_days:g} days: run "
                             "it again")
    return None


def pbs_drill_problem(provider, drills: dict, now: float, max_age_days: float) -> str | None:
    """Why a PBS datastore does not count yet, or None. A pxar archive is not listed file by file,
    so only a restore drill from that datastore (files restored and compared by sha256) proves its
    archive holds the vault's originals; without a recent passing one, none of its snapshots counts."""
    drill = drills.get(provider.location)
    if drill is None:
        return (f"no restore drill from PBS {provider.name} has run: its archive is not listed file by file, so only "
                "a drill from it proves it holds the vault's originals")
    performed = _epoch(drill.get("performed_at"))
    if not drill.get("passed"):
        return f"the last restore drill from PBS {provider.name} ({drill.get('performed_at')}) failed"
    if performed is None or (now - performed) / 86400 > max_age_days:
        return (f"the last passing restore drill from PBS {provider.name} ({drill.get('performed_at')}) is older than "
                f"{max_age_days:g} days")
    return None


class Engine:
    """Assess one account: :meth:`run` returns the module result."""

    def __init__(self, params: dict, check_mode: bool, hooks: Hooks) -> None:
        self.params = params
        self.check_mode = check_mode
        self.hooks = hooks
        self.vault = os.path.abspath(params["vault"])
        self.roots = [os.path.abspath(p) for p in params.get("download_roots") or []]
        self.output_dir = os.path.abspath(params["output_dir"])
        self.state_dir = os.path.abspath(params.get("state_dir") or os.path.join(self.output_dir, ".state"))
        self.name = params.get("report_name") or account_key(params["username"])
        self.required = set(params.get("require") or REQUIRED_DEFAULT)
        self.min_copies = int(params.get("min_copies", 2))
        self.count_by = params.get("count_copies_by") or "repository"
        self.secrets: set[str] = set()
        self.timings: dict[str, float] = {}
        self._assets = iter(())
        self._labels: tuple | None = None

    # -------------------------------------------------------------- steps
    def labels(self, providers) -> tuple:
        """The providers' labels as one shared tuple (each file's backup counts are in this order)."""
        if self._labels is None:
            self._labels = tuple(p.label for p in providers)
        return self._labels

    def _timed(self, name: str, started: float) -> float:
        now = time.monotonic()
        self.timings[name] = round(now - started, 3)
        return now

    def providers(self) -> list[backup_evidence.BackupEvidence]:
        found: list[backup_evidence.BackupEvidence] = []
        for spec in self.params.get("restic") or []:
            found.append(backup_evidence.ResticEvidence(spec, self.vault))
        for spec in self.params.get("pbs") or []:
            found.append(backup_evidence.PbsEvidence(spec))
        names = [p.label for p in found]
        if len(set(names)) != len(names):
            raise SafeDeleteError(f"two backup repositories share a name ({', '.join(names)}): give each a unique name")
        return found

    def listing(self):
        if self.hooks.assets is not None:
            return self.hooks.assets
        return library.list_assets(self.params["username"], os.path.expanduser(self.params["cookie_directory"]),
                                   self.reauth_command(), library=self.params.get("library") or library.PRIMARY_LIBRARY,
                                   domain=self.params.get("domain") or "com", transport=self.hooks.transport,
                                   now=self.hooks.now())

    def reauth_command(self) -> str:
        return self.params.get("reauth_command") or (
            f"ansible-playbook playbooks/icloud_reauth.yml -e icloud_username={self.params['username']}")

    def run(self) -> dict:
        started = time.monotonic()
        now_dt = self.hooks.now()
        now = now_dt.timestamp()
        # iCloud first: a session that is gone stops the run before anything is read or written
        listing = iter(self.listing())
        first = next(listing, None)
        self._assets = itertools.chain([first] if first is not None else [], listing)
        mark = self._timed("icloud_first_s", started)
        index = load_vault(self.vault, self.params.get("catalog"), self.roots)
        if self.roots and self.params.get("walk_downloads", True):
            walk_downloads(index, self.roots)
        mark = self._timed("catalog_s", mark)
        providers = self.providers()
        for provider in providers:
            provider.canonical = index.originals
            provider.load(now, self.state_dir, write_cache=not self.check_mode)
            self.secrets |= getattr(provider, "secrets", set())
            if isinstance(provider, backup_evidence.PbsEvidence) and provider.problem is None:
                provider.problem = pbs_drill_problem(provider, index.drills_by_repository, now,
                                                     float(self.params.get("drill_max_age_days", 35)))
                if provider.problem:
                    provider.fix = "sovereign.cloud.restore_drill with the PBS source (the PBS media drill)"
        mark = self._timed("backups_s", mark)
        drill = drill_verdict(index.drill, now, float(self.params.get("drill_max_age_days", 35)))
        assessments, to_decode = self.assess(index, providers, drill)
        mark = self._timed("assess_s", mark)
        decode_state = self.decode(index, assessments, to_decode)
        self._timed("decode_s", mark)
        context = {"drill": drill, "drill_record": index.drill, "providers": providers, "now": now_dt,
                   "decode": decode_state, "sources": index.sources}
        return self.publish(assessments, context, started)

    def assess(self, index: VaultIndex, providers, drill) -> tuple[list[Assessment], dict]:
        originals = index.originals
        to_decode: dict[str, list[Assessment]] = {}
        assessments: list[Assessment] = []
        listed = 0
        for asset in self._assets:
            listed += 1
            verdict = Assessment(asset)
            stems = icloud_stems(asset)
            id7 = icloud_id7(asset.master_id)
            used: set = set()
            for resource in asset.resources:
                if resource.kind not in self.required:
                    continue
                match = match_resource(index, asset, resource, stems, id7, used)
                entry = FileEvidence(resource.kind, resource.filename, resource.size,
                                     match.source.path if match.source else None,
                                     match.source.sha256 if match.source else None)
                verdict.files.append(entry)
                if match.source is None:
                    verdict.reasons.append((match.code, match.detail))
                    continue
                self._vault_evidence(verdict, entry, match, originals, providers, to_decode)
            if not verdict.files:
                verdict.reasons.append(("not_downloaded", "iCloud lists no file of this asset that the report requires"))
            if drill is not None:
                verdict.reasons.append(drill)
            assessments.append(verdict)
        if listed == 0 and self.params.get("allow_empty") is not True:
            raise SafeDeleteError(f"iCloud listed no asset for {self.params['username']} in library "
                                  f"{self.params.get('library') or library.PRIMARY_LIBRARY}: if the library really is "
                                  "empty, set allow_empty; otherwise check the library name (icloudpd --list-libraries)")
        return assessments, to_decode

    def _vault_evidence(self, verdict: Assessment, entry: dict, match: Match, originals: dict, providers,
                        to_decode: dict) -> None:
        sha = match.source.sha256
        what = f"the {library.KIND_TEXT[match.resource.kind]} {match.resource.filename}"
        original = originals.get(sha)
        if original is None:
            verdict.reasons.append(("not_in_catalog", f"{what}: the catalog has no original {sha[:12]}..."))
            return
        rel_path, size, status, recorded_at, _taken, _sha = original
        entry.vault_path = rel_path
        if status in VERIFY_PROBLEMS:
            verdict.reasons.append(("vault_copy_bad", f"{what}: the vault's copy ({rel_path}) was {status} at the last "
                                                      "photo_verify; restore it from a backup"))
            return
        to_decode.setdefault(sha, []).append(verdict)
        copies, backups, unverified = 0, [], []
        for provider in providers:
            verified, other = provider.held(sha, size, recorded_at)
            backups.append(verified)
            if verified:
                copies += 1 if self.count_by == "repository" else verified
            elif other:
                unverified.append(provider)
        entry.backups, entry.labels, entry.copies = tuple(backups), self.labels(providers), copies
        if copies >= self.min_copies:
            return
        for provider in unverified:
            why = provider.problem or "the snapshots holding it were taken after the last verification"
            verdict.reasons.append(("backup_unverified", f"{what} is in {provider.label}, which does not count: {why}"))
        where = ", ".join(label for label, n in zip(entry.labels, backups) if n) or "none"
        if self.count_by == "repository":
            held_in = counted(copies, "verified backup repository", "verified backup repositories")
        else:
            held_in = counted(copies, "verified snapshot", "verified snapshots")
        verdict.reasons.append(("too_few_copies", f"{what} is in {held_in} ({where}); {self.min_copies} required"))

    # -------------------------------------------------------------- decoding
    def decode(self, index: VaultIndex, assessments: list[Assessment], to_decode: dict) -> dict:
        level = self.params.get("decode_check") or "standard"
        cache_path = os.path.join(self.state_dir, "decode-cache.json")
        cache = atomic.read_json(cache_path, {}) or {}
        # sha256 -> "<size> <mtime_ns> <level> <ok 0|1>[ <reason>]": one string an entry, not a list of five
        entries = cache.get("entries") if isinstance(cache, dict) and cache.get("version") == DECODE_CACHE_VERSION \
            else None
        entries = entries if isinstance(entries, dict) else {}
        results: dict[str, tuple[bool, str | None]] = {}
        queue: deque = deque()
        for sha in to_decode:
            rel_path = index.originals[sha][0]
            path = os.path.join(self.vault, unescape_path(rel_path))
            cached = entries.get(sha)
            cached = cached.split(" ", 4) if isinstance(cached, str) else None
            if cached and len(cached) >= 4 and (cached[2] == level or (cached[2] == "full" and level == "standard")):
                try:
                    info = os.stat(path, follow_symlinks=False)
                except OSError:
                    info = None
                if info is not None and cached[0] == str(info.st_size) and cached[1] == str(info.st_mtime_ns):
                    results[sha] = _DECODES if cached[3] == "1" else (False, cached[4] if len(cached) > 4 else None)
                    continue
            queue.append((sha, path, level))
        checked = len(queue)
        budget = self.params.get("decode_max_seconds")
        deadline = time.monotonic() + float(budget) if budget else None
        changed = False

        def on_result(_task, result) -> None:
            nonlocal changed
            sha, size, mtime_ns, ok, reason, cacheable = result
            results[sha] = _DECODES if ok else (False, reason)
            if cacheable and size is not None:
                entries[sha] = f"{size} {mtime_ns} {level} {int(bool(ok))}" + (f" {reason}" if reason else "")
                changed = True

        workers = self.hooks.workers or self.params.get("workers") or None
        if queue:
            # pylint: disable-next=import-outside-toplevel
            from ansible_collections.sovereign.cloud.plugins.module_utils.common.pool import WorkerPool, default_workers
            workers = max(1, int(workers or default_workers()))
            inline = workers == 1 or len(queue) < 8
            with WorkerPool(media_check.check_original, workers, inline=inline) as pool:
                pool.run(queue, on_result, may_submit=(lambda: time.monotonic() < deadline) if deadline else None)
        pending = {task[0] for task in queue}
        for sha, verdicts in to_decode.items():
            for verdict in verdicts:
                if sha in pending:
                    verdict.reasons.append(("decode_pending", f"the vault's copy {sha[:12]}... was not checked in this "
                                                              "run (decode_max_seconds ran out); the next run goes on"))
                    continue
                ok, reason = results.get(sha, (False, "not checked"))
                for entry in verdict.files:
                    if entry.sha256 == sha:
                        entry.decodes = ok
                if not ok:
                    verdict.reasons.append(("does_not_decode", f"the vault's copy {sha[:12]}...: {reason}"))
        if changed and not self.check_mode:
            live = {sha: value for sha, value in entries.items() if sha in index.originals}
            atomic.ensure_dir(self.state_dir, 0o700)
            atomic.replace_bytes(cache_path, report_output.compact_json({"version": DECODE_CACHE_VERSION, "entries": live}), mode=0o600,
                                 durable=False)
        return {"level": level, "checked_now": checked - len(pending), "pending": len(pending),
                "from_cache": len(to_decode) - checked}

    # -------------------------------------------------------------- outputs
    def publish(self, assessments: list[Assessment], context: dict, started: float) -> dict:
        report = report_output.Report(self.params, self.name, assessments, context, REASONS,
                                      min_copies=self.min_copies, count_by=self.count_by)
        paths = report_output.paths(self.output_dir, self.name)
        state_path = os.path.join(self.state_dir, f"report-{self.name}.json")
        previous = atomic.read_json(state_path, {}) or {}
        fingerprint = report.fingerprint()
        fresh = previous.get("fingerprint") == fingerprint and all(os.path.isfile(p) for p in paths.values())
        generated_at = previous.get("generated_at") if fresh else report_output.iso(context["now"])
        changed = not fresh
        if changed and not self.check_mode:
            atomic.ensure_dir(self.output_dir, 0o755)
            mode = int(str(self.params.get("mode") or "0640"), 8)
            report.write(paths, generated_at, mode, self.secrets)
            atomic.ensure_dir(self.state_dir, 0o700)
            atomic.write_json(state_path, {"fingerprint": fingerprint, "generated_at": generated_at,
                                           "summary": report.summary}, mode=0o600)
        summary = report.summary
        result = {
            "changed": changed,
            "account": self.params["username"],
            "library": self.params.get("library") or library.PRIMARY_LIBRARY,
            "counts": summary,
            "reports": paths,
            "generated_at": generated_at,
            "evidence": report.evidence,
            "timings": dict(self.timings, total_s=round(time.monotonic() - started, 3)),
            "summary": self.sentence(summary, changed),
            "diff": {"before": previous.get("summary"), "after": summary},
        }
        return result

    def sentence(self, summary: dict, changed: bool) -> str:
        verb = ("would write" if self.check_mode else "wrote") if changed else "unchanged"
        return (f"{self.params['username']}: {summary['safe']} of {summary['assets']} iCloud asset(s) safe to delete "
                f"({human_bytes(summary['safe_bytes'])}), {summary['keep']} to keep "
                f"({human_bytes(summary['keep_bytes'])}); report {verb}")


def run(params: dict, check_mode: bool = False, hooks: Hooks | None = None) -> dict:
    """The module's result for one account. Raises :class:`SafeDeleteError` or :class:`ICloudError`."""
    hooks = hooks or Hooks()
    if int(params.get("min_copies", 2)) < 1:
        raise SafeDeleteError("min_copies must be at least 1: a photo with no backup copy is never safe to delete")
    unknown = set(params.get("require") or ()) - set(library.KINDS)
    if unknown:
        raise SafeDeleteError(f"unknown resource kinds in require: {', '.join(sorted(unknown))} (use "
                              f"{', '.join(library.KINDS)})")
    if "original" not in set(params.get("require") or REQUIRED_DEFAULT):
        raise SafeDeleteError("require must include original: the report never calls an asset safe without its "
                              "original")
    params = dict(params, require=[k for k in library.KINDS if k in set(params.get("require") or REQUIRED_DEFAULT)])
    if not os.path.isdir(params["vault"]):
        raise SafeDeleteError(f"the vault {params['vault']} does not exist or is not mounted")
    try:
        return Engine(params, check_mode, hooks).run()
    except ICloudError:
        raise
