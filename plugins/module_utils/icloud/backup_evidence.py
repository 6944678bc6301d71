# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Backup evidence for the safe-to-delete report: one provider per backup kind, one small interface.

A provider answers, for an original of the vault, in how many *verified* snapshots of its
repository the original is, and in how many others (:meth:`BackupEvidence.held`), after one
:meth:`BackupEvidence.load`. A provider that cannot vouch for its repository at all (its last
check failed, is missing or is too old; the repository cannot be listed) keeps its snapshots
under ``problem`` and none of them counts.

* :class:`ResticEvidence`: the snapshots of a restic repository (``restic snapshots --json``)
  that hold the vault, each listed once with ``restic ls --json --recursive <id> <vault>/originals``
  (snapshots never change, so a listing is cached by snapshot id in the report's state directory).
  An original counts when a snapshot holds ``<sha256>.<ext>`` with the catalog's size. A
  snapshot is *verified* when it existed when the repository's last ``restic check`` started and
  that check passed within ``check_max_age_days``; the check's result is read from the state file
  the restic_backup role's check timer writes (``check-<name>.json``; a ``common.status`` document
  is read too).
* :class:`PbsEvidence`: the snapshots of a Proxmox Backup Server datastore holding the vault's
  archive (``proxmox-backup-client snapshot list --output-format json``); *verified* means PBS's
  own verification of that snapshot passed (``verification.state == "ok"``). A pxar archive is
  not listed file by file: an original counts in a snapshot taken after the vault recorded it
  (the vault never removes or rewrites an original). Because that is an inference, the report
  counts a PBS datastore only while a restore drill *from it* passed recently
  (``safe_to_delete.pbs_drill_problem``): the drill restores files and compares their sha256.

New backup kinds plug in by subclassing :class:`BackupEvidence`; the report needs nothing else.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import json
import os
import re

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.status import parse_iso

_CONTENT_NAME = re.compile(r"^([0-9a-f]{64})\.([A-Za-z0-9]+)$")
# files the vault keeps next to an original under the same sha256 name (not the original itself)
SIDECAR_EXTS = frozenset({"xmp", "json", "aae", "part", "tmp"})
LS_CACHE_VERSION = 2
DAY = 86400.0


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")


def _epoch(text) -> float | None:
    moment = parse_iso(text) if isinstance(text, str) else None
    if moment is None and isinstance(text, str):
        # restic's times carry nanoseconds, which fromisoformat of Python < 3.11 refuses
        moment = parse_iso(re.sub(r"(\.\d{6})\d+", r"\1", text))
    return moment.timestamp() if moment else None


class BackupEvidence:
    """One backup repository (or datastore) as evidence. Subclasses fill ``snapshots`` (dicts with
    ``id``, ``time`` (epoch), ``verified``) and implement :meth:`held`."""

    kind = "backup"

    def __init__(self, name: str) -> None:
        self.name = name
        self.location = ""
        self.problem: str | None = None   # why none of its snapshots counts
        self.fix: str | None = None       # the command that would make them count
        self.snapshots: list[dict] = []
        self.notes: list[str] = []
        # the catalog's originals (sha256 -> a tuple whose [5] is the sha256), set by the report:
        # providers then keep only what the catalog knows, under the catalog's own strings
        self.canonical: dict | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def load(self, now: float, state_dir: str | None, write_cache: bool) -> None:
        raise NotImplementedError

    def held(self, sha256: str, size: int, recorded_at: float | None) -> tuple[int, int]:
        """(verified snapshots, other snapshots) holding this original."""
        raise NotImplementedError

    def describe(self) -> dict:
        verified = sum(1 for s in self.snapshots if s.get("verified"))
        return {"kind": self.kind, "name": self.name, "location": self.location, "counts": self.problem is None,
                "problem": self.problem, "fix": self.fix, "snapshots": len(self.snapshots),
                "verified_snapshots": verified if self.problem is None else 0, "notes": list(self.notes),
                "newest_snapshot": _iso(max((s["time"] for s in self.snapshots), default=None))}


