"""Repository-wide promises that are cheap to check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_role_readmes_match_their_argument_specs():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gen-role-docs.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_role_has_an_argument_spec_and_readme():
    for role in (REPO / "roles").iterdir():
        assert (role / "meta" / "argument_specs.yml").is_file(), role.name
        assert (role / "README.md").is_file(), role.name


def test_the_in_place_collection_link_points_at_the_checkout():
    link = REPO / ".collections" / "ansible_collections" / "sovereign" / "cloud"
    assert link.is_symlink()
    assert link.resolve() == REPO
