#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: icloud_session
short_description: Count down an Apple ID's iCloud session and re-authenticate it with 2FA before it expires
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads the session of one Apple ID in a cookie directory that icloudpd and pyicloud both use (icloudpd's
    C(<key>) cookie jar, pyicloud's C(<key>.cookiejar) and the C(<key>.session) JSON, where C(<key>) is the Apple ID
    without its non-word characters) and reports when Apple's trust ends, from the expiry of the
    C(X-APPLE-WEBAUTH-HSA-TRUST) cookie. Apple lets a session live about 30 days without a new two-factor code.
  - With O(state=present), re-authenticates when the session is missing, expired, unreadable or within
    O(threshold_days) of its end - in one process, because the two-factor challenge lives in pyicloud's memory -
    signing in with O(password), validating the code from O(code) or O(code_file), trusting the session and checking
    that the photo library is readable from the web (Advanced Data Protection or 'Access iCloud Data on the Web' off
    stop icloudpd). Only a session that passed every step replaces the files, each written atomically with mode
    0600 in a 0700 directory.
  - A run needs no network and finishes in well under a second when nothing is due. Nothing is ever retried; a
    wrong password, a wrong code, throttling or an unreachable iCloud fail at once with what to do next.
  - For a person at a terminal, C(playbooks/icloud_reauth.yml) runs this module in the background and prompts for
    the code, which it writes to O(code_file) while the module waits.
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  username:
    description: The Apple ID (an email address).
    type: str
    required: true
  password:
    description:
      - The Apple ID's password, from ansible-vault. Needed only when a sign-in is due.
      - Never logged, returned or written to disk.
    type: str
  cookie_directory:
    description:
      - The directory holding the session files, shared with icloudpd's C(--cookie-directory). Created with mode
        0700 when missing.
    type: path
    default: ~/.pyicloud
  state:
    description:
      - V(present) re-authenticates when the session is missing, expired, unreadable or ends within
        O(threshold_days), and makes the files' modes (and O(owner), O(group)) right.
      - V(checked) only reports the countdown; it never contacts Apple and changes nothing.
    type: str
    choices: [present, checked]
    default: present
  threshold_days:
    description: Re-authenticate (V(present)) and set RV(warn) when fewer whole days than this are left.
    type: int
    default: 7
  code:
    description:
      - A two-factor code the person already has, made on a trusted device (iPhone Settings > [your name] >
        Sign-In & Security > Two-Factor Authentication > Get Verification Code). Checked with Apple's trusted-device
        verifier. Such codes expire within minutes.
      - A code Apple sends after the sign-in has started can only come through O(code_file).
    type: str
  code_file:
    description:
      - A file the module waits for (up to O(code_timeout) seconds) after the sign-in has asked Apple to send a code;
        whoever receives the code writes its six digits there. A file present before the sign-in starts is removed
        as stale, and the file is removed once read.
    type: path
  code_timeout:
    description: Seconds to wait for O(code_file).
    type: int
    default: 300
  domain:
    description: V(cn) for an Apple ID whose country is China mainland (iCloud's C(.com.cn) hosts).
    type: str
    choices: [com, cn]
    default: com
  check_photos_access:
    description:
      - After signing in, ask iCloud whether the photo library is readable from the web, and fail with the settings
        to change when it is not (Advanced Data Protection on, or 'Access iCloud Data on the Web' off).
    type: bool
    default: true
  owner:
    description: The user that owns the cookie directory and the session files (the account icloudpd runs as).
    type: str
  group:
    description: The group of the cookie directory and the session files.
    type: str
  reauth_command:
    description:
      - The command a person runs to re-authenticate, named in every message that asks for it. By default
        C(ansible-playbook playbooks/icloud_reauth.yml -e icloud_username=<username>).
    type: str
attributes:
  check_mode:
    support: full
    details:
      - Reads the files and reports the countdown and whether a sign-in is due; contacts nobody and writes nothing.
  diff_mode:
    support: full
    details:
      - The session's status and trust end, before and after.
requirements:
  - pyicloud 2026.10.1 (timlaing/pyicloud, the PyPI name) where the task runs, only when a sign-in is due.
notes:
  - Apple cannot be reached from the tests; the sign-in is tested by answering pyicloud's HTTP requests in-process
    with answers written from Apple's documented shapes (SRP, SMS and trusted-device codes, trust, web access).
seealso:
  - name: icloudpd authentication
    description: How icloudpd keeps its session in the cookie directory.
    link: https://github.com/icloud-photos-downloader/icloud_photos_downloader/blob/master/docs/authentication.md
"""

EXAMPLES = r"""
- name: Show how many days the session of Parent A has left
  sovereign.cloud.icloud_session:
    username: parent.a@example.com
    cookie_directory: /var/lib/sovereign-cloud/icloudpd/cookies
    state: checked
  register: countdown

- name: Re-authenticate when fewer than 7 days are left, taking the code from a file
  sovereign.cloud.icloud_session:
    username: parent.a@example.com
    password: "{{ vault_icloud_passwords['parent.a@example.com'] }}"
    cookie_directory: /var/lib/sovereign-cloud/icloudpd/cookies
    code_file: /run/sovereign/icloud-code
    code_timeout: 600
    owner: sovereign
    group: sovereign
"""

RETURN = r"""
summary:
  description: One line with the countdown and what was done.
  returned: always
  type: str
  sample: "parent.a@example.com: trusted; the trust ends 2026-12-30 09:00 UTC (28 days left)"
status:
  description: V(trusted), V(expiring) (within O(threshold_days)), V(expired), V(untrusted) (no trust cookie),
    V(missing) or V(unreadable); after a re-authentication, the new status.
  returned: always
  type: str
trusted:
  description: Whether the session lets icloudpd run without a new code now.
  returned: always
  type: bool
expires_at:
  description: When Apple's trust ends (UTC, ISO 8601), from the C(X-APPLE-WEBAUTH-HSA-TRUST) cookie.
  returned: always
  type: str
  sample: "2026-12-30T09:00:00Z"
days_left:
  description: Whole days until the trust ends (rounded down); 0 means less than a day, negative means it has ended.
  returned: always
  type: int
warn:
  description: Whether fewer than O(threshold_days) days are left (or there is no trusted session).
  returned: always
  type: bool
reauthenticated:
  description: Whether this run signed in again.
  returned: always
  type: bool
delivery:
  description: How Apple delivered the code of this run's sign-in (V(sms), V(trusted_device), V(unknown), V(none)).
  returned: always
  type: str
session_files:
  description: The files this run wrote (icloudpd's cookie jar, pyicloud's, the session JSON); empty when none.
  returned: always
  type: list
  elements: str
cookie_file:
  description: The cookie jar the countdown was read from.
  returned: always
  type: str
reauth_command:
  description: The command that re-authenticates this Apple ID.
  returned: always
  type: str
before:
  description: The session as found (C(status), C(trusted), C(expires_at), C(days_left), C(warn), C(cookie_file)).
  returned: always
  type: dict
fixed_permissions:
  description: Files and directories whose owner or mode this run fixed (or would fix, in check mode).
  returned: when the session needed no sign-in (O(state=present) with a trusted session; empty with O(state=checked))
  type: list
  elements: str
  sample: [/home/alice/.pyicloud/aliceexamplecom.session]
kind:
  description:
    - What went wrong, for a playbook to branch on; one of V(password), V(locked), V(throttled), V(adp), V(web_access),
      V(no_code), V(wrong_code), V(security_key), V(legacy_2sa), V(unreachable), V(terms), V(not_set_up), V(session),
      V(missing_library), V(apple).
  returned: on failure
  type: str
  sample: wrong_code
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import session
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "cookie_directory": {"type": "path", "default": "~/.pyicloud"},
            "state": {"type": "str", "choices": ["present", "checked"], "default": "present"},
            "threshold_days": {"type": "int", "default": 7},
            "code": {"type": "str", "no_log": True},
            "code_file": {"type": "path"},
            "code_timeout": {"type": "int", "default": 300},
            "domain": {"type": "str", "choices": ["com", "cn"], "default": "com"},
            "check_photos_access": {"type": "bool", "default": True},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "reauth_command": {"type": "str"},
        },
        supports_check_mode=True,
    )
    try:
        result = session.run(module.params, check_mode=module.check_mode)
    except ICloudError as exc:
        module.fail_json(msg=str(exc), kind=exc.kind, reauth_command=session.reauth_command(module.params))
    except OSError as exc:
        module.fail_json(msg=f"cannot use the cookie directory {module.params['cookie_directory']}: {exc}")
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
