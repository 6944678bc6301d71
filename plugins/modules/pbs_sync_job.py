#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_sync_job
short_description: Manage a Proxmox Backup Server sync job (pull from or push to a remote)
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a sync job (C(/config/sync)).
  - O(direction=push) needs PBS 3.3 or later; PBS 3.2 rejects the C(sync-direction) property, so it is only sent when set.
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
    description: Local datastore (the target of a pull, the source of a push). Required to create.
    type: str
  remote:
    description: Remote name (M(sovereign.cloud.pbs_remote)). Required for push; without it a pull syncs between local datastores.
    type: str
  remote_store:
    description: Datastore on the remote (C(remote-store)). Required to create.
    type: str
  direction:
    description: V(pull) or V(push) (C(sync-direction), PBS 3.3+).
    type: str
    choices: [pull, push]
  ns:
    description: Local namespace. V('') removes it.
    type: str
  remote_ns:
    description: Remote namespace (C(remote-ns)). V('') removes it.
    type: str
  max_depth:
    description: How many namespace levels below O(ns) to sync (C(max-depth), 0-7).
    type: int
  owner:
    description: Owner of synced groups on the target (C(owner)). V('') removes it.
    type: str
  schedule:
    description: Calendar event (V(hourly), V(03:30)). V('') removes it (the job then runs only by hand).
    type: str
  remove_vanished:
    description: Delete local groups and snapshots that no longer exist on the source (C(remove-vanished)).
    type: bool
  transfer_last:
    description: Only sync the newest N snapshots of each group (C(transfer-last)).
    type: int
  group_filter:
    description: Group filters (C(group-filter)), for example V(type:ct) or V(regex:^vm/1).
    type: list
    elements: str
  rate_in:
    description: Inbound rate limit (C(rate-in)), for example V(10MiB). V('') removes it.
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
- name: Ensure the offsite PBS pulls everything from the primary every night
  sovereign.cloud.pbs_sync_job:
    api_host: pbs-offsite.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_offsite_token_secret }}"
    fingerprint: "{{ vault_offsite_fingerprint }}"
    id: pull-primary
    store: offsite
    remote: primary
    remote_store: backups
    schedule: "04:00"
    remove_vanished: false
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
    'remote': {'type': 'str'},
    'remote_store': {'type': 'str'},
    'direction': {'type': 'str', 'choices': ['pull', 'push']},
    'ns': {'type': 'str'},
    'remote_ns': {'type': 'str'},
    'max_depth': {'type': 'int'},
    'owner': {'type': 'str'},
    'schedule': {'type': 'str'},
    'remove_vanished': {'type': 'bool'},
    'transfer_last': {'type': 'int'},
    'group_filter': {'type': 'list', 'elements': 'str'},
    'rate_in': {'type': 'str'},
    'comment': {'type': 'str'},
}

# module option -> PBS property
TO_API = {
    'store': 'store',
    'remote': 'remote',
    'remote_store': 'remote-store',
    'direction': 'sync-direction',
    'ns': 'ns',
    'remote_ns': 'remote-ns',
    'max_depth': 'max-depth',
    'owner': 'owner',
    'schedule': 'schedule',
    'remove_vanished': 'remove-vanished',
    'transfer_last': 'transfer-last',
    'group_filter': 'group-filter',
    'rate_in': 'rate-in',
    'comment': 'comment',
}

KIND = Kind("/config/sync", "id", "sync job", defaults={"remove-vanished": False, "sync-direction": "pull"})


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    run_config_module(module, KIND, 'id', TO_API)


if __name__ == "__main__":
    main()
