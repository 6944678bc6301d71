"""A real, throwaway PostgreSQL server for tests.

``postgresql_server`` (session scope) creates a cluster with Debian's ``initdb`` in a temporary
directory, as an unprivileged user (initdb refuses root: as root the cluster runs as the
``postgres`` system user through ``runuser``), on a free port on 127.0.0.1 with password
(scram-sha-256) authentication, waits until it accepts connections, and removes everything
afterwards. ``create_database()`` gives each test its own database owned by an ordinary
(non-superuser) role, the way a family's catalog database is set up. ``postgresql_dsn`` is one
such database for the whole session.

When the server binaries are missing they are installed with apt-get when running as root;
otherwise the tests that need PostgreSQL are skipped with the reason and the command to run.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROLE = "sovereign"
PREFIX = "sc-pg-"
OWNER_FILE = "owner.pid"  # the test process that owns the cluster; a dead owner means a leaked cluster
INSTALL_HINT = "install it with: sudo apt-get install postgresql (or run scripts/test-deps.sh as root)"


class PostgresUnavailable(Exception):
    """PostgreSQL cannot be run here; the message says why and what to do."""


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([0-9.]+)/bin/", path)
    return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<ver>/bin`` that has initdb, pg_ctl and postgres."""
    found = [p for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
             if os.access(os.path.join(os.path.dirname(p), "pg_ctl"), os.X_OK)
             and os.access(os.path.join(os.path.dirname(p), "postgres"), os.X_OK)]
    return Path(max(found, key=_version_key)).parent if found else None


def install_postgresql() -> Path:
    """Find the server binaries, installing Debian's package when we are root."""
    bindir = find_bindir()
    if bindir:
        return bindir
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresUnavailable(f"the PostgreSQL server is not installed and we are not root; {INSTALL_HINT}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    if subprocess.run(command, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"apt-get install postgresql failed: {result.stderr.strip()[-500:]}")
    bindir = find_bindir()
    if not bindir:
        raise PostgresUnavailable("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists")
    return bindir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One throwaway cluster. ``start()`` it, ``create_database()`` per test, ``stop()`` at the end."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("running as root and there is no 'postgres' system user to run the "
                                          "test cluster as (initdb refuses root); reinstall the postgresql "
                                          "package") from exc
            self.run_as = "postgres"
        # Not under pytest's tmp_path: that is private to root (0700) and the server runs as postgres.
        self.base = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.base / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self._databases = 0
        self._started = False

    # ------------------------------------------------------------------ plumbing
    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bindir / argv[0]), *argv[1:]]
        if self.run_as:
            command = [*self._switch_user(), *command]
        result = subprocess.run(command, cwd=self.base, capture_output=True, text=True, check=False,
                                env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"})
        if check and result.returncode != 0:
            raise PostgresUnavailable(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
                                      f"\n{self._log_tail()}")
        return result

    def _switch_user(self) -> list[str]:
        path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        runuser = shutil.which("runuser", path=path)
        if runuser:
            return [runuser, "-u", self.run_as, "--"]
        setpriv = shutil.which("setpriv", path=path)
        if setpriv:
            return [setpriv, f"--reuid={self.run_as}", f"--regid={self.run_as}", "--init-groups", "--"]
        raise PostgresUnavailable("running as root and neither runuser nor setpriv (util-linux) is installed "
                                  "to run the test cluster as the postgres user")

    def _log_tail(self) -> str:
        try:
            return "server log: " + self.log.read_text(errors="replace")[-800:]
        except OSError:
            return ""

    def dsn(self, database: str, user: str = ROLE, password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> PostgresServer:
        if self.run_as:
            shutil.chown(self.base, user=self.run_as, group=self.run_as)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if self.run_as:
            shutil.chown(pwfile, user=self.run_as, group=self.run_as)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", f"--pwfile={pwfile}", "-E", "UTF8",
                  "--locale=C", "--auth-local=peer", "--auth-host=scram-sha-256", "--no-sync")
        pwfile.unlink()
        for _attempt in range(5):
            self.port = free_port()
            # A throwaway cluster: durability settings off, it only has to be correct, not crash-safe.
            options = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{self.base}' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                               "-o", options, "start", check=False)
            if result.returncode == 0:
                self._started = True
                break
            if "could not bind" not in self._log_tail():
                raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr.strip()}\n{self._log_tail()}")
        else:
            raise PostgresUnavailable(f"no free loopback port for PostgreSQL after 5 tries\n{self._log_tail()}")
        atexit.register(self.stop)
        self._wait_ready()
        self._admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg  # pylint: disable=import-outside-toplevel
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.dsn("postgres", "postgres"), connect_timeout=5).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"the test PostgreSQL did not accept connections in {timeout:.0f} s: "
                                              f"{exc}\n{self._log_tail()}") from exc
                time.sleep(0.1)

    def _admin(self, statement: str) -> None:
        import psycopg  # pylint: disable=import-outside-toplevel
        with psycopg.connect(self.dsn("postgres", "postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, prefix: str = "catalog") -> str:
        """A new, empty database owned by the ordinary role; returns its DSN."""
        self._databases += 1
        name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{self._databases}"
        self._admin(f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return self.dsn(name)

    def sweep_leftovers(self) -> None:
        """Stop and remove clusters whose test process died without cleaning up (killed pytest)."""
        for base in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
            try:
                owner = int((base / OWNER_FILE).read_text(encoding="ascii"))
            except (OSError, ValueError):
                continue
            if base == self.base or _alive(owner):
                continue
            if (base / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(base / "data"), "-m", "immediate", "-w", "-t", "30", "stop", check=False)
            shutil.rmtree(base, ignore_errors=True)

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", check=False)
            self._started = False
        shutil.rmtree(self.base, ignore_errors=True)


def start_server() -> PostgresServer:
    """A started server, or :class:`PostgresUnavailable` saying why not."""
    try:
        import psycopg  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    except ImportError as exc:
        raise PostgresUnavailable("psycopg is not installed in this Python (pip install -r "
                                  "requirements/controller.txt)") from exc
    server = PostgresServer(install_postgresql())
    try:
        server.sweep_leftovers()
        return server.start()
    except BaseException:
        server.stop()
        raise


@pytest.fixture(scope="session")
def postgresql_server():
    """A running throwaway PostgreSQL server (see the module docstring); skipped with the reason."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgresql_dsn(postgresql_server):  # pylint: disable=redefined-outer-name
    """The ``postgresql://`` DSN of a database created for this test session."""
    return postgresql_server.create_database("session")
