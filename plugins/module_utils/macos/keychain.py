# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Internet-password items in a macOS keychain through ``security``, without ever showing the password.

``security find-internet-password -s SERVER -a ACCOUNT -r PROTO [KEYCHAIN]`` prints the item's
attributes (exit 0) or "The specified item could not be found in the keychain." (exit 44);
adding ``-w`` prints the password alone, which is compared here in memory and dropped.
``security add-internet-password -U ...`` creates or updates the item. The protocol is a four
character code (``smb `` with its trailing space, ``afpx``, ``htps``). The attribute listing's shape
(``"acct"<blob>="..."``, label as ``0x00000007 <blob>="..."``) is reconstructed from the man page
and posted listings: Apple publishes no source for it.

Known limit: ``add-internet-password`` takes the password as an argument (``-w``), so it is
visible in the process list for the instant the command runs; nothing here logs or returns it.
"""

from __future__ import annotations

import hmac
import re

PROTOCOL_CODES = {"smb": "smb ", "afp": "afpx", "http": "http", "https": "htps", "ftp": "ftp ", "ssh": "ssh "}
NOT_FOUND_RC = 44
ATTRIBUTE = re.compile(r'^\s*(?:"(?P<name>[a-z]{4})"|(?P<hex>0x[0-9A-Fa-f]{8}))\s*<[a-z0-9]+>=(?P<value>.*)$')


class KeychainError(Exception):
    """security failed; the message says what to do (never the password)."""


def parse_attributes(text: str) -> dict:
    """``find-internet-password`` output as ``{keychain, acct, srvr, ptcl, label, ...}`` (strings or None)."""
    attributes: dict = {}
    for line in text.splitlines():
        if line.startswith("keychain:"):
            attributes["keychain"] = _unquote(line.partition(":")[2].strip())
            continue
        match = ATTRIBUTE.match(line)
        if not match:
            continue
        name = match.group("name") or ("label" if match.group("hex").lower() == "0x00000007" else None)
        if name:
            attributes[name] = _unquote(match.group("value").strip())
    return attributes


def _unquote(value: str) -> str | None:
    if value == "<NULL>":
        return None
    # A blob with bytes security does not print as text comes as 0x... "text\000"; keep the text part.
    match = re.search(r'"((?:[^"\\]|\\.)*)"\s*$', value)
    if match:
        return match.group(1).replace("\\000", "")
    return value


def protocol_code(protocol: str) -> str:
    try:
        return PROTOCOL_CODES[protocol]
    except KeyError:
        raise KeychainError(f"protocol {protocol!r} is not one of {sorted(PROTOCOL_CODES)}") from None


def _hint(text: str) -> str:
    lowered = text.lower()
    if "user interaction is not allowed" in lowered or "interaction" in lowered:
        return (" The keychain is locked and cannot ask over ssh: log in to that user's session once, or run "
                "`security unlock-keychain` in a session of that user, then run the play again.")
    if "could not be found" in lowered or "no such keychain" in lowered:
        return " Check the keychain path (the user's is ~/Library/Keychains/login.keychain-db) and become_user."
    return ""


class Keychain:
    """``security`` through ``run`` (AnsibleModule.run_command or a test double)."""

    def __init__(self, run, binary: str = "security", keychain: str | None = None):
        self.run = run
        self.binary = binary
        self.keychain = keychain

    def _selector(self, server: str, account: str, protocol: str) -> list[str]:
        return ["-s", server, "-a", account, "-r", protocol_code(protocol)]

    def _tail(self) -> list[str]:
        return [self.keychain] if self.keychain else []

    def find(self, server: str, account: str, protocol: str) -> dict | None:
        argv = [self.binary, "find-internet-password"] + self._selector(server, account, protocol) + self._tail()
        rc, out, err = self.run(argv)
        if rc == NOT_FOUND_RC or (rc != 0 and "could not be found in the keychain" in (err + out)):
            return None
        if rc != 0:
            text = (err or out).strip()
            raise KeychainError(f"security find-internet-password -s {server} -a {account} failed (rc {rc}): "
                                f"{text}.{_hint(text)}")
        return parse_attributes(out + "\n" + err)

    def password_matches(self, server: str, account: str, protocol: str, password: str) -> bool:
        argv = [self.binary, "find-internet-password"] + self._selector(server, account, protocol) + ["-w"] + \
            self._tail()
        rc, out, err = self.run(argv)
        if rc != 0:
            # Never echo stdout here: on success it is the password.
            text = err.strip()
            raise KeychainError(f"security find-internet-password -w -s {server} -a {account} failed (rc {rc}): "
                                f"{text}.{_hint(text)}")
        stored = out[:-1] if out.endswith("\n") else out
        return hmac.compare_digest(stored.encode("utf-8"), password.encode("utf-8"))

    def add(self, server: str, account: str, protocol: str, password: str, label: str | None,
            trusted: list[str]) -> None:
        argv = [self.binary, "add-internet-password", "-U"] + self._selector(server, account, protocol)
        if label:
            argv += ["-l", label]
        for app in trusted:
            argv += ["-T", app]
        argv += ["-w", password] + self._tail()
        rc, out, err = self.run(argv)
        if rc != 0:
            text = (err or out).replace(password, "********").strip() if password else (err or out).strip()
            raise KeychainError(f"security add-internet-password -U -s {server} -a {account} failed (rc {rc}): "
                                f"{text}.{_hint(text)}")

    def delete(self, server: str, account: str, protocol: str) -> None:
        argv = [self.binary, "delete-internet-password"] + self._selector(server, account, protocol) + self._tail()
        rc, out, err = self.run(argv)
        if rc != 0 and rc != NOT_FOUND_RC:
            text = (err or out).strip()
            raise KeychainError(f"security delete-internet-password -s {server} -a {account} failed (rc {rc}): "
                                f"{text}.{_hint(text)}")


def ensure(keychain: Keychain, server: str, account: str, protocol: str, password: str | None,
           label: str | None, state: str, check_mode: bool, trusted: list[str] | None = None) -> dict:
    """Converge one internet-password item; return changed, diff, item, summary (never the password)."""
    trusted = list(trusted or [])
    protocol_code(protocol)
    item = keychain.find(server, account, protocol)
    what = f"{account}@{server} ({protocol})"
    if state == "absent":
        before = _view(item, server, account, protocol, None)
        changed = item is not None
        if changed and not check_mode:
            keychain.delete(server, account, protocol)
        after = {"state": "absent"}
        if changed:
            summary = f"Keychain item {what}: " + ("would be removed" if check_mode else "removed")
        else:
            summary = f"Keychain item {what}: already absent"
        return {"changed": changed, "diff": {"before": before, "after": after}, "item": after, "summary": summary}
    if password is None:
        raise KeychainError("password is required with state=present")
    matches = item is not None and keychain.password_matches(server, account, protocol, password)
    before = _view(item, server, account, protocol, "matches" if matches else ("differs" if item else None))
    reasons = []
    if item is None:
        reasons.append("added")
    else:
        if not matches:
            reasons.append("password updated")
        if label and item.get("label") != label:
            reasons.append("label updated")
    after = {"state": "present", "server": server, "account": account, "protocol": protocol,
             "label": label if label else before.get("label"), "password": "matches"}
    if item is None and not label:
        after["label"] = server
    if reasons and not check_mode:
        keychain.add(server, account, protocol, password, label, trusted)
    if reasons:
        summary = f"Keychain item {what}: " + ", ".join(reasons) + (" (check mode: nothing changed)" if check_mode
                                                                    else "")
    else:
        summary = f"Keychain item {what}: already up to date"
    return {"changed": bool(reasons), "diff": {"before": before, "after": after}, "item": after, "summary": summary}


def _view(item: dict | None, server: str, account: str, protocol: str, password_state: str | None) -> dict:
    if item is None:
        return {"state": "absent"}
    view = {"state": "present", "server": server, "account": account, "protocol": protocol,
            "label": item.get("label")}
    if password_state:
        view["password"] = password_state
    return view
