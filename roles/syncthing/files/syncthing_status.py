# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign-syncthing-status: record the state of every Syncthing folder for the status page.

Installed by the syncthing role and run hourly by ``sovereign-syncthing-status.timer`` as the Syncthing
user (standard library only)::

    python3 syncthing_status.py --config /var/lib/syncthing/sovereign/config.xml \
        --state-dir /var/lib/sovereign-cloud --service syncthing@sovereign.service

Reads the API key and GUI address from Syncthing's own ``config.xml`` (the user's file, mode 0600), asks
the REST API about each configured folder (``/rest/db/status``: state, items still needed, receive-only
local changes, pull errors; ``/rest/folder/errors``; ``/rest/stats/folder``: last scan;
``/rest/system/connections``: which sharing devices are connected) and writes one ``common.status``
file per folder, ``<state-dir>/status/syncthing.folder--<folder id>.json``. A folder with pull errors
(or in the ``error`` state) is not ok; receive-only local changes, a paused folder, no connected peer
or items still to sync are ok with the details the status page turns amber. When Syncthing does not
answer, every folder of config.xml is recorded as failed, with the restart as its fix. The files of
folders no longer configured are removed. Exit status 1 when any folder is not ok.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable-next=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils.common import status  # noqa: E402

KIND = "syncthing.folder"
RECEIVE_ONLY = ("receiveOnlyChangedFiles", "receiveOnlyChangedDirectories", "receiveOnlyChangedSymlinks",
                "receiveOnlyChangedDeletes")


class ApiError(Exception):
    pass


def read_config(path: str) -> dict:
    """API URL, key and folder ids (with labels) from config.xml."""
    root = ET.parse(path).getroot()
    gui = root.find("gui")
    address = (gui.findtext("address") if gui is not None else None) or "127.0.0.1:8384"
    host, _sep, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    scheme = "https" if gui is not None and str(gui.get("tls", "false")).lower() == "true" else "http"
    folders = [{"id": f.get("id"), "label": f.get("label") or "", "path": f.get("path") or "", "type": f.get("type") or ""}
               for f in root.findall("folder")]
    return {"api_url": f"{scheme}://{host}:{port}", "api_key": (gui.findtext("apikey") if gui is not None else "") or "",
            "folders": folders}


class Api:
    def __init__(self, base: str, key: str, timeout: float = 10) -> None:
        self.base, self.key, self.timeout = base.rstrip("/"), key, timeout
        # No proxy: the API is on loopback.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path: str, **query):
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, headers={"X-API-Key": self.key, "Accept": "application/json"})
        try:
            with self.opener.open(request, timeout=self.timeout) as response:  # nosec B310 - the local Syncthing API
                text = response.read().decode("utf-8", "replace").strip()
        except OSError as exc:  # URLError, HTTPError, timeouts
            raise ApiError(f"GET {path}: {getattr(exc, 'reason', None) or exc}") from None
        return json.loads(text) if text else None


def folder_record(api: Api, folder: dict, connections: dict, stats: dict, own: str) -> tuple[bool, str, dict]:
    """(ok, summary, details) of one folder."""
    fid = folder["id"]
    db = api.get("/rest/db/status", folder=fid) or {}
    errors = (api.get("/rest/folder/errors", folder=fid) or {}).get("errors") or []
    peers = [d.get("deviceID") for d in folder.get("devices") or [] if d.get("deviceID") != own]
    connected = [p for p in peers if (connections.get(p) or {}).get("connected")]
    changed = sum(int(db.get(key, 0) or 0) for key in RECEIVE_ONLY)
    error_count = int(db.get("pullErrors", 0) or 0) + int(db.get("errors", 0) or 0)
    details = {
        "type": folder.get("type"), "label": folder.get("label") or "", "path": folder.get("path") or "",
        "state": db.get("state") or "", "paused": bool(folder.get("paused")),
        "global_items": int(db.get("globalTotalItems", 0) or 0), "local_items": int(db.get("localTotalItems", 0) or 0),
        "need_items": int(db.get("needTotalItems", 0) or 0), "receive_only_changed_items": changed,
        "error_count": max(error_count, len(errors)),
        "errors": [f"{e.get('path')}: {e.get('error')}" for e in errors[:5]],
        "last_scan": (stats.get(fid) or {}).get("lastScan"), "peers": len(peers), "connected_peers": len(connected),
    }
    ok = details["state"] != "error" and details["error_count"] == 0
    if not ok:
        summary = f"{details['error_count']} item(s) cannot be synced" + (f": {details['errors'][0]}" if errors else "")
    elif details["paused"]:
        summary = "paused"
    elif changed:
        summary = f"{changed} local change(s) in a receive-only folder"
    else:
        summary = (f"{details['state'] or 'unknown'}, {details['local_items']} of {details['global_items']} items, "
                   f"{details['need_items']} to sync, {len(connected)} of {len(peers)} device(s) connected")
    return ok, summary, details


def prune(state_dir: str, keep: set) -> list[str]:
    """Remove the status files of folders no longer configured (no ghost on the status page)."""
    removed = []
    for path in glob.glob(os.path.join(glob.escape(os.path.join(state_dir, status.STATUS_DIR)), f"{KIND}--*.json")):
        if os.path.basename(path) not in keep:
            os.unlink(path)
            removed.append(path)
    return removed


def run(args) -> int:
    started = status.utc_now()
    try:
        config = read_config(args.config)
    except (OSError, ET.ParseError) as exc:
        print(f"cannot read Syncthing's configuration {args.config}: {exc}; is Syncthing set up on this host, and does "
              "this job run as its user?", file=sys.stderr)
        return 1
    api = Api(args.api_url or config["api_url"], config["api_key"], args.timeout)
    restart = f"systemctl restart {args.service}"
    results = []
    try:
        own = api.get("/rest/system/status")["myID"]
        folders = api.get("/rest/config/folders") or []
        connections = (api.get("/rest/system/connections") or {}).get("connections") or {}
        stats = api.get("/rest/stats/folder") or {}
        for folder in folders:
            results.append((folder["id"],) + folder_record(api, folder, connections, stats, own) + (None,))
    except (ApiError, KeyError, ValueError) as exc:
        message = f"Syncthing did not answer its API at {api.base}: {exc}"
        results = [(f["id"], False, message,
                    {"problem": "api", "type": f["type"], "label": f["label"], "path": f["path"]}, restart)
                   for f in config["folders"]]
    keep = set()
    for fid, ok, summary, details, fix in results:
        path = status.write_status(args.state_dir, KIND, fid, ok, summary, started_at=started, fix=fix,
                                   every=args.every or None, details=details)
        keep.add(os.path.basename(path))
        print(f"{fid}: {'ok' if ok else 'FAILED'}: {summary}", flush=True)
    prune(args.state_dir, keep)
    return 0 if all(r[1] for r in results) else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="syncthing_status.py", description=__doc__.splitlines()[0])
    top.add_argument("--config", required=True, help="Syncthing's config.xml (API key, GUI address, folders)")
    top.add_argument("--state-dir", required=True, help="the status files go to <state-dir>/status/")
    top.add_argument("--service", default="syncthing@sovereign.service", help="the Syncthing unit (the fix when it is down)")
    top.add_argument("--api-url", default="", help="the API URL when it is not config.xml's GUI address")
    top.add_argument("--timeout", type=float, default=10)
    top.add_argument("--every", type=int, default=0, help="seconds between two runs (the role's expectation says it too)")
    return top


if __name__ == "__main__":
    sys.exit(run(parser().parse_args()))
