# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The photo vault: originals kept by content (sha256), byte for byte, for decades.

* :mod:`.ingest` (package): watched folders into the vault; :mod:`.media` (package): what a file
  is and when it was taken; :mod:`.catalog` (package): the index, and every SQL statement;
* :mod:`.publish`: the verified, never-replacing write of an original; :mod:`.lock`: one ingest
  per vault; :mod:`.sources`: walking and reading the watched folders; :mod:`.layout`: the names
  a vault uses on disk and what of it a source may never be; :mod:`.names`: file names written
  down losslessly (those that are not UTF-8 too); :mod:`.xmp`: the sidecars;
* :mod:`.thumbnails` (one asset) and :mod:`.thumbnails_run` (a whole vault); :mod:`.verify`:
  re-hashing originals; :mod:`.report`: what the vault holds; :mod:`.restore_drill`: restoring a
  sample from restic and comparing it with the catalog; :mod:`.repair`: damaged originals copied
  again from recorded sources, damaged sidecars rewritten (nothing deleted); :mod:`.rebuild`: a
  lost catalog rebuilt from ``originals/`` and the sidecars.

What other domains share (the atomic writer for derived files, the file hasher, the pool policy,
status files) is in ``module_utils/common``.
"""
