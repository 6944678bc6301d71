# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one client of Apple's iCloud API: pyicloud 2026 (timlaing/pyicloud, the PyPI ``pyicloud``).

pyicloud does the protocol (SRP sign-in, the HSA2 code delivery and check, the session trust,
CloudKit for Photos); this module opens it the way every caller here needs it and turns its
exceptions into :class:`ICloudError`, whose text says what failed and what a person does next.
Nothing here retries: Apple answers repeated sign-ins with longer lock-outs (reference
icloud-immich.md section 2, pain point 3).

``transport`` is a test hook: a ``requests`` adapter mounted on pyicloud's session, through which
the tests answer its HTTP requests in-process (Apple cannot be reached from a test).
"""

from __future__ import annotations

PYICLOUD_PIN = "pyicloud==2026.10.1"
SETUP_HOSTS = {"com": "https://setup.icloud.com/setup/ws/1", "cn": "https://setup.icloud.com.cn/setup/ws/1"}
UNLOCK_URL = "https://iforgot.apple.com"
NO_CODE_HELP = (
    "If no code arrives (Apple's 2026 sign-in change stops some prompts), make one on a trusted device: "
    "iPhone or iPad Settings > [your name] > Sign-In & Security > Two-Factor Authentication > Get Verification "
    "Code (on a Mac: System Settings > [your name] > Sign-In & Security), or sign in at https://www.icloud.com, "
    "which shows a prompt on your devices")
ADP_HELP = (
    "on the iPhone, Settings > [your name] > iCloud: turn on 'Access iCloud Data on the Web' and turn off "
    "'Advanced Data Protection' (icloudpd cannot download from an account with either setting the other way)")


class ICloudError(Exception):
    """A failure a person can act on. ``kind`` is one of: password, locked, throttled, adp,
    web_access, no_code, wrong_code, security_key, legacy_2sa, unreachable, terms, not_set_up,
    session, missing_library, apple."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def load_pyicloud():
    """pyicloud's service class and exceptions module, or a clear error when it is missing."""
    try:
        from pyicloud import PyiCloudService  # pylint: disable=import-outside-toplevel
        from pyicloud import exceptions  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise ICloudError("missing_library",
                          f"pyicloud is not installed for this Python ({exc}): install {PYICLOUD_PIN} where the task "
                          "runs (the controller's requirements/controller.txt pins it; `make venv` installs it)") \
            from None
    return PyiCloudService, exceptions


def open_service(username: str, password: str | None, cookie_directory: str, *, china: bool = False,
                 transport=None):
    """A pyicloud service for ``username`` whose session lives in ``cookie_directory``, not yet
    signed in (pyicloud's constructor would sign in at once, before a test could mount its
    transport, and would read the system keyring when no password is given)."""
    service_class, _exceptions = load_pyicloud()
    api = service_class(username, password, cookie_directory=cookie_directory, china_mainland=china,
                        with_family=False, refresh_interval=None, authenticate=False)
    if transport is not None:
        api.session.mount("https://", transport)
    return api


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        for arg in getattr(exc, "args", ())[1:]:
            if isinstance(arg, BaseException):
                yield arg
        exc = exc.__cause__ or exc.__context__


def _status_and_text(exc: BaseException) -> tuple[int | None, str]:
    """The HTTP status and the error text of one exception (reason, code and Apple's body)."""
    code = getattr(exc, "code", None)
    response = getattr(exc, "response", None)
    status = code if isinstance(code, int) else getattr(response, "status_code", None)
    parts = [str(getattr(exc, "reason", "") or ""), str(code or ""), exc.args[0] if exc.args and isinstance(
        exc.args[0], str) else ""]
    payload = getattr(exc, "payload", None)
    if payload is not None:
        parts.append(str(payload))
    try:
        parts.append(response.text if response is not None else "")
    except Exception:  # pylint: disable=broad-exception-caught
        pass
    return (status if isinstance(status, int) else None), " ".join(parts)


def translate(exc: BaseException, username: str, retry: str) -> ICloudError:
    """The :class:`ICloudError` for anything pyicloud raised; ``retry`` is the command that tries
    again (named in every message)."""
    if isinstance(exc, ICloudError):
        return exc
    _service, exceptions = load_pyicloud()
    chain = list(_chain(exc))
    names = {type(item).__name__ for item in chain}
    texts = [_status_and_text(item) for item in chain]
    blob = " ".join(text for _status, text in texts).lower()
    statuses = {status for status, _text in texts if status}
    if any(isinstance(item, exceptions.PyiCloudAccountLockedException) for item in chain):
        return ICloudError("locked", f"Apple has locked the Apple ID {username} for security reasons. Unlock it at "
                                     f"{UNLOCK_URL} (or on a trusted device), then run: {retry}")
    if "private db access disabled" in blob:
        return ICloudError("web_access", f"iCloud refuses web access to the photos of {username} (ACCESS_DENIED: "
                                         f"private db access disabled): {ADP_HELP}; then run: {retry}")
    if statuses & {429, 503} or "throttl" in blob or "CloudKitRateLimited" in names or "try_again_later" in blob:
        status = next(iter(sorted(statuses & {429, 503})), None)
        how = f"HTTP {status}" if status else "throttled"
        return ICloudError("throttled", f"Apple is throttling requests for {username} ({how}). Nothing was retried: "
                                        "every retry makes the lock-out longer. Wait at least an hour (a day if this "
                                        f"repeats), then run: {retry}")
    if any(isinstance(item, exceptions.PyiCloudConnectionException) for item in chain):
        return ICloudError("unreachable", f"iCloud could not be reached for {username} (network or DNS): nothing "
                                          f"about the password or the session is known. Check the connection, then "
                                          f"run: {retry}")
    if any(isinstance(item, exceptions.PyiCloudAcceptTermsException) for item in chain):
        return ICloudError("terms", f"Apple wants {username} to accept new iCloud terms: sign in once at "
                                    f"https://www.icloud.com and accept them, then run: {retry}")
    if any(isinstance(item, exceptions.PyiCloudServiceNotActivatedException) for item in chain):
        return ICloudError("not_set_up", f"iCloud is not fully set up for {username}: sign in once at "
                                         f"https://www.icloud.com to finish setting it up, then run: {retry}")
    if "access_denied" in blob:
        return ICloudError("adp", f"iCloud denied access for {username} (ACCESS_DENIED). Apple uses this answer both "
                                  f"for throttling and for accounts whose data the web cannot read: {ADP_HELP}. If "
                                  f"both settings are right, wait an hour; then run: {retry}")
    if any(isinstance(item, exceptions.PyiCloudFailedLoginException) for item in chain):
        if "no password" in blob:
            return ICloudError("password", f"the session of {username} needs a new sign-in, and no password was "
                                           f"given: pass it from the vault, then run: {retry}")
        return ICloudError("password", f"Apple rejected the Apple ID {username} or its password (invalid email/password "
                                       "combination). Nothing was retried: repeated wrong passwords lock the Apple ID. "
                                       f"Correct the vaulted password, then run: {retry}")
    status = next(iter(sorted(statuses)), None)
    reason = next((str(getattr(item, "reason", "")) for item in chain if getattr(item, "reason", None)), "") or \
        type(exc).__name__
    reason = " ".join(reason.split())[:200]
    return ICloudError("apple", f"iCloud answered {username}'s request with an error ({reason}"
                                f"{f', HTTP {status}' if status else ''}). Nothing was retried; run {retry} later, "
                                "and if it repeats, check https://www.apple.com/support/systemstatus/")
