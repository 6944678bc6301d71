# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Samba's password database (passdb), read and written through ``pdbedit`` and ``smbpasswd``.

Samba cannot show a password, but ``pdbedit -L -w`` prints the NT hash it stores for each user:
MD4 over the UTF-16LE password, unsalted. Hashing the wanted password the same way and comparing
tells exactly whether the stored password differs, including when someone changed it by hand,
without keeping any copy of the secret on the host. The NT hash is as good as the password for
NTLM logins, so it is never returned or logged.

MD4 is implemented here because OpenSSL 3 (Debian 12, Proxmox 8) no longer offers it to hashlib.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

_MASK = 0xFFFFFFFF


def _rotl(value: int, shift: int) -> int:
    value &= _MASK
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320) of ``data``; hashlib's where OpenSSL still provides it."""
    try:
        return hashlib.new("md4", data).digest()
    except ValueError:
        pass
    message = bytearray(data)
    bit_length = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    message.append(0x80)
    while len(message) % 64 != 56:
        message.append(0)
    message += struct.pack("<Q", bit_length)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for offset in range(0, len(message), 64):
        x = struct.unpack("<16I", bytes(message[offset:offset + 64]))
        a, b, c, d = state

        def round1(a, b, c, d, k, s):
            return _rotl(a + ((b & c) | (~b & d)) + x[k], s)

        def round2(a, b, c, d, k, s):
            return _rotl(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, s)

        def round3(a, b, c, d, k, s):
            return _rotl(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, s)

        for k in (0, 4, 8, 12):
            a = round1(a, b, c, d, k, 3)
            d = round1(d, a, b, c, k + 1, 7)
            c = round1(c, d, a, b, k + 2, 11)
            b = round1(b, c, d, a, k + 3, 19)
        for k in (0, 1, 2, 3):
            a = round2(a, b, c, d, k, 3)
            d = round2(d, a, b, c, k + 4, 5)
            c = round2(c, d, a, b, k + 8, 9)
            b = round2(b, c, d, a, k + 12, 13)
        for k in (0, 2, 1, 3):
            a = round3(a, b, c, d, k, 3)
            d = round3(d, a, b, c, k + 8, 9)
            c = round3(c, d, a, b, k + 4, 11)
            b = round3(b, c, d, a, k + 12, 15)
        state = [(s + v) & _MASK for s, v in zip(state, (a, b, c, d))]
    return struct.pack("<4I", *state)


def nt_hash(password: str) -> str:
    """The NT hash Samba stores for ``password``, as the 32 upper-case hex digits pdbedit prints."""
    return md4(password.encode("utf-16-le")).hex().upper()


class PassdbEntry:
    """One line of ``pdbedit -L -w``: ``name:uid:LMHASH:NTHASH:[FLAGS]:LCT-XXXXXXXX:``."""

    def __init__(self, name: str, uid: int, nt_hash_hex: str, flags: str):
        self.name = name
        self.uid = uid
        self.nt_hash = nt_hash_hex
        self.flags = flags

    @property
    def disabled(self) -> bool:
        return "D" in self.flags

    @property
    def has_password(self) -> bool:
        # pdbedit prints 32 X for "no password set" (and N in the flags for "none required").
        return bool(self.nt_hash) and set(self.nt_hash) != {"X"}

    def password_matches(self, password: str) -> bool:
        return self.has_password and hmac.compare_digest(self.nt_hash, nt_hash(password))


def parse_smbpasswd_line(line: str) -> PassdbEntry:
    """Parse one ``pdbedit -L -w`` line; raise ValueError on anything else."""
    fields = line.strip().split(":")
    if len(fields) < 5 or not fields[4].startswith("[") or not fields[4].endswith("]"):
        raise ValueError("not a pdbedit -L -w line")
    name, uid, _lm, nt, flags = fields[:5]
    return PassdbEntry(name=name, uid=int(uid), nt_hash_hex=nt.upper(), flags=flags.strip("[] "))


class SambaError(Exception):
    """A passdb command failed; the message says what to do next."""


