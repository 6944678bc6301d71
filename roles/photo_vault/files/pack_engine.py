# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pack_engine.py MODULE_UTILS_DIR CLI OUT.tar: the photo vault engine as the host gets it (run on the controller).

One tar holds the collection's ``vault_*.py`` engines as
``ansible_collections/sovereign/cloud/plugins/module_utils/<name>`` with the ``__init__.py`` of
each package, and ``sovereign_photos.py``: the role extracts it with one unarchive task (which
compares it with what is on the host, so an unchanged engine is not rewritten) instead of one copy
per file. Members keep their source modification times; the empty ``__init__.py`` files get a
fixed one, so packing the same files twice gives the same members.
"""

from __future__ import annotations

import glob
import io
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


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: pack_engine.py MODULE_UTILS_DIR CLI OUT.tar", file=sys.stderr)
        return 2
    utils, cli, out = argv
    engines = sorted(glob.glob(os.path.join(utils, "vault_*.py")))
    if not engines:
        print(f"pack_engine.py: no vault_*.py in {utils}", file=sys.stderr)
        return 1
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        parts = PACKAGE.split("/")
        for depth in range(1, len(parts) + 1):
            _add(tar, "/".join(parts[:depth]) + "/__init__.py", b"", FIXED_MTIME)
        for path in engines:
            with open(path, "rb") as handle:
                _add(tar, f"{PACKAGE}/{os.path.basename(path)}", handle.read(), os.stat(path).st_mtime)
        with open(cli, "rb") as handle:
            _add(tar, "sovereign_photos.py", handle.read(), os.stat(cli).st_mtime)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
