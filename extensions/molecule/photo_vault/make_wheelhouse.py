"""make_wheelhouse.py DIR PYTHON_VERSION ARCH: the photo_vault role's pinned libraries as wheels for
the test host (its Python and architecture), from the versions in the role's defaults.

The podman host reaches PyPI only through this machine's TLS-inspecting egress, whose CA it does
not trust; the controller's pip works. So the wheels are fetched here and the role installs them
with photo_vault_wheelhouse (--no-index), as it would on a NAS without internet access.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DEFAULTS = Path(__file__).resolve().parents[3] / "roles" / "photo_vault" / "defaults" / "main.yml"


def main(dest: str, python_version: str, arch: str) -> int:
    d = yaml.safe_load(DEFAULTS.read_text())
    wheels = [f"pillow=={d['photo_vault_pillow_version']}", f"pillow-heif=={d['photo_vault_pillow_heif_version']}",
              f"PyYAML=={d['photo_vault_pyyaml_version']}", f"pyvips-binary=={d['photo_vault_pyvips_binary_version']}",
              f"cffi=={d['photo_vault_cffi_version']}", f"pycparser=={d['photo_vault_pycparser_version']}"]
    target = Path(dest)
    if target.is_dir():
        return 0
    work = Path(tempfile.mkdtemp(prefix=".wheels.", dir=target.parent))
    try:
        platforms = [f"manylinux_2_28_{arch}", f"manylinux_2_27_{arch}", f"manylinux_2_17_{arch}",
                     f"manylinux2014_{arch}"]
        args = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                "--python-version", python_version, "--dest", str(work)]
        for platform in platforms:
            args += ["--platform", platform]
        subprocess.run(args + wheels, check=True)
        # pyvips is a pure-Python source package on PyPI: a py3-none-any wheel of it.
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(work),
                        f"pyvips=={d['photo_vault_pyvips_version']}"], check=True)
        os.chmod(work, 0o755)
        os.rename(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
