# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cookie directory icloudpd and pyicloud share, and the countdown read from it.

Both tools keep one Apple ID's session in two files named after the Apple ID with every non-``\\w``
character removed (``parent.a@example.com`` -> ``parentaexamplecom``): an
``http.cookiejar.LWPCookieJar`` file (``#LWP-Cookies-2.0``, ``Set-Cookie3:`` lines) and a JSON
``.session`` file (``client_id``, ``session_token``, ``trust_token``, ...). icloudpd names the
cookie jar ``<key>``, pyicloud 2026 ``<key>.cookiejar``; we write both (reference
icloud-immich.md section 1.9).

The session survives without a new 2FA code while Apple's ``X-APPLE-WEBAUTH-HSA-TRUST*`` cookie is
valid; its ``expires`` is the countdown (about 30 days, reference section 1.8). Neither tool reads
that date: icloudpd only notices an expired session when a run already needs a new code.

Standard library only: the icloudpd role ships this file (with ``common``) to the download host,
where the daily countdown check and the download wrapper read the same state.
"""

from __future__ import annotations

import datetime as _dt
import http.cookiejar
import json
import os
import re

TRUST_COOKIE_PREFIX = "X-APPLE-WEBAUTH-HSA-TRUST"
# Set by accountLogin; without it pyicloud cannot even ask Apple whether the session is valid.
WEB_TOKEN_COOKIE = "X-APPLE-WEBAUTH-TOKEN"
SESSION_SUFFIX = ".session"
PYICLOUD_JAR_SUFFIX = ".cookiejar"
_WORD = re.compile(r"\w")

# What a state means, for people (the countdown's one line and the status page).
STATUS_TEXT = {
    "trusted": "trusted",
    "expiring": "trusted, but the trust ends soon",
    "expired": "the trust has ended",
    "untrusted": "signed in without a completed two-factor check",
    "missing": "no session",
    "unreadable": "the session files cannot be read",
}


def account_key(username: str) -> str:
    """The file-name key of an Apple ID, as icloudpd and pyicloud derive it."""
    return "".join(char for char in username if _WORD.match(char))


def session_paths(cookie_directory: str, username: str) -> dict[str, str]:
    """The three files of one Apple ID: icloudpd's cookie jar, pyicloud's, and the session JSON."""
    base = os.path.join(cookie_directory, account_key(username))
    return {"icloudpd_jar": base, "pyicloud_jar": base + PYICLOUD_JAR_SUFFIX, "session": base + SESSION_SUFFIX}


def load_jar(path: str) -> http.cookiejar.LWPCookieJar:
    """Every cookie in an LWP jar, expired ones included (the expiry is what we want to read).
    Raises ``OSError`` (``http.cookiejar.LoadError`` included) for a missing or corrupt file."""
    jar = http.cookiejar.LWPCookieJar(path)
    jar.load(ignore_discard=True, ignore_expires=True)
    return jar


def trust_expiry(jar) -> _dt.datetime | None:
    """The latest expiry among the jar's ``X-APPLE-WEBAUTH-HSA-TRUST*`` cookies, or None."""
    expiries = [cookie.expires for cookie in jar
                if cookie.name.upper().startswith(TRUST_COOKIE_PREFIX) and cookie.expires]
    if not expiries:
        return None
    return _dt.datetime.fromtimestamp(max(expiries), _dt.timezone.utc)


def iso(moment: _dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class SessionState:
    """What a cookie directory says about one Apple ID's session at a moment."""

    __slots__ = ("status", "expires_at", "days_left", "warn", "cookie_file", "problem")

    def __init__(self, status: str, expires_at: _dt.datetime | None = None, days_left: int | None = None,
                 warn: bool = True, cookie_file: str | None = None, problem: str = "") -> None:
        self.status, self.expires_at, self.days_left = status, expires_at, days_left
        self.warn, self.cookie_file, self.problem = warn, cookie_file, problem

    @property
    def trusted(self) -> bool:
        return self.status in ("trusted", "expiring")

    @property
    def needs_reauth(self) -> bool:
        return self.status != "trusted"

    def as_dict(self) -> dict:
        return {"status": self.status, "trusted": self.trusted, "expires_at": iso(self.expires_at),
                "days_left": self.days_left, "warn": self.warn, "cookie_file": self.cookie_file}

    def sentence(self, username: str) -> str:
        """One line for a person: ``parent.a@example.com: trusted until 2026-12-30 (28 days left)``."""
        if self.status in ("trusted", "expiring"):
            until = self.expires_at.strftime("%Y-%m-%d %H:%M UTC") if self.expires_at else "an unknown date"
            left = "less than a day" if self.days_left == 0 else f"{self.days_left} day" + (
                "" if self.days_left == 1 else "s")
            return f"{username}: {STATUS_TEXT[self.status]}; the trust ends {until} ({left} left)"
        return f"{username}: {STATUS_TEXT[self.status]}" + (f" ({self.problem})" if self.problem else "")


def days_between(now: _dt.datetime, later: _dt.datetime) -> int:
    """Whole days left (rounded down): 0 means less than one day."""
    return int((later - now).total_seconds() // 86400)


def read_state(cookie_directory: str, username: str, threshold_days: int,
               now: _dt.datetime | None = None) -> SessionState:
    """The session state of ``username`` in ``cookie_directory``: icloudpd's jar first (what the
    downloader reads), pyicloud's when icloudpd's is missing."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    paths = session_paths(cookie_directory, username)
    jar_path = next((p for p in (paths["icloudpd_jar"], paths["pyicloud_jar"]) if os.path.exists(p)), None)
    if jar_path is None:
        return SessionState("missing", cookie_file=None,
                            problem=f"no cookie file {paths['icloudpd_jar']}: nobody has signed in with this "
                                    "cookie directory yet")
    try:
        jar = load_jar(jar_path)
    except (OSError, UnicodeDecodeError) as exc:
        return SessionState("unreadable", cookie_file=jar_path, problem=f"{jar_path} is not a cookie jar: {exc}")
    session = read_session(paths["session"])
    if session is None:
        return SessionState("missing", cookie_file=jar_path,
                            problem=f"the session file {paths['session']} is missing or not JSON")
    expires = trust_expiry(jar)
    if expires is None:
        return SessionState("untrusted", cookie_file=jar_path,
                            problem=f"{jar_path} holds no {TRUST_COOKIE_PREFIX} cookie: the two-factor check "
                                    "was never completed")
    days = days_between(now, expires)
    if expires <= now:
        return SessionState("expired", expires, days, True, jar_path,
                            problem=f"the trust ended {iso(expires)}")
    warn = days < threshold_days
    return SessionState("expiring" if warn else "trusted", expires, days, warn, jar_path)


def read_session(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
