# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One client for the PBS REST API (``/api2/json``) on ``ansible.module_utils.urls``.

PBS facts it relies on (see the reference notes): the token header is ``PBSAPIToken=user@realm!id:secret``
(colon, unlike PVE's ``=``); answers are ``{"data": ...}`` with list/read config calls adding a top-level
``digest``; errors are plain text with an HTTP status; run endpoints answer with a UPID string.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from urllib.parse import quote, urlencode

from ansible.module_utils.urls import Request
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError

API_ARGUMENT_SPEC = {
    "api_host": {"type": "str", "required": True},
    "api_port": {"type": "int", "default": 8007},
    "api_token_id": {"type": "str", "required": True},
    "api_token_secret": {"type": "str", "required": True, "no_log": True},
    "fingerprint": {"type": "str"},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
}


class PBSError(Exception):
    """A failed PBS call; ``kind`` is one of auth, fingerprint, unreachable, not_found, digest, api."""

    def __init__(self, msg: str, kind: str = "api", status: int | None = None):
        super().__init__(msg)
        self.msg = msg
        self.kind = kind
        self.status = status


def normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower()


def format_fingerprint(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2))


class _PinnedSocket(ssl.SSLSocket):
    """Checks the server certificate's sha256 right after the handshake, on every connection."""

    pinned: str = ""

    def do_handshake(self, *args, **kwargs):
        super().do_handshake(*args, **kwargs)
        seen = hashlib.sha256(self.getpeercert(binary_form=True) or b"").hexdigest()
        if seen != self.pinned:
            raise PBSError(f"the server's TLS certificate has fingerprint {format_fingerprint(seen)}, "
                           f"not the pinned {format_fingerprint(self.pinned)}. Check it on the PBS host with "
                           "`proxmox-backup-manager cert info` and set the fingerprint option to its value.",
                           kind="fingerprint")


def pinned_context(fingerprint: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    # The pin replaces CA and host name checks: PBS's default certificate is self-signed.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    socket_class = type("PinnedSocket", (_PinnedSocket,), {"pinned": normalise_fingerprint(fingerprint)})
    context.sslsocket_class = socket_class
    return context


class PBSClient:
    def __init__(self, api_host: str, api_token_id: str, api_token_secret: str, api_port: int = 8007,
                 fingerprint: str | None = None, validate_certs: bool = True, timeout: int = 30):
        if "!" not in api_token_id or "@" not in api_token_id:
            raise PBSError(f"api_token_id {api_token_id!r} is not a token id of the form user@realm!tokenname "
                           "(see `proxmox-backup-manager user list-tokens USER`).", kind="auth")
        if fingerprint and len(normalise_fingerprint(fingerprint)) != 64:
            raise PBSError(f"fingerprint {fingerprint!r} is not a sha256 fingerprint (32 hex pairs, aa:bb:...).",
                           kind="fingerprint")
        self.base = f"https://{api_host}:{api_port}/api2/json"
        self.host = api_host
        headers = {"Authorization": f"PBSAPIToken={api_token_id}:{api_token_secret}", "Accept": "application/json"}
        context = pinned_context(fingerprint) if fingerprint else None
        self._request = Request(headers=headers, timeout=timeout, validate_certs=validate_certs and not fingerprint,
                                context=context, use_proxy=False, follow_redirects="none")
        self.token_id = api_token_id

    @classmethod
    def from_module(cls, module) -> "PBSClient":
        params = module.params
        return cls(**{key: params[key] for key in API_ARGUMENT_SPEC})

    def call(self, method: str, path: str, params: dict | None = None) -> tuple:
        """Returns (data, digest) of one call; the digest is PBS's top-level one (None when absent)."""
        url = self.base + path
        body = None
        headers = {}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if method in ("GET", "DELETE"):
            params = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
            if params:
                url += "?" + urlencode(params, doseq=True)
        else:
            body = json.dumps(params).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = self._request.open(method, url, data=body, headers=headers)
            text = response.read().decode("utf-8", "replace")
        except PBSError:
            raise
        except HTTPError as exc:
            raise self._http_error(exc, method, path) from None
        except URLError as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, PBSError):
                raise reason from None
            raise PBSError(f"cannot reach the PBS API at {self.base}: {reason}. Check api_host/api_port and that "
                           "`systemctl status proxmox-backup-proxy` is active on the PBS host.",
                           kind="unreachable") from None
        except ssl.SSLError as exc:
            raise PBSError(f"TLS to {self.base} failed: {exc}. PBS's certificate is self-signed: pin it with the "
                           "fingerprint option (`proxmox-backup-manager cert info`).", kind="fingerprint") from None
        except OSError as exc:
            if isinstance(exc.__context__, PBSError):
                raise exc.__context__ from None
            raise PBSError(f"cannot reach the PBS API at {self.base}: {exc}", kind="unreachable") from None
        document = json.loads(text) if text.strip() else {}
        return document.get("data"), document.get("digest")

    def _http_error(self, exc: HTTPError, method: str, path: str) -> PBSError:
        try:
            detail = exc.read().decode("utf-8", "replace").strip()
        except Exception:  # pylint: disable=broad-except
            detail = ""
        # PBS answers errors in plain text; a JSON {"message": ...} is tolerated too.
        if detail.startswith("{"):
            try:
                detail = json.loads(detail).get("message") or detail
            except ValueError:
                pass
        detail = detail or exc.reason
        where = f"{method} {path}"
        if exc.code == 401:
            return PBSError(f"PBS refused the API token {self.token_id} ({detail}). Check the token id and secret; "
                            "list tokens with `proxmox-backup-manager user list-tokens USER`.", kind="auth",
                            status=401)
        if exc.code == 403:
            return PBSError(f"{where}: the token {self.token_id} lacks a privilege ({detail}). Grant it with "
                            "`proxmox-backup-manager acl update PATH ROLE --auth-id TOKEN`.", kind="permission",
                            status=403)
        if exc.code == 404 or "does not exist" in detail or detail.startswith("no such"):
            return PBSError(f"{where}: {detail}", kind="not_found", status=exc.code)
        if "detected modified configuration" in detail:
            return PBSError(f"{where}: {detail} (someone changed it between read and write; run the task again)",
                            kind="digest", status=exc.code)
        return PBSError(f"{where}: {detail}", kind="api", status=exc.code)

    def get(self, path: str, params: dict | None = None):
        return self.call("GET", path, params)

    @staticmethod
    def quote(value: str) -> str:
        return quote(str(value), safe="")
