# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign.cloud restic job runner (installed by the restic_backup role; standard library only).

Run with python3 (the units do: ``/usr/bin/python3 /usr/local/lib/sovereign/restic_job.py ...``):

  restic_job.py backup JOB.json      backup --json, forget --json (this job's snapshots only), prune
  restic_job.py check CHECK.json     check --read-data-subset
  restic_job.py accept JOB.json      let the next backup shrink (files deleted on purpose): it becomes the baseline
  restic_job.py restic ENV_FILE ARGS run restic with a repository's env file (sovereign-restic uses it)

The role installs the collection's ``restic.py`` and ``common`` package next to this file, under
their collection import path (``ansible_collections/sovereign/cloud/plugins/module_utils/``).
Every run writes its result as JSON (the ``state_file`` of its config, replaced atomically by
``common.atomic.write_json``) for reports, and exits
non-zero on failure so that the systemd unit's OnFailure= notification fires:
0 ok, 1 failed, 3 backup incomplete (some files could not be read; nothing was forgotten).

The shrink guard compares a backup with the last *successful* one (its file count and which paths
held files, kept in the state file across failed and incomplete runs), never with an incomplete
one: a disk that stays unmounted is reported every night, not only the first.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils import restic  # noqa: E402
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic  # noqa: E402

LOCK_POLL_S = 5


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def log(message: str) -> None:
    print(message, flush=True)


class RepositoryLock:
    """One restic job at a time per repository on this host (a prune needs the repository to itself)."""

    def __init__(self, path: str, timeout_s: float) -> None:
        self.path, self.timeout_s, self.handle = path, timeout_s, None

    def __enter__(self) -> RepositoryLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a+", encoding="utf-8")  # pylint: disable=consider-using-with
        deadline = time.monotonic() + self.timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if not waited:
                    log(f"waiting for another sovereign restic job on this repository ({self.path})")
                    waited = True
                if time.monotonic() > deadline:
                    raise restic.ResticError(f"gave up after {int(self.timeout_s)} s waiting for {self.path}: another "
                                             "job on this repository is still running", kind="locked") from None
                time.sleep(LOCK_POLL_S)

    def __exit__(self, *exc) -> None:
        if self.handle:
            self.handle.close()


def load_config(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"restic_job: cannot read {path}: {exc}") from exc


def job_tag(cfg: dict) -> str:
    return f"sovereign-job:{cfg['job']}"


def backup_args(cfg: dict, host: str) -> list[str]:
    args = ["backup", "--json", "--host", host, "--tag", job_tag(cfg)]
    for tag in cfg.get("tags") or []:
        args += ["--tag", tag]
    for pattern in cfg.get("excludes") or []:
        args += ["--exclude", pattern]
    for name in cfg.get("exclude_if_present") or []:
        args += ["--exclude-if-present", name]
    if cfg.get("exclude_caches", True):
        args.append("--exclude-caches")
    if cfg.get("one_file_system"):
        args.append("--one-file-system")
    args += list(cfg.get("extra_args") or [])
    return args + ["--"] + list(cfg["paths"])


def forget_args(cfg: dict, host: str) -> list[str]:
    # Only this job's snapshots from this host, as one group: another job's snapshots in the same
    # repository never see this job's policy, and a change of paths does not strand old snapshots.
    return (["forget", "--json", "--host", host, "--tag", job_tag(cfg), "--group-by", cfg.get("group_by", "host")]
            + restic.retention_args(cfg["retention"]))


def has_entries(path: str) -> bool | None:
    """Whether a directory holds anything (None when it is not a readable directory)."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError:
        return None


def nonempty_paths(cfg: dict) -> list[str]:
    return [path for path in cfg["paths"] if has_entries(path) is True]


def accept_command(cfg: dict) -> str:
    return f"python3 {os.path.abspath(__file__)} accept {cfg.get('config_path', 'JOB.json')}"


def baseline(previous: dict) -> tuple[int, list[str] | None, str]:
    """The last good run's file count, its non-empty paths and when it ran (a state file written
    before these were kept counts only when its own run was good)."""
    if "last_success_files" in previous:
        return (previous.get("last_success_files") or 0, previous.get("last_success_nonempty_paths"),
                previous.get("last_success_at") or "")
    if previous.get("status") == "ok":
        return ((previous.get("stats") or {}).get("total_files_processed") or 0, None,
                previous.get("last_success_at") or "")
    return 0, None, ""


def incomplete_reasons(cfg: dict, parsed: dict, previous: dict, empty: list[str]) -> list[str]:
    """Why a backup that restic finished must not count as complete (empty when it does)."""
    reasons = []
    if parsed["unreadable"]:
        reasons.append(f"{len(parsed['unreadable'])} file(s) could not be read, e.g. {parsed['unreadable'][0]['item']} "
                       f"({parsed['unreadable'][0]['error']})")
    if parsed["status"] == "incomplete" and not parsed["unreadable"]:
        reasons.append("restic reported an incomplete backup (exit code 3)")
    for path in parsed["missing_paths"]:
        reasons.append(f"{path} does not exist (is the disk mounted?)")
    if previous.get("accept_next"):
        return reasons  # files deleted on purpose: this run sets the new baseline
    before, had_files, when = baseline(previous)
    since = f"the last good backup ({when})" if when else "the last good backup"
    accept = (f"If the files were deleted on purpose, run `{accept_command(cfg)}`: the next backup then becomes "
              "the new baseline")
    for path in empty:
        if had_files is not None and path in had_files:
            reasons.append(f"{path} is empty, {since} had files there (is the disk mounted?). {accept}")
    now = parsed["total_files_processed"]
    limit = cfg.get("max_shrink_percent", 50)
    if before and not now and not any(path in reason for path in empty for reason in reasons):
        reasons.append(f"the backup holds 0 files, {since} {before} files (is the disk mounted?). {accept}")
    elif before and now and limit < 100 and now < before * (100 - limit) / 100:
        reasons.append(f"the backup holds {now} files, {since} {before} files: more than {limit}% fewer. Is a disk "
                       f"unmounted or a folder gone? {accept}")
    return reasons


def run_backup(cfg: dict) -> int:
    host = cfg.get("host") or socket.gethostname()
    state = {
        "kind": "backup", "job": cfg["job"], "repository": cfg.get("repository", ""),
        "location": "", "host": host, "paths": cfg["paths"], "started_at": utc_now(), "finished_at": None,
        "status": "failed", "phase": "setup", "rc": None, "snapshot_id": None, "errors": [], "warnings": [],
        "unreadable": [], "forget": None, "pruned": False,
    }
    previous = atomic.read_json(cfg["state_file"], {})
    for key in ("last_success_at", "last_success_snapshot"):
        state[key] = previous.get(key)
    # The baseline the shrink guard compares with survives failed and incomplete runs.
    state["last_success_files"], state["last_success_nonempty_paths"], _when = baseline(previous)
    state["accept_next"] = bool(previous.get("accept_next"))
    t0 = time.monotonic()
    code = 1
    try:
        restic.retention_args(cfg["retention"])  # a bad policy fails before anything runs
        env = restic.build_env(env_file=cfg.get("env_file"), cache_dir=cfg.get("cache_dir"))
        location = env.get("RESTIC_REPOSITORY", "")
        state["location"] = restic.redact_repository(location)
        with RepositoryLock(cfg["lock_file"], cfg.get("lock_timeout_s", 6 * 3600)):
            # Locks left by a killed run would block every later one; unlock removes only stale locks.
            restic.run(["unlock"], env)
            state["phase"] = "backup"
            nonempty = nonempty_paths(cfg)
            empty = [path for path in cfg["paths"] if has_entries(path) is False]
            result = restic.run(backup_args(cfg, host), env)
            parsed = restic.parse_backup(result.stdout, result.stderr, result.returncode)
            state.update(rc=result.returncode, snapshot_id=parsed["snapshot_id"], unreadable=parsed["unreadable"],
                         warnings=parsed["warnings"], stats={k: parsed[k] for k in (
                             "files_new", "files_changed", "files_unmodified", "dirs_new", "dirs_changed",
                             "dirs_unmodified", "data_added", "total_files_processed", "total_bytes_processed")})
            if parsed["status"] == "failed":
                kind = restic.classify_error(result.stderr)
                state["errors"].append(restic.explain(kind, location, result.stderr) if kind != "no_source" else
                                       "none of the job's paths exist (is the disk mounted?): " + ", ".join(cfg["paths"]))
                return code
            problems = incomplete_reasons(cfg, parsed, previous, empty)
            if problems:
                # An unmounted disk or unreadable files must not let retention drop the good snapshots.
                state["status"] = "incomplete"
                state["errors"].extend(problems)
                state["errors"].append(f"the snapshot {parsed['snapshot_id']} is kept, but no snapshot was forgotten")
                code = restic.INCOMPLETE
                return code
            state["phase"] = "forget"
            result = restic.run(forget_args(cfg, host), env)
            if result.returncode != restic.OK:
                state["rc"] = result.returncode
                state["errors"].append(restic.explain(restic.classify_error(result.stderr), location, result.stderr))
                return code
            forget = restic.parse_forget(result.stdout)
            state["forget"] = {k: forget[k] for k in ("groups", "kept", "removed", "kept_ids", "removed_ids")}
            if forget["removed"] and cfg.get("prune", True):
                state["phase"] = "prune"
                result = restic.run(["prune"], env)
                state["prune_report"] = restic.last_lines(result.stdout, 4)
                if result.returncode != restic.OK:
                    state["rc"] = result.returncode
                    state["errors"].append(restic.explain(restic.classify_error(result.stderr), location,
                                                          result.stderr))
                    return code
                state["pruned"] = True
            state.update(status="ok", phase="done", rc=0, last_success_at=utc_now(),
                         last_success_snapshot=state["snapshot_id"], accept_next=False,
                         last_success_files=parsed["total_files_processed"], last_success_nonempty_paths=nonempty)
            code = 0
            return code
    except (restic.ResticError, ValueError, KeyError, OSError) as exc:
        state["errors"].append(str(exc) if not isinstance(exc, KeyError) else f"job config lacks {exc}")
        return code
    finally:
        state["finished_at"] = utc_now()
        state["duration_s"] = round(time.monotonic() - t0, 3)
        atomic.write_json(cfg["state_file"], state)
        log(summarise(state))
        for error in state["errors"]:
            print(f"error: {error}", file=sys.stderr, flush=True)


def summarise(state: dict) -> str:
    stats = state.get("stats") or {}
    parts = [f"job {state['job']}: {state['status']}"]
    if state.get("snapshot_id"):
        parts.append(f"snapshot {state['snapshot_id']} ({stats.get('files_new', 0)} new, "
                     f"{stats.get('files_changed', 0)} changed, {stats.get('data_added', 0)} bytes added)")
    if state.get("forget"):
        parts.append(f"kept {state['forget']['kept']}, removed {state['forget']['removed']}")
    if state.get("pruned"):
        parts.append("pruned")
    if state.get("status") != "ok":
        parts.append(f"in phase {state.get('phase')}")
    return "; ".join(parts)


def run_check(cfg: dict) -> int:
    state = {"kind": "check", "repository": cfg.get("repository", ""), "subset": cfg.get("subset", "5%"),
             "started_at": utc_now(), "finished_at": None, "status": "failed", "rc": None, "errors": []}
    previous = atomic.read_json(cfg["state_file"], {})
    state["last_success_at"] = previous.get("last_success_at")
    t0 = time.monotonic()
    code = 1
    try:
        if not restic.valid_subset(state["subset"]):
            raise ValueError(f"invalid read-data subset {state['subset']!r}: use a percentage (5%), n/t (1/5) or a "
                             "size (500M)")
        env = restic.build_env(env_file=cfg.get("env_file"), cache_dir=cfg.get("cache_dir"))
        state["location"] = restic.redact_repository(env.get("RESTIC_REPOSITORY", ""))
        with RepositoryLock(cfg["lock_file"], cfg.get("lock_timeout_s", 6 * 3600)):
            restic.run(["unlock"], env)
            result = restic.run(["check", f"--read-data-subset={state['subset']}"], env)
        state["rc"] = result.returncode
        text = (result.stdout + "\n" + result.stderr).splitlines()
        if result.returncode == restic.OK:
            state.update(status="ok", last_success_at=utc_now())
            code = 0
        else:
            problems = [line.strip() for line in text if line.strip() and (
                "error" in line.lower() or "does not match" in line or line.startswith("Fatal:") or "pack " in line)]
            state["errors"] = problems[-50:] or [restic.explain(restic.classify_error(result.stderr),
                                                                env.get("RESTIC_REPOSITORY", ""), result.stderr)]
        state["report"] = restic.last_lines(result.stdout, 3)
        return code
    except (restic.ResticError, ValueError, OSError) as exc:
        state["errors"].append(str(exc))
        return code
    finally:
        state["finished_at"] = utc_now()
        state["duration_s"] = round(time.monotonic() - t0, 3)
        atomic.write_json(cfg["state_file"], state)
        log(f"check {state['repository']} ({state['subset']}): {state['status']}")
        for error in state["errors"]:
            print(f"error: {error}", file=sys.stderr, flush=True)


def exec_restic(env_file: str, args: list[str]) -> int:
    try:
        # The env file's cache (the role's restic_backup_cache_dir) unless the caller set one.
        env = restic.build_env(env_file=env_file, cache_dir=os.environ.get("RESTIC_CACHE_DIR"))
        env.setdefault("RESTIC_CACHE_DIR", "/var/cache/sovereign-restic")
        binary = restic.find_restic()
    except restic.ResticError as exc:
        print(f"restic_job: {exc}", file=sys.stderr)
        return 1
    os.execve(binary, [binary, *args], env)
    return 1  # not reached


def accept_shrink(cfg: dict) -> int:
    """Mark the job's next backup as the new baseline, whatever its size (files deleted on purpose)."""
    state = atomic.read_json(cfg["state_file"], {})
    state.setdefault("kind", "backup")
    state.setdefault("job", cfg["job"])
    if "last_success_files" not in state:
        state["last_success_files"], state["last_success_nonempty_paths"], _when = baseline(state)
    state["accept_next"] = True
    atomic.write_json(cfg["state_file"], state)
    log(f"the next backup of {cfg['job']} becomes the new baseline, whatever its size (it still fails on a missing "
        f"path or unreadable files); run it now with: systemctl start sovereign-restic-{cfg['job']}.service")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "restic":
        return exec_restic(argv[1], argv[2:])
    if len(argv) != 2 or argv[0] not in ("backup", "check", "accept"):
        print(__doc__, file=sys.stderr)
        return 2
    cfg = load_config(argv[1])
    cfg["config_path"] = os.path.abspath(argv[1])
    if argv[0] == "accept":
        return accept_shrink(cfg)
    return run_backup(cfg) if argv[0] == "backup" else run_check(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
