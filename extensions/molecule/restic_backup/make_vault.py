"""Build a small photo vault (originals + catalog) on the controller for the restic_backup scenario.

The catalog is written with the collection's own Catalog class, as photo_ingest would, so the
restore_drill module on the host reads a real catalog. Usage: make_vault.py DIR
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog  # noqa: E402  pylint: disable=wrong-import-position


def main(vault: Path) -> None:
    vault.mkdir(parents=True, exist_ok=True)
    with Catalog.open(str(vault)) as cat:
        for i in range(6):
            data = os.urandom(40000 + 25000 * i)
            sha = hashlib.sha256(data).hexdigest()
            rel = f"originals/2024/0{i + 1}/1{i}/{sha}.heic"
            (vault / rel).parent.mkdir(parents=True, exist_ok=True)
            (vault / rel).write_bytes(data)
            cat.add_asset({"sha256": sha, "sha1": hashlib.sha1(data).hexdigest(), "size": len(data), "format": "heif",
                           "ext": "heic", "media_type": "image", "taken_at": f"2024-0{i + 1}-1{i}T10:00:00",
                           "date_source": "exif", "rel_path": rel, "ingested_at": "2026-01-01T00:00:00Z"})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
