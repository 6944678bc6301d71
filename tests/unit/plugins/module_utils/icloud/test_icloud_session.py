"""icloud_session: the countdown from real LWP cookie jars, and re-authentication through pyicloud
with its HTTP requests answered in-process (tests/support/apple.py)."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import os
import stat
import threading
import time

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import session, session_files
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError
from ansible_collections.sovereign.cloud.plugins.modules import icloud_session
from support.ansible_module import run_adhoc, run_module
from support.apple import Account, AppleAnswers, write_session

USER = "parent.a@example.com"
KEY = "parentaexamplecom"
PASSWORD = "correct horse battery"


def params(directory, **extra) -> dict:
    base = {"username": USER, "password": PASSWORD, "cookie_directory": str(directory), "state": "present",
            "threshold_days": 7, "code": None, "code_file": None, "code_timeout": 5, "domain": "com",
            "check_photos_access": True, "owner": None, "group": None, "reauth_command": None}
    base.update(extra)
    return base


class Clock:
    """monotonic/sleep for the code wait: sleeping advances time, nothing really waits."""

    def __init__(self) -> None:
        self.t = 0.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def waiting(answers) -> session.Hooks:
    """Hooks for a run that really waits for a code file another thread writes (short polls)."""
    return session.Hooks(transport=answers, sleep=lambda _s: time.sleep(0.02))


def snapshot(directory) -> dict:
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


def deliver_code(path, code: str, after: float = 0.2) -> threading.Thread:
    """Write the code as the playbook's prompt does, while the module waits for it."""
    def write() -> None:
        time.sleep(after)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(code + "\n")
        os.replace(tmp, path)
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------------------------------------
# The countdown, from cookie jars written with http.cookiejar.LWPCookieJar


@pytest.mark.parametrize("days, threshold, status, warn", [
    (30, 7, "trusted", False),
    (3.5, 7, "expiring", True),
    (7.5, 7, "trusted", False),
    (0.2, 7, "expiring", True),
    (-2, 7, "expired", True),
])
def test_countdown_reads_the_trust_cookie(tmp_path, days, threshold, status, warn):
    now = float(int(time.time()))  # LWP jars hold whole seconds
    write_session(tmp_path, USER, days, now=now)
    state = session_files.read_state(str(tmp_path), USER, threshold, dt.datetime.fromtimestamp(now, dt.timezone.utc))
    assert (state.status, state.warn) == (status, warn)
    assert state.days_left == days * 86400 // 86400
    assert state.trusted == (days > 0)
    expected = dt.datetime.fromtimestamp(int(now + days * 86400), dt.timezone.utc)
    assert state.expires_at == expected


def test_countdown_without_trust_cookie_corrupt_or_missing(tmp_path):
    write_session(tmp_path / "no-trust", USER, trust_cookie=False)
    write_session(tmp_path / "corrupt", USER, corrupt=True)
    write_session(tmp_path / "no-session-file", USER, 30, session_file=False)
    states = {name: session_files.read_state(str(tmp_path / name), USER, 7)
              for name in ("no-trust", "corrupt", "no-session-file", "absent")}
    assert states["no-trust"].status == "untrusted"
    assert states["corrupt"].status == "unreadable"
    assert "not a cookie jar" in states["corrupt"].problem
    assert states["no-session-file"].status == "missing"
    assert states["absent"].status == "missing"
    assert all(not s.trusted and s.warn for s in states.values())


def test_countdown_reads_pyiclouds_jar_and_suffixed_trust_cookie(tmp_path):
    write_session(tmp_path, USER, 20, name=f"{KEY}.cookiejar", trust_name="X-APPLE-WEBAUTH-HSA-TRUST-3f2a")
    state = session_files.read_state(str(tmp_path), USER, 7)
    assert state.status == "trusted"
    assert state.cookie_file == str(tmp_path / f"{KEY}.cookiejar")
    assert state.days_left == 19


def test_account_key_is_icloudpds_file_name():
    assert session_files.account_key("parent.a@example.com") == KEY
    assert session_files.account_key("child-b+photos@example.com") == "childbphotosexamplecom"


# ------------------------------------------------------------------------------------------------
# The module: countdown, check mode, modes on disk


def test_checked_reports_countdown_and_command_without_changing_anything(tmp_path):
    write_session(tmp_path, USER, 3)
    before = snapshot(tmp_path)
    result = run_module(icloud_session, {"username": USER, "cookie_directory": str(tmp_path), "state": "checked"})
    assert not result["changed"] and not result.get("failed")
    assert result["warn"] and result["trusted"] and result["status"] == "expiring"
    assert result["days_left"] == 2
    assert "re-authenticate: ansible-playbook playbooks/icloud_reauth.yml" in result["summary"]
    assert snapshot(tmp_path) == before


