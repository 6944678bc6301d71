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
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import threading
from pathlib import Path

from fakepve import FakePve, settle
from fakepve.certs import make_cert
from fakepve.model import PveError

BOOLEANS = ("all", "enabled", "quiet", "remove", "repeat-missed", "stdexcludes", "stop", "protected")
NOT_STORED = ("id", "delete", "digest")


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
