# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine of ``icloud_session``: read the countdown, and re-authenticate when it runs out.

Re-authentication happens in ONE process, because pyicloud keeps the state of a 2FA challenge
(the trusted-device bridge, the SMS route) in memory only (reference icloud-immich.md section 3.2):
sign in with the password (SRP), let pyicloud ask Apple to deliver a code, take the code from the
``code`` option, or wait for it to appear in ``code_file`` (the playbook's prompt writes it
there), validate it, trust the session, check that the photo library is readable from the web
(Advanced Data Protection and "Access iCloud Data on the Web" otherwise stop icloudpd), then
publish the files.

pyicloud works in a private temporary directory inside the cookie directory: it rewrites its
files after every request, non-atomically, and a failed sign-in must never damage the session
icloudpd still uses. Only a session that passed every step is published, each file written
atomically with mode 0600 (``common.atomic``). Nothing is retried: a retry after a refusal is
what turns Apple's throttling into a lock-out.
"""

from __future__ import annotations

import datetime as _dt
import grp
import os
import pwd
import re
import shutil
import stat
import tempfile
import time

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import client, session_files
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError

DEFAULT_REAUTH_COMMAND = "ansible-playbook playbooks/icloud_reauth.yml"
CODE_POLL_S = 1.0
_CODE = re.compile(r"^\d{6}$")
DELIVERY_TEXT = {"sms": "by text message", "trusted_device": "as a prompt on your Apple devices",
                 "unknown": "to your trusted devices", "none": "not needed"}


class Hooks:
    """What tests replace: the clock, sleeping, and pyicloud's HTTP transport."""

    def __init__(self, now=None, sleep=None, monotonic=None, transport=None) -> None:
        self.now = now or (lambda: _dt.datetime.now(_dt.timezone.utc))
        self.sleep = sleep or time.sleep
        self.monotonic = monotonic or time.monotonic
        self.transport = transport


def reauth_command(params: dict) -> str:
    return params.get("reauth_command") or f"{DEFAULT_REAUTH_COMMAND} -e icloud_username={params['username']}"


def run(params: dict, check_mode: bool = False, hooks: Hooks | None = None) -> dict:
    """Check (``state: checked``) or ensure (``state: present``) the session; the module's result."""
    hooks = hooks or Hooks()
    directory = os.path.abspath(os.path.expanduser(params["cookie_directory"]))
    params = dict(params, cookie_directory=directory)
    before = session_files.read_state(directory, params["username"], params["threshold_days"], hooks.now())
    result = {"changed": False, "reauthenticated": False, "session_files": [], "delivery": None,
              "reauth_command": reauth_command(params), "before": before.as_dict()}
    if params["state"] == "checked" or not before.needs_reauth:
        fixed = [] if params["state"] == "checked" else secure_files(params, check_mode)
        result.update(before.as_dict(), changed=bool(fixed), fixed_permissions=fixed,
                      summary=_countdown_summary(params, before))
        if fixed:
            result["summary"] += f"; {'would fix' if check_mode else 'fixed'} owner or mode of {len(fixed)} file(s)"
        return _with_diff(result, before, before)
    if check_mode:
        result.update(before.as_dict(), changed=True,
                      summary=f"{session_files.STATUS_TEXT[before.status]} for {params['username']}"
                              f"{_until(before)}: would re-authenticate")
        return _with_diff(result, before, None)
    delivery = reauthenticate(params, hooks)
    after = session_files.read_state(directory, params["username"], params["threshold_days"], hooks.now())
    paths = session_files.session_paths(directory, params["username"])
    result.update(after.as_dict(), changed=True, reauthenticated=True, delivery=delivery,
                  session_files=sorted(paths.values()),
                  summary=f"re-authenticated (code {DELIVERY_TEXT.get(delivery, delivery)}): "
                          f"{_countdown_summary(params, after)}")
    return _with_diff(result, before, after)


def _until(state) -> str:
    return f" (trust ends {session_files.iso(state.expires_at)})" if state.expires_at else ""


def _countdown_summary(params: dict, state) -> str:
    text = state.sentence(params["username"])
    if state.warn:
        text += f"; re-authenticate: {reauth_command(params)}"
    return text


def _with_diff(result: dict, before, after) -> dict:
    def view(state):
        return None if state is None else {"status": state.status, "expires_at": session_files.iso(state.expires_at)}
    result["diff"] = {"before": view(before), "after": view(after) if after is not None else {"status": "trusted"}}
    return result


# ------------------------------------------------------------------------------------------------
# Re-authentication


