#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_datastore
short_description: Manage a Proxmox Backup Server datastore and its garbage-collection schedule
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a datastore (C(/config/datastore)). Creation runs as a PBS worker task; the module waits for it.
  - O(gc_schedule) is the datastore's garbage-collection schedule (C(gc-schedule)); run GC now with M(sovereign.cloud.pbs_job_run).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  name:
    description: Datastore name.
    type: str
    required: true
    aliases: [store]
  path:
    description: Absolute path of the datastore directory on the PBS host. Required to create; cannot be changed later.
    type: str
  comment:
    description: Comment. V('') removes it.
    type: str
  gc_schedule:
    description: Garbage-collection schedule in PBS calendar-event form (V(daily), V(sat 03:00)). V('') removes it.
    type: str
  verify_new:
    description: Verify every new backup snapshot right after it is written.
    type: bool
  notify_user:
    description: User who gets the datastore's notifications (C(notify-user)). V('') removes it.
    type: str
  destroy_data:
    description: With O(state=absent), also delete the datastore's data on disk (C(destroy-data)). Off by default, so only the config goes.
    type: bool
    default: false
  task_timeout:
    description: Seconds to wait for the create/remove worker task.
    type: int
    default: 600
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
- name: Ensure the backup datastore exists and is garbage-collected every Saturday
  sovereign.cloud.pbs_datastore:
    api_host: pbs.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pbs_token_secret }}"
    fingerprint: "{{ vault_pbs_fingerprint }}"
    name: backups
    path: /mnt/datastore/backups
    gc_schedule: sat 03:00
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
    'name': {'type': 'str', 'required': True, 'aliases': ['store']},
    'path': {'type': 'str'},
    'comment': {'type': 'str'},
    'gc_schedule': {'type': 'str'},
    'verify_new': {'type': 'bool'},
    'notify_user': {'type': 'str'},
    'destroy_data': {'type': 'bool', 'default': False},
    'task_timeout': {'type': 'int', 'default': 600},
}

# module option -> PBS property
TO_API = {
    'path': 'path',
    'comment': 'comment',
    'gc_schedule': 'gc-schedule',
    'verify_new': 'verify-new',
    'notify_user': 'notify-user',
}

KIND = Kind("/config/datastore", "name", "datastore", create_only=("path",))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    run_config_module(module, KIND, 'name', TO_API, delete_params={"destroy-data": module.params["destroy_data"]})


if __name__ == "__main__":
    main()
