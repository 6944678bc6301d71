# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Everything that talks to Immich's REST API (server 2.x and 3.x):

* :mod:`.client`: the one client (``x-api-key`` header, JSON, ``ansible.module_utils.urls``), which
  turns Immich's 401/403/400 answers into sentences a person can act on;
* :mod:`.library`: the engines of ``immich_library`` (an external library converged, validated by
  Immich, scanned and waited for) and ``immich_info`` (version, libraries, statistics).

Standard library and ``ansible.module_utils`` only, so the host a module runs on needs nothing extra.
"""
