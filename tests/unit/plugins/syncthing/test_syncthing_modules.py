"""The syncthing_* modules as Ansible runs them (a subprocess with JSON arguments), against real
Syncthing instances; and the client's error paths against a misbehaving stand-in HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils import syncthing as st
from support import return_docs

REPO = Path(__file__).resolve().parents[4]


def run_module(name: str, args: dict, tmp_path: Path, check: bool = False, diff: bool = True) -> dict:
    args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    args_file = tmp_path / f"{name}-args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(REPO / ".collections"))
    proc = subprocess.run([sys.executable, "-m", f"ansible_collections.sovereign.cloud.plugins.modules.{name}",
                           str(args_file)], capture_output=True, text=True, env=env, check=False)
    assert proc.stdout, proc.stderr
    result = json.loads(proc.stdout)
    result["_raw"] = proc.stdout
    return return_docs.check(name, result)


def api(instance) -> dict:
    return {"api_url": instance.url, "api_key": instance.api_key}


def test_folder_module_check_mode_then_real_run_then_idempotent(laptop, nas, tmp_path, unique_id, api_key):
    st.ensure_device(nas.client(), laptop.device_id, {"name": "laptop", "addresses": [laptop.address]})
    args = dict(api(nas), id=unique_id, path=str(tmp_path / "mirror"), type="receiveonly", devices=["laptop"],
                versioning={"type": "trashcan", "params": {"cleanoutDays": 30}})

    check = run_module("syncthing_folder", args, tmp_path, check=True)
    assert check["changed"] is True, check
    assert check["summary"] == f"folder {unique_id} would be added"
    assert nas.client().get_or_none(f"/rest/config/folders/{unique_id}") is None

    real = run_module("syncthing_folder", args, tmp_path)
    assert real["changed"] is True, real
    assert real["folder"]["type"] == "receiveonly"
    assert nas.client().get(f"/rest/config/folders/{unique_id}")["versioning"]["params"] == {"cleanoutDays": "30"}

    again = run_module("syncthing_folder", args, tmp_path)
    assert again["changed"] is False, again["diff"]
    # The key is a no_log option: it must not appear anywhere in what Ansible would log.
    for result in (check, real, again):
        assert api_key not in result["_raw"]


def test_folder_module_never_returns_an_encryption_password(laptop, nas, tmp_path, unique_id):
    # A peer that stores the folder encrypted (an untrusted device) has its password in the folder's
    # device entry; Syncthing returns it with the folder, the module must not.
    secret = "correct-horse-" + unique_id
    st.ensure_device(nas.client(), laptop.device_id, {"name": "laptop", "addresses": [laptop.address]})
    folder = nas.client().get("/rest/config/defaults/folder")
    folder.update(id=unique_id, label="vault", path=str(tmp_path / "enc"), type="sendonly",
                  devices=[{"deviceID": nas.device_id, "introducedBy": "", "encryptionPassword": ""},
                           {"deviceID": laptop.device_id, "introducedBy": "", "encryptionPassword": secret}])
    nas.client().post("/rest/config/folders", folder)
    args = dict(api(nas), id=unique_id, devices=["laptop"])
    results = [run_module("syncthing_folder", args, tmp_path, check=True),
               run_module("syncthing_folder", dict(args, label="vault (renamed)"), tmp_path),
               run_module("syncthing_folder", args, tmp_path)]
    for result in results:
        assert result.get("failed") is not True, result
        assert secret not in result["_raw"] and "encryptionPassword" not in result["_raw"], result["folder"]
    laptop_entry = [d for d in results[1]["folder"]["devices"] if d["deviceID"] == laptop.device_id]
    assert laptop_entry[0]["encrypted"] is True
    stored = nas.client().get(f"/rest/config/folders/{unique_id}")
    assert [d["encryptionPassword"] for d in stored["devices"] if d["deviceID"] == laptop.device_id] == [secret], \
        "the password stays in Syncthing"


def test_folder_module_rejects_an_unknown_type(nas, tmp_path, unique_id):
    result = run_module("syncthing_folder", dict(api(nas), id=unique_id, path=str(tmp_path), type="readonly"),
                        tmp_path)
    assert result["failed"] is True
    assert "type" in result["msg"] and "receiveonly" in result["msg"]
    assert nas.client().get_or_none(f"/rest/config/folders/{unique_id}") is None


def test_revert_on_a_sendonly_folder_fails_with_a_reason(laptop, tmp_path, unique_id):
    args = dict(api(laptop), id=unique_id, path=str(tmp_path), type="sendonly", revert_local_changes=True)
    result = run_module("syncthing_folder", args, tmp_path)
    assert result["failed"] is True
    assert "only applies to receiveonly folders" in result["msg"]


def test_device_module_wrong_key_message(laptop, nas, tmp_path):
    result = run_module("syncthing_device", {"api_url": nas.url, "api_key": "not-the-key", "device_id": laptop.device_id},
                        tmp_path)
    assert result["failed"] is True
    assert "403 CSRF Error: the API key is wrong; it is in config.xml <gui><apikey>" in result["msg"]


def test_options_module_lan_only_is_idempotent(nas, tmp_path):
    args = dict(api(nas), lan_only=True, usage_reporting=False, crash_reporting=False, auto_upgrade_interval=0)
    first = run_module("syncthing_options", args, tmp_path)
    assert first.get("failed") is not True, first
    assert run_module("syncthing_options", args, tmp_path)["changed"] is False
    options = nas.client().get("/rest/config/options")
    assert not any(options[k] for k in ("globalAnnounceEnabled", "relaysEnabled", "natEnabled",
                                        "crashReportingEnabled"))


def test_info_module_waits_and_returns_the_device_id(nas, tmp_path):
    result = run_module("syncthing_info", dict(api(nas), wait_timeout=5), tmp_path)
    assert result["changed"] is False
    assert result["device_id"] == nas.device_id
    assert result["summary"].startswith("Syncthing v1.")


# -- error paths against a stand-in server (not Syncthing: it misbehaves on purpose) ----------------------
class Misbehaving(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802  (http.server's naming)
        if self.path.startswith("/slow"):
            time.sleep(3)
        if self.path.startswith("/html"):
            body, status = b"<html>router login</html>", 200
        elif self.path.startswith("/https"):
            body, status = b"Client sent an HTTP request to an HTTPS server.\n", 400
        elif self.path.startswith("/boom"):
            body, status = b"folder has empty ID\n", 500
        else:
            body, status = b"", 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the client hanging up on /slow is the point of that test


@pytest.fixture(scope="module")
def misbehaving_url():
    server = QuietServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path, message", [
    ("/slow", "did not answer within 1 s"),
    ("/html", "the answer is not JSON"),
    ("/https", "the GUI speaks HTTPS; use an https:// api_url"),
    ("/boom", "500 folder has empty ID"),
])
def test_error_messages_say_what_to_do(misbehaving_url, path, message):
    client = st.SyncthingClient(misbehaving_url, "key", timeout=1)
    with pytest.raises(st.SyncthingError, match=message):
        client.get(path)


def test_tls_to_a_plain_http_server_is_explained(misbehaving_url):
    client = st.SyncthingClient(misbehaving_url.replace("http://", "https://"), "key", timeout=2)
    with pytest.raises(st.SyncthingError, match="TLS|validate_certs"):
        client.get("/rest/system/ping")
