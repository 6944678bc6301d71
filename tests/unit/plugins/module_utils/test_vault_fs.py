"""Verified atomic writes, the vault lock, stale-temp cleanup and the source walk (vault_fs)."""

from __future__ import annotations

import datetime
import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils import vault_fs


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if vault_fs.PARTIAL_MARK in p.name)


# ------------------------------------------------------------------------------------ publishing

def test_publish_writes_verified_read_only_file_with_the_source_mtime(tmp_path):
    data = os.urandom(300_000)
    final = tmp_path / "originals" / "x.jpg"
    final.parent.mkdir(parents=True)
    outcome = vault_fs.publish_bytes(str(final), data, sha(data), verify=True, mtime_ns=1_600_000_000_123_456_789)
    assert outcome == "written"
    assert final.read_bytes() == data
    assert stat.S_IMODE(final.stat().st_mode) == 0o444
    assert final.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert final.stat().st_nlink == 1
    assert leftovers(final.parent) == []


def test_identical_existing_file_is_adopted_and_different_content_fails_loudly(tmp_path):
    data, other = b"photo bytes" * 1000, b"something else" * 1000
    final = tmp_path / "x.jpg"
    final.write_bytes(data)
    assert vault_fs.publish_bytes(str(final), data, sha(data)) == "adopted"
    final.write_bytes(other)
    with pytest.raises(vault_fs.ExistingMismatch, match="already exists with different content"):
        vault_fs.publish_bytes(str(final), data, sha(data))
    assert final.read_bytes() == other  # left alone
    assert leftovers(tmp_path) == []


def test_a_file_appearing_under_the_final_name_during_the_write_is_never_replaced(tmp_path, monkeypatch):
    data, intruder = b"ours" * 1000, b"theirs" * 1000
    final = tmp_path / "x.jpg"
    real_link = os.link

    def racing_link(src, dst):
        final.write_bytes(intruder)  # someone else got there first
        return real_link(src, dst)
    monkeypatch.setattr(vault_fs.os, "link", racing_link)
    with pytest.raises(vault_fs.ExistingMismatch):
        vault_fs.publish_bytes(str(final), data, sha(data))
    assert final.read_bytes() == intruder
    assert leftovers(tmp_path) == []


def test_read_back_mismatch_publishes_nothing(tmp_path, monkeypatch):
    data = b"x" * 5000
    monkeypatch.setattr(vault_fs, "sha256_file", lambda path, drop_cache=False: ("0" * 64, len(data)))
    with pytest.raises(vault_fs.VaultWriteError, match="reads back with a different sha256"):
        vault_fs.publish_bytes(str(tmp_path / "x.jpg"), data, sha(data), verify=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK])
def test_without_hard_links_a_checked_rename_publishes(tmp_path, monkeypatch, code):
    def no_links(_src, _dst):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(vault_fs.os, "link", no_links)
    data = b"y" * 4000
    final = tmp_path / "y.jpg"
    assert vault_fs.publish_bytes(str(final), data, sha(data)) == "written"
    assert final.read_bytes() == data and leftovers(tmp_path) == []


def test_stream_publish_copies_in_chunks_and_refuses_a_changed_source(tmp_path):
    data = os.urandom(3 * vault_fs.CHUNK + 17)
    source = tmp_path / "src.mov"
    source.write_bytes(data)
    fd = os.open(source, os.O_RDONLY)
    try:
        final = tmp_path / "out.mov"
        assert vault_fs.publish_stream(str(final), fd, len(data), sha(data)) == "written"
        assert final.read_bytes() == data
        with pytest.raises(vault_fs.SourceChanged):
            vault_fs.publish_stream(str(tmp_path / "other.mov"), fd, len(data), "0" * 64)
        with pytest.raises(vault_fs.SourceChanged):
            vault_fs.publish_stream(str(tmp_path / "short.mov"), fd, len(data) - 5, sha(data[:-5]))
    finally:
        os.close(fd)
    assert not (tmp_path / "other.mov").exists() and not (tmp_path / "short.mov").exists()
    assert leftovers(tmp_path) == []


