#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: samba_user
short_description: Manage a user in Samba's password database, idempotently
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Adds, enables, disables or removes a user in Samba's local password database (passdb) and sets its password.
  - Password drift is detected exactly and without keeping a copy of the secret on the host. Samba cannot show a
    password, but C(pdbedit -L -w) prints the NT hash it stores (MD4 of the UTF-16LE password, unsalted). The module
    hashes O(password) the same way and compares, so a password changed by hand is put back, a changed O(password)
    is applied, and an unchanged one reports C(changed=false).
  - The stored hash and the password are never returned or logged.
  - The Unix account must already exist (C(smbpasswd -a) requires one).
requirements:
  - Samba's C(pdbedit) and C(smbpasswd) on the target (Debian packages C(samba) and C(samba-common-bin)).
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  name:
    description: Name of the Samba user, which is also the name of its Unix account.
    type: str
    required: true
  password:
    description:
      - The password to set. Required when O(state=present).
      - Keep it in ansible-vault.
    type: str
  state:
    description: Whether the user should exist in the password database.
    type: str
    choices: [present, absent]
    default: present
  enabled:
    description: Whether the account is enabled (C(smbpasswd -e)) or disabled (C(smbpasswd -d)).
    type: bool
    default: true
  update_password:
    description:
      - V(always) puts O(password) back whenever the stored password differs from it.
      - V(on_create) sets the password only when the user is added.
    type: str
    choices: [always, on_create]
    default: always
attributes:
  check_mode:
    support: full
    details:
      - On a host where Samba is not installed yet, check mode reports the user as one that would be added.
  diff_mode:
    support: full
    details:
      - The diff says whether the stored password C(matches) or C(differs), never the password or its hash.
notes:
  - Only local passdb back ends (C(tdbsam), the default, and C(smbpasswd)) are supported; an LDAP back end is
    managed elsewhere.
"""

EXAMPLES = r"""
- name: Ensure the backup user can log in to Samba with the vaulted password
  sovereign.cloud.samba_user:
    name: vaultbackup
    password: "{{ vault_smb_backup_password }}"
  no_log: true

- name: Ensure the old account cannot log in
  sovereign.cloud.samba_user:
    name: olduser
    state: absent
"""

RETURN = r"""
actions:
  description: What was done (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [add]
summary:
  description: One line saying what happened.
  returned: always
  type: str
  sample: "Samba user vaultbackup: password updated"
"""

import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.samba import Passdb, SambaError, ensure_user


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "password": {"type": "str", "no_log": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "enabled": {"type": "bool", "default": True},
            "update_password": {"type": "str", "choices": ["always", "on_create"], "default": "always",
                                "no_log": False},
        },
        required_if=[("state", "present", ["password"])],
        supports_check_mode=True,
    )
    params = module.params
    name = params["name"]
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C"}
    pdbedit = module.get_bin_path("pdbedit")
    smbpasswd = module.get_bin_path("smbpasswd")
    installed = bool(pdbedit and smbpasswd)
    if not installed and not module.check_mode:
        module.fail_json(msg="Samba's pdbedit/smbpasswd were not found on the target: install the samba package "
                             "first (the sovereign.cloud.smb_share role does).")
    if params["state"] == "present" and not module.check_mode:
        try:
            pwd.getpwnam(name)
        except KeyError:
            module.fail_json(msg=f"Unix account {name!r} does not exist, and smbpasswd -a needs one: create it first "
                                 "(ansible.builtin.user, shell /usr/sbin/nologin).")
    passdb = Passdb(module.run_command, pdbedit or "pdbedit", smbpasswd or "smbpasswd")
    try:
        result = ensure_user(passdb, name, params["state"], params["password"], params["enabled"],
                             params["update_password"], module.check_mode, lookup=installed)
    except SambaError as exc:
        module.fail_json(msg=str(exc))
    if not installed:
        result["summary"] += " (Samba is not installed yet)"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
