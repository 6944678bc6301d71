# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-run reports: what one playbook run did, for people and for monitoring.

The ``sovereign.cloud.report`` callback feeds a :class:`.document.RunRecorder` while the play runs
and turns its document into the outputs at the end:

* :mod:`.document`: the recorder and the JSON document (schema in docs/reports.md); results of
  ``no_log`` tasks are never looked into, only counted;
* :mod:`.html`: the self-contained HTML page (inline CSS, no script, no external asset);
* :mod:`.prometheus`: the textfile for node_exporter's textfile collector;
* :mod:`.webhook`: the generic JSON, ntfy and healthchecks.io request shapes, and sending them;
* :mod:`.store`: writing the outputs atomically and keeping the last N runs.

Standard library only; everything an output shows comes from the document, so a secret that is
not in the document cannot reach any output.
"""

from __future__ import annotations
