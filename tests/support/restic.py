"""Real restic repositories for tests (restic 0.14 from Debian; scripts/test-deps.sh installs it).

Nothing here fakes restic: tests make a repository in a temporary directory, back real files up
and read restic's real output. Tests skip with a reason when restic is not installed.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"


def require_restic() -> str:
    path = shutil.which("restic")
    if not path:
        pytest.skip("restic is not installed: run scripts/test-deps.sh (apt-get install restic) as root")
    return path


_TEMPLATES: dict[str, Path] = {}


def _template(password: str) -> Path:
    if password not in _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix="sc-restic-template-"))
        atexit.register(shutil.rmtree, root, True)
        env = dict(os.environ, RESTIC_REPOSITORY=str(root / "repo"), RESTIC_PASSWORD=password,
                   RESTIC_CACHE_DIR=str(root / "cache"))
        subprocess.run(["restic", "init"], env=env, capture_output=True, stdin=subprocess.DEVNULL, check=True)
        _TEMPLATES[password] = root / "repo"
    return _TEMPLATES[password]


class ResticRepo:
    """A restic repository under ``root`` with a known password."""

    def __init__(self, root: Path, password: str = PASSWORD) -> None:
        require_restic()
        self.root = root
        self.path = root / "repo"
        self.password = password
        self.cache = root / "cache"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, RESTIC_REPOSITORY=str(self.path), RESTIC_PASSWORD=self.password,
                    RESTIC_CACHE_DIR=str(self.cache))

    def run(self, *args: str, check: bool = True, env: dict | None = None, cwd: Path | None = None):
        result = subprocess.run(["restic", *args], env=env or self.env, cwd=cwd, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"restic {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def init(self) -> ResticRepo:
        """A new repository: a copy of one initialised once per test session (restic's key
        derivation makes every ``init`` take seconds; copies of an empty repository are valid)."""
        template = _template(self.password)
        shutil.copytree(template, self.path)
        return self

    def backup(self, *paths: str, tags: tuple[str, ...] = (), host: str | None = None, time: str | None = None,
               cwd: Path | None = None) -> str:
        args = ["backup", "--json"]
        for tag in tags:
            args += ["--tag", tag]
        if host:
            args += ["--host", host]
        if time:
            args += ["--time", time]
        result = self.run(*args, "--", *paths, cwd=cwd)
        summary = [json.loads(line) for line in result.stdout.splitlines() if '"summary"' in line]
        return summary[-1]["snapshot_id"]

    def snapshots(self, *filters: str) -> list[dict]:
        return json.loads(self.run("snapshots", "--json", *filters).stdout)

    def write_env_file(self, path: Path, password: str | None = None) -> Path:
        path.write_text(f'RESTIC_REPOSITORY="{self.path}"\nRESTIC_PASSWORD="{password or self.password}"\n'
                        f'RESTIC_CACHE_DIR="{self.cache}"\n', encoding="utf-8")
        path.chmod(0o600)
        return path

    def pack_of_blob(self, blob_id: str) -> tuple[Path, int, int]:
        """(pack file, offset, length) of a blob, from the repository's index."""
        for index_id in self.run("list", "index").stdout.split():
            index = json.loads(self.run("cat", "index", index_id).stdout)
            for pack in index.get("packs", []):
                for blob in pack["blobs"]:
                    if blob["id"] == blob_id:
                        return self.path / "data" / pack["id"][:2] / pack["id"], blob["offset"], blob["length"]
        raise AssertionError(f"blob {blob_id} is in no pack")

    def corrupt_blob(self, blob_id: str) -> Path:
        """Flip bytes inside one blob of its pack file, as bit rot on the backup disk would.

        A file smaller than restic's minimum chunk (512 KiB) is one data blob whose id is the
        sha256 of its content, so ``corrupt_blob(sha256_of_file)`` damages exactly that file.
        """
        pack, offset, length = self.pack_of_blob(blob_id)
        pack.chmod(0o600)
        data = bytearray(pack.read_bytes())
        middle = offset + length // 2
        for i in range(middle, min(middle + 16, offset + length)):
            data[i] ^= 0xFF
        pack.write_bytes(bytes(data))
        return pack
