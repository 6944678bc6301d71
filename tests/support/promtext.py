"""A strict reader of Prometheus' text exposition format (0.0.4), for tests.

prometheus_client is not a dependency of the collection; this accepts only what the format
allows: ``# HELP``/``# TYPE`` lines before a metric's samples, metric and label names of the
allowed characters, label values with only the three escapes, float values, one TYPE per metric,
no duplicate series, and a final newline.
"""

from __future__ import annotations

import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL}={VALUE})(?:,{LABEL}={VALUE})*,?)?\}})? (\S+)(?: (-?\d+))?$")
PAIR = re.compile(rf"({LABEL})=({VALUE})")
HELP = re.compile(rf"^# HELP ({NAME}) (.*)$")
TYPE = re.compile(rf"^# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)$")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], text[1:-1])


def parse(text: str) -> dict:
    """``{metric: {"type": ..., "help": ..., "samples": [(labels dict, value)]}}``; raises ValueError."""
    if not text.endswith("\n"):
        raise ValueError("a textfile must end with a newline")
    metrics: dict[str, dict] = {}
    seen: set = set()
    for number, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            if match := HELP.match(line):
                metrics.setdefault(match.group(1), {"samples": []})["help"] = match.group(2)
            elif match := TYPE.match(line):
                entry = metrics.setdefault(match.group(1), {"samples": []})
                if "type" in entry or entry["samples"]:
                    raise ValueError(f"line {number}: TYPE after samples or twice: {line!r}")
                entry["type"] = match.group(2)
            elif line.startswith(("# HELP", "# TYPE")):
                raise ValueError(f"line {number}: malformed: {line!r}")
            continue
        match = SAMPLE.match(line)
        if not match:
            raise ValueError(f"line {number}: not a sample: {line!r}")
        name, labels_text, value_text = match.group(1), match.group(2) or "", match.group(3)
        labels = {k: _unescape(v) for k, v in PAIR.findall(labels_text)}
        if value_text not in ("+Inf", "-Inf", "NaN"):
            value = float(value_text)
            if math.isnan(value):
                raise ValueError(f"line {number}: bad value {value_text!r}")
        else:
            value = float(value_text.replace("Inf", "inf"))
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            raise ValueError(f"line {number}: duplicate series {key}")
        seen.add(key)
        metrics.setdefault(name, {"samples": []})["samples"].append((labels, value))
    return metrics
