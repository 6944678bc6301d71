# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""icloudpd_job.py run SETTINGS | session SETTINGS: the icloudpd role's two scheduled jobs.

``run``: one icloudpd download (one Apple ID, one library) into the photo vault's watched
folder. It reads the session in the cookie directory first, with the same engine as
``sovereign.cloud.icloud_session`` (``icloud.session_files``): a session that is gone, expired or
never trusted stops the run at once with "re-authenticate: <command>" and icloudpd is never
started, because icloudpd would ask for a password or a code that nobody types. icloudpd runs
with stdin on /dev/null (and the unit's StandardInput=null): a prompt it prints anyway ends the
run instead of waiting. Throttling and ACCESS_DENIED are reported, never retried here; the next
scheduled run is the retry.

``session``: the daily countdown of every Apple ID of this host. An Apple ID with fewer than
``warn_days`` days of trust left (or none) is logged with the command that re-authenticates it
and the job exits 1, so that ``OnFailure=sovereign-notify@%n.service`` (the base role's notifier)
sends the notice.

Each run records itself with ``common.status.write_status``: ``icloudpd.download--<name>`` and
``icloud.session--<Apple ID>`` in ``<state_dir>/status/``. The settings are JSON written by the
role; they hold no secret (the password never reaches this host outside the re-authentication).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.common import status  # noqa: E402
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import session_files  # noqa: E402

DOWNLOAD_KIND = "icloudpd.download"
SESSION_KIND = "icloud.session"
# What icloudpd prints when it would need a person (a code or a password): the run stops there.
_NEEDS_PERSON = re.compile(r"two-factor|two-step|2fa|verification code|enter.*code|password", re.IGNORECASE)
_THROTTLED = re.compile(r"ACCESS_DENIED|throttl|private db access disabled|\b503\b|Service Unavailable",
                        re.IGNORECASE)
_DOWNLOADED = re.compile(r"\bDownloaded\b|\bDownloading /")
_KILL_GRACE_S = 10


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def reauth(settings: dict, username: str) -> str:
    return f"{settings['reauth_command']} -e icloud_username={username}"


def say(line: str, priority: int = 6) -> None:
    """One line to the journal, ``<N>`` giving its syslog priority (3 error, 4 warning, 6 info)."""
    print(f"<{priority}>{line}", flush=True)


def run_download(settings: dict) -> int:
    started = status.utc_now()
    username, name = settings["username"], settings["name"]
    command = reauth(settings, username)
    state = session_files.read_state(settings["cookie_directory"], username, 0, started)
    if not state.trusted:
        summary = f"{state.sentence(username)}; re-authenticate: {command}"
        say(f"icloudpd {name} not started: {summary}", 3)
        status.write_status(settings["state_dir"], DOWNLOAD_KIND, name, False, summary, started_at=started,
                            fix=command, every=settings.get("every"),
                            details={"session": state.as_dict(), "library": settings["library"]})
        return 1
    os.makedirs(settings["directory"], mode=0o750, exist_ok=True)
    argv = [settings["icloudpd"], *settings["args"]]
    say(f"icloudpd {name}: {username} library {settings['library']} into {settings['directory']} "
        f"(session {state.sentence(username)})")
    outcome = _run_icloudpd(argv, settings.get("timeout") or 21600)
    if outcome["needs_person"]:
        ok = False
        summary = (f"icloudpd asked for a sign-in ({outcome['needs_person']}) and was stopped; "
                   f"re-authenticate: {command}")
        fix = command
    elif outcome["timed_out"]:
        ok, fix = False, f"systemctl start sovereign-icloudpd-{name}.service"
        summary = f"icloudpd still running after {settings.get('timeout')} s and was stopped; " \
                  f"{outcome['downloaded']} file(s) downloaded before that"
    elif outcome["rc"] != 0 and outcome["throttled"]:
        ok, fix = False, None
        summary = ("iCloud refused the download (throttling, or Advanced Data Protection on / 'Access iCloud Data "
                   "on the Web' off): the next scheduled run tries again; do not start it by hand in a loop, "
                   f"retries lengthen Apple's lock-out ({outcome['throttled']})")
    elif outcome["rc"] != 0:
        ok, fix = False, f"journalctl -u sovereign-icloudpd-{name}.service"
        summary = f"icloudpd exited with {outcome['rc']}: {outcome['last'] or 'no output'}"
    else:
        ok, fix = True, None
        summary = f"{outcome['downloaded']} file(s) downloaded from {username} ({settings['library']})"
    say(f"icloudpd {name}: {summary}", 6 if ok else 3)
    status.write_status(settings["state_dir"], DOWNLOAD_KIND, name, ok, summary, started_at=started, fix=fix,
                        every=settings.get("every"),
                        details={"downloaded": outcome["downloaded"], "exit_code": outcome["rc"],
                                 "library": settings["library"], "directory": settings["directory"],
                                 "session": state.as_dict()})
    return 0 if ok else 1


def _run_icloudpd(argv: list[str], timeout: float) -> dict:
    """Run icloudpd with stdin on /dev/null, relay its lines, stop it at a prompt or the timeout."""
    outcome = {"rc": None, "downloaded": 0, "needs_person": "", "throttled": "", "timed_out": False, "last": ""}
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", bufsize=1) as proc:
        def expire():
            outcome["timed_out"] = True
            _stop(proc)
        watchdog = threading.Timer(timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            print(line, flush=True)
            if line.strip():
                outcome["last"] = line.strip()[-300:]
            if _DOWNLOADED.search(line):
                outcome["downloaded"] += 1
            if _THROTTLED.search(line) and not outcome["throttled"]:
                outcome["throttled"] = line.strip()[-200:]
            if _is_prompt(line):
                outcome["needs_person"] = line.strip()[-200:]
                _stop(proc)
                break
        outcome["rc"] = proc.wait()
        watchdog.cancel()
    return outcome


def _is_prompt(line: str) -> bool:
    """A line that asks a person for something: a code or a password (icloudpd's console providers)."""
    text = line.strip()
    return bool(_NEEDS_PERSON.search(text)) and (text.endswith(":") or text.endswith("?")
                                                 or "requires" in text.lower() or "required" in text.lower())


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_session(settings: dict) -> int:
    now = status.utc_now()
    due = 0
    for account in settings["accounts"]:
        username = account["username"]
        command = reauth(settings, username)
        state = session_files.read_state(settings["cookie_directory"], username, settings["warn_days"], now)
        text = state.sentence(username)
        ok = state.status == "trusted"
        if not ok:
            due += 1
            text += f"; re-authenticate: {command}"
        say(text, 6 if ok else 4)
        status.write_status(settings["state_dir"], SESSION_KIND, username, ok, text, started_at=now,
                            finished_at=status.utc_now(), fix=None if ok else command, every=86400,
                            details=dict(state.as_dict(), warn_days=settings["warn_days"]))
    if due:
        say(f"{due} Apple ID session(s) end within {settings['warn_days']} days or have ended", 3)
    return 1 if due else 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("run", "session"):
        print("usage: icloudpd_job.py run SETTINGS.json | session SETTINGS.json", file=sys.stderr)
        return 2
    try:
        settings = load(argv[1])
    except (OSError, ValueError) as exc:
        say(f"cannot read the settings {argv[1]}: {exc}", 3)
        return 2
    os.umask(0o027)
    return run_download(settings) if argv[0] == "run" else run_session(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
