"""The mac_identity_node role's agent (mac_agent.py), installed as the role installs it (next to the
collection's common package) and run with the security stand-in and a fake imessage-exporter.

A Messages database this process cannot open stands for macOS refusing it without Full Disk Access
(TCC answers EPERM "Operation not permitted"; here a root-owned 0600 file read by another user gives EACCES,
and the agent treats both as PermissionError)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from support.host_lib import ship
from support.macos import BIN, standin_env

REPO = Path(__file__).resolve().parents[3]
AGENT = REPO / "roles" / "mac_identity_node" / "files" / "mac_agent.py"
NOBODY = 65534


# Run as nobody, the agent needs a Python and folders nobody can reach (pytest's tmp_path is root's, 0700).
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def world():
    """Folders the agent can use: state, Messages, a share; ``/`` stands for a mounted share."""
    base = Path(tempfile.mkdtemp(prefix="mac-agent-"))
    base.chmod(0o755)
    for name in ("state", "Messages", "share", "standin"):
        (base / name).mkdir()
        (base / name).chmod(0o777)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def agent(world):
    lib = ship(world / "lib", packages=("common",), modules=())
    shutil.copy(AGENT, lib / "mac_agent.py")
    for path in [lib, *lib.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return lib / "mac_agent.py"


def status(world, kind):
    return json.loads((world / "state" / "status" / f"{kind}--alex.json").read_text())


def run(agent, world, *args, user=None):
    env = standin_env(world / "standin")
    env["HOME"] = str(world)
    python = SYSTEM_PYTHON if user is not None else sys.executable
    return subprocess.run([python, str(agent), *args, "--state-dir", str(world / "state"),
                           "--status-name", "alex", "--label", "cloud.sovereign.imessage-archive", "--host", "node-alex"],
                          env=env, capture_output=True, text=True, check=False, user=user)


def exporter(world, body: str) -> Path:
    path = world / "imessage-exporter"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def archive(agent, world, exporter_path, user=None):
    return run(agent, world, "imessage-archive", "--exporter", str(exporter_path), "--dest", str(world / "share" / "Messages"),
               "--mountpoint", "/", "--messages-dir", str(world / "Messages"), user=user)


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="runs the agent as nobody")
def test_a_database_the_agent_cannot_open_is_reported_as_missing_full_disk_access(agent, world):
    database = world / "Messages" / "chat.db"
    database.write_bytes(b"SQLite format 3\0")
    database.chmod(0o600)  # root's: nobody gets EACCES, as a program without the grant gets EPERM from TCC
    result = archive(agent, world, exporter(world, "exit 0"), user=NOBODY)
    assert result.returncode == 1, result.stdout + result.stderr
    doc = status(world, "mac.imessage_archive")
    assert doc["ok"] is False and doc["details"]["reason"] == "full_disk_access_missing"
    assert doc["summary"].startswith("Full Disk Access missing")
    assert "System Settings > Privacy & Security > Full Disk Access" in doc["fix"]
    assert os.path.realpath(SYSTEM_PYTHON) in doc["fix"]
    assert "launchctl kickstart gui/65534/cloud.sovereign.imessage-archive" in doc["fix"]


def test_no_messages_history_says_to_sign_in_to_messages_in_icloud(agent, world):
    result = archive(agent, world, exporter(world, "exit 0"))
    assert result.returncode == 1
    doc = status(world, "mac.imessage_archive")
    assert doc["details"]["reason"] == "messages_not_set_up" and "Messages in iCloud" in doc["summary"]


def test_each_run_exports_into_a_dated_folder_from_the_last_success_on(agent, world):
    (world / "Messages" / "chat.db").write_bytes(b"SQLite format 3\0")
    log = world / "calls"
    fake = exporter(world, f'echo "$@" >> {log}\nwhile [ $# -gt 0 ]; do [ "$1" = --export-path ] && '
                           'mkdir -p "$2" && echo "<html/>" > "$2/alex.html"; shift; done')
    assert archive(agent, world, fake).returncode == 0
    first = status(world, "mac.imessage_archive")
    assert first["ok"] and first["last_success_at"] and "full history" in first["summary"]
    assert "--start-date" not in log.read_text()
    # The next week: a new folder, starting at the last success's date.
    shutil.rmtree(first["details"]["run_dir"])
    assert archive(agent, world, fake).returncode == 0
    second = log.read_text().splitlines()[-1]
    assert f"--start-date {first['last_success_at'][:10]}" in second and "--format html" in second


def test_an_exporter_refused_by_privacy_protection_is_also_full_disk_access(agent, world):
    (world / "Messages" / "chat.db").write_bytes(b"SQLite format 3\0")
    fake = exporter(world, 'echo "Unable to read from chat database: authorization denied" >&2; exit 1')
    assert archive(agent, world, fake).returncode == 1
    doc = status(world, "mac.imessage_archive")
    assert doc["details"]["reason"] == "full_disk_access_missing"
    assert doc["last_success_at"] is None


def test_mount_share_without_a_keychain_entry_names_the_playbook_that_adds_it(agent, world):
    result = run(agent, world, "mount-share", "--server", "server-a.home.example.com", "--share", "Pegasus",
                 "--account", "sovereign-backup", "--mountpoint", str(world / "share"))
    assert result.returncode == 1
    doc = status(world, "mac.mount_share")
    assert "no SMB password for sovereign-backup@server-a.home.example.com" in doc["summary"]
    assert doc["fix"] == "ansible-playbook playbooks/site.yml --limit node-alex --tags mac_identity_node"


def test_mount_share_on_a_mounted_share_is_ok(agent, world):
    result = run(agent, world, "mount-share", "--server", "s", "--share", "P", "--account", "a", "--mountpoint", "/")
    assert result.returncode == 0 and status(world, "mac.mount_share")["ok"]


def test_the_standins_are_executable():
    for tool in ("launchctl", "brew", "defaults", "dscl"):
        assert (BIN / tool).stat().st_mode & stat.S_IXUSR