def test_check_mode_says_it_would_reauthenticate_and_asks_nobody(tmp_path):
    write_session(tmp_path, USER, -1)
    before = snapshot(tmp_path)
    answers = AppleAnswers(Account())
    result = session.run(params(tmp_path), check_mode=True, hooks=session.Hooks(transport=answers))
    assert result["changed"] and not result["reauthenticated"]
    assert "would re-authenticate" in result["summary"]
    assert answers.calls == []
    assert snapshot(tmp_path) == before


def test_present_with_a_trusted_session_fixes_modes_then_changes_nothing(tmp_path):
    paths = write_session(tmp_path, USER, 25)
    os.chmod(paths["session"], 0o644)
    os.chmod(tmp_path, 0o755)
    first = run_module(icloud_session, {"username": USER, "cookie_directory": str(tmp_path)})
    assert first["changed"] and first["fixed_permissions"] == sorted([str(tmp_path), paths["session"]])
    assert stat.S_IMODE(os.stat(paths["session"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700
    second = run_module(icloud_session, {"username": USER, "cookie_directory": str(tmp_path)})
    assert not second["changed"] and second["status"] == "trusted"


def test_module_never_returns_the_password_or_code(tmp_path):
    write_session(tmp_path, USER, 25)
    result = run_module(icloud_session, {"username": USER, "password": PASSWORD, "code": "111222",
                                         "cookie_directory": str(tmp_path)})
    text = json.dumps(result)
    assert PASSWORD not in text and "111222" not in text


def test_module_through_ansible_reports_the_countdown(tmp_path):
    write_session(tmp_path, USER, 10)
    result = run_adhoc("icloud_session", {"username": USER, "cookie_directory": str(tmp_path), "state": "checked"})
    assert result["status"] == "trusted" and result["days_left"] == 9 and not result["changed"]


# ------------------------------------------------------------------------------------------------
# Re-authentication


def assert_published(directory) -> dict:
    paths = session_files.session_paths(str(directory), USER)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for path in paths.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    with open(paths["icloudpd_jar"], "rb") as a, open(paths["pyicloud_jar"], "rb") as b:
        assert a.read() == b.read()
    jar = http.cookiejar.LWPCookieJar(paths["icloudpd_jar"])
    jar.load(ignore_discard=True, ignore_expires=True)  # what icloudpd does with it
    names = {cookie.name for cookie in jar}
    assert {"X-APPLE-WEBAUTH-TOKEN", "X-APPLE-WEBAUTH-HSA-TRUST"} <= names
    data = json.loads(open(paths["session"], encoding="utf-8").read())
    assert data["session_token"] and data["trust_token"] and data["client_id"]
    leftovers = [n for n in os.listdir(directory) if n.startswith(".")]
    assert leftovers == []
    for path in paths.values():
        assert PASSWORD.encode() not in open(path, "rb").read()
    return data


def test_reauthentication_with_an_sms_code_from_the_code_file(tmp_path):
    cookies = tmp_path / "cookies"
    write_session(cookies, USER, 2)
    account = Account(two_factor="sms")
    answers = AppleAnswers(account)
    code_file = tmp_path / "code"
    code_file.write_text("999999")  # written before the sign-in: stale, must not be used
    writer = deliver_code(code_file, account.code, after=0.3)
    result = session.run(params(cookies, code_file=str(code_file)), hooks=waiting(answers))
    writer.join()
    assert result["changed"] and result["reauthenticated"] and result["delivery"] == "sms"
    assert result["status"] == "trusted" and result["days_left"] == 29 and not result["warn"]
    assert result["before"]["status"] == "expiring"
    assert sorted(result["session_files"]) == sorted(session_files.session_paths(str(cookies), USER).values())
    data = assert_published(cookies)
    assert data["client_id"] == "auth-4b3c1e6e-0000-11ef-8000-000000000000"  # the same "browser" as before
    assert not code_file.exists()
    assert answers.codes_checked == 1
    # The next run has nothing to do.
    again = session.run(params(cookies, code_file=str(code_file)), hooks=session.Hooks(transport=answers))
    assert not again["changed"] and again["status"] == "trusted"


def test_reauthentication_with_a_trusted_device_code_from_the_code_option(tmp_path):
    account = Account(two_factor="trusted_device")
    answers = AppleAnswers(account)
    result = session.run(params(tmp_path, code=account.device_code), hooks=session.Hooks(transport=answers))
    assert result["reauthenticated"] and result["trusted"]
    assert ("POST", "https://idmsa.apple.com/appleauth/auth/verify/trusteddevice/securitycode") in answers.calls
    assert_published(tmp_path)


def test_a_code_made_in_settings_works_when_no_sms_arrived(tmp_path):
    """The reference's workaround: Settings > Get Verification Code, written into the code file."""
    account = Account(two_factor="sms")
    answers = AppleAnswers(account)
    code_file = tmp_path / "code"
    deliver_code(code_file, account.device_code)
    result = session.run(params(tmp_path / "c", code_file=str(code_file)), hooks=waiting(answers))
    assert result["trusted"] and answers.codes_checked == 2


@pytest.mark.parametrize("account, kind, words", [
    (Account(password="another password"), "password", "Correct the vaulted password"),
    (Account(throttle=True), "throttled", "Wait at least an hour"),
    (Account(locked=True), "locked", "iforgot.apple.com"),
    (Account(two_factor="security_key"), "security_key", "hardware security key"),
])
def test_sign_in_failures_are_clear_never_retried_and_leave_the_old_session(tmp_path, account, kind, words):
    write_session(tmp_path, USER, 2)
    before = snapshot(tmp_path)
    answers = AppleAnswers(account)
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, code="123456"), hooks=session.Hooks(transport=answers))
    assert caught.value.kind == kind
    assert words in str(caught.value)
    assert "ansible-playbook playbooks/icloud_reauth.yml -e icloud_username=parent.a@example.com" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    sign_ins = [c for c in answers.calls if c[1].endswith(("/signin/init", "/signin/complete"))]
    assert len([c for c in sign_ins if c[1].endswith("/signin/init")]) == 1
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("account, kind, words", [
    (Account(adp=True), "adp", "Advanced Data Protection"),
    (Account(web_access=False), "web_access", "Access iCloud Data on the Web"),
])
def test_photo_access_problems_are_named_with_the_settings_to_change(tmp_path, account, kind, words):
    write_session(tmp_path, USER, 2)
    before = snapshot(tmp_path)
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, code=account.device_code), hooks=session.Hooks(transport=AppleAnswers(account)))
    assert caught.value.kind == kind and words in str(caught.value)
    assert snapshot(tmp_path) == before


