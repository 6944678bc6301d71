"""The photo modules together, as a playbook runs them: ingest, thumbnails, verify, catalog info.

A contract test between engines written by different people: what ingest records (thumbnail
settings and root, sidecars, rel paths) must be what photo_thumbnails and photo_verify expect.
"""

from __future__ import annotations

import os
import time

import PIL  # noqa: F401  pylint: disable=unused-import  # a pinned requirement: missing is a failure, not a skip

from ansible_collections.sovereign.cloud.plugins.modules import (
    photo_catalog_info, photo_ingest, photo_thumbnails, photo_verify)
from support.ansible_module import run_module
from support.vault_builder import jpeg_bytes


def test_ingest_then_thumbnails_verify_and_info_agree(tmp_path):
    source, vault = tmp_path / "inbox", tmp_path / "vault"
    source.mkdir()
    vault.mkdir()
    an_hour_ago = time.time() - 3600
    for i in range(4):
        path = source / f"IMG_{i:04d}.JPG"
        path.write_bytes(jpeg_bytes(1200, 900, seed=i + 1, orientation=6 if i == 0 else None))
        os.utime(path, (an_hour_ago, an_hour_ago))
    ingest = run_module(photo_ingest, {"sources": [str(source)], "vault": str(vault), "min_age": 0})
    assert ingest.get("ingested") == 4, ingest
    # Ingest made the thumbnails with the same engine settings and root: nothing left to do.
    thumbs = run_module(photo_thumbnails, {"vault": str(vault)})
    assert (thumbs["changed"], thumbs["unchanged"], thumbs["created"]) == (False, 4, 0), thumbs
    verify = run_module(photo_verify, {"vault": str(vault)})
    assert not verify.get("failed") and verify["checked"] == 4, verify
    assert (verify["unknown"], verify["missing_sidecars"], verify["missing_thumbnails"]) == ([], [], [])
    info = run_module(photo_catalog_info, {"vault": str(vault)})
    assert info["assets"] == 4 and info["last_verification"]["result"] == "ok"
    assert info["thumbnails"] == {str(vault / "thumbs"): {"ok": 4, "skipped": 0, "failed": 0, "missing": 0}}
    assert info["per_source"] == {str(source): {"count": 4, "bytes": info["bytes"]}}
