# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What several domains share, standard library only (so roles can ship this package to hosts):

* :mod:`.atomic`: the one atomic writer for derived files (sidecars, configs, JSON status files):
  temp file in the same directory, fsync, rename, fsync of the directory;
* :mod:`.status`: the one status-file format every scheduled job writes and the status page reads;
* :mod:`.text`: sizes, durations and counts as people read them.
"""
