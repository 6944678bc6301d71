# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One client for the Proxmox VE API on proxmoxer, with errors that say what to do.

Backends: ``https`` from the controller (a root@pam ticket from ``api_password``, or an API token sent as
``PVEAPIToken=user@realm!id=SECRET``) and ``local`` on the PVE node itself (proxmoxer runs ``pvesh`` as
root, so bind mounts are allowed). PVE puts ``digest`` inside ``data``, so proxmoxer keeps it.
proxmoxer is imported lazily: the module starts, and its argument checks run, without it.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl

API_ARGUMENT_SPEC = {
    "api_host": {"type": "str"},
    "api_port": {"type": "int", "default": 8006},
    "api_user": {"type": "str", "default": "root@pam"},
    "api_password": {"type": "str", "no_log": True},
    "api_token_id": {"type": "str"},
    "api_token_secret": {"type": "str", "no_log": True},
    "fingerprint": {"type": "str"},
    "validate_certs": {"type": "bool", "default": True},
    "backend": {"type": "str", "default": "https", "choices": ["https", "local"]},
    "timeout": {"type": "int", "default": 30},
}

BIND_MOUNT_HELP = (
    "PVE allows mount points of type bind (a host path) only to root@pam logged in with its password (a "
    "ticket); an API token, even root@pam's, is refused. Set api_password for root@pam (api_user: root@pam, "
    "no api_token_id), or run the module on the PVE node with backend: local (pvesh as root).")

# How to grant a privilege, by its prefix: the built-in role that carries it.
ROLE_FOR = {"VM.": "PVEVMAdmin", "Sys.": "PVEAdmin", "Datastore.": "PVEDatastoreAdmin"}


class PveError(Exception):
    """A failed PVE call; ``kind``: unreachable, fingerprint, auth, permission, bind_mount, not_found, digest,
    missing_library, usage or api."""

    def __init__(self, msg: str, kind: str = "api", status: int | None = None):
        super().__init__(msg)
        self.msg = msg
        self.kind = kind
        self.status = status


def normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower()


def format_fingerprint(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2)).upper()


def server_fingerprint(host: str, port: int, timeout: float) -> str:
    """sha256 of the certificate the server presents (hex, lower case)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True) or b"").hexdigest()


def grant_hint(user: str, path: str, privilege: str) -> str:
    role = next((r for prefix, r in ROLE_FOR.items() if privilege.startswith(prefix)), "PVEAdmin")
    if "!" in user:
        return (f"`pveum acl modify {path} --roles {role} --tokens '{user}'` (a token with privilege separation "
                "also needs its user to hold it)")
    return f"`pveum acl modify {path} --roles {role} --users {user}`"


def explain(status: int | None, message: str, errors, where: str, who: str) -> PveError:
    """PVE's answer to a failed call as a PveError that names the cause and the next step."""
    text = message or ""
    if isinstance(errors, dict) and errors:
        text = f"{text} " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
    elif isinstance(errors, (bytes, str)) and errors:
        text = f"{text} {errors.decode() if isinstance(errors, bytes) else errors}"
    text = text.strip()
    if "only allowed for root@pam" in text:
        return PveError(f"{where}: PVE refused it for {who}: {text}. {BIND_MOUNT_HELP}", "bind_mount", status)
    if status == 401:
        return PveError(f"{where}: PVE did not accept the credentials of {who} ({text}). Check api_user and "
                        "api_password, or api_token_id and api_token_secret (`pveum user token list USER`).",
                        "auth", status)
    if status == 403:
        found = re.search(r"Permission check failed \((\S+), ([\w.|]+)\)", text)
        if found:
            path, privilege = found.groups()
            return PveError(f"{where}: {who} lacks the privilege {privilege} on {path} ({text}). Grant it with "
                            f"{grant_hint(who, path, privilege.split('|')[0])}.", "permission", status)
        return PveError(f"{where}: {who} is not allowed ({text}).", "permission", status)
    found = re.search(r"Configuration file 'nodes/([^/]+)/lxc/(\d+)\.conf' does not exist", text)
    if found:
        return PveError(f"{where}: container {found.group(2)} does not exist on node {found.group(1)} ({text}). "
                        "List the node's containers with `pct list` (or GET /nodes/NODE/lxc), and check vmid and "
                        "node.", "not_found", status)
    if "hostname lookup" in text:
        return PveError(f"{where}: the node is not part of this cluster ({text}). Check the node option "
                        "(`pvecm nodes`).", "not_found", status)
    if "detected modified configuration" in text:
        return PveError(f"{where}: {text} (the configuration changed between read and write; run the task "
                        "again).", "digest", status)
    return PveError(f"{where}: {text or 'failed'} (HTTP {status}).", "api", status)


