# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A small client for Immich's REST API (base path ``/api``), for servers 2.x and 3.x.

Facts that shape it (reference ``apis/immich/NOTES.md`` and ``icloud-immich.md`` section 5):

* Auth is the ``x-api-key`` header. No or a wrong key answers 401
  ``{"error": "Unauthorized", "statusCode": 401, "message": ..., "correlationId": ...}``; a key of a
  user who is not an admin, or one without a permission, answers 403 in the same shape. Every
  library endpoint is admin only.
* 400 answers carry ``message`` as a string or a list of strings (e.g. "Array must have unique items").
* ``GET /server/version`` is ``{major, minor, patch}`` in 2.x and adds ``prerelease`` (int or null) in 3.x.
* The library queue is ``GET /queues/library`` (``QueueResponseDto``) on servers that have it, and
  ``GET /jobs`` (the deprecated ``QueuesResponseLegacyDto``, keyed by queue name) otherwise.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import SSLValidationError, open_url

API_KEY_HELP = ("make an API key of an admin user in Immich's web page: Account Settings > API Keys > New API Key "
                "(with at least the library.* and server permissions, or all)")


def api_argument_spec() -> dict:
    """Connection options shared by every immich_* module (documented in doc_fragments/immich.py)."""
    return {
        "api_url": {"type": "str", "default": "http://127.0.0.1:2283",
                    "fallback": (env_fallback, ["IMMICH_URL"])},
        "api_key": {"type": "str", "required": True, "no_log": True,
                    "fallback": (env_fallback, ["IMMICH_API_KEY"])},
        "validate_certs": {"type": "bool", "default": True},
        "timeout": {"type": "int", "default": 30},
    }


class ImmichError(Exception):
    """An Immich call or check failed; the message says what to do next."""


class ImmichHTTPError(ImmichError):
    """Immich answered with an HTTP error status; ``message`` is Immich's own text."""

    def __init__(self, text: str, status: int, message: str) -> None:
        super().__init__(text)
        self.status = status
        self.message = message


