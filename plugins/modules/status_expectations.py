#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: status_expectations
short_description: Say what the status page should expect of a role's scheduled jobs
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Writes one file per scheduled job, C(<dir>/<kind>--<name>.json), with how often the job runs and the one command
    that runs it now. M(sovereign.cloud.collection_status) reads them back, so a job that never recorded a run is red
    ("No record of it") on the status page instead of absent from it.
  - How often a job runs is computed on the host from its systemd C(OnCalendar=) schedule
    (C(systemd-analyze calendar --iterations=2)); without systemd-analyze it is left out and the page uses the kind's own.
  - Writes only files whose content differs, atomically; removes the files of entries with O(expectations[].state=absent)
    and, for each kind in O(purge_kinds), every other file of that kind (jobs removed from the inventory).
extends_documentation_fragment:
  - sovereign.cloud.attributes
attributes:
  check_mode:
    support: full
    details: Computes and returns everything, writes and removes nothing.
  diff_mode:
    support: full
    details: The diff maps each file written or removed to its document before and after (null when absent).
options:
  expectations:
    description: One entry per scheduled job.
    type: list
    elements: dict
    default: []
    suboptions:
      kind:
        description: The status kind (C(restic.backup), C(zfs.scrub), ...), as the job's status file names it.
        type: str
        required: true
      name:
        description: The instance (the job, repository, pool or backup name).
        type: str
        required: true
      title:
        description: What the status page calls it. Default the kind's title and the name.
        type: str
      schedule:
        description: The job's systemd C(OnCalendar=) expression; the file's C(every) is computed from it.
        type: str
      calendar_interval:
        description:
          - A launchd job's C(StartCalendarInterval) (a dict, or a list of dicts) on a Mac; the file's C(every) is
            computed from it (keys left out are wildcards, so C({Hour=1, Minute=30}) is daily).
        type: raw
      every:
        description: Seconds between two runs, when there is no O(expectations[].schedule) or O(expectations[].calendar_interval).
        type: int
      fix:
        description: The one command that runs the job now (it must exist on the host).
        type: str
        required: true
      amber_after:
        description: Late after this long (seconds or C(36h), C(2d), C(1w)). Default 1.5 times C(every).
        type: str
      red_after:
        description: Not safe after this long. Default 3 times C(every).
        type: str
      source:
        description:
          - Where the status comes from when no job writes one; M(sovereign.cloud.collection_status) reads it when the
            page gathers.
          - "C({type: ios_backup, path: <backup root>, name: <Device Name>, udid: <UDID>, owner: <who>}): the device's last
            backup, from its C(Info.plist)."
        type: dict
      state:
        description: C(absent) removes the file (a job that is disabled).
        type: str
        choices: [present, absent]
        default: present
  purge_kinds:
    description: Kinds this call owns on the host; any file of these kinds not in O(expectations) is removed.
    type: list
    elements: str
    default: []
  dir:
    description: Where the expectations live (the status playbook's C(status_expectations_dir)).
    type: path
    default: /etc/sovereign/status.d
seealso:
  - module: sovereign.cloud.collection_status
"""

EXAMPLES = r"""
- name: Write what the status page should expect of the backup jobs
  sovereign.cloud.status_expectations:
    expectations:
      - kind: restic.backup
        name: media
        schedule: Sun *-*-* 03:30:00
        fix: systemctl start sovereign-restic-media.service
    purge_kinds: [restic.backup]
"""

RETURN = r"""
written:
  description: The files written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/sovereign/status.d/restic.backup--media.json]
removed:
  description: The files removed (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/sovereign/status.d/restic.backup--old.json]
expectations:
  description: The documents of the files that should be present (C(kind), C(name), C(title), C(every), C(fix)).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "restic.backup", "name": "media", "title": null, "every": 604800,
            "fix": "systemctl start sovereign-restic-media.service"}]
summary:
  description: One line saying what was done.
  returned: always
  type: str
  sample: "1 expectations written, 0 removed in /etc/sovereign/status.d (2 in all)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.status.expect import DEFAULT_DIR, ExpectationError, apply


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "expectations": {"type": "list", "elements": "dict", "default": [], "options": {
                "kind": {"type": "str", "required": True},
                "name": {"type": "str", "required": True},
                "title": {"type": "str"},
                "schedule": {"type": "str"},
                "every": {"type": "int"},
                "calendar_interval": {"type": "raw"},
                "source": {"type": "dict"},
                "fix": {"type": "str", "required": True},
                "amber_after": {"type": "str"},
                "red_after": {"type": "str"},
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            }},
            "purge_kinds": {"type": "list", "elements": "str", "default": []},
            "dir": {"type": "path", "default": DEFAULT_DIR},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = apply(params["expectations"], params["dir"], params["purge_kinds"], module.check_mode)
    except (ExpectationError, OSError) as exc:
        module.fail_json(msg=f"Could not write the status expectations in {params['dir']}: {exc}",
                         summary=f"status expectations in {params['dir']} not written")
    diff = result.pop("diff")
    verb = "would be " if module.check_mode else ""
    result["summary"] = (f"{len(result['written'])} expectations {verb}written, {len(result['removed'])} {verb}removed "
                         f"in {params['dir']} ({len(result['expectations'])} in all)")
    if module._diff and result["changed"]:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