class PveClient:
    """get/post/put/delete of API paths (``/nodes/pve/lxc/101/config``); errors as PveError."""

    def __init__(self, api_host: str | None = None, api_port: int = 8006, api_user: str = "root@pam",
                 api_password: str | None = None, api_token_id: str | None = None,
                 api_token_secret: str | None = None, fingerprint: str | None = None, validate_certs: bool = True,
                 backend: str = "https", timeout: int = 30):
        self.backend = backend
        self.token = bool(api_token_id)
        if backend == "local":
            self.who = "root@pam (pvesh on the node)"
        elif api_token_id:
            self.who = api_token_id if "!" in api_token_id else f"{api_user}!{api_token_id}"
        else:
            self.who = api_user
        self.base = f"https://{api_host}:{api_port}/api2/json" if backend == "https" else "pvesh (local)"
        if backend == "https":
            if not api_host:
                raise PveError("api_host is required with backend https.", "usage")
            if not api_password and not (api_token_id and api_token_secret):
                raise PveError("Set api_password (a root@pam ticket), or api_token_id and api_token_secret, or use "
                               "backend: local on the PVE node.", "usage")
            if fingerprint and len(normalise_fingerprint(fingerprint)) != 64:
                raise PveError(f"fingerprint {fingerprint!r} is not a sha256 fingerprint (32 hex pairs, AA:BB:...). "
                               "See `pvenode cert info` on the node.", "fingerprint")
        try:
            from proxmoxer import ProxmoxAPI  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise PveError("The proxmoxer Python library is missing where the module runs: "
                           "`pip install proxmoxer` (the collection pins it in requirements/controller.txt).",
                           "missing_library") from None
        if backend == "local":
            self.api = ProxmoxAPI(backend="local", service="PVE", timeout=timeout)
            return
        if fingerprint:
            self._check_fingerprint(api_host, api_port, fingerprint, timeout)
            # The pin is the certificate check; requests' warning about verify=False would mislead.
            try:
                import urllib3  # pylint: disable=import-outside-toplevel
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except ImportError:
                pass
        kwargs = {"port": api_port, "verify_ssl": validate_certs and not fingerprint, "timeout": timeout,
                  "service": "PVE"}
        if api_token_id:
            user, name = api_token_id.split("!", 1) if "!" in api_token_id else (api_user, api_token_id)
            kwargs.update(user=user, token_name=name, token_value=api_token_secret)
        else:
            kwargs.update(user=api_user, password=api_password)
        self.api = self._guard("login", lambda: ProxmoxAPI(api_host, **kwargs))

    @property
    def may_bind_mount(self) -> bool:
        """PVE sets bind mounts only for exactly root@pam with a ticket (or pvesh as root on the node)."""
        return self.backend == "local" or (not self.token and self.who == "root@pam")

    @classmethod
    def from_params(cls, params: dict) -> "PveClient":
        return cls(**{key: params.get(key) for key in API_ARGUMENT_SPEC if params.get(key) is not None})

    def _check_fingerprint(self, host: str, port: int, fingerprint: str, timeout: int) -> None:
        try:
            seen = server_fingerprint(host, port, timeout)
        except OSError as exc:
            raise self._unreachable(exc) from None
        if seen != normalise_fingerprint(fingerprint):
            raise PveError(f"the PVE API at {self.base} presents a TLS certificate with fingerprint "
                           f"{format_fingerprint(seen)}, not the pinned {format_fingerprint(normalise_fingerprint(fingerprint))}. "
                           "Check it on the node with `pvenode cert info` and set the fingerprint option to its value.",
                           "fingerprint")

    def _unreachable(self, exc) -> PveError:
        return PveError(f"cannot reach the PVE API at {self.base}: {exc}. Check api_host/api_port and that "
                        "`systemctl status pveproxy` is active on the node.", "unreachable")

    def _guard(self, where: str, call):
        from proxmoxer.core import AuthenticationError, ResourceException  # pylint: disable=import-outside-toplevel
        try:
            return call()
        except ResourceException as exc:
            raise explain(exc.status_code, str(exc.content or exc.status_message or ""), exc.errors, where,
                          self.who) from None
        except AuthenticationError as exc:
            raise PveError(f"{where}: PVE did not accept the login of {self.who} ({exc}). Check api_user and "
                           "api_password (root@pam's Linux password), or use an API token.", "auth", 401) from None
        except PveError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            name = type(exc).__name__
            if "SSLError" in name or isinstance(exc, ssl.SSLError) or "CERTIFICATE" in str(exc):
                raise PveError(f"TLS to {self.base} failed: {exc}. PVE's certificate is self-signed: pin it with the "
                               "fingerprint option (`pvenode cert info`), or set validate_certs: false.",
                               "fingerprint") from None
            if name in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout") or isinstance(exc, OSError):
                raise self._unreachable(exc) from None
            raise PveError(f"{where}: {name}: {exc}", "api") from None

    def _resource(self, path: str):
        node = self.api
        for part in [p for p in path.split("/") if p]:
            node = node(part)
        return node

    def get(self, path: str, **params):
        return self._guard(f"GET {path}", lambda: self._resource(path).get(**params))

    def post(self, path: str, **params):
        return self._guard(f"POST {path}", lambda: self._resource(path).post(**params))

    def put(self, path: str, **params):
        return self._guard(f"PUT {path}", lambda: self._resource(path).put(**params))

    def delete(self, path: str, **params):
        return self._guard(f"DELETE {path}", lambda: self._resource(path).delete(**params))

    def wait_task(self, node: str, upid: str, timeout: int = 300) -> None:
        """Wait for a task (UPID) to stop; PveError when it ends with anything but OK."""
        import time  # pylint: disable=import-outside-toplevel
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/nodes/{node}/tasks/{upid}/status") or {}
            if status.get("status") == "stopped":
                if status.get("exitstatus") != "OK":
                    raise PveError(f"task {upid} ended with: {status.get('exitstatus')}", "api")
                return
            if time.monotonic() > deadline:
                raise PveError(f"task {upid} still runs after {timeout} s", "api")
            time.sleep(0.5)

    def missing_privileges(self, needed: list) -> list:
        """The (path, privilege) pairs of ``needed`` the logged-in user or token does not hold
        (GET /access/permissions; a privilege on a parent path counts)."""
        if self.backend == "local" or self.who == "root@pam":
            return []
        held = self.get("/access/permissions") or {}
        out = []
        for path, privilege in needed:
            parts = [p for p in path.split("/") if p]
            candidates = ["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]
            if not any((held.get(c) or {}).get(privilege) for c in candidates):
                out.append((path, privilege))
        return out

    def require(self, needed: list, what: str) -> None:
        """Preflight: PveError (permission) naming the first missing privilege, before anything is written."""
        missing = self.missing_privileges(needed)
        if missing:
            path, privilege = missing[0]
            others = "" if len(missing) == 1 else " (also: " + ", ".join(f"{p} on {q}" for q, p in missing[1:]) + ")"
            raise PveError(f"{self.who} lacks the privilege {privilege} on {path}, needed to {what}{others}. Grant it "
                           f"with {grant_hint(self.who, path, privilege)}.", "permission", 403)
