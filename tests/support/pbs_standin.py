"""A STAND-IN for the Proxmox Backup Server REST API (PBS cannot run here), for tests only.

Built from /work/shared/reference/apis/pbs (the clientapi-pbs schema subset and its NOTES) and the PBS
section of reference/proxmox-syncthing-restic.md. What it keeps faithful:
- HTTPS on 127.0.0.1 with a self-signed certificate made at start (``openssl``), ephemeral port;
- ``Authorization: PBSAPIToken=user@realm!id:SECRET`` (colon), 401 on a wrong token;
- ``{"data": ...}`` answers; list/read config calls put ``digest`` at the top level (not inside data);
- section-config kinds remote/sync/prune/verify/datastore with required and known properties: unknown
  properties are rejected ("parameter verification failed"), keep-* >= 1, prune needs a schedule,
  ``delete`` is an array of property names, a stale ``digest`` fails with "detected modified configuration";
- a remote's password is never returned;
- datastore create/remove and run endpoints answer with a UPID string; a task is ``running`` and then
  ``stopped`` with exitstatus ``OK`` / ``WARNINGS: n`` / ``Error: msg`` (set per job by the test);
- errors are plain-text bodies. ``version="3.2"`` rejects sync properties newer than 3.2 (sync-direction...).
- ``GET /access/permissions`` (optionally ``auth-id=``): the ACL path -> {privilege: propagate} map of a token,
  from ``acls`` given by the test (every privilege on ``/`` when no ACLs are given); writes are not checked
  against it (the real server answers 403 "permission check failed").
What it does not model: tickets/CSRF, privilege checks on writes, real backups, rate limits.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
import ssl

KINDS = {
    "remote": {"key": "name", "required": {"host", "auth-id", "password"},
               "known": {"host", "port", "auth-id", "password", "fingerprint", "comment", "use-node-proxy"}},
    "sync": {"key": "id", "required": {"store", "remote-store"},
             "known": {"store", "remote", "remote-store", "remote-ns", "ns", "max-depth", "owner", "schedule",
                       "remove-vanished", "transfer-last", "group-filter", "rate-in", "burst-in", "rate-out",
                       "burst-out", "comment", "sync-direction", "encrypted-only", "verified-only",
                       "resync-corrupt", "run-on-mount", "worker-threads"}},
    "prune": {"key": "id", "required": {"store", "schedule"},
              "known": {"store", "schedule", "ns", "max-depth", "disable", "comment",
                        "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"}},
    "verify": {"key": "id", "required": {"store"},
               "known": {"store", "schedule", "ignore-verified", "outdated-after", "ns", "max-depth", "comment",
                         "read-threads", "verify-threads"}},
    "datastore": {"key": "name", "required": {"path"},
                  "known": {"path", "comment", "gc-schedule", "prune-schedule", "verify-new", "notify-user",
                            "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"}},
}
NEWER_THAN_3_2 = {"sync-direction", "encrypted-only", "verified-only", "resync-corrupt", "run-on-mount"}
WRITE_ONLY = {"password"}
INTS = {"port", "max-depth", "transfer-last", "outdated-after", "read-threads", "verify-threads", "worker-threads",
        "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly"}
BOOLS = {"remove-vanished", "disable", "ignore-verified", "verify-new", "use-node-proxy", "encrypted-only",
         "verified-only", "resync-corrupt", "run-on-mount"}
NODE = "localhost"
ALL_PRIVILEGES = ("Datastore.Audit", "Datastore.Allocate", "Datastore.Modify", "Datastore.Read", "Datastore.Verify",
                  "Datastore.Backup", "Datastore.Prune", "Remote.Audit", "Remote.Modify", "Remote.Read",
                  "Sys.Audit", "Sys.Modify")


class ApiError(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status
        self.text = text


def make_certificate(directory: Path) -> tuple[Path, Path, str]:
    cert, key = directory / "pbs-standin.pem", directory / "pbs-standin.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=pbs.example.com", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    digest = hashlib.sha256(der).hexdigest()
    return cert, key, ":".join(digest[i:i + 2] for i in range(0, 64, 2))


class PBSStandIn:
    def __init__(self, tmp_path: Path, tokens: dict | None = None, version: str = "4.1", acls: dict | None = None,
                 host: str = "127.0.0.1"):
        self.tokens = tokens or {"root@pam!ansible": "11111111-2222-3333-4444-555555555555"}
        self.acls = acls
        self.version = version
        self.config = {kind: {} for kind in KINDS}
        self.tasks: dict[str, dict] = {}
        # job id (or datastore for gc) -> (exitstatus, seconds the task runs)
        self.outcomes: dict[str, tuple[str, float]] = {}
        self.requests: list[tuple[str, str, dict]] = []
        self.lock = threading.Lock()
        cert, key, self.fingerprint = make_certificate(tmp_path)
        self.server = ThreadingHTTPServer((host, 0), _handler(self))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- section config -------------------------------------------------------------------------------
    def digest(self, kind: str) -> str:
        return hashlib.sha256(json.dumps(self.config[kind], sort_keys=True).encode()).hexdigest()

    def _validate(self, kind: str, params: dict, creating: bool) -> dict:
        spec = KINDS[kind]
        known = set(spec["known"])
        if kind == "sync" and self.version.startswith("3.2"):
            known -= NEWER_THAN_3_2
        errors = []
        for prop, value in params.items():
            if prop in ("delete", "digest", spec["key"]):
                continue
            if prop not in known:
                errors.append(f"'{prop}': schema does not allow additional properties.")
            elif prop in INTS and not isinstance(value, int):
                errors.append(f"'{prop}': expected integer value.")
            elif prop.startswith("keep-") and value < 1:
                errors.append(f"'{prop}': value must have a minimum value of 1 (got {value})")
            elif prop in BOOLS and not isinstance(value, bool):
                errors.append(f"'{prop}': expected boolean value.")
            elif prop == "sync-direction" and value not in ("pull", "push"):
                errors.append(f"'{prop}': value '{value}' is not defined in the enumeration.")
        if creating:
            for prop in sorted(spec["required"] | {spec["key"]}):
                if prop not in params:
                    errors.append(f"'{prop}': parameter is missing and it is not optional.")
        if kind == "sync" and params.get("sync-direction") == "push" and creating and not params.get("remote"):
            errors.append("'remote': push direction requires a remote")
        if errors:
            raise ApiError(400, "parameter verification failed - " + " ".join(errors))
        return {k: v for k, v in params.items() if k not in ("delete", "digest")}

    def _check_digest(self, kind: str, params: dict):
        if params.get("digest") and params["digest"] != self.digest(kind):
            raise ApiError(400, "detected modified configuration - file changed by other user? Try again.")

    def handle_config(self, method: str, kind: str, ident: str | None, params: dict):
        items = self.config[kind]
        spec = KINDS[kind]
        if method == "GET" and ident is None:
            data = [{spec["key"]: k, **{p: v for p, v in item.items() if p not in WRITE_ONLY}}
                    for k, item in sorted(items.items())]
            return data, self.digest(kind)
        if method == "POST" and ident is None:
            body = self._validate(kind, params, creating=True)
            name = body.pop(spec["key"])
            if name in items:
                raise ApiError(400, f"{kind} '{name}' already exists.")
            items[name] = body
            if kind == "datastore":
                return self.start_task("create-datastore", name, "OK", 0.2), None
            return None, None
        if ident not in items:
            raise ApiError(404, f"{kind} '{ident}' does not exist.")
        if method == "GET":
            return {spec["key"]: ident, **{p: v for p, v in items[ident].items() if p not in WRITE_ONLY}}, \
                self.digest(kind)
        self._check_digest(kind, params)
        if method == "PUT":
            body = self._validate(kind, params, creating=False)
            for prop in params.get("delete") or []:
                if prop not in spec["known"] or prop in spec["required"]:
                    raise ApiError(400, f"parameter verification failed - 'delete': cannot delete '{prop}'")
                items[ident].pop(prop, None)
            if kind == "datastore" and "path" in body:
                raise ApiError(400, "parameter verification failed - 'path': schema does not allow additional properties.")
            items[ident].update(body)
            return None, None
        if method == "DELETE":
            del items[ident]
            if kind == "datastore":
                return self.start_task("delete-datastore", ident, "OK", 0.1), None
            return None, None
        raise ApiError(501, f"Method '{method} /api2/json/config/{kind}/{ident}' not implemented")

    # --- tasks ----------------------------------------------------------------------------------------
    def start_task(self, worker_type: str, worker_id: str, exitstatus: str, seconds: float) -> str:
        now = time.time()
        task_id = len(self.tasks) + 1
        upid = (f"UPID:{NODE}:{12345:08X}:{67890:08X}:{task_id:08X}:{int(now):08X}:{worker_type}:{worker_id}:"
                f"root@pam!ansible:")
        self.tasks[upid] = {"start": now, "seconds": seconds, "exitstatus": exitstatus, "type": worker_type,
                            "id": worker_id}
        return upid

    def task_status(self, upid: str) -> dict:
        task = self.tasks.get(upid)
        if task is None:
            raise ApiError(400, f"no such task '{upid}'")
        data = {"upid": upid, "node": NODE, "type": task["type"], "id": task["id"], "user": "root@pam",
                "tokenid": "ansible", "starttime": int(task["start"]), "pid": 12345, "pstart": 67890}
        if time.time() - task["start"] < task["seconds"]:
            data["status"] = "running"
        else:
            data.update(status="stopped", exitstatus=task["exitstatus"])
        return data

    def run_job(self, kind: str, ident: str) -> str:
        config_kind = {"sync": "sync", "prune": "prune", "verify": "verify", "gc": "datastore"}[kind]
        if ident not in self.config[config_kind]:
            label = "datastore" if kind == "gc" else f"{kind} job"
            raise ApiError(404, f"{label} '{ident}' does not exist.")
        exitstatus, seconds = self.outcomes.get(ident, ("OK", 0.2))
        worker = {"sync": "syncjob", "prune": "prunejob", "verify": "verificationjob", "gc": "garbage_collection"}[kind]
        return self.start_task(worker, ident, exitstatus, seconds)

    def permissions(self, auth_id: str) -> dict:
        if self.acls is None:
            if auth_id not in self.tokens:
                raise ApiError(400, f"no such token '{auth_id}'")
            return {"/": {priv: True for priv in ALL_PRIVILEGES}}
        if auth_id not in self.acls:
            raise ApiError(400, f"no such token '{auth_id}'")
        return self.acls[auth_id]

    # --- routing --------------------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, params: dict, authorization: str):
        if not authorization.startswith("PBSAPIToken"):
            raise ApiError(401, "authentication failed - no authentication credentials provided.")
        token = authorization[len("PBSAPIToken"):].lstrip(" =")
        token_id, _sep, secret = token.partition(":")
        if self.tokens.get(token_id) != unquote(secret):
            raise ApiError(401, "authentication failed - invalid API token")
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:2] != ["api2", "json"]:
            raise ApiError(404, "Path not found.")
        parts = parts[2:]
        with self.lock:
            self.requests.append((method, "/" + "/".join(parts), params))
            if parts[:1] == ["config"] and len(parts) in (2, 3) and parts[1] in KINDS:
                return self.handle_config(method, parts[1], parts[2] if len(parts) == 3 else None, params)
            if method == "POST" and len(parts) == 4 and parts[0] == "admin" and parts[1] in ("sync", "prune", "verify") \
                    and parts[3] == "run":
                return self.run_job(parts[1], parts[2]), None
            if method == "POST" and len(parts) == 4 and parts[:2] == ["admin", "datastore"] and parts[3] == "gc":
                return self.run_job("gc", parts[2]), None
            if method == "GET" and len(parts) == 5 and parts[0] == "nodes" and parts[2] == "tasks" \
                    and parts[4] == "status":
                return self.task_status(parts[3]), None
            if method == "GET" and parts == ["access", "permissions"]:
                return self.permissions(params.get("auth-id") or token_id), None
            if parts == ["version"]:
                return {"version": self.version, "release": "1", "repoid": "standin"}, None
        raise ApiError(501, f"Method '{method} /api2/json/{'/'.join(parts)}' not implemented")


def _handler(standin: PBSStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet test output
            pass

        def _serve(self, method: str):
            url = urlparse(self.path)
            params: dict = {}
            for key, values in parse_qs(url.query).items():
                params[key] = values if key == "delete" else values[0]
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                raw = self.rfile.read(length)
                if (self.headers.get("Content-Type") or "").startswith("application/json"):
                    params.update(json.loads(raw))
                else:
                    for key, values in parse_qs(raw.decode()).items():
                        params[key] = values if key in ("delete", "group-filter") else values[0]
            try:
                data, digest = standin.dispatch(method, url.path, params, self.headers.get("Authorization", ""))
            except ApiError as exc:
                body = (exc.text + "\n").encode()
                self.send_response(exc.status)
                self.send_header("Content-Type", "text/plain;charset=UTF-8")
            else:
                document = {"data": data}
                if digest:
                    document["digest"] = digest
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            self._serve("GET")

        def do_POST(self):  # noqa: N802
            self._serve("POST")

        def do_PUT(self):  # noqa: N802
            self._serve("PUT")

        def do_DELETE(self):  # noqa: N802
            self._serve("DELETE")

    return Handler
