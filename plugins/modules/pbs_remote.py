#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_remote
short_description: Manage a Proxmox Backup Server remote (another PBS to sync with)
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a remote (C(/config/remote)) that sync jobs pull from or push to.
  - PBS never returns a remote's password (the other PBS's token secret), so it cannot be compared.
    It is sent on creation, and afterwards only with O(update_password=always).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  name:
    description: Remote name.
    type: str
    required: true
  host:
    description: Host name or address of the other PBS. Required to create.
    type: str
  port:
    description: API port of the other PBS (PBS's default is 8007).
    type: int
  auth_id:
    description: User or token id used on the other PBS (C(auth-id)), for example V(sync@pbs!pull). Required to create.
    type: str
  password:
    description: Password or token secret for O(auth_id). Required to create.
    type: str
  update_password:
    description: V(on_create) sends O(password) only when the remote is created; V(always) sends it on every run
      (reported as a change, since PBS cannot say whether it differs).
    type: str
    choices: [always, on_create]
    default: on_create
  remote_fingerprint:
    description: SHA-256 fingerprint of the other PBS's certificate (the remote's C(fingerprint) property). V('') removes it.
    type: str
  comment:
    description: Comment. V('') removes it.
    type: str
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
"""

EXAMPLES = r"""
- name: Ensure the primary PBS is a remote of the offsite one
  sovereign.cloud.pbs_remote:
    api_host: pbs-offsite.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_offsite_token_secret }}"
    fingerprint: "{{ vault_offsite_fingerprint }}"
    name: primary
    host: pbs.example.com
    auth_id: sync@pbs!pull
    password: "{{ vault_primary_sync_token_secret }}"
    remote_fingerprint: "{{ vault_pbs_fingerprint }}"
"""

RETURN = r"""
item:
  description: The item as PBS holds it after the run (in check mode, as it would be). Secrets are never included.
  returned: always
  type: dict
created:
  description: Whether the item was (or would be) created.
  returned: when created
  type: bool
request:
  description: The write the module sent (or would send) to PBS, with secrets masked.
  returned: when changed and state is present
  type: dict
kind:
  description: >-
    Why the call failed: V(auth), V(fingerprint), V(unreachable), V(not_found), V(digest) (the configuration
    changed under the task) or V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.config import Kind
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.module import argument_spec, run_config_module

OPTIONS = {
    'name': {'type': 'str', 'required': True},
    'host': {'type': 'str'},
    'port': {'type': 'int'},
    'auth_id': {'type': 'str'},
    'password': {'type': 'str', 'no_log': True},
    'update_password': {'type': 'str', 'choices': ['always', 'on_create'], 'default': 'on_create'},
    'remote_fingerprint': {'type': 'str'},
    'comment': {'type': 'str'},
}

# module option -> PBS property
TO_API = {
    'host': 'host',
    'port': 'port',
    'auth_id': 'auth-id',
    'password': 'password',
    'remote_fingerprint': 'fingerprint',
    'comment': 'comment',
}

KIND = Kind("/config/remote", "name", "remote", write_only=("password",))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    run_config_module(module, KIND, 'name', TO_API, write_secret=module.params["update_password"] == "always")


if __name__ == "__main__":
    main()
