# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run document as a Prometheus textfile for node_exporter's textfile collector.

Every series carries a ``playbook`` label, so one file per playbook (``sovereign_cloud_run_<stem>.prom``)
can sit next to the others in the collector's directory. The file is replaced atomically by
:mod:`.store` (a temp name that does not end in ``.prom``, then a rename), as the collector asks.
"""

from __future__ import annotations

import datetime as _dt
import os
import re

PREFIX = "sovereign_cloud_run"
_STEM = re.compile(r"[^A-Za-z0-9_]+")

RUN_METRICS = (
    ("last_timestamp_seconds", "Unix time the last run of this playbook finished.", "timestamp"),
    ("last_success", "1 when the last run had no failed or unreachable host, else 0.", "success"),
    ("last_duration_seconds", "How long the last run took.", "duration"),
    ("last_check_mode", "1 when the last run was a check (--check) run.", "check"),
)
HOST_METRICS = (
    ("host_ok", "Tasks ok on the host in the last run (changed included)."),
    ("host_changed", "Tasks that changed something on the host in the last run."),
    ("host_failed", "Tasks that failed on the host in the last run."),
    ("host_unreachable", "Times the host was unreachable in the last run."),
    ("host_skipped", "Tasks skipped on the host in the last run."),
)


def escape_label(value) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def file_name(playbook: str) -> str:
    stem = _STEM.sub("_", os.path.splitext(os.path.basename(playbook or "run"))[0]).strip("_") or "run"
    return f"{PREFIX}_{stem}.prom"


def _number(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def render(document: dict) -> str:
    """The textfile: HELP and TYPE once per metric, one sample per playbook or per host."""
    finished = _dt.datetime.fromisoformat(document["finished_at"].replace("Z", "+00:00"))
    values = {
        "timestamp": finished.timestamp(),
        "success": bool(document["success"]),
        "duration": float(document["duration_seconds"]),
        "check": bool(document.get("check_mode")),
    }
    playbook = escape_label(document["playbook"] or "run")
    lines = []
    for name, help_text, key in RUN_METRICS:
        metric = f"{PREFIX}_{name}"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge",
                  f'{metric}{{playbook="{playbook}"}} {_number(values[key])}']
    for name, help_text in HOST_METRICS:
        metric = f"{PREFIX}_{name}"
        key = name.split("_", 1)[1]
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for host, counts in sorted(document["hosts"].items()):
            lines.append(f'{metric}{{playbook="{playbook}",host="{escape_label(host)}"}} {_number(int(counts[key]))}')
    return "\n".join(lines) + "\n"
