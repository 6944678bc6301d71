"""A real Kubernetes API server for the tests: kube-apiserver and etcd, built from source once by
scripts/kube-build.sh into a versioned cache, started on 127.0.0.1 only (random free ports) with openssl
certificates and a kubeconfig, and stopped at the end of the session.

Not a stand-in: these are the real kube-apiserver v1.37 and etcd v3.6 binaries. Nothing schedules or runs
pods (no controller manager, scheduler or kubelet), so the tests assert what the API validates, admits,
stores and serves: server-side apply, dry runs, defaulting, Pod Security admission, immutable fields.

Without the binaries the fixture skips, naming the command that builds them, unless SOVEREIGN_KUBE_BUILD is
set, in which case it builds them first (as `make test` does through scripts/run-tests.sh).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "scripts" / "kube-build.sh"


def binary_dirs() -> tuple[Path, Path]:
    """The cache directories scripts/kube-build.sh builds into (kube-<version>, etcd-<version>)."""
    out = subprocess.run(["bash", str(BUILD), "paths"], check=True, capture_output=True, text=True).stdout.split()
    return Path(out[0]), Path(out[1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(pki: Path) -> None:
    """A CA, the API server's serving certificate for 127.0.0.1, an admin client certificate in
    system:masters, and the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sovereign-test-ca",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash", "-keyout", "ca.key", "-out", "ca.crt", cwd=pki)
    # Python 3.13 verifies strictly (X.509 strict): key usages and key identifiers on every certificate.
    leaf = "keyUsage=critical,digitalSignature,keyEncipherment\nauthorityKeyIdentifier=keyid,issuer\n"
    (pki / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n"
                                    "extendedKeyUsage=serverAuth\n" + leaf)
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n" + leaf)
    for name, subject, ext in (("server", "/CN=kube-apiserver", "server.ext"),
                               ("admin", "/O=system:masters/CN=sovereign-admin", "client.ext")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=pki)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-extfile", ext, "-out", f"{name}.crt", cwd=pki)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


@dataclass
class KubeAPIServer:
    """etcd + kube-apiserver in ``root``; ``kubeconfig`` reaches it as a cluster admin."""

    root: Path
    kube_dir: Path
    etcd_dir: Path
    port: int = 0
    startup_seconds: float = 0.0
    procs: list = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kubectl_path(self) -> Path:
        return self.kube_dir / "kubectl"

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        """Run kubectl against this server; returns the CompletedProcess (text)."""
        return subprocess.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
                              check=check, capture_output=True, text=True, input=input, timeout=120)

    def start(self) -> KubeAPIServer:
        t0 = time.monotonic()
        pki = self.root / "pki"
        make_certificates(pki)
        etcd_client, etcd_peer = free_port(), free_port()
        self.port = free_port()
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        etcd_log = open(logs / "etcd.log", "wb")  # noqa: SIM115  closed in stop()
        self.procs.append((subprocess.Popen([
            str(self.etcd_dir / "etcd"), "--name", "test", "--data-dir", str(self.root / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"test=http://127.0.0.1:{etcd_peer}",
            "--unsafe-no-fsync", "--log-level", "warn"], stdout=etcd_log, stderr=subprocess.STDOUT), etcd_log))
        api_log = open(logs / "kube-apiserver.log", "wb")  # noqa: SIM115  closed in stop()
        self.procs.append((subprocess.Popen([
            str(self.kube_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.port}",
            f"--tls-cert-file={pki / 'server.crt'}", f"--tls-private-key-file={pki / 'server.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            # A range the API allocates Service IPs from; nothing is ever sent there (no kube-proxy, no pods).
            "--service-cluster-ip-range=10.96.0.0/24",
            "--endpoint-reconciler-type=none",
            "--authorization-mode=RBAC",
            "--profiling=false", "--v=1"], stdout=api_log, stderr=subprocess.STDOUT), api_log))
        self.kubeconfig.write_text(f"""apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: https://127.0.0.1:{self.port}
      certificate-authority: {pki / 'ca.crt'}
users:
  - name: admin
    user:
      client-certificate: {pki / 'admin.crt'}
      client-key: {pki / 'admin.key'}
contexts:
  - name: test
    context: {{cluster: test, user: admin}}
current-context: test
""")
        deadline = time.monotonic() + 120
        while True:
            for proc, _log in self.procs:
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} at start; see {logs}: "
                                       + (logs / 'kube-apiserver.log').read_text(errors='replace')[-2000:])
            ready = self.kubectl("get", "--raw", "/readyz", check=False)
            if ready.returncode == 0 and ready.stdout.strip() == "ok":
                # The default namespace and RBAC bootstrap exist once /readyz answers ok.
                if self.kubectl("get", "namespace", "default", check=False).returncode == 0:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kube-apiserver not ready after 120 s; see {logs}")
            time.sleep(0.5)
        self.startup_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for proc, log in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()
        self.procs.clear()


def ensure_binaries() -> tuple[Path, Path]:
    kube_dir, etcd_dir = binary_dirs()
    missing = [p for p in (kube_dir / "kube-apiserver", kube_dir / "kubectl", etcd_dir / "etcd") if not p.exists()]
    if missing and os.environ.get("SOVEREIGN_KUBE_BUILD"):
        subprocess.run(["bash", str(BUILD)], check=True)
        missing = [p for p in missing if not p.exists()]
    if missing:
        pytest.skip(f"the Kubernetes API server is not built ({', '.join(map(str, missing))} missing): run "
                    "scripts/kube-build.sh once (several minutes, cached afterwards) or set SOVEREIGN_KUBE_BUILD=1")
    if not shutil.which("openssl"):
        pytest.skip("openssl is missing (it makes the test cluster's certificates)")
    return kube_dir, etcd_dir


@pytest.fixture(scope="session")
def kube_apiserver():
    """A real kube-apiserver + etcd on 127.0.0.1 for the whole session (see the module docstring)."""
    kube_dir, etcd_dir = ensure_binaries()
    root = Path(tempfile.mkdtemp(prefix="sovereign-kube-"))
    server = KubeAPIServer(root=root, kube_dir=kube_dir, etcd_dir=etcd_dir).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
