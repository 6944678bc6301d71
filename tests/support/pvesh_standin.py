"""A `pvesh` STAND-IN (PVE's CLI cannot run here) for proxmoxer's local backend: ``pvesh get|set|create|delete
PATH -key value ... --output-format json`` becomes the same API call, made as root@pam (pvesh runs as root on the
node) against a PVE stand-in (tests/support/pve_standin.py). The answer's ``data`` goes to stdout as JSON.

Assumptions not in ../shared/reference: on an API error the real pvesh prints PVE's message to stderr and exits
non-zero; here the first stderr line is ``<status> <message>`` (the form proxmoxer reads a status from), then one
``param: message`` line per field error, exit 255.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

SCRIPT = '''#!{python}
import json, sys, os
sys.path.insert(0, {tests!r})
from support.pvesh_standin import main
sys.exit(main(sys.argv[1:]))
'''


def install(bindir: Path) -> Path:
    """Write an executable ``pvesh`` into bindir; point it at a stand-in with PVESH_STANDIN_URL and
    PVESH_STANDIN_PASSWORD (root@pam's)."""
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / "pvesh"
    path.write_text(SCRIPT.format(python=sys.executable, tests=str(Path(__file__).resolve().parents[1])))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def main(argv: list[str]) -> int:
    import requests  # pylint: disable=import-outside-toplevel
    import urllib3  # pylint: disable=import-outside-toplevel
    urllib3.disable_warnings()
    if len(argv) < 2 or argv[0] not in ("get", "set", "create", "delete", "ls"):
        print("ERROR: unknown command 'pvesh {0}'".format(" ".join(argv[:1])), file=sys.stderr)
        return 255
    command, path, rest = argv[0], argv[1], argv[2:]
    params = {}
    i = 0
    while i < len(rest):
        key = rest[i].lstrip("-")
        if key == "output-format":
            i += 2
            continue
        params.setdefault(key, []).append(rest[i + 1])
        i += 2
    base = os.environ["PVESH_STANDIN_URL"] + "/api2/json"
    login = requests.post(base + "/access/ticket", verify=False, timeout=30,
                          data={"username": "root@pam", "password": os.environ["PVESH_STANDIN_PASSWORD"]})
    ticket = login.json()["data"]
    session = requests.Session()
    session.verify = False
    session.cookies.set("PVEAuthCookie", ticket["ticket"])
    session.headers["CSRFPreventionToken"] = ticket["CSRFPreventionToken"]
    method = {"get": "GET", "ls": "GET", "set": "PUT", "create": "POST", "delete": "DELETE"}[command]
    if method in ("GET", "DELETE"):
        answer = session.request(method, base + path, params=params, timeout=60, verify=False)
    else:
        answer = session.request(method, base + path, data=params, timeout=60, verify=False)
    body = answer.json() if answer.content else {}
    if answer.status_code >= 400:
        print(f"{answer.status_code} {answer.reason}", file=sys.stderr)
        for key, message in sorted((body.get("errors") or {}).items()):
            print(f"{key}: {str(message).strip()}", file=sys.stderr)
        return 255
    data = body.get("data")
    if data is not None:
        print(json.dumps(data))
    return 0
