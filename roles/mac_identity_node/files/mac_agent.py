# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign.cloud Mac agent (installed by the mac_identity_node role; standard library only).

Run by the person's LaunchAgents as ``/usr/bin/python3 /usr/local/lib/sovereign/mac_agent.py ...``:

  mac_agent.py mount-share --server S --share NAME --account A --mountpoint /Volumes/NAME --state-dir D
      at login: mount the RAID's SMB share with the credentials kept in the login keychain
  mac_agent.py imessage-archive --exporter PATH --dest DIR --mountpoint M --person P --state-dir D [--format html]
      weekly: export the person's Messages with imessage-exporter into DIR/<date>/

Secrets: the SMB password lives only in the login keychain (an internet password for the server and
account, protocol smb). ``mount-share`` asks ``security find-internet-password -w`` for it only to
prove the entry is there and readable, drops it unread, and lets ``open smb://ACCOUNT@SERVER/SHARE``
mount the share: macOS's network authentication takes the password from the same keychain entry,
so the password is never on a command line, in a plist or in a file.

Every run records its result with ``common.status.write_status`` in
``<state-dir>/status/<kind>--<name>.json`` (kinds ``mac.mount_share`` and ``mac.imessage_archive``)
and exits 0 (ok) or 1 (failed). A missing Full Disk Access grant is recognised before the exporter
runs: macOS's privacy protection (TCC) answers "Operation not permitted" when this agent reads
``~/Library/Messages``, and the status says exactly that, with what to click.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils.common import status  # noqa: E402

KEYCHAIN_MISSING = 44  # security(1): "The specified item could not be found in the keychain."
WEEK_S = 7 * 86400


def log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}", flush=True)


def finish(args, kind: str, ok: bool, summary: str, *, fix: str | None = None, every: int | None = None,
           details: dict | None = None, started_at=None) -> int:
    status.write_status(args.state_dir, kind, args.status_name, ok, summary, fix=fix, every=every,
                        details=details or {}, started_at=started_at)
    log(summary if ok else f"FAILED: {summary}" + (f" (fix: {fix})" if fix else ""))
    return 0 if ok else 1


def kickstart(label: str) -> str:
    return f"launchctl kickstart gui/{os.getuid()}/{label}"


# ---------------------------------------------------------------------------------------------
# mount-share