def test_replace_bytes_swaps_atomically(tmp_path):
    target = tmp_path / "a.xmp"
    target.write_bytes(b"old")
    vault_fs.replace_bytes(str(target), b"new")
    assert target.read_bytes() == b"new" and leftovers(tmp_path) == []


def test_a_killed_writer_leaves_only_a_partial_file_which_cleanup_removes(tmp_path):
    """SIGKILL between fsync and link: no final file, one partial file; clean_partials removes it."""
    final = tmp_path / "originals" / "2023" / "x.jpg"
    final.parent.mkdir(parents=True)
    script = textwrap.dedent(f"""
        import hashlib, os, signal, sys
        sys.path.insert(0, {str(vault_fs.__file__.rsplit('/ansible_collections/', 1)[0])!r})
        from ansible_collections.sovereign.cloud.plugins.module_utils import vault_fs
        data = b"z" * 100000
        def fault(point):
            if point == "partial-written":
                os.kill(os.getpid(), signal.SIGKILL)
        vault_fs.publish_bytes({str(final)!r}, data, hashlib.sha256(data).hexdigest(), fault=fault)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    assert not final.exists()
    assert len(leftovers(final.parent)) == 1
    removed = vault_fs.clean_partials(str(tmp_path / "originals"))
    assert len(removed) == 1 and leftovers(final.parent) == []


def test_ensure_dir_creates_every_level(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    vault_fs.ensure_dir(str(target))
    assert target.is_dir()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises((vault_fs.VaultWriteError, OSError)):
        vault_fs.ensure_dir(str(tmp_path / "file" / "sub"))


# ------------------------------------------------------------------------------------ status files
# write_json is the one atomic JSON writer of the host scripts (restic_job.py, zpool-scrub-status,
# sovereign-photos); restic_backup and zfs_datasets copy vault_fs.py next to their script as
# sovereign_vault_fs.py, so these tests also run it from such a flat copy.

def flat_copy(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(vault_fs.__file__, lib / "sovereign_vault_fs.py")
    return lib


def run_flat(lib, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ``sovereign_vault_fs`` imported as a host script does: isolated mode, no
    site-packages, nothing of the collection on the path, the script's directory first."""
    script = f"import sys\nsys.path.insert(0, {str(lib)!r})\nimport sovereign_vault_fs as vault_fs\n" + code
    return subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False)


def test_write_json_creates_the_directory_and_sets_the_mode_whatever_the_umask(tmp_path):
    status = tmp_path / "state" / "zfs" / "scrub-rpool.json"
    old_umask = os.umask(0o077)
    try:
        written = vault_fs.write_json(str(status), {"result": "ok", "when": datetime.date(2026, 12, 1), "b": 1, "a": 2})
        private = vault_fs.write_json(str(tmp_path / "state" / "private.json"), {"x": 1}, mode=0o600)
    finally:
        os.umask(old_umask)
    assert written == str(status)
    assert status.read_text() == '{\n  "a": 2,\n  "b": 1,\n  "result": "ok",\n  "when": "2026-12-01"\n}\n'
    assert stat.S_IMODE(status.stat().st_mode) == 0o644
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert sorted(p.name for p in status.parent.iterdir()) == ["scrub-rpool.json"]


def test_write_json_refuses_a_directory_path_that_is_a_file(tmp_path):
    (tmp_path / "state").write_text("not a directory")
    with pytest.raises((vault_fs.VaultWriteError, OSError), match="state"):
        vault_fs.write_json(str(tmp_path / "state" / "x.json"), {})


