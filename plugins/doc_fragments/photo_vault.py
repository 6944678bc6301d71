# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The catalog option of every module that opens the photo vault's catalog
    # (its argument spec is photo_vault.catalog.CATALOG_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  catalog:
    description:
      - The catalog. Unset means SQLite at C(<vault>/catalog.sqlite); a path means SQLite there; a
        C(postgresql://) DSN selects PostgreSQL (psycopg 3 on the host).
      - It may contain a password, so it is kept out of logs; keep such a DSN in ansible-vault. A password in
        C(~/.pgpass) keeps it out of the DSN.
    type: str
"""

    # The vault root of the modules that work on an existing vault. photo_ingest (which creates it) and
    # photo_catalog_info (where it is optional) document their own.
    VAULT = r"""
options:
  vault:
    description: Root of the photo vault (the directory holding C(originals/)).
    type: path
    required: true
"""

    # Where the modules that make thumbnails write them.
    THUMBS_ROOT = r"""
options:
  thumbs_root:
    description:
      - Root of the thumbnails, where they are written. Unset means C(<vault>/thumbs).
      - It may be on another disk than the vault, such as a workstation's SSD next to a NAS vault; each
        thumbnails root has its own records in the catalog.
    type: path
"""
