# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options of one ingest run, and the error that stops a run as a whole."""

from __future__ import annotations

import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common.hooks import NO_HOOKS, Hooks
from ansible_collections.sovereign.cloud.plugins.module_utils.common.pool import default_workers
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.layout import THUMBS

PROGRESS_SECONDS = 1.0


class IngestError(Exception):
    """The ingest cannot run or went wrong as a whole; the message says what to do."""


class IngestConfig:  # pylint: disable=too-many-instance-attributes,too-few-public-methods
    """What to ingest where (the module's options). ``progress(dict)`` is called at most every
    ``progress_interval`` seconds; ``hooks`` are the test seams (:mod:`...common.hooks`);
    ``state_dir`` and ``create``: see :mod:`...photo_vault.identity`."""

    def __init__(self, sources, vault: str, catalog: str | None = None, thumbnails: bool = True,
                 thumbs_root: str | None = None, min_age: float = 60, workers: int | None = None,
                 verify_writes: bool = True, check: bool = False, progress=None,
                 progress_interval: float = PROGRESS_SECONDS, hooks: Hooks | None = None,
                 state_dir: str | None = None, create: bool = False) -> None:
        self.sources = [os.path.abspath(os.path.expanduser(s)) for s in sources]
        self.vault = os.path.abspath(os.path.expanduser(vault))
        self.catalog = catalog
        self.thumbnails = bool(thumbnails)
        self.thumbs_root = os.path.abspath(os.path.expanduser(thumbs_root)) if thumbs_root else os.path.join(
            self.vault, THUMBS)
        self.min_age = float(min_age)
        self.workers = int(workers) if workers else default_workers()
        self.verify_writes = bool(verify_writes)
        self.check = bool(check)
        self.progress = progress
        self.progress_interval = progress_interval
        self.hooks = hooks or NO_HOOKS
        # where this host remembers the vault id it saw (photo_vault.identity); create: start a new vault
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir)) if state_dir else None
        self.create = bool(create)