def reauthenticate(params: dict, hooks: Hooks) -> str:
    """Sign in, complete 2FA, trust the session, check photo access, publish the files.
    Returns how Apple delivered the code. Raises :class:`ICloudError`."""
    username, retry = params["username"], reauth_command(params)
    if not params.get("password"):
        raise ICloudError("password", f"{username} needs a new sign-in and no password was given: pass the vaulted "
                                      f"password, then run: {retry}")
    if not params.get("code") and not params.get("code_file"):
        # Checked before Apple is asked anything: a sign-in sends a code to the family's devices.
        raise ICloudError("no_code", f"{username} needs a new sign-in with a two-factor code, and neither code nor "
                                     f"code_file was given (the module cannot prompt): run {retry}, which asks for "
                                     "the code while the sign-in waits")
    directory = params["cookie_directory"]
    atomic.ensure_dir(directory, 0o700)
    if params.get("code_file"):
        atomic.unlink_quietly(params["code_file"])  # a code written before this sign-in is stale
    work = tempfile.mkdtemp(prefix=".sign-in-", dir=directory)
    try:
        _seed_client_id(directory, work, username)
        _service, exceptions = client.load_pyicloud()
        import requests  # pylint: disable=import-outside-toplevel
        try:
            api = client.open_service(username, params["password"], work, china=params.get("domain") == "cn",
                                      transport=hooks.transport)
            api.authenticate(force_refresh=True)
            delivery = _complete_two_factor(api, params, hooks)
            if not api.is_trusted_session:
                api.trust_session()
            if not api.is_trusted_session:
                raise _trust_refused(params)
            if params.get("check_photos_access", True):
                check_photos_access(api, params)
        except (exceptions.PyiCloudException, requests.RequestException) as exc:
            raise client.translate(exc, username, retry) from None
        publish(work, params)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return delivery


def _seed_client_id(directory: str, work: str, username: str) -> None:
    """Carry the old ``client_id`` over (Apple then sees the same browser again), but no token: a
    re-authentication asks for a fresh code, so the new trust runs its full length."""
    old = session_files.read_session(session_files.session_paths(directory, username)["session"])
    if old and isinstance(old.get("client_id"), str):
        atomic.write_json(session_files.session_paths(work, username)["session"], {"client_id": old["client_id"]},
                          mode=0o600)


def _complete_two_factor(api, params: dict, hooks: Hooks) -> str:
    username, retry = params["username"], reauth_command(params)
    if not api.requires_2fa:
        if api.requires_2sa:
            raise ICloudError("legacy_2sa", f"{username} still uses Apple's old two-step verification, which icloudpd "
                                            "no longer supports: turn on two-factor authentication for the Apple ID "
                                            f"(Settings > [your name] > Sign-In & Security), then run: {retry}")
        return "none"
    delivery = api.two_factor_delivery_method
    if delivery == "security_key":
        raise ICloudError("security_key", f"{username} signs in with a hardware security key (FIDO), which neither "
                                          "icloudpd nor a scheduled job can use: remove the security keys from the "
                                          f"Apple ID or use another Apple ID for the download, then run: {retry}")
    if params.get("code"):
        # A code the person already has was made on a trusted device: Apple's trusted-device check.
        api.use_existing_trusted_device_code()
        code = _clean_code(params["code"], "the code option", params)
    else:
        code = wait_for_code(params, delivery, hooks)
    if api.validate_2fa_code(code):
        return delivery
    _raise_if_trust_refused(api, params)
    if not params.get("code") and delivery in ("sms", "trusted_device"):
        # The code may have come from Settings > Get Verification Code (the workaround when
        # nothing arrives), which only Apple's trusted-device check accepts. One more check, once.
        api.use_existing_trusted_device_code()
        if api.validate_2fa_code(code):
            return "unknown"
        _raise_if_trust_refused(api, params)
    raise ICloudError("wrong_code", f"Apple rejected the two-factor code for {username}. Nothing was retried "
                                    f"(codes expire after a few minutes; wrong codes lead to a lock-out): run {retry} "
                                    "and enter the newest code")


def _raise_if_trust_refused(api, params: dict) -> None:
    """pyicloud reports a refused trust like a wrong code; but it only signs in with the session
    token (which fills ``api.data``) after Apple took the code."""
    if api.data.get("dsInfo") and not api.is_trusted_session:
        raise _trust_refused(params)


def _trust_refused(params: dict) -> ICloudError:
    return ICloudError("session", f"Apple accepted the code for {params['username']} but would not trust this "
                                  f"session; nothing was changed. Run {reauth_command(params)} again in a few minutes")