# ------------------------------------------------------------------------------------------------
# restic


def read_check_status(path: str) -> dict | None:
    """The last ``restic check`` as ``{ok, started, finished, error}``, from the restic_backup
    role's check state file or a ``common.status`` document; None when there is none."""
    doc = atomic.read_json(path)
    if not isinstance(doc, dict):
        return None
    if "status" in doc and "ok" not in doc:  # restic_job.py check
        ok = doc.get("status") == "ok"
        errors = doc.get("errors") or []
        error = errors[0] if errors else None
    elif "ok" in doc:                        # common.status
        ok = bool(doc.get("ok"))
        error = None if ok else doc.get("summary")
    else:
        return None
    finished = _epoch(doc.get("finished_at"))
    started = _epoch(doc.get("started_at")) or finished
    if finished is None:
        return None
    return {"ok": ok, "started": started, "finished": finished, "error": error,
            "last_success": _epoch(doc.get("last_success_at"))}


class ResticEvidence(BackupEvidence):
    """A restic repository (see the module docstring). ``spec``: the module's ``restic`` item."""

    kind = "restic"

    def __init__(self, spec: dict, vault: str) -> None:
        super().__init__(spec["name"])
        self.spec = spec
        self.vault_in_snapshot = os.path.normpath(spec.get("snapshot_vault_path") or vault)
        self._held: dict[str, tuple[int, int, int]] = {}
        self._odd: dict[str, list] = {}
        self.check: dict | None = None
        self.secrets: set[str] = set()

    def _fix_check(self) -> str:
        return self.spec.get("check_command") or f"systemctl start sovereign-restic-check-{self.name}.service"

    def _env(self) -> dict:
        spec = self.spec
        env = restic.build_env(repository=spec.get("repository"), password=spec.get("password"),
                               password_file=spec.get("password_file"), env_file=spec.get("env_file"),
                               env=spec.get("env"), cache_dir=spec.get("cache_dir"))
        self.secrets = restic.secret_values(env) | ({spec["password"]} if spec.get("password") else set())
        self.location = restic.redact_repository(env.get("RESTIC_REPOSITORY", ""))
        return env

    def _judge_check(self, now: float) -> float | None:
        """The moment before which snapshots are verified (the passing check's start), or None
        (with ``problem`` set) when no snapshot of this repository counts."""
        path = self.spec.get("check_status_file")
        max_age = float(self.spec.get("check_max_age_days") or 35)
        self.check = read_check_status(path) if path else None
        if self.check is None:
            where = path or f"/var/lib/sovereign-cloud/restic/check-{self.name}.json"
            self.problem = (f"no result of a 'restic check' of {self.name} ({where} is missing or not a check "
                            "state): its snapshots do not count until a check passes")
            self.fix = self._fix_check()
            return None
        if not self.check["ok"]:
            error = f": {self.check['error']}" if self.check.get("error") else ""
            self.problem = (f"the last 'restic check' of {self.name} failed ({_iso(self.check['finished'])}){error}. "
                            "Its snapshots do not count until a check passes: repair the repository (restic check "
                            "--read-data shows what is damaged), then run the check again")
            self.fix = self._fix_check()
            return None
        age = (now - self.check["finished"]) / DAY
        if age > max_age:
            self.problem = (f"the last passing 'restic check' of {self.name} is {int(age)} days old (more than "
                            f"{max_age:g}): its snapshots do not count until it runs again")
            self.fix = self._fix_check()
            return None
        return self.check["started"]

    def load(self, now: float, state_dir: str | None, write_cache: bool) -> None:
        try:
            env = self._env()
            checked_before = self._judge_check(now)
            snapshots = self._list_snapshots(env)
        except restic.ResticError as exc:
            self.problem = f"restic repository {self.name} cannot be read: {exc}"
            self.fix = f"restic -r {self.location} snapshots"
            return
        binary = self.spec.get("restic_binary") or "restic"
        for snap in snapshots:
            taken = _epoch(snap.get("time")) or 0.0
            verified = checked_before is not None and taken <= checked_before
            entry = {"id": snap["id"], "short_id": snap.get("short_id") or snap["id"][:8], "time": taken,
                     "verified": verified}
            try:
                files = self._snapshot_files(env, binary, snap["id"], state_dir, write_cache)
            except restic.ResticError as exc:
                self.notes.append(f"snapshot {entry['short_id']} could not be listed and is not counted: {exc}")
                continue
            self.snapshots.append(entry)
            held, odd, canonical = self._held, self._odd, self.canonical
            for sha, size in files.items():
                if canonical is not None:
                    # only originals the catalog knows are ever asked for; share its sha256 string
                    known = canonical.get(sha)
                    if known is None:
                        continue
                    sha = known[5]
                # (size, verified snapshots, other snapshots): one small tuple per original; a
                # snapshot holding the name with another size goes to _odd (and never counts)
                known = held.get(sha)
                if known is None:
                    held[sha] = (size, 1, 0) if verified else (size, 0, 1)
                elif known[0] == size:
                    held[sha] = (size, known[1] + 1, known[2]) if verified else (size, known[1], known[2] + 1)
                else:
                    odd.setdefault(sha, []).append((size, verified))
        if not self.snapshots and self.problem is None:
            self.notes.append(f"no snapshot of {self.name} holds {self.vault_in_snapshot}: back the vault up (its "
                              "restic_backup job), or set snapshot_vault_path to where the vault is in the snapshots")

    def _list_snapshots(self, env: dict) -> list[dict]:
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.restore_drill import covers
        args = ["snapshots", "--json", "--no-lock"]
        for host in [self.spec["host"]] if self.spec.get("host") else []:
            args += ["--host", host]
        for tag in self.spec.get("tags") or []:
            args += ["--tag", tag]
        result = restic.run(args, env, binary=self.spec.get("restic_binary") or "restic")
        restic.raise_for(result, env.get("RESTIC_REPOSITORY", ""), "cannot list the snapshots")
        return [s for s in restic.parse_snapshots(result.stdout)
                if s.get("id") and covers(s.get("paths") or [], self.vault_in_snapshot)]

    def _snapshot_files(self, env: dict, binary: str, snapshot_id: str, state_dir: str | None,
                        write_cache: bool) -> dict[str, int]:
        """sha256 -> size of every original in one snapshot (cached: snapshots never change)."""
        cache = os.path.join(state_dir, "restic-ls", f"{snapshot_id}.json") if state_dir else None
        if cache:
            cached = atomic.read_json(cache)
            if isinstance(cached, dict) and cached.get("root") == self.vault_in_snapshot and \
                    cached.get("version") == LS_CACHE_VERSION and \
                    isinstance(cached.get("files"), dict):
                return cached["files"]
        root = self.vault_in_snapshot.rstrip("/") + "/originals"
        result = restic.run(["ls", "--json", "--no-lock", "--recursive", snapshot_id, root], env, binary=binary)
        restic.raise_for(result, env.get("RESTIC_REPOSITORY", ""), f"cannot list snapshot {snapshot_id[:8]}")
        files = parse_ls(result.stdout)
        if cache and write_cache:
            atomic.ensure_dir(os.path.dirname(cache), 0o700)
            atomic.replace_bytes(cache, json.dumps({"version": LS_CACHE_VERSION, "root": self.vault_in_snapshot, "files": files},
                                                   separators=(",", ":")).encode(), mode=0o600, sync_dir=False,
                                 durable=False)
        return files

    def held(self, sha256: str, size: int, recorded_at: float | None) -> tuple[int, int]:  # noqa: ARG002
        verified = other = 0
        known = self._held.get(sha256)
        if known is not None and known[0] == size:
            verified, other = known[1], known[2]
        for got, is_verified in self._odd.get(sha256, ()):
            if got == size:
                verified, other = (verified + 1, other) if is_verified else (verified, other + 1)
        if self.problem is not None:
            return 0, verified + other
        return verified, other

    def describe(self) -> dict:
        out = super().describe()
        out["last_check"] = None if self.check is None else {
            "ok": self.check["ok"], "started_at": _iso(self.check["started"]), "finished_at": _iso(self.check["finished"])}
        return out