class ImmichClient:
    """One Immich server's API, as the user the API key belongs to."""

    def __init__(self, api_url: str, api_key: str, validate_certs: bool = True, timeout: int = 30) -> None:
        if not re.match(r"^https?://", api_url or ""):
            raise ImmichError(f"api_url {api_url!r} must start with http:// or https://, e.g. http://immich.example.com:2283")
        if not api_key:
            raise ImmichError(f"api_key is empty: {API_KEY_HELP}")
        base = api_url.rstrip("/")
        # Accept the server address with or without Immich's /api prefix.
        self.base = base if base.endswith("/api") else base + "/api"
        self.api_key = api_key
        self.validate_certs = validate_certs
        self.timeout = timeout

    @classmethod
    def from_module(cls, module) -> ImmichClient:
        params = module.params
        return cls(params["api_url"], params["api_key"], params["validate_certs"], params["timeout"])

    # -- transport --------------------------------------------------------------------------
    def request(self, method: str, path: str, body=None, query: dict | None = None):
        url = self.base + path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"x-api-key": self.api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        where = f"{method} {self.base}{path}"
        try:
            response = open_url(url, data=data, method=method, headers=headers, use_proxy=False,
                                timeout=self.timeout, validate_certs=self.validate_certs)
            raw = response.read()
        except HTTPError as exc:
            message = _error_message(exc)
            raise ImmichHTTPError(_explain_status(where, exc.code, message), exc.code, message) from None
        except SSLValidationError as exc:
            raise ImmichError(f"{where}: TLS certificate check failed ({exc}); install the CA that signed the "
                              "reverse proxy's certificate on this host, or set validate_certs: false") from None
        except (URLError, UrlsConnectionError, OSError) as exc:
            raise ImmichError(self._explain_connection(where, exc)) from None
        text = raw.decode("utf-8", "replace").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ImmichError(f"{where}: the answer is not JSON ({text[:120]!r}); is {self.base} really Immich's "
                              "address (the web page's address, port 2283 by default)?") from None

    def _explain_connection(self, where: str, exc: Exception) -> str:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
            return f"{where}: Immich did not answer within {self.timeout} s; check that the server is up, or raise timeout"
        if isinstance(reason, ssl.SSLError):
            return f"{where}: TLS failed ({reason}); check the certificate, or set validate_certs: false"
        if isinstance(reason, ConnectionRefusedError) or "refused" in str(reason):
            return (f"{where}: connection refused; is immich-server running (docker compose ps, in Immich's "
                    "compose directory) and listening on that address?")
        return f"{where}: cannot reach Immich ({reason}); check api_url and that the host is reachable"

    def get(self, path: str, **query):
        return self.request("GET", path, query=query or None)

    def post(self, path: str, body=None):
        return self.request("POST", path, body=body)

    def put(self, path: str, body):
        return self.request("PUT", path, body=body)

    def delete(self, path: str):
        return self.request("DELETE", path)

    # -- the calls the engines need -----------------------------------------------------------
    def version(self) -> dict:
        """``{version, major, minor, patch, prerelease}``; prerelease is None on 2.x (which has no such key)."""
        answer = self.get("/server/version")
        major, minor, patch = (int(answer[key]) for key in ("major", "minor", "patch"))
        prerelease = answer.get("prerelease")
        version = f"{major}.{minor}.{patch}" + (f"-rc.{prerelease}" if prerelease is not None else "")
        return {"version": version, "major": major, "minor": minor, "patch": patch, "prerelease": prerelease}

    def user_id_by_email(self, email: str) -> str:
        """The id of the user with that email (case-insensitive), through the admin users API."""
        try:
            users = self.get("/admin/users")
        except ImmichHTTPError as exc:
            if exc.status != 404:
                raise
            users = self.get("/users")  # an older server without /admin/users
        wanted = email.strip().lower()
        for user in users or []:
            if str(user.get("email", "")).lower() == wanted:
                return user["id"]
        known = ", ".join(sorted(str(user.get("email")) for user in users or [])) or "none"
        raise ImmichError(f"no Immich user has the email {email!r} (users: {known}); create the user in "
                          "Administration > Users, or fix owner")

    def libraries(self) -> list:
        return self.get("/libraries") or []

    def library(self, library_id: str) -> dict:
        return self.get(f"/libraries/{_quoted(library_id)}")

    def library_statistics(self, library_id: str) -> dict:
        return self.get(f"/libraries/{_quoted(library_id)}/statistics")

    def validate_library(self, library_id: str, import_paths: list, exclusion_patterns: list) -> list:
        answer = self.post(f"/libraries/{_quoted(library_id)}/validate",
                           {"importPaths": import_paths, "exclusionPatterns": exclusion_patterns})
        return (answer or {}).get("importPaths") or []

    def scan_library(self, library_id: str) -> None:
        self.post(f"/libraries/{_quoted(library_id)}/scan")

    def library_queue(self) -> dict:
        """``{"active", "waiting", "delayed", "failed", "paused", "completed"}`` of the library queue, from
        ``/queues/library`` (3.x) or, where that is missing, the legacy ``/jobs``."""
        try:
            return dict(self.get("/queues/library")["statistics"])
        except ImmichHTTPError as exc:
            if exc.status != 404:
                raise
        return dict(self.get("/jobs")["library"]["jobCounts"])


def _error_message(exc: HTTPError) -> str:
    """Immich's ``message`` (a string or a list of strings), or the raw body."""
    try:
        text = (exc.read() or b"").decode("utf-8", "replace").strip()
    except Exception:  # pylint: disable=broad-exception-caught  # the body is only used for the message
        text = ""
    try:
        message = json.loads(text).get("message", text)
    except (ValueError, AttributeError):
        return text
    if isinstance(message, list):
        return "; ".join(str(item) for item in message)
    return str(message)


def _explain_status(where: str, status: int, message: str) -> str:
    if status == 401:
        return f"{where}: 401 Unauthorized ({message or 'no message'}): Immich did not accept the API key; {API_KEY_HELP}"
    if status == 403:
        return (f"{where}: 403 Forbidden ({message or 'no message'}): the API key's user is not an Immich admin, or the "
                "key lacks that permission; external libraries need an admin's key with the library permissions: "
                + API_KEY_HELP)
    if status == 404:
        return f"{where}: 404 Not Found ({message}); is this an Immich 2.x or 3.x server?"
    return f"{where}: {status} {message or 'no message'}"


def _quoted(value: str) -> str:
    return quote(value, safe="")
