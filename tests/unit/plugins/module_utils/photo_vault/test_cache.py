"""The workstation cache behind ``sovereign-photos get``: real originals in a real vault, copied,
verified, touched and evicted; two readers at once; never a partial file under a final name."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import cache
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
from support.vault_builder import add_original, jpeg_bytes, sha256_of


@pytest.fixture
def vault(tmp_path):
    root = tmp_path / "vault"
    root.mkdir()
    records = []
    with Catalog.open(str(root)) as cat:
        for seed in range(4):
            records.append(add_original(root, cat, jpeg_bytes(seed=seed + 1) + os.urandom(50_000),
                                        taken_at=f"2024-0{seed + 1}-02T10:00:00"))
    return root, records


def settings(tmp_path, max_bytes=10 << 20, ttl=86400.0, grace=0.0):
    return cache.CacheSettings(str(tmp_path / "cache"), max_bytes=max_bytes, ttl=ttl, grace=grace)


def vault_tree(root: Path) -> dict:
    """Originals, sidecars and the catalog (a mode=ro SQLite reader may add its empty -wal/-shm)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def test_full_copies_once_verified_and_then_serves_the_copy(vault, tmp_path):
    root, records = vault
    before = vault_tree(root)
    sha = records[0]["sha256"]
    first = cache.get(str(root), sha, "full", settings=settings(tmp_path))
    assert not first.cached and first.path.startswith(str(tmp_path / "cache"))
    assert sha256_of(Path(first.path)) == sha and first.path.endswith(sha + ".jpg")
    assert (os.stat(first.path).st_mode & 0o777) == 0o400
    second = cache.get(str(root), sha[:10], "full", settings=settings(tmp_path))  # a unique prefix does
    assert second.cached and second.path == first.path
    assert vault_tree(root) == before, "the vault is only read"


def test_without_a_cache_the_vault_path_is_the_answer(vault, tmp_path):
    root, records = vault
    answer = cache.get(str(root), records[1]["sha256"], "full", settings=None)
    assert answer.path == str(root / records[1]["rel_path"])


def test_thumbnail_sizes_point_at_the_thumbnails_root_and_say_how_to_make_them(vault, tmp_path):
    root, records = vault
    sha = records[0]["sha256"]
    with pytest.raises(cache.CacheError, match="sovereign-photos thumbnails"):
        cache.get(str(root), sha, "small")
    thumb = root / "thumbs" / "small" / sha[:2] / f"{sha}.jpg"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"jpeg")
    assert cache.get(str(root), sha, "small").path == str(thumb)


def test_a_damaged_original_is_never_cached(vault, tmp_path):
    root, records = vault
    original = root / records[2]["rel_path"]
    data = bytearray(original.read_bytes())
    data[-100] ^= 0xFF
    original.write_bytes(bytes(data))
    with pytest.raises(cache.CacheError, match="sovereign-photos repair"):
        cache.get(str(root), records[2]["sha256"], "full", settings=settings(tmp_path))
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and ".locks" not in p.parts]
    assert leftovers == [] or all(p.name == cache.EVICT_LOCK for p in leftovers)


def test_unknown_and_ambiguous_ids_say_what_to_do(vault, tmp_path):
    root, records = vault
    with pytest.raises(cache.CacheError, match="not a sha256"):
        cache.get(str(root), "IMG_0001.JPG", settings=settings(tmp_path))
    with pytest.raises(cache.CacheError, match="no original"):
        cache.get(str(root), "0" * 64, settings=settings(tmp_path))
    with pytest.raises(cache.CacheError, match="mounted"):
        cache.get(str(tmp_path / "not-mounted"), records[0]["sha256"], settings=settings(tmp_path))


def test_least_recently_used_go_first_and_the_cap_holds(vault, tmp_path):
    root, records = vault
    size = records[0]["size"]
    conf = settings(tmp_path, max_bytes=int(size * 2.5))  # room for two
    paths = []
    for i, record in enumerate(records[:2]):
        paths.append(cache.get(str(root), record["sha256"], settings=conf).path)
        os.utime(paths[-1], (time.time() - 100 + i, time.time() - 100 + i))  # distinct last uses
    assert cache.get(str(root), records[0]["sha256"], settings=conf).cached  # used again: the second is now the oldest
    cache.get(str(root), records[2]["sha256"], settings=conf)
    remaining = {p.name for p in (tmp_path / "cache").glob("??/*")}
    assert Path(paths[1]).name not in remaining and Path(paths[0]).name in remaining
    assert sum(p.stat().st_size for p in (tmp_path / "cache").glob("??/*")) <= conf.max_bytes


def test_ttl_drops_unused_entries_and_grace_protects_fresh_ones(vault, tmp_path):
    root, records = vault
    conf = settings(tmp_path, ttl=3600, grace=60)
    old = cache.get(str(root), records[0]["sha256"], settings=conf).path
    fresh = cache.get(str(root), records[1]["sha256"], settings=conf).path
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    partial = Path(old).parent / f".x.jpg{cache.atomic.PARTIAL_MARK}999"
    partial.write_bytes(b"half")
    os.utime(partial, (time.time() - 7200, time.time() - 7200))
    assert cache.evict(conf) == 1
    assert not Path(old).exists() and Path(fresh).exists() and not partial.exists()


def _reader(args):
    root, sha, conf = args
    return cache.get(root, sha, settings=conf).path


def test_two_readers_at_once_get_one_whole_copy(vault, tmp_path):
    root, records = vault
    conf = settings(tmp_path)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        answers = pool.map(_reader, [(str(root), records[0]["sha256"], conf)] * 8)
    assert len(set(answers)) == 1 and sha256_of(Path(answers[0])) == records[0]["sha256"]
    names = [p.name for p in (tmp_path / "cache").glob("??/*")]
    assert names == [Path(answers[0]).name], names
