# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Share points through macOS ``sharing``: list (``-l``), add (``-a``), edit (``-e``), remove (``-r``).

Apple publishes no source for ``sharing`` (../shared/reference/apis/macos/NOTES.md), so the
``sharing -l`` shape read here is reconstructed from its man page and from listings people posted:
"List of Share Points", then per share point ``name:`` and ``path:`` lines and one ``<proto>: { ... }``
block per protocol (afp, ftp, smb) with ``name:``, ``shared:`` (0/1) and ``guest access:`` (0/1).
The parser takes any whitespace between a key and its value, any protocol order, and extra keys.
Share and guest flags on the command line are three digits, one per protocol: afp, ftp, smb
(``-s 001`` shares over SMB only).
"""

from __future__ import annotations

import os
import re

PROTOCOLS = ("afp", "ftp", "smb")
KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.*)$")
BLOCK_START = re.compile(r"^(?P<proto>[A-Za-z]+):\s*\{\s*$")


class SharingError(Exception):
    """sharing failed or printed something this engine cannot read; the message says what to do."""


def parse_list(text: str) -> list[dict]:
    """``sharing -l`` as ``[{name, path, protocols: {proto: {name, shared, guest}}}]``."""
    shares: list[dict] = []
    share = None
    block = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if block is not None:
            if line.startswith("}"):
                block = None
                continue
            match = KEY_VALUE.match(line)
            if match:
                block[match.group("key").strip().lower()] = match.group("value").strip()
            continue
        start = BLOCK_START.match(line)
        if start and share is not None:
            block = {}
            share["protocols"][start.group("proto").lower()] = block
            continue
        match = KEY_VALUE.match(line)
        if not match:
            continue
        key, value = match.group("key").strip().lower(), match.group("value").strip()
        if key == "name":
            share = {"name": value, "path": None, "protocols": {}}
            shares.append(share)
        elif key == "path" and share is not None:
            share["path"] = value
    return [normalize_share(s) for s in shares]


def _flag(value) -> bool:
    return str(value).strip() in ("1", "yes", "true")


def normalize_share(share: dict) -> dict:
    protocols = {}
    for proto, block in share["protocols"].items():
        protocols[proto] = {"name": block.get("name", share["name"]), "shared": _flag(block.get("shared", 0)),
                            "guest": _flag(block.get("guest access", 0))}
    return {"name": share["name"], "path": share["path"], "protocols": protocols}


def describe(share: dict | None) -> dict:
    """A share as the module returns it: ``{state, name, path, protocols, guest}``."""
    if share is None:
        return {"state": "absent"}
    shared = sorted(p for p, b in share["protocols"].items() if b["shared"])
    return {"state": "present", "name": share["name"], "path": share["path"], "protocols": shared,
            "guest": any(b["guest"] for p, b in share["protocols"].items() if b["shared"])}


def flags(protocols, on: bool = True) -> str:
    """Three digits, afp ftp smb: ``flags(['smb']) == '001'``."""
    wanted = set(protocols) if on else set()
    return "".join("1" if p in wanted else "0" for p in PROTOCOLS)


class Sharing:
    """``sharing`` through ``run`` (AnsibleModule.run_command or a test double)."""

    def __init__(self, run, binary: str = "sharing"):
        self.run = run
        self.binary = binary
        self.name = os.path.basename(binary)

    def _run(self, args: list[str]) -> str:
        argv = [self.binary] + args
        rc, out, err = self.run(argv)
        if rc != 0:
            raise SharingError(f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()}. "
                               "sharing must run as root (become: true) and File Sharing must be allowed.")
        return out

    def list(self) -> list[dict]:
        return parse_list(self._run(["-l"]))

    def command(self, action: str, name: str, path: str | None = None, protocols=(), guest: bool = False) -> list:
        if action == "add":
            return ["-a", path, "-n", name, "-s", flags(protocols), "-g", flags(protocols, guest)]
        if action == "edit":
            return ["-e", name, "-s", flags(protocols), "-g", flags(protocols, guest)]
        return ["-r", name]


def plan(shares: list[dict], name: str, path: str | None, protocols: list[str], guest: bool,
         state: str) -> tuple[dict | None, list[str]]:
    """The share named ``name`` (or None) and the actions (add, edit, remove) that converge it."""
    mine = next((s for s in shares if s["name"] == name), None)
    if state == "absent":
        return mine, (["remove"] if mine else [])
    if mine is None:
        other = next((s for s in shares if path and s["path"] == path), None)
        if other is not None:
            raise SharingError(f"{path} is already shared as {other['name']!r}: remove that share point "
                               f"(sudo sharing -r {other['name']!r}) or use name: {other['name']}.")
        return None, ["add"]
    if mine["path"] != path:
        return mine, ["remove", "add"]
    have = describe(mine)
    if have["protocols"] != sorted(set(protocols)) or have["guest"] != guest:
        return mine, ["edit"]
    return mine, []


def ensure(sharing: Sharing, name: str, path: str | None, protocols: list[str], guest: bool, state: str,
           check_mode: bool) -> dict:
    """Converge one share point; return changed, diff, share, commands and summary."""
    protocols = sorted(set(protocols))
    unknown = sorted(set(protocols) - {"smb", "afp"})
    if unknown:
        raise SharingError(f"protocols {unknown} are not offered; use smb and/or afp")
    if state == "present" and not protocols:
        raise SharingError("protocols is empty: a share point needs smb and/or afp (state: absent removes it)")
    mine, actions = plan(sharing.list(), name, path, protocols, guest, state)
    before = describe(mine)
    if state == "absent":
        after = {"state": "absent"}
    else:
        after = {"state": "present", "name": name, "path": path, "protocols": protocols, "guest": guest}
    commands = []
    for action in actions:
        argv = sharing.command(action, name, path, protocols, guest)
        commands.append(" ".join([sharing.name] + argv))
        if not check_mode:
            sharing._run(argv)
    share = after
    if actions and not check_mode:
        share = describe(next((s for s in sharing.list() if s["name"] == name), None))
        if state == "present" and share != after:
            raise SharingError(f"after {'; '.join(commands)}, sharing -l shows {share} instead of {after}")
    words = {"add": "added", "edit": "protocols/guest access updated", "remove": "removed"}
    if actions:
        done = ", ".join(words[a] for a in actions) if actions != ["remove", "add"] else "moved to " + str(path)
        summary = f"Share point {name}: {done}" + (" (check mode: nothing changed)" if check_mode else "")
    else:
        summary = f"Share point {name}: already {'absent' if state == 'absent' else 'as wanted'}"
    return {"changed": bool(actions), "diff": {"before": before, "after": after}, "share": share,
            "commands": commands, "summary": summary}
