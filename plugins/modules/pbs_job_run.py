#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_job_run
short_description: Run a Proxmox Backup Server sync, prune or verify job, or garbage collection, now and wait for it
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Starts the job (C(POST /admin/{sync,prune,verify}/ID/run)) or a datastore's garbage collection
    (C(POST /admin/datastore/STORE/gc)), then polls the worker task (its UPID) until it stops.
  - Fails when the task ends in C(Error. ...) or, unless O(allow_warnings=true), in C(WARNINGS. n), and when it is
    still running after O(wait_timeout) seconds (the task itself goes on on the server).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  type:
    description: What to run. V(gc) runs garbage collection on datastore O(id).
    type: str
    required: true
    choices: [sync, prune, verify, gc]
  id:
    description: The job id, or the datastore name for V(gc).
    type: str
    required: true
  wait:
    description: Wait for the task to stop. With V(false), the module returns the UPID right after starting it.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the task.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two task status reads.
    type: float
    default: 2
  allow_warnings:
    description: Succeed when the task ends in C(WARNINGS. n) (the task's warnings are then in RV(exitstatus)).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is started; the module reports that it would run the job.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Pull from the primary now, after the night's backups
  sovereign.cloud.pbs_job_run:
    api_host: pbs-offsite.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_offsite_token_secret }}"
    fingerprint: "{{ vault_offsite_fingerprint }}"
    type: sync
    id: pull-primary
    wait_timeout: 7200
"""

RETURN = r"""
upid:
  description: The worker task's UPID (empty in check mode).
  returned: always
  type: str
  sample: "UPID:pbs:000012AB:0001E240:00000001:6560F1A0:syncjob:pull-primary:root@pam!ansible:"
task_status:
  description: The task's final status, V(stopped) (or V(running) with O(wait=false)).
  returned: always
  type: str
exitstatus:
  description: The task's exit status, V(OK), C(WARNINGS. n) or C(Error. message).
  returned: when the task stopped
  type: str
kind:
  description: >-
    Why the task failed: V(timeout), V(task) (it ended in C(Error. ...) or C(WARNINGS. n)), or the API's
    V(auth), V(fingerprint), V(unreachable), V(not_found), V(digest), V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.client import PBSClient, PBSError
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.module import argument_spec
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.tasks import task_failure, wait_for_task

OPTIONS = {
    "type": {"type": "str", "required": True, "choices": ["sync", "prune", "verify", "gc"]},
    "id": {"type": "str", "required": True},
    "wait": {"type": "bool", "default": True},
    "wait_timeout": {"type": "int", "default": 3600},
    "poll_interval": {"type": "float", "default": 2},
    "allow_warnings": {"type": "bool", "default": False},
}


def run_path(client: PBSClient, kind: str, ident: str) -> str:
    if kind == "gc":
        return f"/admin/datastore/{client.quote(ident)}/gc"
    return f"/admin/{kind}/{client.quote(ident)}/run"


def main() -> None:
    spec = argument_spec(OPTIONS)
    spec.pop("state")
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    result = {"changed": True, "upid": "", "task_status": ""}
    if module.check_mode:
        module.exit_json(msg=f"would run {params['type']} {params['id']}", **result)
    try:
        client = PBSClient.from_module(module)
        upid, _digest = client.call("POST", run_path(client, params["type"], params["id"]))
        result["upid"] = upid
        if not params["wait"]:
            module.exit_json(task_status="running", **{k: v for k, v in result.items() if k != "task_status"})
        status = wait_for_task(client, upid, params["wait_timeout"], params["poll_interval"])
    except PBSError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind, **result)
    result.update(task_status=status.get("status", ""), exitstatus=status.get("exitstatus", "unknown"))
    failure = task_failure(status)
    if failure and not (params["allow_warnings"] and result["exitstatus"].startswith("WARNINGS")):
        module.fail_json(msg=failure, kind="task", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
