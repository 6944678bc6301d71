"""The verified publish of originals, stale-temp cleanup (publish), the vault lock (lock) and the source
walk (sources)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic, hashing
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import lock, publish, sources


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if atomic.PARTIAL_MARK in p.name)


# ------------------------------------------------------------------------------------ publishing

def test_publish_writes_verified_read_only_file_with_the_source_mtime(tmp_path):
    data = os.urandom(300_000)
    final = tmp_path / "originals" / "x.jpg"
    final.parent.mkdir(parents=True)
    outcome = publish.publish_bytes(str(final), data, sha(data), verify=True, mtime_ns=1_600_000_000_123_456_789)
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
    assert publish.publish_bytes(str(final), data, sha(data)) == "adopted"
    final.write_bytes(other)
    with pytest.raises(publish.ExistingMismatch, match="already exists with different content"):
        publish.publish_bytes(str(final), data, sha(data))
    assert final.read_bytes() == other  # left alone
    assert leftovers(tmp_path) == []


def test_a_file_appearing_under_the_final_name_during_the_write_is_never_replaced(tmp_path, monkeypatch):
    data, intruder = b"ours" * 1000, b"theirs" * 1000
    final = tmp_path / "x.jpg"
    real_link = os.link

    def racing_link(src, dst):
        final.write_bytes(intruder)  # someone else got there first
        return real_link(src, dst)
    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(publish.ExistingMismatch):
        publish.publish_bytes(str(final), data, sha(data))
    assert final.read_bytes() == intruder
    assert leftovers(tmp_path) == []


def test_read_back_mismatch_publishes_nothing(tmp_path, monkeypatch):
    data = b"x" * 5000
    monkeypatch.setattr(hashing, "hash_file", lambda path, **_options: hashing.FileDigest("0" * 64, len(data)))
    with pytest.raises(publish.VaultWriteError, match="reads back with a different sha256"):
        publish.publish_bytes(str(tmp_path / "x.jpg"), data, sha(data), verify=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK])
def test_without_hard_links_a_checked_rename_publishes(tmp_path, monkeypatch, code):
    def no_links(_src, _dst):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(os, "link", no_links)
    data = b"y" * 4000
    final = tmp_path / "y.jpg"
    assert publish.publish_bytes(str(final), data, sha(data)) == "written"
    assert final.read_bytes() == data and leftovers(tmp_path) == []


def test_stream_publish_copies_in_chunks_and_refuses_a_changed_source(tmp_path):
    data = os.urandom(3 * hashing.CHUNK + 17)
    source = tmp_path / "src.mov"
    source.write_bytes(data)
    fd = os.open(source, os.O_RDONLY)
    try:
        final = tmp_path / "out.mov"
        assert publish.publish_stream(str(final), fd, len(data), sha(data)) == "written"
        assert final.read_bytes() == data
        with pytest.raises(publish.SourceChanged):
            publish.publish_stream(str(tmp_path / "other.mov"), fd, len(data), "0" * 64)
        with pytest.raises(publish.SourceChanged):
            publish.publish_stream(str(tmp_path / "short.mov"), fd, len(data) - 5, sha(data[:-5]))
    finally:
        os.close(fd)
    assert not (tmp_path / "other.mov").exists() and not (tmp_path / "short.mov").exists()
    assert leftovers(tmp_path) == []


def test_a_killed_writer_leaves_only_a_partial_file_which_cleanup_removes(tmp_path):
    """SIGKILL between fsync and link: no final file, one partial file; clean_partials removes it."""
    final = tmp_path / "originals" / "2023" / "x.jpg"
    final.parent.mkdir(parents=True)
    script = textwrap.dedent(f"""
        import hashlib, os, signal, sys
        sys.path.insert(0, {str(publish.__file__.rsplit('/ansible_collections/', 1)[0])!r})
        from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import publish
        data = b"z" * 100000
        def fault(point):
            if point == "partial-written":
                os.kill(os.getpid(), signal.SIGKILL)
        publish.publish_bytes({str(final)!r}, data, hashlib.sha256(data).hexdigest(), fault=fault)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    assert not final.exists()
    assert len(leftovers(final.parent)) == 1
    removed = publish.clean_partials(str(tmp_path / "originals"))
    assert len(removed) == 1 and leftovers(final.parent) == []


# ------------------------------------------------------------------------------------ lock

def test_a_second_ingest_is_told_which_pid_holds_the_lock(tmp_path):
    with lock.VaultLock(str(tmp_path)):
        assert lock.lock_holder(str(tmp_path)) == str(os.getpid())
        with pytest.raises(lock.LockHeld, match=f"pid {os.getpid()}"):
            lock.VaultLock(str(tmp_path)).acquire()
    assert lock.lock_holder(str(tmp_path)) is None
    lock.VaultLock(str(tmp_path)).acquire().release()


def test_lock_holder_without_a_lock_file_writes_nothing(tmp_path):
    assert lock.lock_holder(str(tmp_path)) is None
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
    found = {os.path.relpath(f.path, tmp_path): f for f in sources.walk_sources([str(tmp_path)])}
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
    found = {os.path.relpath(f.path, tmp_path): f.link for f in
             sources.walk_sources([str(tmp_path / "inbox")], skip=(str(tmp_path / "inbox" / "vault"),))}
    assert found == {"inbox/a.jpg": None, "inbox/loop": sources.LINK_FOLDER}


def test_walk_reports_special_files_and_unreadable_folders(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "pipe.jpg")
    os.symlink(tmp_path / "missing.jpg", tmp_path / "broken.jpg")
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("locked"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_scandir(path)
    monkeypatch.setattr(os, "scandir", scandir)
    problems: list = []
    found = {os.path.basename(f.path): (f.regular, f.link) for f in
             sources.walk_sources([str(tmp_path)], problems=problems)}
    assert found == {"pipe.jpg": (False, None), "broken.jpg": (False, sources.LINK_BROKEN)}
    assert problems and problems[0][0].endswith("locked") and "Permission denied" in problems[0][1]


def test_read_exactly_detects_a_length_change(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"a" * 1000)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert sources.read_exactly(fd, 1000) == b"a" * 1000
        assert sources.read_exactly(fd, 999) is None
        assert sources.read_exactly(fd, 1001) is None
    finally:
        os.close(fd)


def test_sources_open_read_only_without_atime_where_allowed(tmp_path, monkeypatch):
    path = tmp_path / "f.jpg"
    path.write_bytes(b"data")
    fd = sources.open_source(str(path))
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
    monkeypatch.setattr(os, "open", no_noatime)
    os.close(sources.open_source(str(path)))
    assert len(calls) == (2 if getattr(os, "O_NOATIME", 0) else 1)


def test_directory_sync_can_be_left_to_the_caller(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(atomic, "fsync_dir", synced.append)
    data = b"q" * 1000
    publish.publish_bytes(str(tmp_path / "a.jpg"), data, sha(data), sync_dir=False)
    atomic.replace_bytes(str(tmp_path / "a.xmp"), b"<x/>", sync_dir=False)
    assert synced == []
    publish.publish_bytes(str(tmp_path / "b.jpg"), data, sha(data))
    atomic.replace_bytes(str(tmp_path / "b.xmp"), b"<x/>")
    assert synced == [str(tmp_path), str(tmp_path)]
