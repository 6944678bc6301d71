# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which vault a folder is: the marker ``<vault>/.sovereign-vault`` (the catalog's vault id) and
the vault id this host last saw at that path (``<state_dir>/photo_vault/vaults/``).

An unmounted NAS shows an empty folder at the vault's path. Without these, an ingest would start
a new vault on the local disk, and verify would call every original missing. ingest, verify and
thumbnails call :func:`before_open` (nothing written yet) and :func:`check` (catalog open), which
refuse with "is the NAS mounted?" when the folder is not the vault the catalog or the host knows.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import counted
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import MARKER_NAME, SQLITE_NAME

MEMORY_DIR = os.path.join("photo_vault", "vaults")
SAMPLE = 16  # originals looked for when a catalog outside the vault meets an unmarked folder


class VaultIdentityError(Exception):
    """The folder is not the vault the catalog or this host knows; the message says what to check."""


def marker_path(vault: str) -> str:
    return os.path.join(vault, MARKER_NAME)


def read_marker(vault: str) -> str | None:
    """The vault id in the marker, or None when there is none."""
    try:
        with open(marker_path(vault), encoding="utf-8") as handle:
            for line in handle:
                key, _sep, value = line.strip().partition("=")
                if key == "vault_id" and value:
                    return value.strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise VaultIdentityError(f"cannot read the vault marker {marker_path(vault)}: {exc}") from exc
    raise VaultIdentityError(f"the vault marker {marker_path(vault)} holds no vault_id= line; restore it from a "
                             "backup, or remove it and run sovereign-photos ingest --create (photo_ingest create: true)")


def write_marker(vault: str, vault_id: str) -> None:
    atomic.write_text(marker_path(vault), (
        "# sovereign.cloud photo vault: keep this file. Without it, the photo vault tools take this folder for an\n"
        "# unmounted NAS share (an empty mount point) and refuse to write to it.\n"
        f"vault_id={vault_id}\n"))


def memory_path(state_dir: str, vault: str) -> str:
    vault = os.path.abspath(vault)
    name = os.path.basename(vault.rstrip("/")) or "root"
    digest = hashlib.sha256(os.fsencode(vault)).hexdigest()[:16]
    return os.path.join(state_dir, MEMORY_DIR, f"{name}-{digest}.json")


def remembered(state_dir: str | None, vault: str) -> str | None:
    """The vault id this host last saw at ``vault`` (None: nothing remembered, or no state_dir)."""
    if not state_dir:
        return None
    document = atomic.read_json(memory_path(state_dir, vault), default=None)
    return document.get("vault_id") if isinstance(document, dict) else None


def remember(state_dir: str | None, vault: str, vault_id: str) -> None:
    if state_dir and remembered(state_dir, vault) != vault_id:
        atomic.write_json(memory_path(state_dir, vault), {"vault": os.path.abspath(vault), "vault_id": vault_id})


def sqlite_in_vault(vault: str, catalog: str | None) -> str | None:
    """The SQLite catalog's path when it lives inside the vault (then it proves the vault is there)."""
    if catalog and catalog.startswith(("postgresql://", "postgres://")):
        return None
    path = os.path.realpath(catalog or os.path.join(vault, SQLITE_NAME))
    root = os.path.realpath(vault).rstrip("/") + "/"
    return path if path.startswith(root) else None


def _not_mounted(vault: str, why: str, create_hint: bool = True) -> VaultIdentityError:
    text = (f"{why}: is the NAS mounted? Check that the disk or share holding {vault} is mounted "
            f"(findmnt --target {vault}) and that the vault and catalog options are the ones this vault uses")
    if create_hint:
        text += (". Only if you mean to start a new, empty vault there: run sovereign-photos ingest --create once "
                 "(photo_ingest create: true, photo_vault_create: true)")
    return VaultIdentityError(text)


def before_open(vault: str, catalog: str | None, state_dir: str | None, create: bool = False) -> None:
    """Refuse, before anything is written, a folder without a marker where this host saw a vault."""
    marker, known = read_marker(vault), remembered(state_dir, vault)
    if create or known is None:
        return
    if marker is None:
        in_vault = sqlite_in_vault(vault, catalog)
        if in_vault and os.path.exists(in_vault):
            return  # the catalog inside the folder says which vault it is (check compares it)
        raise _not_mounted(vault, f"{vault} has no {MARKER_NAME}, but this host last saw vault {known} there "
                                  f"(remembered in {memory_path(state_dir, vault)})")
    if marker != known:
        raise _not_mounted(vault, f"{vault} holds vault {marker}, but this host last saw vault {known} there")


def check(vault: str, cat, state_dir: str | None, create: bool = False, write: bool = True) -> tuple[str, list[str]]:
    """Compare the folder, the catalog and this host's memory; with ``write``, mark an unmarked vault
    (first ingest, or a vault made before markers) and remember it. Returns (vault id, warnings)."""
    warnings: list[str] = []
    marker, known = read_marker(vault), remembered(state_dir, vault)
    catalog_id = cat.meta("vault_id")
    assets = cat.count_assets()
    in_vault = sqlite_in_vault(vault, getattr(cat, "location", None) if cat.backend == "sqlite" else "postgresql://")
    if marker is not None:
        if marker != catalog_id:
            if assets:
                raise _not_mounted(vault, f"{vault} holds vault {marker} ({MARKER_NAME}), but the catalog {cat.location} "
                                          f"belongs to vault {catalog_id} ({counted(assets, 'asset')})", create_hint=False)
            if write:  # a new or rebuilt catalog takes the vault's id
                cat.set_meta("vault_id", marker)
        vault_id = marker
    else:
        vault_id = catalog_id
        if known is not None and known != catalog_id and not create:
            raise _not_mounted(vault, f"{vault} has no {MARKER_NAME} and its catalog is vault {catalog_id}, but this host "
                                      f"last saw vault {known} there")
        if assets and not in_vault and not create and not _originals_present(vault, cat):
            raise _not_mounted(vault, f"{vault} has no {MARKER_NAME} and none of the originals of the catalog "
                                      f"{cat.location} ({counted(assets, 'asset')}, vault {catalog_id})")
        if write:
            write_marker(vault, vault_id)
            if assets:
                warnings.append(f"marked {vault} as vault {vault_id} ({MARKER_NAME}; it was made before vaults "
                                "carried a marker)")
    if write:
        try:
            remember(state_dir, vault, vault_id)
        except OSError as exc:
            warnings.append(f"could not remember vault {vault_id} in {state_dir}: {exc}; an unmounted NAS at "
                            f"{vault} would then not be noticed (give the run write access to {state_dir})")
    return vault_id, warnings


def _originals_present(vault: str, cat) -> bool:
    """Most of a sample of the catalog's originals are in the folder (a vault made before markers)."""
    sample = cat.sample_asset_paths(SAMPLE)
    present = sum(os.path.isfile(os.path.join(vault, rel)) for rel in sample)
    return bool(sample) and present * 2 > len(sample)