class Passdb:
    """Samba users through the CLI tools. ``run`` is AnsibleModule.run_command or a test double."""

    def __init__(self, run, pdbedit: str, smbpasswd: str):
        self.run = run
        self.pdbedit = pdbedit
        self.smbpasswd = smbpasswd

    def get(self, name: str) -> PassdbEntry | None:
        rc, out, err = self.run([self.pdbedit, "-L", "-w", "-u", name])
        if rc != 0:
            if "not found" in (out + err).lower():
                return None
            raise SambaError(f"pdbedit -L -w -u {name} failed (rc {rc}): {(err or out).strip()}. "
                             "Check that Samba is installed and /etc/samba/smb.conf is valid (testparm -s).")
        for line in out.splitlines():
            try:
                entry = parse_smbpasswd_line(line)
            except ValueError:
                continue
            if entry.name == name:
                return entry
        return None

    def _smbpasswd(self, args: list, name: str, password: str | None = None) -> None:
        data = None if password is None else f"{password}\n{password}\n"
        rc, out, err = self.run([self.smbpasswd] + args + [name], data=data, binary_data=False)
        if rc != 0:
            # smbpasswd never echoes the password, so its messages are safe to show.
            raise SambaError(f"smbpasswd {' '.join(args)} {name} failed (rc {rc}): {(err or out).strip()}")

    def add(self, name: str, password: str) -> None:
        self._smbpasswd(["-a", "-s"], name, password)

    def set_password(self, name: str, password: str) -> None:
        self._smbpasswd(["-s"], name, password)

    def enable(self, name: str) -> None:
        self._smbpasswd(["-e"], name)

    def disable(self, name: str) -> None:
        self._smbpasswd(["-d"], name)

    def remove(self, name: str) -> None:
        self._smbpasswd(["-x"], name)


def plan(entry: PassdbEntry | None, state: str, password: str | None, enabled: bool,
         update_password: str) -> list:
    """The actions that bring ``entry`` to the wanted state, in order: add, password, enable, disable, remove."""
    if state == "absent":
        return ["remove"] if entry is not None else []
    if entry is None:
        return ["add"] + ([] if enabled else ["disable"])
    actions = []
    if update_password == "always" and not entry.password_matches(password or ""):
        actions.append("password")
    if enabled and entry.disabled:
        actions.append("enable")
    elif not enabled and not entry.disabled:
        actions.append("disable")
    return actions


def password_state(entry: PassdbEntry | None, password: str | None) -> str | None:
    """``matches`` or ``differs``: all a diff may say about a stored password."""
    if entry is None or password is None:
        return None
    return "matches" if entry.password_matches(password) else "differs"


def describe(entry: PassdbEntry | None, password: str | None) -> dict:
    """A diff-safe view of a user: never the hash, only whether the password matches."""
    if entry is None:
        return {"state": "absent"}
    view = {"state": "present", "enabled": not entry.disabled}
    state = password_state(entry, password)
    if state:
        view["password"] = state
    return view


def expected(before: dict, state: str, enabled: bool, actions: list) -> dict:
    """The view of the user after ``actions``."""
    if state == "absent":
        return {"state": "absent"}
    after = {"state": "present", "enabled": enabled}
    if before.get("state") == "absent" or "password" in actions:
        after["password"] = "matches"
    elif "password" in before:
        after["password"] = before["password"]
    return after


def ensure_user(passdb: Passdb, name: str, state: str, password: str | None, enabled: bool,
                update_password: str, check_mode: bool, entry: PassdbEntry | None = None,
                lookup: bool = True) -> dict:
    """Converge one Samba user; return changed, actions, diff and a one-line summary.

    ``lookup=False`` (with ``entry=None``) is for check mode on a host where Samba is not
    installed yet: the user is then reported as one that would be added.
    """
    if lookup:
        entry = passdb.get(name)
    actions = plan(entry, state, password, enabled, update_password)
    before = describe(entry, password if state == "present" else None)
    after = expected(before, state, enabled, actions)
    if not check_mode:
        for action in actions:
            if action == "add":
                passdb.add(name, password or "")
            elif action == "password":
                passdb.set_password(name, password or "")
            elif action == "enable":
                passdb.enable(name)
            elif action == "disable":
                passdb.disable(name)
            elif action == "remove":
                passdb.remove(name)
    words = {"add": "added", "password": "password updated", "enable": "enabled",
             "disable": "disabled", "remove": "removed"}
    if actions:
        summary = f"Samba user {name}: " + ", ".join(words[a] for a in actions)
        if check_mode:
            summary += " (check mode: nothing changed)"
    else:
        summary = f"Samba user {name}: already {'absent' if state == 'absent' else 'up to date'}"
    return {"changed": bool(actions), "actions": actions, "summary": summary,
            "diff": {"before": before, "after": after}}
