"""The collection's engine as a role installs it on a host: packages and modules of
``plugins/module_utils`` under ``<lib>/ansible_collections/sovereign/cloud/plugins/module_utils/``
(each parent a package, so nothing else on the host's ``sys.path`` can stand in), without caches."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_UTILS = REPO / "plugins" / "module_utils"
PREFIX = Path("ansible_collections/sovereign/cloud/plugins/module_utils")


def ship(lib: Path, packages=("common",), modules=()) -> Path:
    """Install ``packages`` (whole) and single-file ``modules`` (names without .py) into ``lib``."""
    target = lib / PREFIX
    target.mkdir(parents=True, exist_ok=True)
    for depth in range(1, len(PREFIX.parts) + 1):
        (lib / Path(*PREFIX.parts[:depth]) / "__init__.py").touch()
    for package in packages:
        shutil.copytree(MODULE_UTILS / package, target / package, ignore=shutil.ignore_patterns("__pycache__"),
                        dirs_exist_ok=True)
    for module in modules:
        shutil.copy(MODULE_UTILS / f"{module}.py", target / f"{module}.py")
    return lib