def test_a_writer_killed_before_the_rename_leaves_the_old_status_file_whole(tmp_path):
    """SIGKILL after the new content is written and synced, before the rename (a host script run
    from a flat copy): the final name still holds the old document, byte for byte; the new
    content only ever sits under a hidden partial name, and the next write replaces the file."""
    status = tmp_path / "state" / "backup.json"
    vault_fs.write_json(str(status), {"status": "ok", "run": 1})
    before = status.read_bytes()
    lib = flat_copy(tmp_path)
    proc = run_flat(lib, textwrap.dedent(f"""
        import os, signal
        os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
        vault_fs.write_json({str(status)!r}, {{"status": "failed", "run": 2, "pad": "x" * 100000}})
    """))
    assert proc.returncode == -9, proc.stderr
    assert status.read_bytes() == before
    assert json.loads(status.read_text()) == {"status": "ok", "run": 1}
    others = [p.name for p in status.parent.iterdir() if p.name != "backup.json"]
    assert len(others) == 1 and others[0].startswith(".backup.json" + vault_fs.PARTIAL_MARK)
    proc = run_flat(lib, f"vault_fs.write_json({str(status)!r}, {{'status': 'ok', 'run': 3}})\n")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(status.read_text()) == {"status": "ok", "run": 3}


@pytest.mark.parametrize("failure", ["rename", "fsync", "encode"])
def test_a_failed_status_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, failure):
    status = tmp_path / "verify.json"
    vault_fs.write_json(str(status), {"status": "ok"})
    payload = {"status": "problem"}

    def fail(code, message):
        def raiser(*args):
            raise OSError(code, message)
        return raiser

    if failure == "rename":
        monkeypatch.setattr(vault_fs.os, "replace", fail(errno.EIO, "I/O error"))
    elif failure == "fsync":
        monkeypatch.setattr(vault_fs.os, "fsync", fail(errno.ENOSPC, "full"))
    else:
        payload["self"] = payload  # a cycle: JSON cannot encode it
    with pytest.raises((OSError, ValueError)):
        vault_fs.write_json(str(status), payload)
    monkeypatch.undo()
    assert json.loads(status.read_text()) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["verify.json"]


