# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Writing a run's outputs: ``<dir>/<run_id>.json`` and ``.html``, ``latest.json`` and
``latest.html`` beside them, the Prometheus textfile, and only the newest ``keep`` runs.

Every file goes through ``common.atomic`` (temp file in the same directory, fsync, rename), so
node_exporter, a web server or a person never reads half a report.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic

from . import html, prometheus

FORMATS = ("json", "html", "prom")
_RUN_FILE = re.compile(r"^(\d{8}T\d{6}Z-[A-Za-z0-9._-]+)\.(json|html)$")


def prometheus_target(path: str | None, output_dir: str, playbook: str) -> str:
    """Where the textfile goes: ``path`` when it names a file, ``<path>/<per-playbook name>``
    when it is a directory (or ends with /), ``<output_dir>/textfile/<name>`` when unset."""
    name = prometheus.file_name(playbook)
    if not path:
        return os.path.join(output_dir, "textfile", name)
    if path.endswith("/") or os.path.isdir(path):
        return os.path.join(path, name)
    return path


def write(document: dict, output_dir: str, formats=FORMATS, keep: int = 30,
          prometheus_path: str | None = None) -> dict:
    """Write the outputs named in ``formats``; returns ``{format: path}``."""
    written = {}
    run = document["run_id"]
    if "json" in formats or "html" in formats:
        atomic.ensure_dir(output_dir)
    if "json" in formats:
        text = json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"
        written["json"] = atomic.write_text(os.path.join(output_dir, f"{run}.json"), text)
        atomic.write_text(os.path.join(output_dir, "latest.json"), text)
    if "html" in formats:
        page = html.render(document)
        written["html"] = atomic.write_text(os.path.join(output_dir, f"{run}.html"), page)
        atomic.write_text(os.path.join(output_dir, "latest.html"), page)
    if "prom" in formats:
        target = prometheus_target(prometheus_path, output_dir, document["playbook"])
        written["prom"] = atomic.write_text(target, prometheus.render(document))
    if keep and keep > 0 and os.path.isdir(output_dir):
        prune(output_dir, keep, current=run)
    return written


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def prune(output_dir: str, keep: int, current: str | None = None) -> list[str]:
    """Remove the report files of all but the newest ``keep`` runs (by the time in their names,
    then by file time for runs in the same second); the run just written (``current``) stays."""
    runs: dict[str, list[str]] = {}
    for name in os.listdir(output_dir):
        match = _RUN_FILE.match(name)
        if match:
            runs.setdefault(match.group(1), []).append(name)

    def age(run: str):
        return (run == current, run.split("-", 1)[0],
                max(_mtime(os.path.join(output_dir, name)) for name in runs[run]))

    removed = []
    for run in sorted(runs, key=age, reverse=True)[keep:]:
        for name in runs[run]:
            try:
                os.unlink(os.path.join(output_dir, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return removed
