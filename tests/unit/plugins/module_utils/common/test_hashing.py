"""The one file hasher (common.hashing): every caller's digests from one read loop."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.common import hashing


def test_a_large_file_hashes_right_across_buffer_boundaries(tmp_path):
    data = os.urandom(5 * hashing.CHUNK + 12345)  # many 1 MiB reads and a ragged tail
    path = tmp_path / "big.mov"
    path.write_bytes(data)
    for options in ({}, {"from_disk": True, "evict_after": True, "sequential": True}):
        digest = hashing.hash_file(str(path), **options)
        assert (digest.sha256, digest.size) == (hashlib.sha256(data).hexdigest(), len(data))


def test_sha1_copy_and_exact_size_come_from_the_same_reads(tmp_path):
    data = os.urandom(2 * hashing.CHUNK + 7)
    source = tmp_path / "clip.mov"
    source.write_bytes(data)
    fd = os.open(source, os.O_RDONLY)
    out = os.open(tmp_path / "copy", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        digest = hashing.hash_fd(fd, len(data), sha1=True, copy_to=out)
    finally:
        os.close(fd)
        os.close(out)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.sha1 == hashlib.sha1(data).hexdigest()  # nosec: what Immich keys on
    assert (tmp_path / "copy").read_bytes() == data
    memory = hashing.hash_bytes(data, sha1=True)
    assert (memory.sha256, memory.sha1, memory.size) == (digest.sha256, digest.sha1, digest.size)


@pytest.mark.parametrize("claimed, grew", [(100, True), (300, False)])
def test_a_file_that_is_not_the_size_it_was_is_told_apart(tmp_path, claimed, grew):
    path = tmp_path / "changing.jpg"
    path.write_bytes(b"x" * 200)
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(hashing.SizeChanged) as caught:
            hashing.hash_fd(fd, claimed)
    finally:
        os.close(fd)
    assert caught.value.grew is grew


def test_an_empty_file_has_the_empty_digest(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    digest = hashing.hash_file(str(tmp_path / "empty"))
    assert (digest.sha256, digest.size) == (hashlib.sha256(b"").hexdigest(), 0)
