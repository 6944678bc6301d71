#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_prune_job
short_description: Manage a Proxmox Backup Server prune job (retention)
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a prune job (C(/config/prune)).
  - The C(keep_*) options are one retention policy. When any is set, the ones not set
    are removed from the job (PBS's C(delete) list), so an old O(keep_last) does not linger.
  - PBS needs a schedule and C(keep-*) values of at least 1.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  id:
    description: Job id.
    type: str
    required: true
  store:
    description: Datastore to prune. Required to create.
    type: str
  schedule:
    description: Calendar event (V(daily), V(02:30)). Required to create.
    type: str
  ns:
    description: Namespace. V('') removes it.
    type: str
  max_depth:
    description: Namespace levels below O(ns) (C(max-depth), 0-7).
    type: int
  keep_last:
    description: Keep the last N backups (C(keep-last)).
    type: int
  keep_hourly:
    description: Keep the newest backup of each of the last N hours (C(keep-hourly)).
    type: int
  keep_daily:
    description: Keep the newest backup of each of the last N days (C(keep-daily)).
    type: int
  keep_weekly:
    description: Keep the newest backup of each of the last N weeks (C(keep-weekly)).
    type: int
  keep_monthly:
    description: Keep the newest backup of each of the last N months (C(keep-monthly)).
    type: int
  keep_yearly:
    description: Keep the newest backup of each of the last N years (C(keep-yearly)).
    type: int
  enabled:
    description: Whether the job runs on its schedule (PBS's C(disable), inverted).
    type: bool
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
- name: Ensure the seed's retention (7 daily, 4 weekly, 6 monthly)
  sovereign.cloud.pbs_prune_job:
    api_host: pbs.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pbs_token_secret }}"
    fingerprint: "{{ vault_pbs_fingerprint }}"
    id: keep-7-4-6
    store: backups
    schedule: daily
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 6
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

KEEP_PROPS = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly")
OPTIONS = {
    'id': {'type': 'str', 'required': True},
    'store': {'type': 'str'},
    'schedule': {'type': 'str'},
    'ns': {'type': 'str'},
    'max_depth': {'type': 'int'},
    'keep_last': {'type': 'int'},
    'keep_hourly': {'type': 'int'},
    'keep_daily': {'type': 'int'},
    'keep_weekly': {'type': 'int'},
    'keep_monthly': {'type': 'int'},
    'keep_yearly': {'type': 'int'},
    'enabled': {'type': 'bool'},
    'comment': {'type': 'str'},
}

# module option -> PBS property
TO_API = {
    'store': 'store',
    'schedule': 'schedule',
    'ns': 'ns',
    'max_depth': 'max-depth',
    'keep_last': 'keep-last',
    'keep_hourly': 'keep-hourly',
    'keep_daily': 'keep-daily',
    'keep_weekly': 'keep-weekly',
    'keep_monthly': 'keep-monthly',
    'keep_yearly': 'keep-yearly',
    'comment': 'comment',
    'disable': 'disable',
}

KIND = Kind("/config/prune", "id", "prune job", defaults={"disable": False}, groups=(KEEP_PROPS,))


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(OPTIONS), supports_check_mode=True)
    if module.params["enabled"] is not None:
        module.params["disable"] = not module.params["enabled"]
    run_config_module(module, KIND, 'id', TO_API)


if __name__ == "__main__":
    main()