def keychain_entry(server: str, account: str) -> tuple[bool, str]:
    """Whether the login keychain holds a readable SMB password for server/account (never returned)."""
    try:
        result = subprocess.run(["security", "find-internet-password", "-s", server, "-a", account, "-r", "smb ", "-w"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"security find-internet-password did not answer: {exc}"
    if result.returncode == 0 and result.stdout.strip():
        return True, ""
    if result.returncode == KEYCHAIN_MISSING:
        return False, f"no SMB password for {account}@{server} in the login keychain"
    return False, (f"the login keychain did not give the SMB password for {account}@{server} "
                   f"(security exit {result.returncode}: {result.stderr.strip()[:200]})")


def mount_share(args) -> int:
    started = status.utc_now()
    kind, url = "mac.mount_share", f"smb://{args.account}@{args.server}/{args.share}"
    details = {"url": url, "mountpoint": args.mountpoint}
    if os.path.ismount(args.mountpoint):
        return finish(args, kind, True, f"{args.mountpoint} is mounted", details=details, started_at=started)
    found, problem = keychain_entry(args.server, args.account)
    if not found:
        return finish(args, kind, False, problem, details=details, started_at=started,
                      fix=f"ansible-playbook playbooks/site.yml --limit {args.host} --tags mac_identity_node")
    result = subprocess.run(["open", url], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    deadline = time.monotonic() + args.timeout
    while not os.path.ismount(args.mountpoint) and time.monotonic() < deadline:
        time.sleep(2)
    if os.path.ismount(args.mountpoint):
        return finish(args, kind, True, f"mounted {url} on {args.mountpoint}", details=details, started_at=started)
    details["open_exit"] = result.returncode
    return finish(args, kind, False, f"{url} was not mounted on {args.mountpoint} after {args.timeout} s "
                  f"({result.stderr.strip()[:200] or 'is the server up?'})", details=details, started_at=started,
                  fix=kickstart(args.label))


# ---------------------------------------------------------------------------------------------
# imessage-archive


def full_disk_access_hint(program: str) -> str:
    return ("Full Disk Access is not granted to the program this LaunchAgent runs. On this Mac: System Settings > "
            "Privacy & Security > Full Disk Access > + (Cmd-Shift-G to type a path) > " + program +
            " > Open, and switch it on; then run " + "{kickstart}" + " (or wait for next week's run).")


def messages_readable(messages_dir: str) -> tuple[str, str]:
    """('ok'|'no_full_disk_access'|'no_messages', detail) for the Messages database."""
    database = os.path.join(messages_dir, "chat.db")
    try:
        with open(database, "rb") as handle:
            handle.read(16)
    except PermissionError as exc:
        return "no_full_disk_access", f"{database}: {exc.strerror}"
    except FileNotFoundError:
        return "no_messages", f"{database} does not exist"
    except OSError as exc:
        if exc.errno == errno.EPERM:
            return "no_full_disk_access", f"{database}: {exc.strerror}"
        raise
    return "ok", database


def last_success(args) -> dt.datetime | None:
    doc = status.read_status(status.status_path(args.state_dir, "mac.imessage_archive", args.status_name))
    return status.parse_iso((doc or {}).get("last_success_at"))


def imessage_archive(args) -> int:
    started = status.utc_now()
    kind = "mac.imessage_archive"
    details = {"dest": args.dest, "format": args.format}
    program = os.path.realpath(sys.executable)
    state, detail = messages_readable(args.messages_dir)
    if state == "no_full_disk_access":
        details.update(reason="full_disk_access_missing", program=program, detail=detail)
        return finish(args, kind, False, "Full Disk Access missing: cannot read the Messages database (" + detail + ")",
                      details=details, started_at=started, every=WEEK_S,
                      fix=full_disk_access_hint(program).replace("{kickstart}", kickstart(args.label)))
    if state == "no_messages":
        details.update(reason="messages_not_set_up", detail=detail)
        return finish(args, kind, False, "no Messages history on this Mac (" + detail + "): sign in to Messages and "
                      "turn on Messages in iCloud (Messages > Settings > iMessage)", details=details,
                      started_at=started, every=WEEK_S, fix=kickstart(args.label))
    if not os.path.ismount(args.mountpoint):
        details["reason"] = "share_not_mounted"
        return finish(args, kind, False, f"{args.mountpoint} is not mounted, so the archive has nowhere to go",
                      details=details, started_at=started, every=WEEK_S,
                      fix=f"launchctl kickstart gui/{os.getuid()}/{args.mount_label}")
    # imessage-exporter refuses a folder that already holds an export of the same format, and has no
    # append mode: each run writes a new dated folder, starting where the last good run started.
    previous = last_success(args)
    run_dir = os.path.join(args.dest, started.strftime("%Y-%m-%d"))
    command = [args.exporter, "--format", args.format, "--export-path", run_dir, "--copy-method", args.copy_method]
    if previous is not None:
        command += ["--start-date", previous.strftime("%Y-%m-%d")]
    details.update(run_dir=run_dir, since=previous.strftime("%Y-%m-%d") if previous else None, command=command)
    if os.path.isdir(run_dir) and os.listdir(run_dir):
        return finish(args, kind, True, f"{run_dir} already holds today's export", details=details,
                      started_at=started, every=WEEK_S)
    os.makedirs(run_dir, exist_ok=True)
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    except OSError as exc:
        details["reason"] = "exporter_missing"
        return finish(args, kind, False, f"cannot run {args.exporter}: {exc.strerror}", details=details,
                      started_at=started, every=WEEK_S, fix="brew install imessage-exporter")
    output = (result.stdout + result.stderr).strip()
    details["exit"] = result.returncode
    if result.returncode != 0:
        lowered = output.lower()
        if "full disk access" in lowered or "operation not permitted" in lowered or "authorization denied" in lowered:
            details.update(reason="full_disk_access_missing", program=program)
            return finish(args, kind, False, "Full Disk Access missing: imessage-exporter could not read the Messages "
                          "database", details=details, started_at=started, every=WEEK_S,
                          fix=full_disk_access_hint(program).replace("{kickstart}", kickstart(args.label)))
        details["reason"] = "exporter_failed"
        return finish(args, kind, False, f"imessage-exporter exited {result.returncode}: {output[-300:]}",
                      details=details, started_at=started, every=WEEK_S, fix=kickstart(args.label))
    files = sum(len(entry[2]) for entry in os.walk(run_dir))
    details["files"] = files
    since = f" since {details['since']}" if details["since"] else " (full history)"
    return finish(args, kind, True, f"exported Messages{since} to {run_dir} ({files} files)", details=details,
                  started_at=started, every=WEEK_S)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mac_agent.py", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    mount = sub.add_parser("mount-share")
    mount.add_argument("--server", required=True)
    mount.add_argument("--share", required=True)
    mount.add_argument("--account", required=True)
    mount.add_argument("--mountpoint", required=True)
    mount.add_argument("--timeout", type=int, default=90)
    archive = sub.add_parser("imessage-archive")
    archive.add_argument("--exporter", required=True)
    archive.add_argument("--dest", required=True)
    archive.add_argument("--mountpoint", required=True)
    archive.add_argument("--format", default="html", choices=["html", "txt"])
    archive.add_argument("--copy-method", default="clone")
    archive.add_argument("--messages-dir", default=os.path.expanduser("~/Library/Messages"))
    archive.add_argument("--mount-label", default="cloud.sovereign.mount-share")
    for command in (mount, archive):
        command.add_argument("--state-dir", required=True)
        command.add_argument("--status-name", required=True, help="the person (status file name)")
        command.add_argument("--label", required=True, help="this LaunchAgent's label")
        command.add_argument("--host", default="HOST", help="this Mac's inventory name")
    return top


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command == "mount-share":
        return mount_share(args)
    return imessage_archive(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
