"""A Proxmox VE STAND-IN for tests: fakepve (PyPI 0.5.0, pinned in requirements/constraints.txt), served over
HTTPS on a loopback address, plus the datacenter backup jobs (``/cluster/backup``), which fakepve answers from
the schema without storing them.

What comes from fakepve unchanged (PVE's API schema, 680 methods; parameter checks with PVE's wording):
containers with config, ``digest``, pending changes, hot-plug of a new mpN on a running container versus pending
for a changed one, and the root@pam rule for bind mounts (enforced once permissions are on: ``pve.acl`` is set
here, so tokens and other users are checked; root@pam with a ticket passes). Storage config (``/storage``) with
PVE's "already defined" error. ``/access/permissions``.

Added here (``/cluster/backup`` and ``/cluster/backup/{id}``, GET/POST/PUT/DELETE): jobs stored per id with
``type: vzdump``, ``enabled`` 1 by default, PUT merging and ``delete``, and VZDump's parameter rules. GETs answer
``prune-backups`` as an object, as the schema's ``returns`` declares; writes take the property string. Wording
not found in ../shared/reference (from memory of PVE's API2/Backup.pm and VZDump.pm, so assumptions):
"Job '<id>' already exists", "no such vzdump job", "option conflicts with option 'vmid'" and
"property is missing" for a job without vmid, all or pool.

Corrected here for ``/storage`` (pve-storage's PBSPlugin.pm on_add_hook/on_update_hook/on_delete_hook and
API2/Storage/Config.pm, read in its public source): fakepve drops the sensitive parameters (``password``,
``encryption-key``, ``master-pubkey``) without keeping them anywhere, so a test could not tell whether a password
was ever sent. Here they are kept apart, as PVE keeps them in ``/etc/pve/priv/storage/<id>.pw|.enc``, in
``storage_secrets[<id>]`` (never in a GET answer); a PUT that carries ``password`` replaces it, ``delete=password``
removes it, removing the entry removes them. An ``encryption-key`` must be a JSON key with ``data`` (PVE's
wording otherwise), and storage.cfg then holds the key's ``fingerprint`` (or ``1``), as PVE writes it; ``autogen``
makes a key and answers it in ``config``, once. ``master-pubkey`` is kept and shows as ``1``. Not modelled: PVE
contacting the PBS when it adds an enabled entry (activate_storage: a wrong PBS fingerprint or password fails the
create there), and the storage status that follows from it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import ssl
import threading
from pathlib import Path

from fakepve import FakePve, settle
from fakepve.certs import make_cert
from fakepve.model import PveError
from fakepve.routing import split_list

BOOLEANS = ("all", "enabled", "quiet", "remove", "repeat-missed", "stdexcludes", "stop", "protected")
NOT_STORED = ("id", "delete", "digest")
STORAGE_SECRETS = ("password", "encryption-key", "master-pubkey")


def _raise_param(**fields):
    return PveError(400, "Parameter verification failed.", fields)


class PVEStandIn(FakePve):
    """fakepve with stored backup jobs. Use as a context manager: it serves on host:port (port chosen by the
    system) with a fresh self-signed certificate whose sha256 is ``fingerprint``."""

    def __init__(self, workdir: Path, host: str = "127.0.0.1", password: str = "secret",
                 tokens: dict | None = None, node: str = "pve1"):
        super().__init__(user="root@pam", password=password, host=host, port=0)
        self.time_scale = 0
        self.backup_jobs: dict[str, dict] = {}
        # /etc/pve/priv/storage/<id>.pw|.enc|.master.pem: what PVE keeps and never returns.
        self.storage_secrets: dict[str, dict] = {}
        self.apitokens.update(tokens or {})
        # Permissions on: tokens (root@pam's too) and other users are checked as PVE checks them.
        self.acl = {}
        self.add_node(node)
        self.workdir = Path(workdir)
        self._loop = None
        self._thread = None
        self.fingerprint = ""

    # ------------------------------------------------------------ /cluster/backup

    def _routes_backup_jobs(self):
        return [("GET", "/cluster/backup", self._jobs_list), ("POST", "/cluster/backup", self._job_create),
                ("GET", "/cluster/backup/{id}", self._job_read), ("PUT", "/cluster/backup/{id}", self._job_update),
                ("DELETE", "/cluster/backup/{id}", self._job_delete)]

    @staticmethod
    def _view(job_id: str, job: dict) -> dict:
        out = {"id": job_id, "type": "vzdump", "enabled": 1}
        for key, value in job.items():
            out[key] = int(str(value) in ("1", "true", "True")) if key in BOOLEANS else value
        # The schema's returns: prune-backups is an object (keep-all boolean, the others integers).
        if out.get("prune-backups"):
            prune = dict(part.split("=", 1) for part in str(out["prune-backups"]).split(",") if "=" in part)
            out["prune-backups"] = {k: (int(v in ("1", "true")) if k == "keep-all" else int(v)) for k, v in prune.items()}
        return out

    @staticmethod
    def _verify_job(job: dict) -> None:
        """VZDump::verify_vzdump_parameters (with check_missing)."""
        def truthy(key: str) -> bool:
            return str(job.get(key, "0")) in ("1", "true", "True")

        if truthy("all") and job.get("vmid"):
            raise _raise_param(all="option conflicts with option 'vmid'")
        if job.get("exclude") and job.get("vmid"):
            raise _raise_param(exclude="option conflicts with option 'vmid'")
        if job.get("pool") and job.get("vmid"):
            raise _raise_param(pool="option conflicts with option 'vmid'")
        if not (truthy("all") or truthy("stop") or job.get("pool") or job.get("vmid")):
            raise _raise_param(vmid="property is missing")

    def _job(self, v):
        job = self.backup_jobs.get(v["id"])
        if job is None:
            raise PveError(500, "no such vzdump job")
        return job

    async def _jobs_list(self, v, user):
        return [self._view(k, job) for k, job in sorted(self.backup_jobs.items())]

    async def _job_read(self, v, user):
        return self._view(v["id"], self._job(v))

    async def _job_create(self, v, user):
        job_id = v.get("id") or "backup-" + hashlib.sha1(repr(sorted(v.items())).encode()).hexdigest()[:13]
        if job_id in self.backup_jobs:
            raise PveError(500, f"Job '{job_id}' already exists")
        job = {k: x for k, x in v.items() if k not in NOT_STORED}
        self._verify_job(job)
        self.backup_jobs[job_id] = job
        return None

    async def _job_update(self, v, user):
        job = dict(self._job(v))
        deletes = [k for k in str(v.get("delete") or "").replace(";", ",").replace(" ", ",").split(",") if k]
        for key in deletes:
            job.pop(key, None)
        job.update({k: x for k, x in v.items() if k not in NOT_STORED})
        self._verify_job(job)
        self.backup_jobs[v["id"]] = job
        return None

    async def _job_delete(self, v, user):
        self._job(v)
        del self.backup_jobs[v["id"]]
        return None

    # ------------------------------------------------------- /storage secrets

    @staticmethod
    def _encryption_key(value: str) -> tuple[str, str]:
        """(key JSON, what storage.cfg holds) as PBSPlugin's hooks make them."""
        if value == "autogen":
            fingerprint = ":".join(f"{b:02x}" for b in os.urandom(32))
            key = json.dumps({"kdf": None, "created": "2026-12-04T00:00:00Z", "modified": "2026-12-04T00:00:00Z",
                              "data": base64.b64encode(os.urandom(48)).decode(), "fingerprint": fingerprint})
            return key, fingerprint
        try:
            decoded = json.loads(value)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict) or "data" not in decoded:
            raise PveError(500, "Value does not seems like a valid, JSON formatted encryption key!")
        return value, str(decoded.get("fingerprint") or 1)

    async def _sc_create(self, v, user):
        sid, is_pbs = v.get("storage"), v.get("type") == "pbs"
        secrets = {k: v[k] for k in STORAGE_SECRETS if k in v and is_pbs}
        key = self._encryption_key(secrets["encryption-key"]) if "encryption-key" in secrets else None
        if "master-pubkey" in secrets and key is None:
            raise PveError(500, "'master-pubkey' can only be used together with 'encryption-key'")
        answer = await super()._sc_create(v, user)
        if is_pbs:
            kept = {k: x for k, x in secrets.items() if k != "encryption-key"}
            if key:
                kept["encryption-key"] = key[0]
                self.storages[sid]["encryption-key"] = key[1]
                answer = dict(answer, config={"encryption-key": key[0]})
            if "master-pubkey" in kept:
                self.storages[sid]["master-pubkey"] = 1
            self.storage_secrets[sid] = kept
        return answer

    async def _sc_update(self, v, user):
        sid = v.get("storage")
        store = self.storages.get(sid) or {}
        is_pbs = store.get("type") == "pbs"
        deletes = split_list(v.get("delete"))
        key = self._encryption_key(v["encryption-key"]) if is_pbs and "encryption-key" in v else None
        answer = await super()._sc_update(v, user)
        if is_pbs:
            kept = self.storage_secrets.setdefault(sid, {})
            for name in STORAGE_SECRETS:
                if name in deletes:
                    kept.pop(name, None)
                    store.pop(name, None)
            if "password" in v:
                kept["password"] = v["password"]
            if key:
                kept["encryption-key"] = key[0]
                store["encryption-key"] = key[1]
                answer = dict(answer or {}, config={"encryption-key": key[0]})
            if "master-pubkey" in v:
                kept["master-pubkey"] = v["master-pubkey"]
                store["master-pubkey"] = 1
        return answer

    async def _sc_delete(self, v, user):
        answer = await super()._sc_delete(v, user)
        self.storage_secrets.pop(v.get("storage"), None)
        return answer

    # ------------------------------------------------------------------ serving

    def __enter__(self) -> "PVEStandIn":
        certfile, keyfile, _ca = make_cert(str(self.workdir), name="pve-standin", hosts=(self.host,))
        der = ssl.PEM_cert_to_DER_cert(Path(certfile).read_text())
        self.fingerprint = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pve-standin", daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.start(certfile, keyfile), self._loop).result(30)
        return self

    def __exit__(self, *exc) -> None:
        try:
            asyncio.run_coroutine_threadsafe(settle(), self._loop).result(30)
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
            self._loop.close()

    @property
    def writes(self) -> list:
        """The requests that could change something (not GET, not the login)."""
        return [r for r in self.requests if r[0] != "GET" and not r[1].endswith("/access/ticket")]