def test_a_reader_never_sees_half_a_status_file(tmp_path):
    """A report reading while a host script rewrites the file gets one whole version or another."""
    status = tmp_path / "thumbnails.json"
    vault_fs.write_json(str(status), {"run": 0, "pad": "y" * 200_000})
    writer = subprocess.Popen([sys.executable, "-I", "-S", "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(flat_copy(tmp_path))!r})
        import sovereign_vault_fs as vault_fs
        for run in range(1, 201):
            vault_fs.write_json({str(status)!r}, {{"run": run, "pad": "y" * 200_000}})
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
    assert vault_fs.read_json(str(status), {}) == {}
    status.write_text('{"status": "ok"')  # cut short (written by something else than write_json)
    assert vault_fs.read_json(str(status), {"status": None}) == {"status": None}
    vault_fs.write_json(str(status), {"status": "ok"})
    assert vault_fs.read_json(str(status), {}) == {"status": "ok"}


# ------------------------------------------------------------------------------------ lock

def test_a_second_ingest_is_told_which_pid_holds_the_lock(tmp_path):
    with vault_fs.VaultLock(str(tmp_path)):
        assert vault_fs.lock_holder(str(tmp_path)) == str(os.getpid())
        with pytest.raises(vault_fs.LockHeld, match=f"pid {os.getpid()}"):
            vault_fs.VaultLock(str(tmp_path)).acquire()
    assert vault_fs.lock_holder(str(tmp_path)) is None
    vault_fs.VaultLock(str(tmp_path)).acquire().release()


def test_lock_holder_without_a_lock_file_writes_nothing(tmp_path):
    assert vault_fs.lock_holder(str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------ sources

def test_walk_ignores_junk_and_finds_sidecars(tmp_path):
    files = ["a/IMG_1.JPG", "a/IMG_1.JPG.xmp", "a/IMG_2.HEIC", "a/IMG_2.xmp", "a/.DS_Store", "a/._IMG_1.JPG",
             "a/Thumbs.db", "a/desktop.ini", "a/ABCD.part", "a/IMG_1.aae", "a/meta.json",
             "a/@eaDir/IMG_1.JPG/SYNOFILE_THUMB.jpg", "s/.stfolder/x", "s/.stversions/old.jpg",
             "s/~syncthing~IMG.JPG.tmp", "s/.syncthing.IMG.JPG.tmp", "s/.hidden/x.jpg", "s/.hidden.jpg", "z/last.png"]
    for rel in files:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    found = {os.path.relpath(f.path, tmp_path): f for f in vault_fs.walk_sources([str(tmp_path)])}
    assert sorted(found) == ["a/IMG_1.JPG", "a/IMG_2.HEIC", "s/.hidden.jpg", "z/last.png"]
    assert found["a/IMG_1.JPG"].sidecar.endswith("IMG_1.JPG.xmp")
    assert found["a/IMG_2.HEIC"].sidecar.endswith("IMG_2.xmp")
    assert found["z/last.png"].sidecar is None


def test_walk_skips_the_vault_and_does_not_follow_directory_links(tmp_path):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.jpg").write_bytes(b"x")
    (tmp_path / "inbox" / "vault" / "originals").mkdir(parents=True)
    (tmp_path / "inbox" / "vault" / "originals" / "b.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "inbox", tmp_path / "inbox" / "loop")
    found = [os.path.relpath(f.path, tmp_path) for f in
             vault_fs.walk_sources([str(tmp_path / "inbox")], skip=(str(tmp_path / "inbox" / "vault"),))]
    assert found == ["inbox/a.jpg"]


def test_walk_reports_special_files_and_unreadable_folders(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink(tmp_path / "missing.jpg", tmp_path / "broken.jpg")
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_scandir(path)
    monkeypatch.setattr(vault_fs.os, "scandir", scandir)
    problems: list = []
    found = {os.path.basename(f.path): f.regular for f in vault_fs.walk_sources([str(tmp_path)], problems=problems)}
    assert found == {"pipe.jpg": False, "broken.jpg": False}
    assert problems and problems[0][0].endswith("locked") and "Permission denied" in problems[0][1]


def test_read_exactly_detects_a_length_change(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"a" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert vault_fs.read_exactly(fd, 1000) == b"a" * 1000
        assert vault_fs.read_exactly(fd, 999) is None
        assert vault_fs.read_exactly(fd, 1001) is None
    finally:
        os.close(fd)


def test_sources_open_read_only_without_atime_where_allowed(tmp_path, monkeypatch):
    path = tmp_path / "f.jpg"
    path.write_bytes(b"data")
    fd = vault_fs.open_source(str(path))
    try:
        with pytest.raises(OSError):
            os.write(fd, b"x")
    finally:
        os.close(fd)
    real_open = os.open
    calls = []

    def no_noatime(file, flags, *args):
        calls.append(flags)
        if flags & getattr(os, "O_NOATIME", 0):
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real_open(file, flags, *args)
    monkeypatch.setattr(vault_fs.os, "open", no_noatime)
    os.close(vault_fs.open_source(str(path)))
    assert len(calls) == (2 if getattr(os, "O_NOATIME", 0) else 1)


def test_not_utf8_names_are_detected():
    assert not vault_fs.not_utf8("/photos/café.jpg")
    assert vault_fs.not_utf8(os.fsdecode(b"/photos/caf\xe9.jpg"))


def test_directory_sync_can_be_left_to_the_caller(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(vault_fs, "fsync_dir", synced.append)
    data = b"q" * 1000
    vault_fs.publish_bytes(str(tmp_path / "a.jpg"), data, sha(data), sync_dir=False)
    vault_fs.replace_bytes(str(tmp_path / "a.xmp"), b"<x/>", sync_dir=False)
    assert synced == []
    vault_fs.publish_bytes(str(tmp_path / "b.jpg"), data, sha(data))
    vault_fs.replace_bytes(str(tmp_path / "b.xmp"), b"<x/>")
    assert synced == [str(tmp_path), str(tmp_path)]
