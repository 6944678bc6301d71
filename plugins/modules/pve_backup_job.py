#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pve_backup_job
short_description: Manage a Proxmox VE datacenter backup job (vzdump schedule)
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Creates, updates or removes a datacenter backup job (C(/cluster/backup), Datacenter > Backup in the web UI), that
    is when it runs, to which storage, which guests, the backup mode and the retention.
  - Only the options given are managed; the rest of the job is left as it is. O(prune_backups) is compared as a
    retention policy (key order and a mapping versus a string do not matter).
  - C(community.proxmox.proxmox_backup_schedule) only adds guests to an existing job; this module owns the job.
  - Needs Sys.Audit (read) and Sys.Modify (write) on C(/); a missing one is named before anything is written.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pve
options:
  id:
    description: Job id (C(pve-configid), such as V(daily-0200)).
    type: str
    required: true
  schedule:
    description: Calendar event, such as V(02:00) (daily at 2 AM) or V(sat 03:00).
    type: str
  storage:
    description: Target storage id, such as a PBS storage entry.
    type: str
  all:
    description: Back up every guest of the cluster (minus O(exclude)). Give this or O(vmids) to create a job.
    type: bool
  vmids:
    description: The guest ids to back up (C(vmid)); setting them turns O(all) off.
    type: list
    elements: int
  exclude:
    description: Guest ids to skip when O(all=true).
    type: list
    elements: int
  mode:
    description: vzdump mode.
    type: str
    choices: [snapshot, suspend, stop]
  prune_backups:
    description:
      - >-
        Retention on the target (C(prune-backups)), as a mapping (V({keep-daily: 7, keep-weekly: 4, keep-monthly: 6}))
        or PVE's string (V(keep-daily=7,keep-weekly=4,keep-monthly=6)). Keys C(keep-all), C(keep-last),
        C(keep-hourly), C(keep-daily), C(keep-weekly), C(keep-monthly), C(keep-yearly) (C(_) works for C(-)).
    type: raw
  compress:
    description: Compression (V(0), V(1), V(gzip), V(lzo), V(zstd)); PBS storages compress by themselves.
    type: str
  enabled:
    description: Whether the job runs on its schedule.
    type: bool
  notes_template:
    description: Template for each backup's notes (C(notes-template)), such as V({{guestname}}). Needs O(storage).
    type: str
  comment:
    description: Comment. V('') removes it.
    type: str
  state:
    description: Whether the job should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
seealso:
  - module: sovereign.cloud.pve_lxc_mount
"""

EXAMPLES = r"""
- name: Back up every guest daily at 2 AM to PBS, keeping 7 daily, 4 weekly and 6 monthly
  sovereign.cloud.pve_backup_job:
    api_host: 192.168.1.40
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    fingerprint: "{{ sovereign_pve_fingerprint }}"
    id: daily-0200
    schedule: "02:00"
    storage: pbs-1250p
    all: true
    mode: snapshot
    prune_backups: keep-daily=7,keep-weekly=4,keep-monthly=6
    notes_template: "{{ '{{guestname}}' }}"
"""

RETURN = r"""
id:
  description: The job id.
  returned: success
  type: str
action:
  description: What was (or would be) done, V(none), V(create), V(update) or V(delete).
  returned: success
  type: str
job:
  description: The managed keys of the job after the run (in check mode, as they would be), at PVE's spelling; keys at PVE's default are left out.
  returned: success
  type: dict
  sample: {"schedule": "02:00", "storage": "pbs-1250p", "all": "1", "prune-backups": "keep-daily=7,keep-weekly=4,keep-monthly=6"}
request:
  description: The parameters the module sent (or would send) to PVE when it creates or updates the job.
  returned: success
  type: dict
summary:
  description: What was done, in words.
  returned: always
  type: str
  sample: "backup job daily-0200: create (02:00 to pbs-1250p, all guests, keep-daily=7,keep-weekly=4,keep-monthly=6)"
kind:
  description: >-
    Why it failed: V(unreachable), V(fingerprint), V(auth), V(permission) (names the privilege), V(missing_library),
    V(usage) or V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pve.backup_job import TO_API, ensure_job
from ansible_collections.sovereign.cloud.plugins.module_utils.pve.client import API_ARGUMENT_SPEC, PveClient, PveError

OPTIONS = {
    "id": {"type": "str", "required": True},
    "schedule": {"type": "str"},
    "storage": {"type": "str"},
    "all": {"type": "bool"},
    "vmids": {"type": "list", "elements": "int"},
    "exclude": {"type": "list", "elements": "int"},
    "mode": {"type": "str", "choices": ["snapshot", "suspend", "stop"]},
    "prune_backups": {"type": "raw"},
    "compress": {"type": "str"},
    "enabled": {"type": "bool"},
    "notes_template": {"type": "str"},
    "comment": {"type": "str"},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
}


def main() -> None:
    module = AnsibleModule(argument_spec={**API_ARGUMENT_SPEC, **OPTIONS}, supports_check_mode=True)
    params = module.params
    try:
        client = PveClient.from_params(params)
        result = ensure_job(client, params["id"], {option: params[option] for option in TO_API},
                            state=params["state"], check_mode=module.check_mode)
    except PveError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind, summary=f"backup job {params['id']}: failed ({exc.kind})")
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
