#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mac_keychain_password
short_description: Keep an internet password (an SMB server's, for example) in a macOS keychain
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or deletes an internet-password item (server, account, protocol) with macOS C(security).
  - Idempotent on the password itself - the stored password is read with C(security find-internet-password -w),
    compared in memory and dropped, so a password changed by hand is put back and an unchanged one reports
    C(changed=false). The password is never returned, logged or shown in a diff.
  - Run it as the user whose keychain it is (C(become_user)); without O(keychain), C(security) uses that user's
    default (login) keychain.
requirements:
  - macOS C(security). The keychain must be unlocked (a user's login keychain is while they are logged in);
    over ssh a locked keychain cannot ask and the module says so.
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  server:
    description: The server name, as clients connect to it (C(server-a.local)).
    type: str
    required: true
  account:
    description: The account name on that server.
    type: str
    required: true
  password:
    description:
      - The password to keep. Required when O(state=present).
      - Keep it in ansible-vault.
    type: str
  protocol:
    description: The protocol of the item (C(security)'s four-character code is derived from it, V(smb) is C(smb )).
    type: str
    choices: [smb, afp, http, https, ftp, ssh]
    default: smb
  label:
    description: The item's label (C(security -l)); unset, C(security) labels it with the server name.
    type: str
  keychain:
    description: The keychain file; unset, the default keychain of the user the module runs as.
    type: path
  trusted_applications:
    description:
      - Applications that may read the password without asking (C(security -T)), applied when the item is
        added or updated.
    type: list
    elements: path
    default: []
  state:
    description: Whether the item should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff says whether the stored password C(matches) or C(differs), never the password.
notes:
  - C(security add-internet-password) takes the password on its command line, so it is visible in the process
    list for the instant the command runs.
"""

EXAMPLES = r"""
- name: Keep the RAID share's password in Dad's login keychain
  sovereign.cloud.mac_keychain_password:
    server: server-a.local
    account: backup
    password: "{{ vault_raid_smb_password }}"
    label: Pegasus RAID
  become: true
  become_user: dad
"""

RETURN = r"""
item:
  description: The item after the run, without its password (C(password) says C(matches)).
  returned: success
  type: dict
  sample: {state: present, server: server-a.local, account: backup, protocol: smb, label: Pegasus RAID,
           password: matches}
summary:
  description: One line saying what happened.
  returned: always
  type: str
  sample: "Keychain item backup@server-a.local (smb): password updated"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.keychain import Keychain, KeychainError, ensure


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "server": {"type": "str", "required": True},
            "account": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "protocol": {"type": "str", "choices": ["smb", "afp", "http", "https", "ftp", "ssh"], "default": "smb"},
            "label": {"type": "str"},
            "keychain": {"type": "path", "no_log": False},
            "trusted_applications": {"type": "list", "elements": "path", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["password"])],
        supports_check_mode=True,
    )
    params = module.params
    what = f"{params['account']}@{params['server']} ({params['protocol']})"
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C"}
    binary = module.get_bin_path("security")
    if not binary:
        module.fail_json(msg="security was not found on the target: this module manages macOS hosts only.",
                         summary=f"Keychain item {what}: security not found")
    try:
        result = ensure(Keychain(module.run_command, binary, params["keychain"]), params["server"],
                        params["account"], params["protocol"], params["password"], params["label"], params["state"],
                        module.check_mode, params["trusted_applications"])
    except KeychainError as exc:
        module.fail_json(msg=str(exc), summary=f"Keychain item {what}: failed: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
