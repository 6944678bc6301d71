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

# Ansible's collection loader owns the ``ansible_collections`` package from the first import on, as
# it does under ansible-playbook; plugin look-ups (the summary callback) then work in any test order.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402  pylint: disable=wrong-import-position

init_plugin_loader([str(COLLECTIONS)])

# Shared test helpers live in tests/support (importable as ``support.<name>``).
TESTS = REPO / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# A real, throwaway PostgreSQL server (session scope) and a database DSN on it.
from support.postgres import postgresql_dsn, postgresql_server  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import