def parse_ls(stdout: str) -> dict[str, int]:
    """sha256 -> size of the vault's originals (``<sha256>.<ext>`` files) in ``restic ls --json``."""
    files: dict[str, int] = {}
    loads = json.loads
    for line in (stdout or "").splitlines():
        if '"type":"file"' not in line:
            continue
        try:
            node = loads(line)
        except ValueError:
            continue
        match = _CONTENT_NAME.match(node.get("name") or "")
        if match and match.group(2).lower() not in SIDECAR_EXTS and isinstance(node.get("size"), int):
            files[match.group(1)] = node["size"]
    return files


# ------------------------------------------------------------------------------------------------
# Proxmox Backup Server


class PbsEvidence(BackupEvidence):
    """A PBS datastore holding the vault's archive (see the module docstring)."""

    kind = "pbs"

    def __init__(self, spec: dict) -> None:
        super().__init__(spec["name"])
        self.spec = spec
        self._verified: list[float] = []
        self._other: list[float] = []
        self.secrets: set[str] = set()

    def load(self, now: float, state_dir: str | None, write_cache: bool) -> None:  # noqa: ARG002
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client as pbc
        env = dict(os.environ)
        try:
            if self.spec.get("env_file"):
                env.update(restic.read_env_file(self.spec["env_file"]))
        except restic.ResticError as exc:
            self.problem = f"PBS {self.name}: {exc}"
            return
        env.update({str(k): str(v) for k, v in (self.spec.get("env") or {}).items()})
        self.secrets = {v for k, v in env.items() if v and k.startswith("PBS_") and
                        ("PASSWORD" in k or "SECRET" in k) and not k.endswith("_FILE")}
        self.location = pbc.redact_repository(env.get("PBS_REPOSITORY", ""))
        archive = self.spec.get("archive") or "media.pxar"
        wanted = {archive, archive + ".didx"}
        try:
            items = pbc.list_snapshots(self.spec.get("client_binary") or "proxmox-backup-client", env,
                                       self.spec.get("ns"))
        except (pbc.BackupClientError, ValueError) as exc:
            self.problem = f"the snapshots of PBS {self.name} cannot be listed: {exc}"
            self.fix = "proxmox-backup-client snapshot list --output-format json"
            return
        backup_id = self.spec.get("backup_id")
        for item in items:
            if backup_id and item.get("backup-id") != backup_id:
                continue
            if not any(f.get("filename") in wanted for f in item.get("files") or [] if isinstance(f, dict)):
                continue
            verified = (item.get("verification") or {}).get("state") == "ok"
            taken = float(item.get("backup-time") or 0)
            self.snapshots.append({"id": pbc.snapshot_name(item), "short_id": pbc.snapshot_name(item),
                                   "time": taken, "verified": verified})
            (self._verified if verified else self._other).append(taken)
        self._verified.sort()
        self._other.sort()
        if self.snapshots and not self._verified:
            self.notes.append(f"no snapshot of {archive} on PBS {self.name} has passed verification: schedule a "
                              "verify job (sovereign.cloud.pbs_verify_job) or run it now (sovereign.cloud.pbs_job_run)")
        if not self.snapshots:
            self.notes.append(f"no snapshot on PBS {self.name} holds {archive}: run the media backup first "
                              "(systemctl start sovereign-pbs-backup-<name>.service)")

    def held(self, sha256: str, size: int, recorded_at: float | None) -> tuple[int, int]:  # noqa: ARG002
        if recorded_at is None:
            return 0, 0
        later_verified = len(self._verified) - bisect.bisect_left(self._verified, recorded_at)
        later_other = len(self._other) - bisect.bisect_left(self._other, recorded_at)
        return (0, later_verified + later_other) if self.problem else (later_verified, later_other)
