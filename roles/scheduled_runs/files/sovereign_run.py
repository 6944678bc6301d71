# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign_run.py --config FILE: one scheduled playbook run through ``ansible-runner run``.

Installed by the scheduled_runs role on the controller and started by its systemd timers (or
cron). One run:

1. takes ``lock_file`` with a non-blocking flock; when another run of the same job still holds
   it, logs one line and exits 0 (an overlapping run is skipped, never queued);
2. lays out the job's ansible-runner private data directory the way AWX does: ``project/`` (a
   link to the checkout), ``inventory/`` (links to the inventory), ``env/extravars``,
   ``env/envvars``, ``env/settings``, ``env/cmdline`` and ``artifacts/<ident>/`` for this run;
3. runs ``ansible-runner run <dir> -p <playbook> --ident <ident>`` (the playbook's output goes
   to stdout, so to the journal or cron's mail);
4. reads the recap from the run's job events, removes artifact folders older than ``keep_days``;
5. writes the status file with the collection's ``common.status`` (kind ``scheduled-run``): a run
   that failed, or (``check`` jobs) a check-mode run that would change something (drift), is
   not ok and exits non-zero, so systemd starts ``OnFailure=sovereign-notify@%n.service`` (under
   cron, ``notify_command`` is run instead).

The vault password is read by ansible from ``vault_password_file`` (its path goes to
ANSIBLE_VAULT_PASSWORD_FILE); this script never opens it, so it cannot print it.
Standard library only, plus the ``ansible-runner`` command from the controller's venv.
"""

from __future__ import annotations

import argparse
import fcntl
import glob
import json
import os
import shutil
import subprocess
import sys
import time

KIND = "scheduled-run"
EXIT_SKIPPED = 0
EXIT_FAILED = 1
EXIT_DRIFT = 3
EXIT_CONFIG = 2
STATS_KEYS = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")


def log(message: str) -> None:
    print(f"sovereign-run: {message}", flush=True)


def load_status_module(lib_dir: str):
    """The collection's common.status, from where the role installed it."""
    if lib_dir and lib_dir not in sys.path:
        sys.path.insert(0, lib_dir)
    from ansible_collections.sovereign.cloud.plugins.module_utils.common import status  # noqa: E402

    return status


def replace_link(link: str, target: str) -> None:
    """Point ``link`` at ``target``, replacing whatever link was there (never a real folder)."""
    if os.path.islink(link):
        if os.readlink(link) == target:
            return
        os.unlink(link)
    elif os.path.exists(link):
        raise SystemExit(f"{link} exists and is not a link; remove it so the run can lay out its folder")
    os.symlink(target, link)


def write_private(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def lay_out(cfg: dict) -> str:
    """The AWX private data directory of this job; returns its path."""
    private = os.path.join(cfg["runner_dir"], cfg["name"])
    for sub in ("", "env", "inventory", "artifacts"):
        os.makedirs(os.path.join(private, sub), mode=0o750, exist_ok=True)
    replace_link(os.path.join(private, "project"), cfg["project_dir"])
    # inventory/: a directory inventory is linked as inventory/hosts (its group_vars and host_vars
    # come with it); a single file is linked with the group_vars/host_vars folders beside it.
    inventory = cfg["inventory"]
    inv_dir = os.path.join(private, "inventory")
    wanted = {"hosts": inventory}
    if os.path.isfile(inventory):
        for extra in ("group_vars", "host_vars"):
            beside = os.path.join(os.path.dirname(inventory), extra)
            if os.path.isdir(beside):
                wanted[extra] = beside
    for name in os.listdir(inv_dir):
        if name not in wanted and os.path.islink(os.path.join(inv_dir, name)):
            os.unlink(os.path.join(inv_dir, name))
    for name, target in wanted.items():
        replace_link(os.path.join(inv_dir, name), target)

    env = os.path.join(private, "env")
    write_private(os.path.join(env, "extravars"), json.dumps(cfg.get("extravars") or {}, indent=2) + "\n")
    envvars = {
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": cfg.get("path") or os.environ.get("PATH", "/usr/bin:/bin"),
    }
    config_file = os.path.join(cfg["project_dir"], "ansible.cfg")
    if os.path.isfile(config_file):
        envvars["ANSIBLE_CONFIG"] = config_file
    if cfg.get("vault_password_file"):
        envvars["ANSIBLE_VAULT_PASSWORD_FILE"] = cfg["vault_password_file"]
    envvars.update({str(k): str(v) for k, v in (cfg.get("envvars") or {}).items()})
    write_private(os.path.join(env, "envvars"), json.dumps(envvars, indent=2) + "\n")
    settings = {"suppress_ansible_output": False, "job_timeout": int(cfg.get("timeout") or 0)}
    write_private(os.path.join(env, "settings"), json.dumps(settings, indent=2) + "\n")
    cmdline = []
    if cfg.get("check"):
        cmdline += ["--check", "--diff"]
    if cfg.get("tags"):
        cmdline += ["--tags", ",".join(cfg["tags"])]
    if cfg.get("limit"):
        cmdline += ["--limit", cfg["limit"]]
    cmdline_file = os.path.join(env, "cmdline")
    if cmdline:
        write_private(cmdline_file, " ".join(_quote(a) for a in cmdline) + "\n")
    elif os.path.exists(cmdline_file):
        os.unlink(cmdline_file)
    return private


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def read_recap(artifact_dir: str) -> dict:
    """Stats and the changed tasks of one run, from its job events."""
    stats: dict = {}
    changed_tasks: list[str] = []
    failed_tasks: list[str] = []
    for path in sorted(glob.glob(os.path.join(artifact_dir, "job_events", "*.json")),
                       key=lambda p: int(os.path.basename(p).split("-", 1)[0] or 0)):
        try:
            with open(path, encoding="utf-8") as handle:
                event = json.load(handle)
        except (OSError, ValueError):
            continue
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind == "playbook_on_stats":
            stats = {key: data.get(key) or {} for key in STATS_KEYS}
        elif kind == "runner_on_ok" and (data.get("res") or {}).get("changed"):
            changed_tasks.append(f"{data.get('host')}: {data.get('task')}")
        elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failed_tasks.append(f"{data.get('host')}: {data.get('task')}")
    return {"stats": stats, "changed_tasks": changed_tasks, "failed_tasks": failed_tasks}


def prune(artifacts: str, keep_days: float, current: str) -> list[str]:
    """Remove artifact folders older than keep_days (never the current run's)."""
    cutoff = time.time() - keep_days * 86400
    removed = []
    for name in sorted(os.listdir(artifacts)):
        path = os.path.join(artifacts, name)
        if name == current or not os.path.isdir(path) or os.path.islink(path):
            continue
        if os.stat(path).st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(name)
    return removed


def summarize(cfg: dict, rc: int, status_text: str, recap: dict) -> tuple[bool, bool, str]:
    """(ok, drift, one line)."""
    stats = recap["stats"]
    changed = {h: n for h, n in (stats.get("changed") or {}).items() if n}
    failed = {h: n for h, n in (stats.get("failures") or {}).items() if n}
    dark = {h: n for h, n in (stats.get("dark") or {}).items() if n}
    hosts = sorted(set().union(*[set(v) for v in stats.values()])) if stats else []
    playbook = cfg["playbook"]
    if rc != 0 or failed or dark or not stats:
        parts = []
        if failed:
            parts.append("failed on " + ", ".join(f"{h} ({n})" for h, n in sorted(failed.items())))
        if dark:
            parts.append("unreachable: " + ", ".join(sorted(dark)))
        if not parts:
            parts.append(f"ansible-runner ended {status_text} with rc {rc}")
        return False, False, f"{playbook}: " + "; ".join(parts)
    if cfg.get("check") and changed:
        total = sum(changed.values())
        return False, True, (f"{playbook} --check: drift, {total} change(s) would be made on "
                             + ", ".join(f"{h} ({n})" for h, n in sorted(changed.items())))
    what = "no drift" if cfg.get("check") else f"{sum(changed.values())} change(s)"
    return True, False, f"{playbook}{' --check' if cfg.get('check') else ''}: ok on {len(hosts)} host(s), {what}"


def run(cfg: dict) -> int:
    name = cfg["name"]
    os.makedirs(os.path.dirname(cfg["lock_file"]) or ".", exist_ok=True)
    lock = open(cfg["lock_file"], "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log(f"{name}: skipped, the previous run still holds {cfg['lock_file']}")
        return EXIT_SKIPPED
    status = load_status_module(cfg.get("lib_dir", ""))
    started = status.utc_now()
    ident = started.strftime("%Y%m%dT%H%M%SZ")
    private = lay_out(cfg)
    artifacts = os.path.join(private, "artifacts")
    if os.path.exists(os.path.join(artifacts, ident)):
        ident += f"-{os.getpid()}"
    command = [cfg.get("ansible_runner") or "ansible-runner", "run", private, "-p", cfg["playbook"],
               "--ident", ident]
    log(f"{name}: {' '.join(command)}")
    env = dict(os.environ, PATH=cfg.get("path") or os.environ.get("PATH", "/usr/bin:/bin"))
    try:
        result = subprocess.run(command, env=env, check=False)
        rc = result.returncode
    except OSError as exc:
        log(f"{name}: cannot start ansible-runner: {exc}")
        rc = 127
    artifact_dir = os.path.join(artifacts, ident)
    status_text = _read(os.path.join(artifact_dir, "status")) or "unknown"
    rc_text = _read(os.path.join(artifact_dir, "rc"))
    if rc_text and rc_text.lstrip("-").isdigit():
        rc = int(rc_text) if rc == 0 else rc
    recap = read_recap(artifact_dir) if os.path.isdir(artifact_dir) else {"stats": {}, "changed_tasks": [],
                                                                          "failed_tasks": []}
    removed = prune(artifacts, float(cfg.get("keep_days", 14)), ident) if os.path.isdir(artifacts) else []
    ok, drift, summary = summarize(cfg, rc, status_text, recap)
    details = {
        "playbook": cfg["playbook"],
        "check": bool(cfg.get("check")),
        "drift": drift,
        "rc": rc,
        "runner_status": status_text,
        "ident": ident,
        "artifacts": artifact_dir,
        "duration_s": round((status.utc_now() - started).total_seconds(), 1),
        "stats": recap["stats"],
        "changed_tasks": recap["changed_tasks"][:50],
        "failed_tasks": recap["failed_tasks"][:50],
        "pruned": len(removed),
    }
    fix = cfg.get("drift_fix") if drift else cfg.get("fix")
    path = status.write_status(cfg["state_dir"], KIND, name, ok, summary, started_at=started, fix=fix,
                               every=cfg.get("every"), details=details)
    log(f"{name}: {summary} (status {path}; artifacts {artifact_dir}; pruned {len(removed)})")
    if not ok:
        notify(cfg)
        return EXIT_DRIFT if drift else EXIT_FAILED
    return 0


def notify(cfg: dict) -> None:
    """Under cron there is no OnFailure=: run the notifier command when one is set."""
    command = cfg.get("notify_command") or []
    if not command:
        return
    try:
        subprocess.run(command, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        log(f"{cfg['name']}: the failure notice did not start: {exc}")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


REQUIRED = ("name", "playbook", "project_dir", "inventory", "runner_dir", "state_dir", "lock_file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one scheduled playbook through ansible-runner.")
    parser.add_argument("--config", required=True, help="the job's JSON settings (written by the scheduled_runs role)")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as handle:
            cfg = json.load(handle)
    except (OSError, ValueError) as exc:
        log(f"cannot read {args.config}: {exc}; run playbooks/site.yml --tags scheduled_runs to write it")
        return EXIT_CONFIG
    missing = [key for key in REQUIRED if not cfg.get(key)]
    if missing:
        log(f"{args.config} lacks {', '.join(missing)}; run playbooks/site.yml --tags scheduled_runs to rewrite it")
        return EXIT_CONFIG
    os.umask(0o027)
    return run(cfg)


if __name__ == "__main__":
    sys.exit(main())
