"""A stand-in Immich server for tests (Immich itself cannot run here). It is NOT Immich.

Built from the shared reference (``reference/apis/immich/NOTES.md``, the ``@immich/sdk`` 2.7.5 and
3.2.2 types and the immichpy 9.2.4 schema subset), it answers the endpoints the immich_* modules use,
with the behaviours Immich's e2e tests show:

* auth by ``x-api-key``; none or a wrong key -> 401 ``{error, statusCode, message, correlationId}``;
  a key of a non-admin user -> 403 in the same shape (every library endpoint is admin only);
* ``POST /libraries`` 201 (default name "New External Library", ``refreshedAt`` null), ``PUT`` 200,
  ``DELETE`` 204, duplicate import paths -> 400 "Array must have unique items";
* ``POST /libraries/{id}/validate`` checks the paths on this machine's disk with Immich's messages
  ("Import path must be absolute, try /usr/src/app/<p>", "Path does not exist (ENOENT)", "Not a directory");
* ``POST /libraries/{id}/scan`` 204 queues a job in the library queue that finishes ``scan_seconds``
  later, counting the media files under the import paths (exclusion patterns applied with fnmatch,
  an approximation of Immich's globs) as ``assetCount`` and setting ``refreshedAt``;
* version shapes: ``version="3.2.2"`` answers ``/server/version`` with ``prerelease`` and has
  ``/queues/library``; ``version="2.7.5"`` has no ``prerelease`` and only the legacy ``/jobs`` (an
  assumption of this stand-in: the reference does not say which 2.x release added ``/queues``).

Use: ``with ImmichStandIn(version="3.2.2") as immich: immich.url, immich.api_key``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MEDIA_SUFFIXES = {".jpg", ".jpeg", ".heic", ".png", ".dng", ".tif", ".tiff", ".mov", ".mp4", ".webp", ".gif"}
VIDEO_SUFFIXES = {".mov", ".mp4"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ImmichStandIn:
    """A stand-in Immich server on 127.0.0.1 and an ephemeral port (see the module docstring)."""

    def __init__(self, version: str = "3.2.2", scan_seconds: float = 0.6) -> None:
        self.version = tuple(int(part) for part in version.split("."))
        self.scan_seconds = scan_seconds
        self.api_key = "standin-admin-" + uuid.uuid4().hex
        self.user_key = "standin-user-" + uuid.uuid4().hex
        self.admin = {"id": str(uuid.uuid4()), "email": "admin@example.com", "name": "Admin", "isAdmin": True}
        self.user = {"id": str(uuid.uuid4()), "email": "anna@example.com", "name": "Anna", "isAdmin": False}
        self.libraries: dict[str, dict] = {}
        self.jobs: list[dict] = []  # {"library": id, "done_at": monotonic time, "applied": bool}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ImmichStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- state ----------------------------------------------------------------------------------
    def _advance_jobs(self) -> None:
        now = time.monotonic()
        for job in self.jobs:
            if not job["applied"] and now >= job["done_at"]:
                job["applied"] = True
                library = self.libraries.get(job["library"])
                if library:
                    photos, videos, usage = self._count(library)
                    library.update(assetCount=photos + videos, refreshedAt=_now(), updatedAt=_now())
                    library["_stats"] = {"photos": photos, "videos": videos, "total": photos + videos, "usage": usage}

    def _count(self, library: dict) -> tuple[int, int, int]:
        photos = videos = usage = 0
        for root in library["importPaths"]:
            for dirpath, _dirs, files in os.walk(root):
                for name in files:
                    path = os.path.join(dirpath, name)
                    suffix = os.path.splitext(name)[1].lower()
                    if suffix not in MEDIA_SUFFIXES:
                        continue
                    if any(fnmatch.fnmatch(path, pattern) for pattern in library["exclusionPatterns"]):
                        continue
                    usage += os.path.getsize(path)
                    if suffix in VIDEO_SUFFIXES:
                        videos += 1
                    else:
                        photos += 1
        return photos, videos, usage

    def queue_counts(self) -> dict:
        self._advance_jobs()
        waiting = sum(1 for job in self.jobs if not job["applied"])
        completed = sum(1 for job in self.jobs if job["applied"])
        return {"active": min(waiting, 1), "waiting": max(waiting - 1, 0), "delayed": 0, "failed": 0, "paused": 0,
                "completed": completed}

    @staticmethod
    def validate_path(path: str) -> dict:
        if not os.path.isabs(path):
            return {"importPath": path, "isValid": False,
                    "message": f"Import path must be absolute, try /usr/src/app/{path}"}
        if not os.path.exists(path):
            return {"importPath": path, "isValid": False, "message": "Path does not exist (ENOENT)"}
        if not os.path.isdir(path):
            return {"importPath": path, "isValid": False, "message": "Not a directory"}
        if not os.access(path, os.R_OK):
            return {"importPath": path, "isValid": False, "message": "Lacking read permission for folder"}
        return {"importPath": path, "isValid": True}

    # -- HTTP -------------------------------------------------------------------------------------
    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet in tests
                pass

            def _send(self, status: int, body=None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, error: str, message) -> None:
                self._send(status, {"message": message, "error": error, "statusCode": status,
                                    "correlationId": uuid.uuid4().hex[:8]})

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}") if length else {}

            def _route(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                with standin.lock:
                    standin.requests.append((method, path))
                    if not path.startswith("/api/"):
                        return self._error(404, "Not Found", f"Cannot {method} {path}")
                    path = path[4:]
                    if path in ("/server/ping", "/server/version") and method == "GET":
                        return self._public(path)
                    key = self.headers.get("x-api-key")
                    if not key:
                        return self._error(401, "Unauthorized", "Authentication required")
                    if key not in (standin.api_key, standin.user_key):
                        return self._error(401, "Unauthorized", "Invalid API key")
                    if key == standin.user_key and not path.startswith("/users"):
                        return self._error(403, "Forbidden", "Forbidden")
                    return self._authenticated(method, path)

            def _public(self, path: str) -> None:
                if path == "/server/ping":
                    return self._send(200, {"res": "pong"})
                major, minor, patch = standin.version
                answer = {"major": major, "minor": minor, "patch": patch}
                if major >= 3:
                    answer["prerelease"] = None
                return self._send(200, answer)

            def _authenticated(self, method: str, path: str) -> None:
                libs = standin.libraries
                match = re.fullmatch(r"/libraries/([^/]+)(/validate|/scan|/statistics)?", path)
                if path in ("/admin/users", "/users") and method == "GET":
                    return self._send(200, [standin.admin, standin.user])
                if path == "/libraries" and method == "GET":
                    standin._advance_jobs()
                    return self._send(200, [self._public_library(lib) for lib in libs.values()])
                if path == "/libraries" and method == "POST":
                    body = self._body()
                    if not body.get("ownerId"):
                        return self._error(400, "Bad Request", ["ownerId must be a UUID"])
                    problem = self._check_lists(body)
                    if problem:
                        return self._error(400, "Bad Request", [problem])
                    now = _now()
                    library = {"id": str(uuid.uuid4()), "ownerId": body["ownerId"],
                               "name": body.get("name") or "New External Library",
                               "importPaths": list(body.get("importPaths") or []),
                               "exclusionPatterns": list(body.get("exclusionPatterns") or []),
                               "assetCount": 0, "createdAt": now, "updatedAt": now, "refreshedAt": None}
                    libs[library["id"]] = library
                    return self._send(201, self._public_library(library))
                if match:
                    library = libs.get(match.group(1))
                    if library is None:
                        return self._error(400, "Bad Request", "Library not found")
                    action = match.group(2)
                    if action is None and method == "GET":
                        standin._advance_jobs()
                        return self._send(200, self._public_library(library))
                    if action is None and method == "PUT":
                        body = self._body()
                        problem = self._check_lists(body)
                        if problem:
                            return self._error(400, "Bad Request", [problem])
                        for key in ("name", "importPaths", "exclusionPatterns"):
                            if key in body:
                                library[key] = list(body[key]) if key != "name" else body[key]
                        library["updatedAt"] = _now()
                        return self._send(200, self._public_library(library))
                    if action is None and method == "DELETE":
                        del libs[library["id"]]
                        return self._send(204)
                    if action == "/validate" and method == "POST":
                        body = self._body()
                        return self._send(200, {"importPaths": [standin.validate_path(p)
                                                                for p in body.get("importPaths") or []]})
                    if action == "/scan" and method == "POST":
                        standin.jobs.append({"library": library["id"], "applied": False,
                                             "done_at": time.monotonic() + standin.scan_seconds})
                        return self._send(204)
                    if action == "/statistics" and method == "GET":
                        standin._advance_jobs()
                        return self._send(200, library.get("_stats") or {"photos": 0, "videos": 0, "total": 0, "usage": 0})
                if path == "/queues/library" and method == "GET" and standin.version[0] >= 3:
                    return self._send(200, {"name": "library", "isPaused": False, "statistics": standin.queue_counts()})
                if path == "/jobs" and method == "GET":
                    counts = standin.queue_counts()
                    return self._send(200, {"library": {"jobCounts": counts, "queueStatus": {
                        "isActive": bool(counts["active"]), "isPaused": False}}})
                if path == "/server/statistics" and method == "GET":
                    standin._advance_jobs()
                    stats = [lib.get("_stats") or {} for lib in libs.values()]
                    photos = sum(s.get("photos", 0) for s in stats)
                    videos = sum(s.get("videos", 0) for s in stats)
                    usage = sum(s.get("usage", 0) for s in stats)
                    return self._send(200, {"photos": photos, "videos": videos, "usage": usage, "usagePhotos": usage,
                                            "usageVideos": 0, "usageByUser": []})
                return self._error(404, "Not Found", f"Cannot {method} /api{path}")

            @staticmethod
            def _check_lists(body: dict) -> str | None:
                for key in ("importPaths", "exclusionPatterns"):
                    values = body.get(key)
                    if values is None:
                        continue
                    if len(values) != len(set(values)):
                        return "Array must have unique items"
                    if len(values) > 128 or any(not value for value in values):
                        return f"{key} must contain at most 128 non-empty strings"
                return None

            @staticmethod
            def _public_library(library: dict) -> dict:
                return {key: value for key, value in library.items() if not key.startswith("_")}

            def do_GET(self):  # noqa: N802  (http.server's naming)
                self._route("GET")

            def do_POST(self):  # noqa: N802
                self._route("POST")

            def do_PUT(self):  # noqa: N802
                self._route("PUT")

            def do_DELETE(self):  # noqa: N802
                self._route("DELETE")

        return Handler
