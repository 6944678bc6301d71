"""A local HTTP server on 127.0.0.1 that records every request it gets (for webhook tests).

Not a stand-in for any product: it only captures method, path, headers and body, and answers
with the status code given (200 by default), or after a delay.
"""

from __future__ import annotations

import http.server
import threading
import time


class Capture:
    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.requests: list[dict] = []
        self.status = status
        self.delay = delay
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                capture.requests.append({"method": "POST", "path": self.path,
                                         "headers": dict(self.headers.items()), "body": body})
                if capture.delay:
                    time.sleep(capture.delay)
                self.send_response(capture.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Capture":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
