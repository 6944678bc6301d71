# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign-photos: the photo vault by hand and from its systemd timers (installed by the photo_vault role).

  sovereign-photos ingest [--source NAME|PATH]... [--create] [--check]   watched sources -> originals + catalog
  sovereign-photos thumbnails [--force] [--check]             make the thumbnails that are due
  sovereign-photos verify [--full | --percent P] [--max-seconds S] [--max-bytes B] [--check]
  sovereign-photos info [--json]                              what the vault holds
  sovereign-photos repair [--quick] [--check]                 restore damaged originals and sidecars
  sovereign-photos rebuild-catalog [--check]                  a lost catalog, rebuilt from originals/ + sidecars
  sovereign-photos get SHA256 [--size tiny|small|medium|full] [--no-cache]   a local path to one photo

It reads the role's configuration file (``--config``, default $SOVEREIGN_PHOTOS_CONFIG or
/etc/sovereign/photo-vault.yml) and runs the very engine the Ansible modules run: the role ships
the collection's ``plugins/module_utils/photo_vault`` and ``common`` packages next to this file
as ``ansible_collections/sovereign/cloud/plugins/module_utils/``.

On a terminal it draws a progress bar (files done/total, MB/s, ETA); otherwise (a systemd timer,
a pipe) it logs a progress line every ``progress_interval`` seconds. Started as root, it drops to
the configuration's ``user`` before touching the vault, so files keep the service user as owner.

Each real run of ingest, thumbnails and verify records itself in the collection's status file
(``common.status``): ``<state_dir>/status/photo_vault.<command>--<name>.json``, with this run's
whole result under ``details``; the status page reads it. Exit codes, so that a unit's OnFailure=
notice fires when something needs a person: 0 ok; 1 the run failed or found a problem (a vault write
error, a missing watched source, thumbnails that failed, a corrupt/missing/unreadable original);
2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

DEFAULT_CONFIG = "/etc/sovereign/photo-vault.yml"
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2
MAX_LISTED = 1000  # rejected files listed in a status file (the count is always complete)
BAR_WIDTH = 28


class UsageError(Exception):
    """A configuration or command-line problem; the message says what to fix."""


def engine(name: str):
    """Import ``plugins/module_utils/<name>`` from the copy installed next to this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    module = __import__(f"ansible_collections.sovereign.cloud.plugins.module_utils.{name}", fromlist=["_"])
    return module


# ---------------------------------------------------------------------------------------- config
def load_config(path: str) -> dict:
    try:
        import yaml  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise UsageError("PyYAML is not installed for this Python; re-run the photo_vault role") from exc
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except FileNotFoundError as exc:
        raise UsageError(f"no configuration at {path}; apply the photo_vault role, or pass --config") from exc
    except PermissionError as exc:
        raise UsageError(f"cannot read {path} (it may hold the catalog password); run as root or as the "
                         "vault's service user") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict) or not data.get("vault"):
        raise UsageError(f"{path} does not name a vault (key 'vault')")
    data.setdefault("sources", [])
    data.setdefault("ingest", {})
    data.setdefault("verify", {})
    for source in data["sources"]:
        if not isinstance(source, dict) or not source.get("path"):
            raise UsageError(f"{path}: every source needs a path, got {source!r}")
        source.setdefault("name", os.path.basename(str(source["path"]).rstrip("/")) or source["path"])
    return data


def drop_privileges(config: dict) -> None:
    """As root, become the configuration's service user (and its groups) before any vault access."""
    user = config.get("user")
    if os.geteuid() != 0 or not user or user == "root":
        return
    import grp  # pylint: disable=import-outside-toplevel
    import pwd  # pylint: disable=import-outside-toplevel
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise UsageError(f"the service user {user!r} of the configuration does not exist; apply the base role") from exc
    gid = grp.getgrnam(config["group"]).gr_gid if config.get("group") else entry.pw_gid
    os.initgroups(user, gid)
    os.setgid(gid)
    os.setuid(entry.pw_uid)
    os.environ["HOME"] = entry.pw_dir  # ~/.pgpass of the service user
    os.environ["USER"] = os.environ["LOGNAME"] = user


