"""sovereign_notify.py (the base role's notifier, run by sovereign-notify@<unit>.service): the journal
line, the user's command and the JSON POST to the user's URL, against a real HTTP server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

NOTIFY = Path(__file__).resolve().parents[3] / "roles" / "base" / "files" / "sovereign_notify.py"


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers["Content-Length"])
            received.append({"type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def notify(tmp_path, config: dict | None):
    env = dict(os.environ, SOVEREIGN_NOTIFY_CONFIG=str(tmp_path / "notify.json"))
    if config is not None:
        (tmp_path / "notify.json").write_text(json.dumps(config))
    return subprocess.run([sys.executable, str(NOTIFY), "sovereign-restic-documents.service"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_without_settings_it_only_logs_an_error_line(tmp_path):
    result = notify(tmp_path, None)
    assert result.returncode == 0
    assert result.stdout.startswith("<3>sovereign.cloud: sovereign-restic-documents.service failed on ")


def test_it_runs_the_command_and_posts_to_the_url(tmp_path, webhook):
    url, received = webhook
    marker = tmp_path / "notified"
    result = notify(tmp_path, {"command": f'printf "%s|%s" "$SOVEREIGN_UNIT" "$SOVEREIGN_MESSAGE" > {marker}',
                               "url": url})
    assert result.returncode == 0, result.stdout
    unit, message = marker.read_text().split("|")
    assert unit == "sovereign-restic-documents.service" and "journalctl -u" in message
    [post] = received
    assert post["type"] == "application/json"
    assert post["body"]["unit"] == "sovereign-restic-documents.service" and post["body"]["text"] == message


def test_a_failing_command_or_url_fails_the_notice_too(tmp_path):
    result = notify(tmp_path, {"command": "exit 7", "url": "http://127.0.0.1:9/unreachable"})
    assert result.returncode == 1
    assert "the notify command exited with 7" in result.stdout
    assert "POST to the notify URL failed" in result.stdout
