# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pack_engine.py MODULE_UTILS_DIR CLI OUT.tar PACKAGE...: the engine as the host gets it (run on the controller).

One tar holds the named packages of the collection's ``plugins/module_utils`` (``photo_vault``,
``common``), whole, as ``ansible_collections/sovereign/cloud/plugins/module_utils/<package>/...``
with the ``__init__.py`` of each parent package, and the command line ``CLI`` as
``sovereign_photos.py``: the role extracts it with one unarchive task (which compares it with
what is on the host, so an unchanged engine is not rewritten) instead of one copy per file. The
packages are shipped as they are, so a module added to one needs no change here or in the role.

Members keep their source modification times; the empty parent ``__init__.py`` files get a fixed
one, so packing the same files twice gives the same members. It prints the engine's file names
(relative to the module_utils directory) as JSON, so the role can remove files a package no
longer has.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile

PACKAGE = "ansible_collections/sovereign/cloud/plugins/module_utils"
FIXED_MTIME = 1_700_000_000


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def package_files(utils: str, package: str) -> list[str]:
    """The ``.py`` files of ``package`` (relative to ``utils``), sorted; no caches."""
    found = []
    for directory, dirnames, filenames in os.walk(os.path.join(utils, package)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        found += [os.path.relpath(os.path.join(directory, f), utils) for f in filenames if f.endswith(".py")]
    return sorted(found)


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: pack_engine.py MODULE_UTILS_DIR CLI OUT.tar PACKAGE...", file=sys.stderr)
        return 2
    utils, cli, out, packages = argv[0], argv[1], argv[2], argv[3:]
    files = []
    for package in packages:
        found = package_files(utils, package)
        if f"{package}/__init__.py" not in found:
            print(f"pack_engine.py: {package} is not a package of {utils}", file=sys.stderr)
            return 1
        files += found
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        parts = PACKAGE.split("/")
        for depth in range(1, len(parts) + 1):
            _add(tar, "/".join(parts[:depth]) + "/__init__.py", b"", FIXED_MTIME)
        for name in files:
            path = os.path.join(utils, name)
            with open(path, "rb") as handle:
                _add(tar, f"{PACKAGE}/{name}", handle.read(), os.stat(path).st_mtime)
        with open(cli, "rb") as handle:
            _add(tar, "sovereign_photos.py", handle.read(), os.stat(cli).st_mtime)
    print(json.dumps(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
