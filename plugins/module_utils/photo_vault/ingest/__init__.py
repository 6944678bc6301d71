# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The photo vault's ingest pipeline (see docs/photo-vault.md): watched folders in, verified
originals, sidecars and catalog rows out.

* :mod:`.run`: one run, end to end (:func:`~.run.run_ingest`); :mod:`.config`: its options;
* :mod:`.scan`: which files changed since the catalog last saw them;
* :mod:`.worker`: what a worker does with one file (read, hash, recognise, decode, publish);
* :mod:`.supervise`: the workers on the collection's pool policy, hangs and dead workers;
* :mod:`.commit`: outcomes into catalog batches (the parent is the only catalog writer);
* :mod:`.live`: Live Photo pairing; :mod:`.records`: the records they pass around.
"""

from __future__ import annotations

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.config import IngestConfig, IngestError
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest.run import run_ingest

__all__ = ["IngestConfig", "IngestError", "run_ingest"]
