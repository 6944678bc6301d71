"""scripts/test-deps.sh with the real apt-get and the real dpkg lock held by another process (as
unattended-upgrades holds it on a fresh machine): it waits, bounded, and says for whom.

The package it asks for (coreutils) is always installed, so apt-get takes the locks and installs
nothing: no network. Needs root and apt-get; skips with the reason otherwise."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "test-deps.sh"
LOCK = "/var/lib/dpkg/lock-frontend"
HOLDER = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.lockf(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get") or not os.path.exists(LOCK),
                                reason="needs root and apt-get (the dpkg lock of this machine)")


@pytest.fixture
def hold_lock():
    procs = []

    def hold(seconds: float) -> subprocess.Popen:
        with open(LOCK, "a", encoding="utf-8") as handle:  # a real apt run now: do not disturb it
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                pytest.skip("a real apt/dpkg process holds the lock right now")
            fcntl.lockf(handle, fcntl.LOCK_UN)
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, LOCK, str(seconds)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def deps(*args: str, timeout_s: int) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    run = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=120,
                         env=dict(os.environ, APT_LOCK_TIMEOUT=str(timeout_s)))
    return run, time.monotonic() - t0


def test_a_held_dpkg_lock_is_waited_for_and_named(hold_lock):
    holder = hold_lock(3)
    run, took = deps("coreutils:/nonexistent/probe", timeout_s=60)
    assert run.returncode == 0, run.stderr
    assert "test-deps: waiting up to 60 s for the apt/dpkg lock" in run.stderr
    assert f"process {holder.pid} (" in run.stderr and f"holds {LOCK}" in run.stderr
    assert "the apt/dpkg lock is free, going on" in run.stderr
    assert 2.0 < took < 30, took


def test_the_wait_is_bounded_and_the_message_says_what_to_do(hold_lock):
    holder = hold_lock(60)
    run, took = deps("coreutils:/nonexistent/probe", timeout_s=2)
    assert run.returncode != 0
    assert "gave up after 2 s waiting for the apt/dpkg lock" in run.stderr
    assert f"ps -o pid,etime,args -p {holder.pid}" in run.stderr and "APT_LOCK_TIMEOUT=1800" in run.stderr
    assert took < 10 and run.stderr.count("gave up") == 1, (took, run.stderr)
