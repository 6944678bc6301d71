"""The one atomic writer (common.atomic): replace, create, JSON status files, and the same code
run from the copy a role ships to a host (restic_backup, zfs_datasets, photo_vault)."""

from __future__ import annotations

import datetime
import errno
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from support.host_lib import ship


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if atomic.PARTIAL_MARK in p.name)


def test_replace_bytes_swaps_atomically(tmp_path):
    target = tmp_path / "a.xmp"
    target.write_bytes(b"old")
    atomic.replace_bytes(str(target), b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []


def test_ensure_dir_creates_every_level(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    atomic.ensure_dir(str(target))
    assert target.is_dir()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises((atomic.AtomicWriteError, OSError)):
        atomic.ensure_dir(str(tmp_path / "file" / "sub"))


# ------------------------------------------------------------------------------------ status files
# write_json is the one atomic JSON writer of the host scripts (restic_job.py, zpool-scrub-status,
# sovereign-photos); the roles ship the common package to the host under the collection's own
# import path, so these tests also run it from such a copy.

def host_copy(tmp_path):
    """The common package as a role installs it in a host's lib directory."""
    return ship(tmp_path / "lib", packages=("common",))


def run_on_host(lib, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ``atomic`` imported as a host script does: isolated mode, no site-packages,
    nothing of the checkout on the path, the lib directory first."""
    script = (f"import sys\nsys.path.insert(0, {str(lib)!r})\n"
              "from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic\n" + code)
    return subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False)


def test_write_json_creates_the_directory_and_sets_the_mode_whatever_the_umask(tmp_path):
    status = tmp_path / "state" / "zfs" / "scrub-rpool.json"
    old_umask = os.umask(0o077)
    try:
        written = atomic.write_json(str(status), {"result": "ok", "when": datetime.date(2026, 12, 1), "b": 1, "a": 2})
        private = atomic.write_json(str(tmp_path / "state" / "private.json"), {"x": 1}, mode=0o600)
    finally:
        os.umask(old_umask)
    assert written == str(status)
    assert status.read_text() == '{\n  "a": 2,\n  "b": 1,\n  "result": "ok",\n  "when": "2026-12-01"\n}\n'
    assert stat.S_IMODE(status.stat().st_mode) == 0o644
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert sorted(p.name for p in status.parent.iterdir()) == ["scrub-rpool.json"]


def test_write_json_refuses_a_directory_path_that_is_a_file(tmp_path):
    (tmp_path / "state").write_text("not a directory")
    with pytest.raises((atomic.AtomicWriteError, OSError), match="state"):
        atomic.write_json(str(tmp_path / "state" / "x.json"), {})


def test_a_writer_killed_before_the_rename_leaves_the_old_status_file_whole(tmp_path):
    """SIGKILL after the new content is written and synced, before the rename (a host script run
    from the copy a role ships): the final name still holds the old document, byte for byte; the new
    content only ever sits under a hidden partial name, and the next write replaces the file."""
    status = tmp_path / "state" / "backup.json"
    atomic.write_json(str(status), {"status": "ok", "run": 1})
    before = status.read_bytes()
    lib = host_copy(tmp_path)
    proc = run_on_host(lib, textwrap.dedent(f"""
        import os, signal
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        atomic.write_json({str(status)!r}, {{"status": "failed", "run": 2, "pad": "x" * 100000}})
    """))
    assert proc.returncode == -9, proc.stderr
    assert status.read_bytes() == before
    assert json.loads(status.read_text()) == {"status": "ok", "run": 1}
    others = [p.name for p in status.parent.iterdir() if p.name != "backup.json"]
    assert len(others) == 1 and others[0].startswith(".backup.json" + atomic.PARTIAL_MARK)
    proc = run_on_host(lib, f"atomic.write_json({str(status)!r}, {{'status': 'ok', 'run': 3}})\n")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(status.read_text()) == {"status": "ok", "run": 3}


@pytest.mark.parametrize("failure", ["rename", "fsync", "encode"])
def test_a_failed_status_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, failure):
    status = tmp_path / "verify.json"
    atomic.write_json(str(status), {"status": "ok"})
    payload = {"status": "problem"}

    def fail(code, message):
        def raiser(*args):
            raise OSError(code, message)
        return raiser

    if failure == "rename":
        monkeypatch.setattr(atomic.os, "replace", fail(errno.EIO, "I/O error"))
    elif failure == "fsync":
        monkeypatch.setattr(atomic.os, "fsync", fail(errno.ENOSPC, "full"))
    else:
        payload["self"] = payload  # a cycle: JSON cannot encode it
    with pytest.raises((OSError, ValueError)):
        atomic.write_json(str(status), payload)
    monkeypatch.undo()
    assert json.loads(status.read_text()) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["verify.json"]


def test_a_reader_never_sees_half_a_status_file(tmp_path):
    """A report reading while a host script rewrites the file gets one whole version or another."""
    status = tmp_path / "thumbnails.json"
    atomic.write_json(str(status), {"run": 0, "pad": "y" * 200_000})
    writer = subprocess.Popen([sys.executable, "-I", "-S", "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(host_copy(tmp_path))!r})
        from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
        for run in range(1, 201):
            atomic.write_json({str(status)!r}, {{"run": run, "pad": "y" * 200_000}})
    """)])
    seen = set()
    try:
        while writer.poll() is None:
            document = json.loads(status.read_text())
            assert len(document["pad"]) == 200_000
            seen.add(document["run"])
    finally:
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert json.loads(status.read_text())["run"] == 200 and len(seen) > 1


def test_read_json_falls_back_to_the_default(tmp_path):
    status = tmp_path / "job.json"
    assert atomic.read_json(str(status), {}) == {}
    status.write_text('{"status": "ok"')  # cut short (written by something else than write_json)
    assert atomic.read_json(str(status), {"status": None}) == {"status": None}
    atomic.write_json(str(status), {"status": "ok"})
    assert atomic.read_json(str(status), {}) == {"status": "ok"}
