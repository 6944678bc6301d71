# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Power management settings through ``pmset``: read ``pmset -g custom``, write only what differs.

``pmset -g custom`` prints, for each power source profile, a header line (``Battery Power:``,
``AC Power:``, ``UPS Power:``) and then one `` %-20s <value>`` line per setting (pmset.m). The keys
come in CFDictionary order, which is no order at all, so parsing never relies on it. A key may hold
spaces (``Sleep On Power Button``). ``sleep`` and ``displaysleep`` may carry a suffix such as
`` (sleep prevented by sharingd, powerd)`` in the live view; it is split off and kept apart.
Macs with high-power mode show ``powermode`` (0 automatic, 1 low power, 2 high power) where others
show ``lowpowermode`` (0/1); a wanted ``lowpowermode`` is compared with either.
"""

from __future__ import annotations

import os
import re

SOURCES = {"all": "-a", "ac": "-c", "battery": "-b", "ups": "-u"}
HEADERS = {"battery power": "battery", "ac power": "ac", "ups power": "ups"}
SUFFIX = re.compile(r"\s*\((?P<text>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*$")
PREVENTED = re.compile(r"^(?:display\s+)?sleep prevented by\s+(?P<by>.*)$", re.I)


class PmsetError(Exception):
    """pmset failed or printed something this engine cannot read; the message says what to do."""


def normalize(value) -> str:
    """A wanted value as pmset prints it: booleans as 1/0, numbers without decoration."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return "1"
    if lowered in ("false", "no", "off"):
        return "0"
    return text


def split_value(text: str) -> tuple[str, list[str]]:
    """``'1 (sleep prevented by sharingd, powerd)'`` -> ``('1', ['sharingd', 'powerd'])``."""
    text = text.strip()
    match = SUFFIX.search(text)
    prevented: list[str] = []
    if match and match.start() > 0:
        inner = match.group("text").strip()
        by = PREVENTED.match(inner)
        if by:
            prevented = [p.strip() for p in by.group("by").split(",") if p.strip()]
        text = text[:match.start()].strip()
    return text, prevented


def parse_line(line: str) -> tuple[str, str, list[str]] | None:
    """One `` key value`` line; None for a line that is not a setting."""
    body, prevented = split_value(line)
    parts = body.rsplit(None, 1)
    if len(parts) != 2:
        return None
    key, value = parts[0].strip(), parts[1].strip()
    return key, value, prevented


def parse_custom(text: str) -> dict:
    """``pmset -g custom`` (or ``-g``) as ``{source: {key: value}}`` with source in ac/battery/ups.

    ``pmset -g`` (one "Currently in use:" section) comes back under ``"live"``; the
    ``"System-wide power settings:"`` lines under ``"system"``. Prevented-by lists are kept in
    ``result["_prevented"][source][key]`` only when there are some.
    """
    profiles: dict = {}
    prevented: dict = {}
    current = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        stripped = raw.strip()
        if stripped.endswith(":") and not raw[:1].isspace():
            header = stripped[:-1].strip().lower()
            if header in HEADERS:
                current = HEADERS[header]
            elif header == "currently in use":
                current = "live"
            elif header == "system-wide power settings":
                current = "system"
            else:
                current = None
            if current is not None:
                profiles.setdefault(current, {})
            continue
        if current is None:
            continue
        parsed = parse_line(stripped)
        if parsed is None:
            continue
        key, value, by = parsed
        profiles[current][key] = value
        if by:
            prevented.setdefault(current, {})[key] = by
    if prevented:
        profiles["_prevented"] = prevented
    return profiles


def profile_sources(parsed: dict) -> list[str]:
    return [s for s in ("ac", "battery", "ups") if s in parsed]


def current_value(profile: dict, key: str) -> str | None:
    """The value pmset shows for ``key``, with ``lowpowermode`` read from ``powermode`` where needed."""
    if key in profile:
        return profile[key]
    if key == "lowpowermode" and "powermode" in profile:
        return "1" if profile["powermode"] == "1" else "0"
    return None


def differing(profile: dict, wanted: dict) -> dict:
    """The wanted settings whose value in ``profile`` differs (or is not shown)."""
    return {k: v for k, v in wanted.items() if current_value(profile, k) != v}


