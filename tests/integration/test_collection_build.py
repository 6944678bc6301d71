"""The built tarball installs with --no-deps into a clean tree and documents every role and module."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def ansible(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("galaxy")
    # A clean environment: no project ansible.cfg, no .collections symlink in reach.
    env = {**os.environ, "ANSIBLE_CONFIG": str(work / "none.cfg"),
           "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"), "HOME": str(work)}
    env.pop("ANSIBLE_COLLECTIONS_PATHS", None)
    build = ansible("ansible-galaxy", "collection", "build", "--output-path", str(work), str(REPO), cwd=work, env=env)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = next(work.glob("sovereign-cloud-*.tar.gz"))
    install = ansible("ansible-galaxy", "collection", "install", "--no-deps", "-p", str(work / "collections"),
                      str(tarball), cwd=work, env=env)
    assert install.returncode == 0, install.stdout + install.stderr
    return work, env, tarball


def test_tarball_leaves_out_local_state(installed):
    _work, _env, tarball = installed
    listing = subprocess.run(["tar", "-tzf", str(tarball)], capture_output=True, text=True, check=True).stdout
    for unwanted in (".venv/", ".cache/", ".collections/", ".demo/", "tests/output/"):
        assert unwanted not in listing, unwanted
    assert "roles/base/meta/argument_specs.yml" in listing


def test_every_role_is_documented(installed):
    work, env, _tarball = installed
    roles = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())
    assert roles
    for role in roles:
        doc = ansible("ansible-doc", "-t", "role", "--json", f"sovereign.cloud.{role}", cwd=work, env=env)
        assert doc.returncode == 0, doc.stderr
        spec = json.loads(doc.stdout)[f"sovereign.cloud.{role}"]["entry_points"]["main"]
        assert spec["short_description"]
        for name, option in spec["options"].items():
            assert option.get("description"), f"{role}: {name} has no description"


def test_every_module_and_plugin_is_documented(installed):
    work, env, _tarball = installed
    plugins = [("module", p.stem) for p in (REPO / "plugins" / "modules").glob("*.py") if p.stem != "__init__"]
    plugins += [("callback", p.stem) for p in (REPO / "plugins" / "callback").glob("*.py") if p.stem != "__init__"]
    assert ("callback", "summary") in plugins
    for kind, name in plugins:
        doc = ansible("ansible-doc", "-t", kind, "--json", f"sovereign.cloud.{name}", cwd=work, env=env)
        assert doc.returncode == 0, f"{kind} {name}: {doc.stderr}"
        assert json.loads(doc.stdout)[f"sovereign.cloud.{name}"]["doc"]["short_description"]
