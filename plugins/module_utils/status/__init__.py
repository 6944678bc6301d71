# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The family's "is everything safe?" page (issue 12).

* :mod:`.gather` (on each host, standard library only): every status file under
  ``<state_dir>/status/`` (``common.status``), the older per-role state files (restic jobs and
  checks, ZFS scrubs) turned into the same shape, and every expectation under
  ``/etc/sovereign/status.d/`` (what should be there, how often, the fix);
* :mod:`.kinds`: one entry per status kind (title, group, how often it runs, the command that fixes
  it, an optional check of its details). A new kind plugs in with one entry; a kind nobody
  registered is still shown, with thresholds from its own ``every``;
* :mod:`.evaluate` (on the controller): green, amber or red per item with its age, against
  thresholds from the expectation and the inventory; an expected status that is missing is red;
* :mod:`.render`: one self-contained HTML page, the JSON document and a short text summary.
"""
