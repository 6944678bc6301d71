# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``proxmox-backup-client`` command line: argv for backup, snapshot list and restore, and its answers.

Standard library only: the pve_host role ships it to the PVE host for the media backup runner and the
PBS restore drill. Credentials come from the environment (``PBS_REPOSITORY``, ``PBS_PASSWORD``,
``PBS_FINGERPRINT``), as in the unit's EnvironmentFile, never from argv.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime, timezone

# [[USER@REALM[!TOKEN]@]HOST[:PORT]:]DATASTORE (proxmox-backup-client's BACKUP_REPO_URL_REGEX, simplified)
REPOSITORY = re.compile(r"^(?:(?:(?P<auth>[^@!:]+@[A-Za-z0-9_.-]+(?:![A-Za-z0-9_.-]+)?)@)?"
                        r"(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?:)?"
                        r"(?P<store>[A-Za-z0-9_][A-Za-z0-9._-]{2,31})$")
BACKUP_SPEC = re.compile(r"^(?P<label>[A-Za-z0-9_][A-Za-z0-9._-]*)\.(?P<type>pxar|img|conf|log):(?P<path>/.*)$")


class BackupClientError(Exception):
    """proxmox-backup-client failed; ``kind`` is fingerprint, auth, unreachable, usage or error."""

    def __init__(self, msg: str, kind: str = "error"):
        super().__init__(msg)
        self.kind = kind


def backup_argv(binary: str, archive: str, path: str, keyfile: str | None = None, ns: str | None = None,
                backup_id: str | None = None, excludes: list[str] | None = None) -> list[str]:
    spec = f"{archive}:{path}"
    if not BACKUP_SPEC.match(spec):
        raise BackupClientError(f"{spec!r} is not a backup spec (label.pxar:/absolute/path)", kind="usage")
    argv = [binary, "backup", spec]
    if keyfile:
        argv += ["--keyfile", keyfile]
    if ns:
        argv += ["--ns", ns]
    if backup_id:
        argv += ["--backup-id", backup_id]
    for pattern in excludes or []:
        argv += ["--exclude", pattern]
    return argv


def classify(stderr: str) -> str:
    text = (stderr or "").lower()
    if "fingerprint" in text:
        return "fingerprint"
    if "permission check failed" in text or "authentication failed" in text or "401" in text:
        return "auth"
    if "connection refused" in text or "error trying to connect" in text or "timed out" in text:
        return "unreachable"
    return "error"


def explain(kind: str, stderr: str) -> str:
    last = (stderr or "").strip().splitlines()[-1:] or [""]
    hint = {
        "fingerprint": "the PBS certificate does not match PBS_FINGERPRINT: read it with "
                       "`proxmox-backup-manager cert info` on the PBS host and fix the env file",
        "auth": "PBS refused the user or token: check PBS_REPOSITORY's user and PBS_PASSWORD, and that the token "
                "has DatastoreBackup on the datastore (`proxmox-backup-manager acl list`)",
        "unreachable": "PBS is not reachable: check the host and port in PBS_REPOSITORY and "
                       "`systemctl status proxmox-backup-proxy` on the PBS host",
    }.get(kind, "proxmox-backup-client failed")
    return f"{hint} ({last[0]})"


def run(argv: list[str], env: dict, timeout: float | None = None) -> subprocess.CompletedProcess:
    try:
        # Run by the media backup runner on the host, outside any module (no AnsibleModule.run_command there).
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,  # pylint: disable=ansible-bad-function
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise BackupClientError(f"{argv[0]} is not installed (apt install proxmox-backup-client from the PBS "
                                "client repository)", kind="usage") from None


def list_snapshots(binary: str, env: dict, ns: str | None = None) -> list[dict]:
    argv = [binary, "snapshot", "list", "--output-format", "json"] + (["--ns", ns] if ns else [])
    result = run(argv, env)
    if result.returncode != 0:
        kind = classify(result.stderr)
        raise BackupClientError(f"cannot list the snapshots: {explain(kind, result.stderr)}", kind=kind)
    return json.loads(result.stdout or "[]")


def snapshot_name(item: dict) -> str:
    """``host/<id>/<RFC 3339 time>``, as ``restore`` takes it."""
    moment = datetime.fromtimestamp(int(item["backup-time"]), tz=timezone.utc)
    return f"{item['backup-type']}/{item['backup-id']}/{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def newest_with(snapshots: list[dict], archive: str, backup_id: str | None = None) -> dict | None:
    """The newest snapshot holding ``archive`` (``media.pxar`` is stored as ``media.pxar.didx``)."""
    wanted = {archive, archive + ".didx", archive + ".fidx", archive + ".blob"}
    holding = [s for s in snapshots if (backup_id is None or s.get("backup-id") == backup_id)
               and any(f.get("filename") in wanted for f in s.get("files") or [])]
    return max(holding, key=lambda s: int(s["backup-time"])) if holding else None


def restore_argv(binary: str, snapshot: str, archive: str, target: str, patterns: list[str],
                 keyfile: str | None = None, ns: str | None = None) -> list[str]:
    argv = [binary, "restore", snapshot, archive, target]
    for pattern in patterns:
        argv += ["--pattern", pattern]
    if keyfile:
        argv += ["--keyfile", keyfile]
    if ns:
        argv += ["--ns", ns]
    return argv


def redact_repository(repository: str) -> str:
    """The repository without nothing secret in it (it holds none; kept for symmetry with restic's)."""
    return repository or "(PBS_REPOSITORY unset)"
