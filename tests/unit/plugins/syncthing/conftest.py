"""Two real Syncthing instances ("laptop" and "nas") for the syncthing_* tests.

Facts from the shared reference (Syncthing 1.19.2): ``syncthing generate`` writes a config with
global discovery, relays, NAT, usage and crash reporting switched on, so they are switched off in
config.xml before the first start. As root, the instances also run in a private network namespace
that only has a loopback interface, so nothing can leave this machine even by mistake, and their
fixed ports cannot collide with other test runs. The test thread joins that namespace only for the
duration of each test (``os.setns``), because other tests in the same session use the host's
loopback. Without root the instances run on the host's loopback, on free ports, with the same
options off.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.syncthing import SyncthingClient

API_KEY = "sovereign-unit-test-key"
LAN_OFF = {
    "globalAnnounceEnabled": "false",
    "localAnnounceEnabled": "false",
    "relaysEnabled": "false",
    "natEnabled": "false",
    "crashReportingEnabled": "false",
    "startBrowser": "false",
    "urAccepted": "-1",
    "autoUpgradeIntervalH": "0",
    # Tests pause and remove peers; reconnect within seconds, not the default minute.
    "reconnectionIntervalS": "1",
}


@dataclass
class Instance:
    name: str
    home: Path
    gui_port: int
    sync_port: int
    process: subprocess.Popen | None = None
    device_id: str = ""
    log: Path = field(default=Path("/dev/null"))
    api_key: str = API_KEY

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gui_port}"

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.sync_port}"

    def client(self, key: str | None = None, timeout: int = 10) -> SyncthingClient:
        return SyncthingClient(self.url, key or self.api_key, timeout=timeout)


class LoopbackNetns:
    """A named network namespace with only `lo`, entered per test by the calling thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)

    @contextlib.contextmanager
    def entered(self):
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            os.setns(target, os.CLONE_NEWNET)
            yield
        finally:
            os.setns(own, os.CLONE_NEWNET)
            os.close(target)
            os.close(own)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


def _can_use_netns() -> bool:
    return (os.geteuid() == 0 and shutil.which("ip") is not None and hasattr(os, "setns")
            and os.path.exists("/proc/thread-self/ns/net"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _configure(instance: Instance) -> None:
    config = instance.home / "config.xml"
    text = config.read_text()
    for key, value in dict(LAN_OFF, listenAddress=instance.address).items():
        text, count = re.subn(rf"<{key}>[^<]*</{key}>", f"<{key}>{value}</{key}>", text)
        assert count == 1, f"{key} not found once in {config}"
    text = re.sub(r"(<gui [^>]*>\s*<address>)[^<]*(</address>)", rf"\g<1>127.0.0.1:{instance.gui_port}\g<2>", text)
    text = re.sub(r"<apikey>[^<]*</apikey>", f"<apikey>{API_KEY}</apikey>", text)
    config.write_text(text)


def _start(instance: Instance, syncthing: str) -> None:
    subprocess.run([syncthing, "generate", f"--home={instance.home}", "--no-default-folder"],
                   check=True, capture_output=True)
    _configure(instance)
    instance.log = instance.home / "syncthing.log"
    env = dict(os.environ, STNOUPGRADE="1", HOME=str(instance.home))
    with open(instance.log, "wb") as log:
        instance.process = subprocess.Popen(
            [syncthing, "serve", f"--home={instance.home}", "--no-browser", "--no-restart", "--logflags=3"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_up(instance: Instance, timeout: float = 30) -> None:
    client = instance.client()
    try:
        client.wait_until_up(timeout)
    except Exception:
        raise RuntimeError(f"syncthing {instance.name} did not start:\n{instance.log.read_text()[-2000:]}") from None
    instance.device_id = client.my_id()


def _stop(instance: Instance) -> None:
    if instance.process and instance.process.poll() is None:
        # --no-restart still forks a monitor and a child; SIGTERM to the monitor stops both.
        os.killpg(instance.process.pid, signal.SIGTERM)
        try:
            instance.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(instance.process.pid, signal.SIGKILL)
            instance.process.wait()


@pytest.fixture(scope="session")
def syncthing_binary() -> str:
    path = shutil.which("syncthing")
    if not path:
        pytest.skip("syncthing is not installed; run scripts/test-deps.sh (apt-get install syncthing) to test "
                    "the syncthing_* modules against a real server")
    return path


@pytest.fixture(scope="session")
def _syncthing_pair(syncthing_binary, tmp_path_factory):
    root = tmp_path_factory.mktemp("syncthing")
    netns = LoopbackNetns(f"sc-unit-syncthing-{os.getpid()}") if _can_use_netns() else None
    if netns:
        ports = [(8384, 22001), (8385, 22002)]
    else:
        ports = [(_free_port(), _free_port()), (_free_port(), _free_port())]
    pair = {name: Instance(name, root / name, gui, sync) for name, (gui, sync) in zip(("laptop", "nas"), ports)}
    context = netns.entered() if netns else contextlib.nullcontext()
    try:
        with context:
            for instance in pair.values():
                _start(instance, syncthing_binary)
            for instance in pair.values():
                _wait_up(instance)
        yield pair, netns
    finally:
        for instance in pair.values():
            _stop(instance)
        if netns:
            netns.delete()


@pytest.fixture
def syncthing(_syncthing_pair):
    """The two instances; the test runs inside their loopback-only network namespace (as root)."""
    pair, netns = _syncthing_pair
    with netns.entered() if netns else contextlib.nullcontext():
        yield pair


@pytest.fixture
def api_key() -> str:
    return API_KEY


@pytest.fixture
def laptop(syncthing) -> Instance:
    return syncthing["laptop"]


@pytest.fixture
def nas(syncthing) -> Instance:
    return syncthing["nas"]


@pytest.fixture
def unique_id() -> str:
    return "t-" + uuid.uuid4().hex[:8]


def _wait_for(predicate, timeout: float = 20, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def wait_for():
    """Poll a predicate until it returns something truthy (sync is asynchronous)."""
    return _wait_for
