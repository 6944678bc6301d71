#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: collection_status
short_description: Gather the status of every scheduled sovereign.cloud job on a host
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads every status file the collection's jobs write on this host (C(<state_dir>/status/<kind>--<name>.json), from
    the photo vault ingest, thumbnails and verification, Proxmox Backup Server media backups and restore drills, and
    any kind added later), the restic_backup role's job and check state files (C(<restic_dir>/<job>.json),
    C(<restic_dir>/check-<repository>.json)) and the zfs_datasets role's scrub results
    (C(<zfs_dir>/scrub-<pool>.json)), each in the same shape.
  - Reads what the roles said to expect (C(<expectations_dir>/<kind>--<name>.json)), so an expected job that
    never recorded a run shows up as missing rather than being left out.
  - What no job writes is read now from where its expectation points (its C(source)), that is the last backup of each
    iOS device the mac_backup_controller role expects, from the C(Info.plist) of its backup (as M(sovereign.cloud.ios_backup_info)).
  - The folders default by the host's OS, so one play covers Linux hosts and Macs; the status playbook passes the
    inventory's folders when it sets them.
  - Evaluates nothing; M(sovereign.cloud.collection_status_page) turns every host's result into the page.
  - Read-only; a missing folder is an empty list, a file that is not a status document is returned with
    RV(statuses[].doc) null and an RV(statuses[].error).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.attributes.info_module
options:
  state_dir:
    description:
      - The host's state directory, whose C(status/) folder the jobs write to (the inventory's C(base_state_dir), or on a
        Mac C(mac_identity_node_state_dir)).
      - Default C(/var/lib/sovereign-cloud) on Linux, C(/Users/Shared/sovereign-cloud) on macOS.
    type: path
  expectations_dir:
    description: Where the roles write what to expect of each scheduled job.
    type: path
    default: /etc/sovereign/status.d
  restic_dir:
    description:
      - The restic job state directory (C(restic_backup_state_dir), or on a Mac C(<mac_backup_controller_state_dir>/restic)).
      - Default C(<state_dir>/restic) on Linux, C(/Library/Application Support/sovereign-cloud/restic) on macOS.
    type: path
  zfs_dir:
    description: The zfs_datasets role's scrub status directory (C(zfs_datasets_scrub_status_dir)). Default C(<state_dir>/zfs).
    type: path
seealso:
  - module: sovereign.cloud.collection_status_page
"""

EXAMPLES = r"""
- name: Gather this host's job statuses
  sovereign.cloud.collection_status:
    state_dir: /var/lib/sovereign-cloud
  register: host_status
"""

RETURN = r"""
now:
  description: The host's clock when it was read (UTC); ages are measured against it.
  returned: always
  type: str
  sample: "2026-12-04T05:40:00Z"
state_dir:
  description: The state directory that was read.
  returned: always
  type: str
  sample: /var/lib/sovereign-cloud
restic_dir:
  description: The restic job state directory that was read.
  returned: always
  type: str
  sample: /var/lib/sovereign-cloud/restic
zfs_dir:
  description: The scrub status directory that was read.
  returned: always
  type: str
  sample: /var/lib/sovereign-cloud/zfs
expectations_dir:
  description: The expectations directory that was read.
  returned: always
  type: str
  sample: /etc/sovereign/status.d
statuses:
  description: One entry per status file found.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: The file it came from.
      type: str
    doc:
      description:
        - The status document (C(kind), C(name), C(ok), C(summary), C(started_at), C(finished_at),
          C(last_success_at), C(every), C(fix), C(details)), or null when the file could not be read.
      type: dict
    error:
      description: Why the file could not be read, or null.
      type: str
  sample: [{"file": "/var/lib/sovereign-cloud/status/photo_vault.verify--photos.json", "error": null,
            "doc": {"kind": "photo_vault.verify", "name": "photos", "ok": true, "summary": "verified 500 originals"}}]
expectations:
  description:
    - What the roles said to expect (C(kind), C(name), C(title), C(every), C(fix), C(amber_after), C(red_after), C(source)).
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "photo_vault.verify", "name": "photos", "every": 604800, "fix": "sovereign-photos verify --full"}]
summary:
  description: One line saying what was found.
  returned: always
  type: str
  sample: "5 statuses, 4 expectations under /var/lib/sovereign-cloud"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.status.gather import gather


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state_dir": {"type": "path"},
            "expectations_dir": {"type": "path", "default": "/etc/sovereign/status.d"},
            "restic_dir": {"type": "path"},
            "zfs_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    result = gather(params["state_dir"], params["expectations_dir"], params["restic_dir"], params["zfs_dir"])
    result["summary"] = (f"{len(result['statuses'])} statuses, {len(result['expectations'])} expectations "
                         f"under {result['state_dir']}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