def _clean_code(raw: str, where: str, params: dict) -> str:
    code = "".join(str(raw).split())
    if not _CODE.match(code):
        raise ICloudError("wrong_code", f"{where} does not hold a 6-digit code: nothing was sent to Apple. Run "
                                        f"{reauth_command(params)} and enter the six digits Apple shows")
    return code


def wait_for_code(params: dict, delivery: str, hooks: Hooks) -> str:
    """The code from ``code_file``, waiting up to ``code_timeout`` seconds for it to appear; the
    file is removed once read (a code is good for one sign-in)."""
    path, timeout = params["code_file"], params["code_timeout"]
    deadline = hooks.monotonic() + timeout
    while True:
        try:
            with open(path, encoding="utf-8") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raw = ""
        if raw.strip():
            atomic.unlink_quietly(path)
            return _clean_code(raw, f"the code file {path}", params)
        if hooks.monotonic() >= deadline:
            raise ICloudError(
                "no_code", f"no two-factor code arrived in {path} within {timeout} s (Apple was asked to send it "
                           f"{DELIVERY_TEXT.get(delivery, delivery)}). {client.NO_CODE_HELP}. Then run "
                           f"{reauth_command(params)} again and enter that code when asked")
        hooks.sleep(CODE_POLL_S)


def check_photos_access(api, params: dict) -> None:
    """Fail clearly when icloudpd could not read the photo library: Advanced Data Protection on
    (``isICDRSDisabled``), or web access off (the library answers ACCESS_DENIED)."""
    username = params["username"]
    setup = client.SETUP_HOSTS["cn" if params.get("domain") == "cn" else "com"]
    state = api.session.post(f"{setup}/requestWebAccessState", params=api.params).json()
    if isinstance(state, dict) and state.get("isICDRSDisabled"):
        raise ICloudError("adp", f"Advanced Data Protection is on for {username}, so iCloud serves its photos only to "
                                 f"Apple devices: {client.ADP_HELP}; then run: {reauth_command(params)}")
    api.photos  # pylint: disable=pointless-statement  # opens the library: ACCESS_DENIED when web access is off


def publish(work: str, params: dict) -> list[str]:
    """Write the signed-in session where icloudpd and pyicloud look for it, each file atomically
    with mode 0600: icloudpd's ``<key>``, pyicloud's ``<key>.cookiejar`` (the same jar) and
    ``<key>.session``."""
    username = params["username"]
    source = session_files.session_paths(work, username)
    target = session_files.session_paths(params["cookie_directory"], username)
    try:
        with open(source["pyicloud_jar"], "rb") as handle:
            jar = handle.read()
        with open(source["session"], "rb") as handle:
            session_json = handle.read()
        session_files.load_jar(source["pyicloud_jar"])
    except OSError as exc:
        raise ICloudError("session", f"the sign-in of {username} left no usable session files ({exc}); nothing was "
                                     f"changed. Run {reauth_command(params)} again") from None
    uid, gid = owner_ids(params)
    written = []
    for key, data in (("session", session_json), ("pyicloud_jar", jar), ("icloudpd_jar", jar)):
        atomic.replace_bytes(target[key], data, mode=0o600, sync_dir=False)
        if uid != -1 or gid != -1:
            os.chown(target[key], uid, gid)
        written.append(target[key])
    atomic.fsync_dir(params["cookie_directory"])
    secure_files(params, check_mode=False)
    return written


def owner_ids(params: dict) -> tuple[int, int]:
    """The uid and gid for ``owner`` and ``group`` (-1 = leave as is)."""
    uid = gid = -1
    try:
        if params.get("owner"):
            uid = pwd.getpwnam(params["owner"]).pw_uid
        if params.get("group"):
            gid = grp.getgrnam(params["group"]).gr_gid
    except KeyError as exc:
        raise ICloudError("session", f"unknown owner or group for the cookie directory: {exc}") from None
    return uid, gid


def secure_files(params: dict, check_mode: bool) -> list[str]:
    """Make the cookie directory 0700 and the session files 0600 (and owned by ``owner``/``group``);
    the paths that were (or would be) fixed."""
    directory = params["cookie_directory"]
    uid, gid = owner_ids(params)
    fixed = []
    files = session_files.session_paths(directory, params["username"]).values()
    candidates = [(directory, 0o700)] + [(path, 0o600) for path in files]
    for path, mode in candidates:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        wrong_owner = (uid != -1 and info.st_uid != uid) or (gid != -1 and info.st_gid != gid)
        if stat.S_IMODE(info.st_mode) == mode and not wrong_owner:
            continue
        fixed.append(path)
        if not check_mode:
            os.chmod(path, mode)
            if wrong_owner:
                os.chown(path, uid, gid)
    return fixed
