"""Helpers for tests of the macOS modules: the stand-in executables of tests/support/macos_standin/bin.

``standin_path(state_dir, monkeypatch)`` puts the stand-ins (``pmset``, ``sharing``, ``security``; the
roles' ``launchctl``, ``brew``, ``defaults``, ``dscl`` sit beside them) first on PATH, with this Python's
directory next (their shebang is ``/usr/bin/env python``), and points ``MACOS_STANDIN_STATE`` at
``state_dir``. ``run_standin`` runs one and returns the CompletedProcess; ``calls`` reads the calls log.
``write_backup`` makes an iOS backup folder (``<root>/<udid>/Info.plist``) like iMazing and Finder write.
"""

from __future__ import annotations

import json
import os
import plistlib
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

BIN = Path(__file__).resolve().parent / "macos_standin" / "bin"


def standin_env(state_dir: Path) -> dict:
    return {**os.environ, "PATH": os.pathsep.join([str(BIN), str(Path(sys.executable).parent),
                                                   os.environ.get("PATH", "")]),
            "MACOS_STANDIN_STATE": str(state_dir)}


def standin_path(state_dir: Path, monkeypatch) -> Path:
    env = standin_env(state_dir)
    monkeypatch.setenv("PATH", env["PATH"])
    monkeypatch.setenv("MACOS_STANDIN_STATE", str(state_dir))
    return state_dir


def run_standin(argv: list[str], state_dir: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / argv[0])] + list(argv[1:]), env={**standin_env(state_dir), **kwargs.pop("env", {})},
                          capture_output=True, text=True, check=False, **kwargs)


def standin_runner(state_dir: Path):
    """A ``run(argv, data=None)`` like AnsibleModule.run_command, over the stand-ins."""
    def run(argv, data=None, **_kwargs):
        argv = [str(BIN / argv[0]) if (BIN / argv[0]).exists() else argv[0]] + list(argv[1:])
        proc = subprocess.run(argv, env=standin_env(state_dir), input=data, capture_output=True, text=True,
                              check=False)
        return proc.returncode, proc.stdout, proc.stderr
    return run


def calls(state_dir: Path, tool: str | None = None) -> list[list[str]]:
    log = state_dir / "calls.log"
    if not log.exists():
        return []
    found = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [c for c in found if tool is None or c[0] == tool]


def write_pmset_state(state_dir: Path, profiles: dict, assertions: list[str] | None = None) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "pmset.json").write_text(json.dumps({"profiles": profiles, "assertions": assertions or []}))


def write_backup(root: Path, udid: str, name: str | None, product_type: str = "iPhone15,2",
                 age_days: float | None = 1.0, binary: bool = False, now: datetime | None = None,
                 extra: dict | None = None) -> Path:
    """A backup folder with an Info.plist; ``age_days=None`` leaves out Last Backup Date."""
    now = now or datetime.now(timezone.utc)
    folder = root / udid
    folder.mkdir(parents=True, exist_ok=True)
    info = {"Product Type": product_type, "Unique Identifier": udid.upper(), "Target Identifier": udid.upper(),
            "Build Version": "22A3354", "Product Version": "18.0", "iTunes Version": "12.13"}
    if name is not None:
        info["Device Name"] = name
        info["Display Name"] = name
    if age_days is not None:
        # plistlib writes naive datetimes as UTC, which is what Info.plist holds.
        info["Last Backup Date"] = (now - timedelta(days=age_days)).astimezone(timezone.utc).replace(tzinfo=None,
                                                                                                     microsecond=0)
    info.update(extra or {})
    with open(folder / "Info.plist", "wb") as handle:
        plistlib.dump(info, handle, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML)
    (folder / "Manifest.db").write_bytes(b"")
    return folder
