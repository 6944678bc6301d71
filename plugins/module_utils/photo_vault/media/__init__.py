# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a file is, and when it was taken: content sniffing and metadata, standard library only.

* :mod:`.analyse`: the entry point: :func:`~.analyse.analyse` recognises a photo or video by its
  magic bytes (:mod:`.sniff`, never by its name), parses the metadata the vault needs and checks
  the container's structure, so that truncated or damaged files are rejected before they reach
  the vault;
* :mod:`.formats`: the known formats, the :class:`~.formats.Reader` every parser reads through
  (bytes in memory for small files, a descriptor for large videos) and the
  :class:`~.formats.Media` record;
* :mod:`.exif` (EXIF/TIFF, MakerNotes, TIFF-based RAW), :mod:`.isobmff` (HEIF/AVIF/CR3 and
  QuickTime/MP4 movies), :mod:`.raster` (JPEG, PNG, GIF, WebP, RAF, AVI): one parser per family;
* :mod:`.dates`: capture dates and the order that picks one (EXIF, QuickTime, a sidecar next to
  the source, the file name, the mtime); :mod:`.icloud`: icloudpd names and Live Photo base
  names; :mod:`.sidecar`: XMP sidecars found next to a source.

Every parser works on untrusted input: each offset is bounds-checked, every loop is capped and
no recursion is unbounded, so a hostile file costs at most a few milliseconds and is reported as
a problem, never a crash or a hang.
"""
