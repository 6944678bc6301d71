"""execution-environment.yml builds its context from this checkout: `make build`'s tarball, then
`ansible-builder create`; the context holds what its Dockerfile and requirements.yml name."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _builder() -> str:
    for candidate in (shutil.which("ansible-builder"), str(REPO / ".venv" / "bin" / "ansible-builder")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("ansible-builder is not installed (it is pinned in requirements/controller.txt: make venv)")


def test_execution_environment_names_the_tarball_make_build_writes():
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    ee = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    tarball = f"sovereign-cloud-{version}.tar.gz"
    assert ee["additional_build_files"] == [{"src": f"build/{tarball}", "dest": "src"}]
    names = [c["name"] for c in ee["dependencies"]["galaxy"]["collections"]]
    assert f"src/{tarball}" in names
    assert ee["dependencies"]["python"] == "requirements.txt" and ee["dependencies"]["system"] == "bindep.txt"


def test_ansible_builder_create_succeeds_from_this_checkout(tmp_path):
    builder = _builder()
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    # `make build` without make: the same command, into a copy of the checkout's build/ layout.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt"):
        shutil.copy(REPO / name, checkout / name)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    build = subprocess.run(["ansible-galaxy", "collection", "build", "--force", "--output-path",
                            str(checkout / "build"), str(REPO)], capture_output=True, text=True, env=env,
                           check=False, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    context = tmp_path / "context"
    create = subprocess.run([builder, "create", "-f", str(checkout / "execution-environment.yml"), "-c",
                             str(context)], capture_output=True, text=True, cwd=checkout, check=False, timeout=300)
    assert create.returncode == 0, create.stdout + create.stderr
    dockerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert 'ARG EE_BASE_IMAGE="registry.example.com/ansible/awx-ee:latest"' in dockerfile  # a setting
    build_dir = context / "_build"
    requirements = yaml.safe_load((build_dir / "requirements.yml").read_text())
    local = [c["name"] for c in requirements["collections"] if c.get("type") == "file"]
    assert local == [f"src/sovereign-cloud-{version}.tar.gz"]
    tarball = build_dir / local[0]
    assert tarball.is_file(), sorted(str(p.relative_to(context)) for p in context.rglob("*"))
    with tarfile.open(tarball) as archive:
        members = archive.getnames()
    assert "roles/scheduled_runs/files/sovereign_run.py" in members
    assert (build_dir / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build_dir / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    # What the galaxy stage runs in /build: the file entry installs offline.
    install = subprocess.run(["ansible-galaxy", "collection", "install", "--no-deps", "-p",
                              str(tmp_path / "collections"), local[0]], capture_output=True, text=True,
                             cwd=build_dir, env={**env, "ANSIBLE_CONFIG": str(tmp_path / "none.cfg")},
                             check=False, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (tmp_path / "collections" / "ansible_collections" / "sovereign" / "cloud" / "roles" / "scheduled_runs").is_dir()
