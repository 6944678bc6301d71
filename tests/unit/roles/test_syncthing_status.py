"""sovereign-syncthing-status (roles/syncthing/files/syncthing_status.py) against an API on loopback.

The API here is a small stand-in HTTP server answering the REST endpoints the script reads, with the
field names of Syncthing 1.19 (Debian bookworm's; the molecule `syncthing` scenario runs the real one).
It checks: one status per folder, receive-only local changes and pull errors in the details, Syncthing
down recorded as failed for every folder of config.xml with the restart as the fix, the files of folders
no longer configured removed, the API key sent and read from config.xml.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, gather

SCRIPT = Path(__file__).resolve().parents[3] / "roles/syncthing/files/syncthing_status.py"
spec = importlib.util.spec_from_file_location("syncthing_status", SCRIPT)
syncthing_status = importlib.util.module_from_spec(spec)
spec.loader.exec_module(syncthing_status)

OWN, PEER = "OWN", "PEER"
FOLDERS = [{"id": "photo-vault", "label": "Photos", "path": "/srv/media", "type": "receiveonly", "paused": False,
            "devices": [{"deviceID": OWN}, {"deviceID": PEER}]},
           {"id": "documents", "label": "", "path": "/srv/docs", "type": "sendreceive", "paused": False,
            "devices": [{"deviceID": OWN}, {"deviceID": PEER}]}]
DB = {"photo-vault": {"state": "idle", "globalTotalItems": 10, "localTotalItems": 12, "needTotalItems": 0,
                      "receiveOnlyChangedFiles": 2, "pullErrors": 0, "errors": 0},
      "documents": {"state": "idle", "globalTotalItems": 5, "localTotalItems": 4, "needTotalItems": 1,
                    "pullErrors": 1, "errors": 0}}
ERRORS = {"photo-vault": [], "documents": [{"path": "tax.pdf", "error": "permission denied"}]}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):  # noqa: N802
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.headers.get("X-API-Key") != "sekrit":
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b"CSRF Error")
            return
        body = {"/rest/system/status": {"myID": OWN},
                "/rest/config/folders": FOLDERS,
                "/rest/system/connections": {"connections": {PEER: {"connected": True}}},
                "/rest/stats/folder": {"photo-vault": {"lastScan": "2026-12-04T05:00:00Z"}},
                "/rest/db/status": DB.get(query.get("folder")),
                "/rest/folder/errors": {"folder": query.get("folder"), "errors": ERRORS.get(query.get("folder"))},
                }.get(url.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())


@pytest.fixture()
def api():
    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def config(tmp_path: Path, api_url: str, key: str = "sekrit") -> Path:
    address = api_url.split("//", 1)[1]
    path = tmp_path / "config.xml"
    path.write_text(f"""<configuration version="37">
    <folder id="photo-vault" label="Photos" path="/srv/media" type="receiveonly"></folder>
    <folder id="documents" label="" path="/srv/docs" type="sendreceive"></folder>
    <gui enabled="true" tls="false"><address>{address}</address><apikey>{key}</apikey></gui>
</configuration>""")
    return path


def run(tmp_path: Path, conf: Path) -> int:
    args = syncthing_status.parser().parse_args(["--config", str(conf), "--state-dir", str(tmp_path / "state"),
                                                 "--service", "syncthing@sovereign.service", "--timeout", "3"])
    return syncthing_status.run(args)


def doc(tmp_path: Path, folder: str) -> dict:
    return json.loads((tmp_path / "state" / "status" / f"syncthing.folder--{folder}.json").read_text())


def test_one_status_per_folder_with_what_the_page_needs(tmp_path, api):
    (tmp_path / "state" / "status").mkdir(parents=True)
    (tmp_path / "state" / "status" / "syncthing.folder--gone.json").write_text("{}")  # a folder Syncthing dropped
    (tmp_path / "state" / "status" / "restic.backup--media.json").write_text("{}")  # not ours
    assert run(tmp_path, config(tmp_path, api)) == 1  # documents cannot sync a file
    photos = doc(tmp_path, "photo-vault")
    assert photos["ok"] and photos["summary"] == "2 local change(s) in a receive-only folder"
    assert photos["details"]["receive_only_changed_items"] == 2 and photos["details"]["last_scan"] == "2026-12-04T05:00:00Z"
    assert photos["details"]["connected_peers"] == 1 and photos["details"]["peers"] == 1
    documents = doc(tmp_path, "documents")
    assert not documents["ok"] and documents["details"]["errors"] == ["tax.pdf: permission denied"]
    assert sorted(p.name for p in (tmp_path / "state" / "status").iterdir()) == [
        "restic.backup--media.json", "syncthing.folder--documents.json", "syncthing.folder--photo-vault.json"]
    items = {i["name"]: i for i in evaluate.evaluate_host("nas", gather.gather(str(tmp_path / "state"), None))}
    assert items["photo-vault"]["state"] == "amber" and "syncthing_revert.yml" in items["photo-vault"]["fix"]
    assert items["documents"]["state"] == "red" and "tax.pdf" in items["documents"]["reason"]


def test_syncthing_down_is_recorded_for_every_folder_with_the_restart(tmp_path):
    conf = config(tmp_path, "http://127.0.0.1:9")  # nothing listens on the discard port
    assert run(tmp_path, conf) == 1
    for folder in ("photo-vault", "documents"):
        record = doc(tmp_path, folder)
        assert not record["ok"] and record["details"]["problem"] == "api"
        assert record["fix"] == "systemctl restart syncthing@sovereign.service"
    [item, _other] = evaluate.evaluate_host("nas", gather.gather(str(tmp_path / "state"), None))
    assert item["state"] == "red" and item["fix"] == "systemctl restart syncthing@sovereign.service"


def test_a_wrong_api_key_is_a_failed_check_not_a_crash(tmp_path, api):
    assert run(tmp_path, config(tmp_path, api, key="wrong")) == 1
    assert "403" in doc(tmp_path, "photo-vault")["summary"] or "Forbidden" in doc(tmp_path, "photo-vault")["summary"]


def test_an_unreadable_config_says_so(tmp_path, capsys):
    assert run(tmp_path, tmp_path / "missing.xml") == 1
    assert "cannot read Syncthing's configuration" in capsys.readouterr().err