def test_no_code_arrives(tmp_path):
    clock = Clock()
    answers = AppleAnswers(Account(two_factor="sms"))
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, code_file=str(tmp_path / "code"), code_timeout=120),
                    hooks=session.Hooks(transport=answers, sleep=clock.sleep, monotonic=clock.monotonic))
    message = str(caught.value)
    assert caught.value.kind == "no_code"
    assert "within 120 s" in message and "Get Verification Code" in message and "by text message" in message
    assert 120 <= clock.t <= 122
    assert answers.codes_checked == 0


def test_a_wrong_code_is_refused_once(tmp_path):
    answers = AppleAnswers(Account(two_factor="trusted_device"))
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, code="000000"), hooks=session.Hooks(transport=answers))
    assert caught.value.kind == "wrong_code" and answers.codes_checked == 1


def test_a_code_file_without_six_digits_is_not_sent(tmp_path):
    answers = AppleAnswers(Account(two_factor="sms"))
    code_file = tmp_path / "code"
    deliver_code(code_file, "12 34")
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path / "c", code_file=str(code_file)), hooks=waiting(answers))
    assert caught.value.kind == "wrong_code" and answers.codes_checked == 0


@pytest.mark.parametrize("extra, kind", [({"password": None}, "password"), ({}, "no_code")])
def test_missing_password_or_code_source_fails_before_asking_apple(tmp_path, extra, kind):
    answers = AppleAnswers(Account())
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, **extra), hooks=session.Hooks(transport=answers))
    assert caught.value.kind == kind and answers.calls == []


def test_apple_accepts_the_code_but_refuses_trust(tmp_path):
    write_session(tmp_path, USER, -3)
    before = snapshot(tmp_path)
    account = Account(two_factor="trusted_device", trust_works=False)
    with pytest.raises(ICloudError) as caught:
        session.run(params(tmp_path, code=account.code), hooks=session.Hooks(transport=AppleAnswers(account)))
    assert caught.value.kind == "session" and "would not trust" in str(caught.value)
    assert snapshot(tmp_path) == before


def test_module_fails_with_kind_and_command(tmp_path):
    write_session(tmp_path, USER, -1)
    result = run_module(icloud_session, {"username": USER, "cookie_directory": str(tmp_path),
                                         "reauth_command": "ansible-playbook playbooks/icloud_reauth.yml -i home"})
    assert result["failed"] and result["kind"] == "password"
    assert "ansible-playbook playbooks/icloud_reauth.yml -i home" in result["msg"]
