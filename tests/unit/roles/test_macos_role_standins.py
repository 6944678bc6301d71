"""The launchctl, brew, defaults and dscl stand-ins (NOT macOS) the mac roles' molecule scenario uses:
their answers in the documented shapes, and their state."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.macos import BIN, run_standin


def write_plist(path, job):
    path.write_bytes(plistlib.dumps(job))
    return str(path)


def test_launchctl_bootstrap_print_bootout(tmp_path):
    (tmp_path / "launchctl.json").write_text('{"sessions": [501], "services": {}}')
    job = write_plist(tmp_path / "a.plist", {"Label": "x.y", "ProgramArguments": ["/usr/bin/true", "-v"]})
    missing = run_standin(["launchctl", "print", "gui/501/x.y"], tmp_path)
    assert missing.returncode == 113 and 'Could not find service "x.y" in domain for user gui: 501' in missing.stderr
    assert run_standin(["launchctl", "bootstrap", "gui/501", job], tmp_path).returncode == 0
    again = run_standin(["launchctl", "bootstrap", "gui/501", job], tmp_path)
    assert again.returncode == 5 and "Bootstrap failed: 5: Input/output error" in again.stderr
    shown = run_standin(["launchctl", "print", "gui/501/x.y"], tmp_path)
    assert shown.returncode == 0 and "\tprogram = /usr/bin/true" in shown.stdout
    assert run_standin(["launchctl", "bootout", "gui/501/x.y"], tmp_path).returncode == 0
    assert run_standin(["launchctl", "bootout", "gui/501/x.y"], tmp_path).returncode == 3


def test_launchctl_without_a_gui_session_or_with_a_broken_plist(tmp_path):
    job = write_plist(tmp_path / "a.plist", {"Label": "x.y"})
    refused = run_standin(["launchctl", "bootstrap", "gui/502", job], tmp_path)
    assert refused.returncode == 125 and run_standin(["launchctl", "print", "gui/502"], tmp_path).returncode == 113
    (tmp_path / "bad.plist").write_text("<plist><dict><key>Label</key>")
    assert run_standin(["launchctl", "bootstrap", "system", str(tmp_path / "bad.plist")], tmp_path).returncode == 5


def test_brew_refuses_root_like_homebrew(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("runs as root only")
    result = run_standin(["brew", "--version"], tmp_path)
    assert result.returncode == 1 and "Running Homebrew as root" in result.stderr


@pytest.fixture
def nobody_state():
    """A state folder the nobody account can write (pytest's tmp_path is root's, 0700)."""
    base = Path(tempfile.mkdtemp(prefix="brew-standin-"))
    base.chmod(0o777)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def brew(state_dir, *args):
    """The brew stand-in as a non-root user (nobody when the tests run as root), as Homebrew wants."""
    user = 65534 if os.geteuid() == 0 else None
    return subprocess.run(["/usr/bin/python3", str(BIN / "brew"), *args], env={**os.environ, "MACOS_STANDIN_STATE": str(state_dir)},
                          capture_output=True, text=True, check=False, user=user)


@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs /usr/bin/python3")
def test_brew_info_install_list(nobody_state):
    info = json.loads(brew(nobody_state, "info", "--json=v2", "imessage-exporter").stdout)
    assert info["formulae"][0]["installed"] == []
    assert brew(nobody_state, "install", "imessage-exporter").returncode == 0
    info = json.loads(brew(nobody_state, "info", "--json=v2", "imessage-exporter").stdout)
    assert info["formulae"][0]["installed"] == [{"version": "2.6.0"}]
    assert brew(nobody_state, "list", "--cask", "imazing").returncode == 1
    assert brew(nobody_state, "install", "--cask", "imazing").returncode == 0
    assert brew(nobody_state, "list", "--cask", "imazing").returncode == 0
    missing = brew(nobody_state, "info", "--json=v2", "no-such-thing")
    assert missing.returncode == 1 and 'No available formula or cask with the name "no-such-thing"' in missing.stderr


def test_defaults_write_read_types(tmp_path):
    home = tmp_path / "home"
    env = {"HOME": str(home)}
    # The stand-in finds the home in the password database; point it at a domain path instead.
    domain = str(tmp_path / "com.example.app")
    assert run_standin(["defaults", "read-type", domain, "Where"], tmp_path, env=env).returncode == 1
    assert run_standin(["defaults", "write", domain, "Where", "-string", "/Volumes/P"], tmp_path).returncode == 0
    assert run_standin(["defaults", "read-type", domain, "Where"], tmp_path).stdout.strip() == "Type is string"
    assert run_standin(["defaults", "read", domain, "Where"], tmp_path).stdout.strip() == "/Volumes/P"
    run_standin(["defaults", "write", domain, "On", "-bool", "TRUE"], tmp_path)
    assert run_standin(["defaults", "read", domain, "On"], tmp_path).stdout.strip() == "1"
    assert plistlib.loads((tmp_path / "com.example.app.plist").read_bytes()) == {"Where": "/Volumes/P", "On": True}


def test_dscl_create_read_passwd(tmp_path):
    gone = run_standin(["dscl", ".", "-read", "/Users/sovereign-backup"], tmp_path)
    assert gone.returncode == 56 and "eDSRecordNotFound" in gone.stderr
    run_standin(["dscl", ".", "-create", "/Users/sovereign-backup"], tmp_path)
    run_standin(["dscl", ".", "-create", "/Users/sovereign-backup", "RealName", "Sovereign backup"], tmp_path)
    run_standin(["dscl", ".", "-create", "/Users/sovereign-backup", "UniqueID", "450"], tmp_path)
    run_standin(["dscl", ".", "-passwd", "/Users/sovereign-backup", "s3cret"], tmp_path)
    shown = run_standin(["dscl", ".", "-read", "/Users/sovereign-backup", "UniqueID", "RealName"], tmp_path).stdout
    assert shown == "UniqueID: 450\nRealName:\n Sovereign backup\n"
    assert "s3cret" not in (tmp_path / "dscl.json").read_text()
    root = run_standin(["dscl", ".", "-read", "/Users/root", "NFSHomeDirectory", "UniqueID"], tmp_path).stdout
    assert root == "NFSHomeDirectory: /root\nUniqueID: 0\n"
