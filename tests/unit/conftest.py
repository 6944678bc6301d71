"""Make ``ansible_collections.sovereign.cloud`` importable from the checkout.

``.collections/ansible_collections/sovereign/cloud`` is a committed symlink to the repository
root, so the collection's own import paths work without installing it anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# Shared test helpers live in tests/support (importable as ``support.<name>``).
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# A real, throwaway PostgreSQL server (session scope) and a database DSN on it.
from support.postgres import postgresql_dsn, postgresql_server  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