def plan(parsed: dict, wanted: dict, source: str) -> tuple[list[str], dict, list[str]]:
    """Which sources are compared, which keys to write (in the wanted order), and warnings."""
    present = profile_sources(parsed)
    warnings: list[str] = []
    if source == "all":
        targets = present
    elif source in present:
        targets = [source]
    else:
        targets = []
        warnings.append(f"pmset -g custom shows no {source} power profile on this Mac "
                        f"(it shows: {', '.join(present) or 'none'}); the {source} settings were left alone.")
    keys: dict = {}
    for target in targets:
        for key, value in differing(parsed[target], wanted).items():
            keys[key] = value
    ordered = {k: wanted[k] for k in wanted if k in keys}
    return targets, ordered, warnings


def view(parsed: dict, targets: list[str], keys) -> dict:
    """``{source: {key: value}}`` for the keys asked, as a diff shows them (None = not shown)."""
    return {t: {k: current_value(parsed.get(t, {}), k) for k in keys} for t in targets}


class Pmset:
    """pmset through ``run`` (AnsibleModule.run_command or a test double)."""

    def __init__(self, run, binary: str = "pmset"):
        self.run = run
        self.binary = binary
        self.name = os.path.basename(binary)

    def read(self) -> dict:
        rc, out, err = self.run([self.binary, "-g", "custom"])
        if rc != 0:
            raise PmsetError(f"pmset -g custom failed (rc {rc}): {(err or out).strip()}")
        parsed = parse_custom(out)
        if not profile_sources(parsed):
            raise PmsetError("pmset -g custom printed no power profile (no 'AC Power:', 'Battery Power:' or "
                             f"'UPS Power:' section): {out.strip()[:200]!r}")
        return parsed

    def write(self, source: str, settings: dict) -> list[str]:
        argv = [self.binary, SOURCES[source]]
        for key, value in settings.items():
            argv += [key, value]
        rc, out, err = self.run(argv)
        if rc != 0:
            raise PmsetError(f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()}. "
                             "pmset must run as root (become: true).")
        return [self.name] + argv[1:]


def ensure(pmset: Pmset, settings: dict, source: str, check_mode: bool) -> dict:
    """Converge ``settings`` on ``source``; return changed, diff, current, commands, warnings, summary."""
    wanted = {str(k).strip(): normalize(v) for k, v in settings.items()}
    for key in wanted:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key):
            raise PmsetError(f"setting name {key!r} is not a pmset setting (one word, e.g. sleep, womp)")
    parsed = pmset.read()
    targets, to_write, warnings = plan(parsed, wanted, source)
    before = view(parsed, targets, wanted)
    commands: list[str] = []
    if to_write and not check_mode:
        commands.append(" ".join(pmset.write(source, to_write)))
        parsed = pmset.read()
        after = view(parsed, targets, wanted)
        for target in targets:
            still = differing(parsed[target], wanted)
            if still:
                warnings.append(f"pmset accepted {', '.join(sorted(still))} but -g custom still shows "
                                f"{', '.join(f'{k}={current_value(parsed[target], k)}' for k in sorted(still))} "
                                f"for {target} power: this Mac may not support "
                                f"{'it' if len(still) == 1 else 'them'}.")
    else:
        if to_write:
            commands.append(" ".join([pmset.name, SOURCES[source]] +
                                     [x for kv in to_write.items() for x in kv]))
        after = {t: {k: (wanted[k] if k in to_write else v) for k, v in values.items()}
                 for t, values in before.items()}
    current = {s: dict(parsed[s]) for s in profile_sources(parsed)}
    shown = ", ".join(f"{k}={v}" for k, v in to_write.items())
    if to_write:
        summary = f"pmset {source}: {'would set' if check_mode else 'set'} {shown}"
    else:
        summary = f"pmset {source}: already {', '.join(f'{k}={v}' for k, v in wanted.items())} " \
                  f"({', '.join(targets) or 'no matching profile'})"
    return {"changed": bool(to_write), "diff": {"before": before, "after": after}, "current": current,
            "commands": commands, "warnings": warnings, "summary": summary}
