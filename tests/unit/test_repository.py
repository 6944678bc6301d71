"""Repository-wide promises that are cheap to check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_bootstrap_without_a_suitable_python_says_what_to_install(tmp_path):
    # Only the system's python3 (3.11 on Debian 12) on PATH and no pyenv: ansible 14 cannot run.
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "python3").symlink_to("/usr/bin/python3")
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "no-pyenv"),
           "VENV": str(tmp_path / "venv")}
    result = subprocess.run(["bash", str(REPO / "scripts" / "bootstrap.sh")], env=env, capture_output=True,
                            text=True, check=False)
    if Path("/usr/bin/python3.12").exists() or Path("/usr/bin/python3.13").exists():
        pytest.skip("this machine has a system Python >= 3.12; the failure path cannot be shown")
    assert result.returncode == 1
    assert "no Python >= 3.12 found" in result.stderr
    assert "make PYTHON=" in result.stderr
    assert not (tmp_path / "venv").exists()


RESERVED_RESULT_KEYS = {"changed", "failed", "skipped", "msg", "rc", "unreachable", "invocation", "warnings",
                        "deprecations", "exception", "results", "ansible_facts", "diff", "stdout", "stderr"}


def test_modules_never_return_keys_ansible_reserves_for_task_status():
    # A count called `skipped` turns a task that did work into "skipping" (and `failed` fails it).
    import re

    import yaml

    for module in sorted((REPO / "plugins" / "modules").glob("*.py")):
        source = module.read_text(encoding="utf-8")
        match = re.search(r'RETURN = r?"""(.*?)"""', source, re.S)
        documented = yaml.safe_load(match.group(1)) or {} if match else {}
        clashes = sorted(set(documented) & RESERVED_RESULT_KEYS)
        assert not clashes, f"{module.name} documents reserved result keys {clashes}"