# ---------------------------------------------------------------------------------------- output
class Progress:
    """Progress of a long run: a bar redrawn in place on a terminal, else a log line every
    ``interval`` seconds (one journal line each when run by a timer)."""

    def __init__(self, label: str, stream, tty: bool, interval: float = 30.0) -> None:
        self.label, self.stream, self.tty, self.interval = label, stream, tty, interval
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False
        self.text = engine("common.text")  # human_bytes, human_duration

    def update(self, done: int, total: int, bytes_done: int | None = None, bytes_total: int | None = None,
               mb_per_s: float | None = None, eta_s: float | None = None) -> None:
        now = time.monotonic()
        finished = total > 0 and done >= total
        if now - self.last < (0.2 if self.tty else self.interval) and not finished:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        if bytes_total:
            if mb_per_s is None:
                mb_per_s = (bytes_done or 0) / elapsed / 1e6
            if eta_s is None:
                rate = (bytes_done or 0) / elapsed
                eta_s = (bytes_total - (bytes_done or 0)) / rate if rate > 0 else None
            speed = f"{self.text.human_bytes(bytes_done or 0)}/{self.text.human_bytes(bytes_total)}, {mb_per_s:.1f} MB/s"
        else:
            rate = done / elapsed
            if eta_s is None:
                eta_s = (total - done) / rate if rate > 0 else None
            speed = f"{rate:.1f} files/s"
        if finished:
            eta = "ETA done"
        else:
            eta = "ETA " + (self.text.human_duration(eta_s) if eta_s is not None else "?")
        if self.tty:
            filled = int(BAR_WIDTH * done / total) if total else BAR_WIDTH
            meter = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r{self.label} [{meter}] {done}/{total} files, {speed}, {eta}\033[K")
            self.drawn = True
        else:
            self.stream.write(f"{self.label}: {done}/{total} files, {speed}, {eta}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class Log:
    """Messages for a person (terminal) or the journal (systemd sets JOURNAL_STREAM)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.journal = bool(os.environ.get("JOURNAL_STREAM"))

    def _line(self, level: int, text: str, stream) -> None:
        prefix = f"<{level}>" if self.journal else ""
        for line in str(text).splitlines() or [""]:
            stream.write(f"{prefix}{line}\n")
        stream.flush()

    def info(self, text: str) -> None:
        if not self.quiet:
            self._line(6, text, sys.stdout)

    def warn(self, text: str) -> None:
        self._line(4, f"warning: {text}", sys.stderr)

    def error(self, text: str) -> None:
        self._line(3, f"error: {text}", sys.stderr)


def write_state(config: dict, command: str, state: dict) -> str | None:
    """Record this run in ``<state_dir>/status/photo_vault.<command>--<name>.json`` (``common.status``:
    written atomically, the last success carried over a failed run), the run's whole result under
    ``details``."""
    state_dir = config.get("state_dir")
    if not state_dir:
        return None
    settings = config.get("status") or {}
    job = (settings.get("jobs") or {}).get(command) or {}
    return engine("common.status").write_status(
        state_dir, f"photo_vault.{command}", settings.get("name") or os.path.basename(config["vault"].rstrip("/")),
        state["exit_code"] == EXIT_OK, state["message"] or f"{command} {state['status']}",
        started_at=state["started_at"], finished_at=state["finished_at"], every=job.get("every"),
        fix=job.get("fix") or f"sovereign-photos {command}", details=state)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ---------------------------------------------------------------------------------------- commands
def _progress(args, label: str, config: dict) -> Progress | None:
    if args.quiet:
        return None
    tty = sys.stderr.isatty() and not args.no_bar
    return Progress(label, sys.stderr if tty else sys.stdout, tty, float(config.get("progress_interval", 30)))


def _selected_sources(config: dict, wanted: list[str] | None) -> list[dict]:
    sources = config["sources"]
    if not wanted:
        return sources
    chosen = []
    for item in wanted:
        match = [s for s in sources if s["name"] == item or os.path.abspath(s["path"]) == os.path.abspath(item)]
        if not match:
            names = ", ".join(s["name"] for s in sources) or "none"
            raise UsageError(f"{item!r} is not a watched source of this vault (sources: {names})")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def cmd_ingest(args, config: dict, log: Log) -> tuple[int, dict]:
    vault_ingest = engine("photo_vault.ingest")
    ingest = config["ingest"]
    sources = _selected_sources(config, args.source)
    if not sources:
        raise UsageError("no watched sources are configured (photo_vault_sources); nothing to ingest")
    present, absent = [], []
    for source in sources:
        (present if os.path.isdir(source["path"]) else absent).append(source)
    problems = []
    for source in absent:
        text = (f"watched source {source['name']!r} ({source['path']}) does not exist or is not a directory "
                "(not mounted? not synced yet?)")
        if source.get("required", True):
            problems.append(text)
            log.error(text)
        else:
            log.warn(text + "; skipped (required: false)")
    result: dict = {"sources": {s["name"]: s["path"] for s in present},
                    "missing_sources": [s["name"] for s in absent]}
    if present:
        meter = _progress(args, "ingest", config)

        def show(state: dict) -> None:
            if meter:
                meter.update(state["files_done"], state["files_total"], state.get("bytes_done"),
                             state.get("bytes_total"), state.get("mb_per_s"), state.get("eta_s"))

        cfg = vault_ingest.IngestConfig(
            [s["path"] for s in present], config["vault"], catalog=config.get("catalog") or None,
            thumbnails=bool(ingest.get("thumbnails", True)), thumbs_root=config.get("thumbs_root") or None,
            min_age=int(ingest.get("min_age", 60)), workers=int(config.get("workers") or 0) or None,
            verify_writes=bool(ingest.get("verify_writes", True)), check=args.check, progress=show,
            progress_interval=0.2 if meter and meter.tty else float(config.get("progress_interval", 30)),
            state_dir=config.get("state_dir") or None, create=bool(args.create or ingest.get("create")))
        try:
            report = vault_ingest.run_ingest(cfg)
        except vault_ingest.IngestError as exc:
            raise RunError(str(exc), result) from exc
        finally:
            if meter:
                meter.close()
        report.pop("catalog", None)  # may be a DSN with a password
        for warning in report.pop("warnings", []):
            log.warn(warning)
        for item in report["rejected"][:50]:
            log.warn(f"rejected {item['path']}: {item['reason']}")
        if len(report["rejected"]) > 50:
            log.warn(f"... and {len(report['rejected']) - 50} more rejected files (see the status file)")
        for item in report.get("restored_files", []):
            log.warn(f"restored {item['path']} from {item['from']}: {item['reason']}")
        for path in report.get("set_aside", []):
            log.warn(f"kept a damaged or foreign file as {path} (not overwritten)")
        for item in report["errors"]:
            log.error(f"could not write {item['path']} to the vault: {item['reason']}")
            problems.append(f"{item['path']}: {item['reason']}")
        if ingest.get("fail_on_rejected") and report["rejected"]:
            problems.append(f"{len(report['rejected'])} input(s) rejected (fail_on_rejected is set)")
        report["rejected_count"] = len(report["rejected"])
        report["rejected"] = report["rejected"][:MAX_LISTED]
        result.update(report)
        log.info(report["summary"])
    result["problems"] = problems
    return (EXIT_PROBLEM if problems else EXIT_OK), result


def cmd_thumbnails(args, config: dict, log: Log) -> tuple[int, dict]:
    run = engine("photo_vault.thumbnails_run")
    meter = _progress(args, "thumbnails", config)
    try:
        report = run.make_missing_thumbnails(
            config["vault"], config.get("catalog") or None, config.get("thumbs_root") or None,
            workers=int(config.get("workers") or 0), force=args.force, check_mode=args.check,
            progress=meter.update if meter else None, state_dir=config.get("state_dir") or None)
    except run.ThumbnailRunError as exc:
        raise RunError(str(exc), {}) from exc
    finally:
        if meter:
            meter.close()
    for warning in report.warnings:
        log.warn(warning)
    for item in report.failed:
        log.error(f"no thumbnails for {item['sha256']}: {item['reason']}")
    result = report.as_dict()
    result["problems"] = [f"{item['sha256']}: {item['reason']}" for item in report.failed]
    log.info(result["summary"])
    return (EXIT_PROBLEM if report.failed else EXIT_OK), result


def cmd_verify(args, config: dict, log: Log) -> tuple[int, dict]:
    verify = engine("photo_vault.verify")
    settings = config["verify"]
    mode = "full" if args.full else "sample"
    percent = args.percent if args.percent is not None else settings.get("percent")
    max_seconds = args.max_seconds if args.max_seconds is not None else settings.get("max_seconds")
    max_bytes = args.max_bytes if args.max_bytes is not None else settings.get("max_bytes")
    if mode == "sample" and not (percent or max_seconds or max_bytes):
        percent = 100.0  # no budget at all: the whole vault
    max_bytes = parse_size(max_bytes) if max_bytes not in (None, "") else None
    meter = _progress(args, "verify", config)
    try:
        report = verify.verify_vault(
            config["vault"], config.get("catalog") or None, mode=mode,
            percent=float(percent) if percent and mode == "sample" else None,
            max_bytes=max_bytes if mode == "sample" else None,
            max_seconds=int(max_seconds) if max_seconds and mode == "sample" else None,
            thumbs_root=config.get("thumbs_root") or None, workers=int(config.get("workers") or 0),
            record=not args.check, progress=meter.update if meter else None,
            state_dir=config.get("state_dir") or None)
    except verify.VerifyError as exc:
        raise RunError(str(exc), {}) from exc
    finally:
        if meter:
            meter.close()
    for warning in report.warnings:
        log.warn(warning)
    result = report.as_dict()
    for item in report.details:
        if item["status"] in verify.PROBLEM_STATUSES:
            log.error(f"{item['status']} original {item['path']} ({item['sha256']}): {item['detail']}")
    if report.unknown:
        log.warn(f"{len(report.unknown)} file(s) in originals/ are not in the catalog, e.g. {report.unknown[0]}")
    result["problems"] = [f"{item['status']}: {item['sha256']} {item['path']}" for item in report.details
                          if item["status"] in verify.PROBLEM_STATUSES]
    log.info(result["summary"])
    fail = report.failed and settings.get("fail_on_problems", True)
    return (EXIT_PROBLEM if fail else EXIT_OK), result


def cmd_info(args, config: dict, log: Log) -> tuple[int, dict]:
    report_engine = engine("photo_vault.report")
    try:
        report = report_engine.catalog_info(config["vault"], config.get("catalog") or None,
                                            config.get("thumbs_root") or None)
    except report_engine.ReportError as exc:
        raise RunError(str(exc), {}) from exc
    for warning in report.pop("warnings", []):
        log.warn(warning)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    else:
        log.info(describe(report, config))
    return EXIT_OK, report


def cmd_repair(args, config: dict, log: Log) -> tuple[int, dict]:
    repair = engine("photo_vault.repair")
    try:
        result = repair.repair_vault(config["vault"], config.get("catalog") or None, check=args.check,
                                     verify_writes=bool(config["ingest"].get("verify_writes", True)),
                                     rehash=not args.quick)
    except repair.RepairError as exc:
        raise RunError(str(exc), {}) from exc
    for item in result["originals_restored"]:
        log.info(f"{'would restore' if args.check else 'restored'} {item['path']} ({item['problem']}) "
                 f"from {item['from']}")
    for item in result["sidecars_rewritten"]:
        log.info(f"{'would rewrite' if args.check else 'rewrote'} sidecar {item['path']} ({item['problem']})")
    for path in result["set_aside"]:
        log.warn(f"kept the damaged or foreign file as {path}")
    for item in result["not_repaired"]:
        log.error(f"could not repair {item['path']} ({item['problem']}): {item['reason']}")
    result["problems"] = [f"{item['path']}: {item['reason']}" for item in result["not_repaired"]]
    log.info(result["summary"])
    return (EXIT_PROBLEM if result["not_repaired"] else EXIT_OK), result


def cmd_rebuild_catalog(args, config: dict, log: Log) -> tuple[int, dict]:
    rebuild = engine("photo_vault.rebuild")
    repair = engine("photo_vault.repair")
    try:
        result = rebuild.rebuild_catalog(config["vault"], config.get("catalog") or None, check=args.check)
    except repair.RepairError as exc:
        raise RunError(str(exc), {}) from exc
    for item in result["skipped"]:
        log.warn(f"left out {item['path']}: {item['reason']}")
    result["problems"] = [f"{item['path']}: {item['reason']}" for item in result["skipped"]]
    log.info(result["summary"])
    return (EXIT_PROBLEM if result["skipped"] else EXIT_OK), result


def cmd_get(args, config: dict, log: Log) -> tuple[int, dict]:
    """Print a local path: a thumbnail as it is, a full original through the local cache
    (configuration key ``cache``: path, max_size, ttl_days; default ~/.cache/sovereign-photos)."""
    cache = engine("photo_vault.cache")
    settings = None
    if not args.no_cache:
        conf = config.get("cache") or {}
        settings = cache.CacheSettings(
            os.path.expanduser(str(conf.get("path") or cache.default_cache_dir())),
            max_bytes=parse_size(conf.get("max_size", "20G")), ttl=float(conf.get("ttl_days", 30)) * 86400)
    try:
        answer = cache.get(config["vault"], args.sha256, args.size, config.get("catalog") or None,
                           config.get("thumbs_root") or None, settings)
    except cache.CacheError as exc:
        raise RunError(str(exc), {}) from exc
    sys.stdout.write(answer.path + "\n")
    return EXIT_OK, {"path": answer.path, "sha256": answer.sha256, "size": answer.size, "cached": answer.cached}


def describe(report: dict, config: dict) -> str:
    """A few readable lines about the vault (``info`` without --json)."""
    lines = [f"photo vault {config['vault']}: {report['summary']}"]
    years = ", ".join(f"{year} {v['count']}" for year, v in sorted(report.get("per_year", {}).items()))
    if years:
        lines.append(f"  per year: {years}")
    devices = ", ".join(f"{d.get('camera') or 'unknown'} {d['count']}"
                        for d in report.get("per_device", [])[:8])
    if devices:
        lines.append(f"  devices: {devices}")
    sources = ", ".join(f"{root} {v['count']}" for root, v in sorted(report.get("per_source", {}).items()))
    if sources:
        lines.append(f"  sources: {sources}")
    dates = ", ".join(f"{k} {v['count']}" for k, v in sorted(report.get("per_date_source", {}).items()))
    if dates:
        lines.append(f"  capture date from: {dates}")
    for root, counts in sorted(report.get("thumbnails", {}).items()):
        lines.append(f"  thumbnails in {root}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)


def parse_size(value) -> int:
    """Bytes from an integer or a size such as 50G, 500 MB (powers of 1024)."""
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().upper().replace(" ", "").removesuffix("B").removesuffix("I")
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    try:
        return int(float(number) * units[unit])
    except ValueError as exc:
        raise UsageError(f"{value!r} is not a size; use bytes or a size such as 50G or 500 MB") from exc


class RunError(Exception):
    """The engine could not run; carries what is known so far for the status file."""

    def __init__(self, message: str, result: dict) -> None:
        super().__init__(message)
        self.result = result


COMMANDS = {"ingest": cmd_ingest, "thumbnails": cmd_thumbnails, "verify": cmd_verify, "info": cmd_info,
            "repair": cmd_repair, "rebuild-catalog": cmd_rebuild_catalog, "get": cmd_get}
READ_ONLY = ("info", "get")  # commands that never write a status file


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sovereign-photos", description="The photo vault by hand: ingest, "
                                  "thumbnails, verify, info, repair, rebuild-catalog, get (the same engine as the Ansible "
                                  "modules and timers).")
    top.add_argument("--config", default=os.environ.get("SOVEREIGN_PHOTOS_CONFIG", DEFAULT_CONFIG),
                     help="configuration file (default: %(default)s)")
    top.add_argument("--quiet", "-q", action="store_true", help="only warnings and errors")
    top.add_argument("--no-bar", action="store_true", help="log progress lines even on a terminal")
    top.add_argument("--no-state", action="store_true", help="do not write the status file")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = sub.add_parser("ingest", help="copy new photos and videos from the watched sources into the vault")
    ingest.add_argument("--source", action="append", metavar="NAME|PATH",
                        help="only this watched source (repeatable); default: all")
    ingest.add_argument("--create", action="store_true",
                        help="start a new, empty vault even where this host saw another one (an unmounted NAS "
                             "is refused without it)")
    thumbs = sub.add_parser("thumbnails", help="make the thumbnails that are due")
    thumbs.add_argument("--force", action="store_true", help="remake every thumbnail")
    verify = sub.add_parser("verify", help="re-hash originals against the catalog (never repairs)")
    group = verify.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="every original (default: the configured sample)")
    group.add_argument("--percent", type=float, help="sample this share of the originals, least recently verified first")
    verify.add_argument("--max-seconds", type=int, help="time budget of a sample")
    verify.add_argument("--max-bytes", help="byte budget of a sample, e.g. 200G")
    repair = sub.add_parser("repair", help="copy damaged or missing originals again from a source that still holds "
                            "them, rewrite damaged sidecars (damaged files are set aside, never deleted)")
    repair.add_argument("--quick", action="store_true", help="only check that each original exists with its size "
                        "(default: re-hash every original)")
    rebuild = sub.add_parser("rebuild-catalog", help="rebuild a lost SQLite catalog from originals/ and the sidecars "
                             "(an existing catalog is moved aside, never overwritten)")
    for command in (ingest, thumbs, verify, repair, rebuild):
        command.add_argument("--check", action="store_true", help="say what would happen; write nothing")
    info = sub.add_parser("info", help="what the vault holds, from its catalog")
    info.add_argument("--json", action="store_true", help="the whole report as JSON")
    info.set_defaults(check=True)
    get = sub.add_parser("get", help="a local path to one photo: a thumbnail, or the full original through the "
                         "workstation's cache (copied once, verified, evicted least recently used)")
    get.add_argument("sha256", help="the original's sha256, or a unique prefix of it")
    get.add_argument("--size", choices=("tiny", "small", "medium", "full"), default="full")
    get.add_argument("--no-cache", action="store_true", help="the path in the vault itself, no local copy")
    get.set_defaults(check=True)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log = Log(quiet=args.quiet)
    try:
        config = load_config(args.config)
        drop_privileges(config)
    except UsageError as exc:
        log.error(str(exc))
        return EXIT_USAGE
    started, started_at = time.monotonic(), utc_now()
    try:
        code, result = COMMANDS[args.command](args, config, log)
        message = result.get("summary", "")
        status = "ok" if code == EXIT_OK else "problems"
    except UsageError as exc:
        log.error(str(exc))
        return EXIT_USAGE
    except RunError as exc:
        log.error(str(exc))
        code, result, message, status = EXIT_PROBLEM, exc.result, str(exc), "failed"
    except KeyboardInterrupt:
        log.error("interrupted; the vault is consistent, run the command again to finish")
        return 130
    if args.command not in READ_ONLY and not args.check and not args.no_state:
        state = {"command": args.command, "host": socket.gethostname(), "vault": config["vault"],
                 "started_at": started_at, "finished_at": utc_now(),
                 "duration_s": round(time.monotonic() - started, 3), "status": status, "exit_code": code,
                 "message": message, "result": result}
        try:
            write_state(config, args.command, state)
        except OSError as exc:
            log.error(f"could not write the status file in {config.get('state_dir')}: {exc}")
            code = code or EXIT_PROBLEM
    return code


if __name__ == "__main__":
    sys.exit(main())
