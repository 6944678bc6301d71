"""A real S3 server for the tests: SeaweedFS's ``weed server -s3``, built from source once by
scripts/weed-build.sh into a versioned cache, started on 127.0.0.1 only (free ports for every one of its
listeners) with its data in a temporary directory and a static S3 identity, and stopped at the end.

Not a stand-in and not an emulator: master, volume server, filer and S3 gateway are SeaweedFS's own, in one
process, as a small self-hosted S3 deployment runs them. Telemetry is off (nothing leaves loopback).

Without the binary the fixture skips, naming the command that builds it, unless SOVEREIGN_WEED_BUILD is set,
in which case it builds it first.

``S3Server.request`` signs requests with AWS Signature Version 4 (standard library only) so tests can look
at buckets and objects without an S3 client library.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "weed-build.sh"
ACCESS_KEY = "SOVEREIGNTESTKEY0001"
SECRET_KEY = "weed-test-secret-5c1d0f6a9b2e47d3a8f0"  # test-only, never a real credential
REGION = "us-east-1"


def weed_path() -> Path:
    """Where scripts/weed-build.sh puts (or finds) the weed binary."""
    out = subprocess.run(["bash", str(BUILD), "path"], check=True, capture_output=True, text=True).stdout
    return Path(out.strip())


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1 (all held open together while they are picked)."""
    socks = []
    try:
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@dataclass
class S3Server:
    """``weed server -s3`` with its data under ``root``; ``endpoint`` is http://127.0.0.1:<port>."""

    root: Path
    weed: Path
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    ready_timeout_s: float = 180.0
    port: int = 0
    ports: dict = field(default_factory=dict)
    startup_seconds: float = 0.0
    proc: subprocess.Popen | None = None
    _log: object = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def repository(self, bucket: str, path: str = "") -> str:
        """A restic repository location on this server (restic's ``s3:`` backend over plain HTTP)."""
        return f"s3:{self.endpoint}/{bucket}" + (f"/{path.strip('/')}" if path else "")

    @property
    def env(self) -> dict[str, str]:
        """The credentials restic reads (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    @property
    def log_path(self) -> Path:
        return self.root / "weed.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def start(self) -> S3Server:
        t0 = time.monotonic()
        data, logs = self.root / "data", self.root / "logs"
        data.mkdir(parents=True, exist_ok=True)
        logs.mkdir(exist_ok=True)
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "sovereign-test",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
        config.chmod(0o600)
        names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3", "s3_grpc")
        self.ports = dict(zip(names, free_ports(len(names))))
        self.port = self.ports["s3"]
        p = self.ports
        args = [
            str(self.weed), f"-logdir={logs}", "server",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            # The Iceberg and Lance catalogs would listen on fixed ports; the tests need neither.
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-s3.config={config}",
            f"-filer.localSocket={self.root / 'filer.sock'}", f"-s3.localSocket={self.root / 's3.sock'}",
            "-master.telemetry=false",
            # Small volumes, never preallocated: a bucket's first write grows 7 of them.
            "-master.volumeSizeLimitMB=64", "-master.volumePreallocate=false", "-volume.max=100",
            "-volume.minFreeSpace=256MiB", "-volume.preStopSeconds=0",
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115  closed in stop()  pylint: disable=consider-using-with
        self.proc = subprocess.Popen(args, cwd=self.root, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"weed server exited with {code} at start; see {self.log_path}:\n{self.log_tail()}")
            if self._ready():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"weed server -s3 not ready after {self.ready_timeout_s:.0f} s; see "
                                   f"{self.log_path}:\n{self.log_tail()}")
            time.sleep(0.25)
        self.startup_seconds = time.monotonic() - t0
        return self

    def _ready(self) -> bool:
        """The S3 gateway answers a signed ListBuckets, and a write goes through the filer to a volume."""
        try:
            if self.request("GET", "/")[0] != 200:
                return False
            probe = "sovereign-ready-probe"
            if self.request("PUT", f"/{probe}")[0] not in (200, 409):
                return False
            ok = self.request("PUT", f"/{probe}/probe", b"ready")[0] == 200
            self.request("DELETE", f"/{probe}/probe")
            self.request("DELETE", f"/{probe}")
            return ok
        except OSError:
            return False

    def request(self, method: str, path: str, body: bytes = b"", query: dict | None = None,
                access_key: str | None = None, secret_key: str | None = None,
                timeout: float = 30) -> tuple[int, bytes]:
        """One SigV4-signed request; returns (HTTP status, body)."""
        access_key = access_key or self.access_key
        secret_key = secret_key or self.secret_key
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        host = f"127.0.0.1:{self.port}"
        canonical_path = urllib.parse.quote(path, safe="/-_.~")
        canonical_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(str(v), safe='-_.~')}"
                                   for k, v in sorted((query or {}).items()))
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join([method, canonical_path, canonical_query,
                               "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload])
        scope = f"{day}/{REGION}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = _sign(_sign(_sign(_sign(("AWS4" + secret_key).encode(), day), REGION), "s3"), "aws4_request")
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, "
                                    f"Signature={signature}")
        url = self.endpoint + canonical_path + (f"?{canonical_query}" if canonical_query else "")
        req = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None, method=method,
                                     headers={k: v for k, v in headers.items() if k != "host"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310  loopback only
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def buckets(self) -> list[str]:
        status, body = self.request("GET", "/")
        assert status == 200, body
        import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
        return [name.text for bucket in ET.fromstring(body).iter() if bucket.tag.split("}")[-1] == "Bucket"
                for name in bucket if name.tag.split("}")[-1] == "Name"]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix`` (ListObjectsV2, following continuation tokens)."""
        import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
        keys: list[str] = []
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
            if token:
                query["continuation-token"] = token
            status, body = self.request("GET", f"/{bucket}", query=query)
            assert status == 200, body
            tree = ET.fromstring(body)
            keys += [el.text for el in tree.iter() if el.tag.endswith("}Key") or el.tag == "Key"]
            token = next((el.text for el in tree.iter() if el.tag.endswith("NextContinuationToken")), None)
            if not token:
                return keys

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``: weed 4.53 needs ~15 s to exit because its filer keeps
        retrying to flush its metadata log once the volume server has left, and the test data is thrown
        away anyway."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log:
            self._log.flush()
            self._log.close()
            self._log = None


def ensure_weed() -> Path:
    weed = weed_path()
    if not weed.exists() and os.environ.get("SOVEREIGN_WEED_BUILD"):
        subprocess.run(["bash", str(BUILD)], check=True)
    if not weed.exists():
        pytest.skip(f"SeaweedFS's weed is not built ({weed} missing): run scripts/weed-build.sh once (a few "
                    "minutes, cached afterwards) or set SOVEREIGN_WEED_BUILD=1")
    return weed


@pytest.fixture(scope="module")
def s3_server():
    """A real ``weed server -s3`` on 127.0.0.1 for one test module (see the module docstring)."""
    weed = ensure_weed()
    root = Path(tempfile.mkdtemp(prefix="sovereign-weed-"))
    server = S3Server(root=root, weed=weed).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
