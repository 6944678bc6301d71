"""Where things are, for tests at any depth: the checkout, its ``.collections`` link, the tests
folder, and the real-world sample photos (``SOVEREIGN_SAMPLES``, else ``shared/samples`` next
to the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
COLLECTIONS = REPO / ".collections"
SAMPLES_ROOT = Path(os.environ.get("SOVEREIGN_SAMPLES", REPO.parent / "shared" / "samples"))
SAMPLES = SAMPLES_ROOT / "exif-samples"
