#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_verify_job
short_description: Manage a Proxmox Backup Server verify job
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a verification job (C(/config/verify)).
  - Run it now with M(sovereign.cloud.pbs_job_run).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  id:
    description: Job id.
    type: str
    required: true
  store:
    description: Datastore to verify. Required to create.
    type: str
  schedule:
    description: Calendar event (V(daily), V(sun 05:00)). V('') removes it.
    type: str
  ignore_verified:
    description: Skip snapshots verified recently (C(ignore-verified); PBS's default is true).
    type: bool
  outdated_after:
    description: Days after which a verified snapshot is verified again (C(outdated-after)).
    type: int
  ns:
    description: Namespace. V('') removes it.
    type: str
  max_depth:
    description: Namespace levels below O(ns) (C(max-depth), 0-7).
    type: int
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
- name: Ensure every snapshot is re-verified after 30 days
  sovereign.cloud.pbs_verify_job:
    api_host: pbs.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pbs_token_secret }}"
    fingerprint: "{{ vault_pbs_fingerprint }}"
    id: verify-weekly
    store: backups
    schedule: sun 05:00
    outdated_after: 30
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
    'id': {'type': 'str', 'required': True},
    'store': {'type': 'str'},
    'schedule': {'type': 'str'},
    'ignore_verified': {'type': 'bool'},
    'outdated_after': {'type': 'int'},
    'ns': {'type': 'str'},
    'max_depth': {'type': 'int'},
    'comment': {'type': 'str'},
}

# module option -> PBS property
TO_API = {
    'store': 'store',
    'schedule': 'schedule',
    'ignore_verified': 'ignore-verified',
    'outdated_after': 'outdated-after',
    'ns': 'ns',
    'max_depth': 'max-depth',
    'comment': 'comment',
}

KIND = Kind("/config/verify", "id", "verify job", defaults={"ignore-verified": True, "max-depth": 7})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    run_config_module(module, KIND, 'id', TO_API)


if __name__ == "__main__":
    main()
