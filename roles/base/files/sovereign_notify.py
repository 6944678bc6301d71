# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign_notify.py UNIT: say that a systemd unit failed (run by sovereign-notify@UNIT.service).

Always logs an error to the journal (with the unit's last log lines). When the config file
(default /etc/sovereign/notify.json, root only) sets them, it also runs ``command`` through
/bin/sh with SOVEREIGN_UNIT, SOVEREIGN_HOST and SOVEREIGN_MESSAGE in its environment, and POSTs
``{"text", "unit", "host", "log"}`` as JSON to ``url``. A failing command or URL is logged and
makes this unit fail too, so it shows in ``systemctl --failed``.

The base role installs it with the unit and writes the config from base_notify_command and
base_notify_url; every sovereign.cloud service names it in ``OnFailure=sovereign-notify@%n.service``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

CONFIG = os.environ.get("SOVEREIGN_NOTIFY_CONFIG", "/etc/sovereign/notify.json")
TIMEOUT_S = 60


def journal_tail(unit: str, lines: int = 15) -> str:
    try:
        result = subprocess.run(["journalctl", "--no-pager", "-o", "cat", "-n", str(lines), "-u", unit],
                                capture_output=True, text=True, errors="replace", timeout=30, check=False)
        return result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: sovereign-notify UNIT", file=sys.stderr)
        return 2
    unit = argv[0]
    host = socket.gethostname()
    try:
        with open(CONFIG, encoding="utf-8") as handle:
            config = json.load(handle)
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError) as exc:
        print(f"<4>sovereign-notify: cannot read {CONFIG}: {exc}", flush=True)
        config = {}
    tail = journal_tail(unit)
    message = f"{unit} failed on {host}; see: journalctl -u {unit}"
    # "<3>" makes journald record the line with priority err.
    print(f"<3>sovereign.cloud: {message}", flush=True)
    for line in tail.splitlines()[-5:]:
        print(f"<3>  {line}", flush=True)
    status = 0
    if config.get("command"):
        env = dict(os.environ, SOVEREIGN_UNIT=unit, SOVEREIGN_HOST=host, SOVEREIGN_MESSAGE=message)
        try:
            result = subprocess.run(["/bin/sh", "-c", config["command"]], env=env, timeout=TIMEOUT_S,
                                    stdin=subprocess.DEVNULL, check=False)
            if result.returncode != 0:
                print(f"<4>sovereign-notify: the notify command exited with {result.returncode}", flush=True)
                status = 1
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"<4>sovereign-notify: the notify command failed: {exc}", flush=True)
            status = 1
    if config.get("url"):
        body = json.dumps({"text": message, "unit": unit, "host": host, "log": tail}).encode()
        request = urllib.request.Request(config["url"], data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (the user's URL)
                response.read()
        except (OSError, ValueError) as exc:
            print(f"<4>sovereign-notify: POST to the notify URL failed: {exc}", flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
