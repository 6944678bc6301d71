#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ios_backup_info
short_description: How fresh each family device's iOS backup is (iMazing or Finder backups)
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads every backup under O(path) (one folder per device UDID, each with an C(Info.plist) holding
    C(Device Name), C(Product Type), C(Last Backup Date) and C(Unique Identifier)) and compares them with
    the wanted O(devices).
  - Each wanted device comes back V(fresh), V(stale) (older than its O(devices[].max_age_days), or with no
    readable date) or V(missing); a backup that matches no wanted device comes back V(unknown).
  - Apple Watches are backed up inside their iPhone's backup and have no backup folder of their own. Leave them
    out, or list them with O(devices[].inside) set to their iPhone's name to see them with that backup's status.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.attributes.info_module
options:
  path:
    description: The backup root (iMazing's backup destination, or Finder's C(~/Library/Application Support/MobileSync/Backup)).
    type: path
    required: true
  devices:
    description: The devices whose backups are expected (the family's device matrix).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The device's name, as in its backup's C(Device Name) (matched without regard to case or apostrophe style).
        type: str
        required: true
      owner:
        description: Whose device it is.
        type: str
      udid:
        description: The device's UDID (the backup folder's name); when set, the device is matched by it instead of its name.
        type: str
      max_age_days:
        description: A backup older than this many days is stale.
        type: float
        default: 7
      inside:
        description:
          - For a device backed up inside another one's backup (an Apple Watch inside its iPhone's), the O(devices[].name)
            of that device; this one then takes its status and has no folder of its own.
        type: str
"""

EXAMPLES = r"""
- name: Check the family's iMazing backups on the RAID
  sovereign.cloud.ios_backup_info:
    path: /Volumes/Pegasus/iMazing/Backups
    devices:
      - {name: iPhone 15 Pro, owner: Nithin}
      - {name: iPad Air, owner: Wife, max_age_days: 14}
  register: backups

- name: Fail when a device has no recent backup
  ansible.builtin.assert:
    that: backups.stale + backups.missing == []
    fail_msg: "{{ backups.summary }}"
"""

RETURN = r"""
devices:
  description: Each wanted device, then each unknown backup, with its status.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Device name (from the list, or the backup's C(Device Name) for an unknown one).
      type: str
    owner:
      description: Owner from the list (null for an unknown backup).
      type: str
    udid:
      description: UDID of the backup matched (or the one asked for).
      type: str
    status:
      description: V(fresh), V(stale), V(missing) or V(unknown).
      type: str
    age_days:
      description: Days since the last backup (null without one).
      type: float
    last_backup:
      description: The backup's C(Last Backup Date), ISO 8601 in UTC.
      type: str
    max_age_days:
      description: The freshness limit applied.
      type: float
    product_type:
      description: The backup's C(Product Type), for example C(iPhone16,1).
      type: str
    path:
      description: The backup folder.
      type: str
    reason:
      description: Why a device is not fresh, or why a backup is unknown.
      type: str
  sample: [{name: iPhone 15 Pro, owner: Nithin, udid: 00008120-001A2B3C4D5E6F70, status: fresh, age_days: 0.4,
            last_backup: "2026-12-03T21:02:00+00:00", max_age_days: 7, product_type: "iPhone16,1",
            path: /Volumes/Pegasus/iMazing/Backups/00008120-001A2B3C4D5E6F70, reason: null}]
stale:
  description: The stale devices, as C(Owner's Device).
  returned: success
  type: list
  elements: str
  sample: ["Wife's iPad Air"]
missing:
  description: The devices with no backup at all, as C(Owner's Device).
  returned: success
  type: list
  elements: str
  sample: ["Dad's iPhone 12"]
unknown:
  description: Backups of devices not in O(devices), by device name.
  returned: success
  type: list
  elements: str
  sample: ["Old iPhone"]
summary:
  description: One line with the counts and the devices that need a look.
  returned: always
  type: str
  sample: "iOS backups: 8 fresh, 1 stale (Wife's iPad Air: 9.5 days)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.ios_backup import BackupRootError, assess, scan


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "devices": {"type": "list", "elements": "dict", "default": [], "options": {
                "name": {"type": "str", "required": True},
                "owner": {"type": "str"},
                "udid": {"type": "str"},
                "max_age_days": {"type": "float", "default": 7},
                "inside": {"type": "str"},
            }},
        },
        supports_check_mode=True,
    )
    try:
        backups = scan(module.params["path"])
    except BackupRootError as exc:
        module.fail_json(msg=str(exc), summary=f"iOS backups: failed: {exc}")
    result = assess(backups, module.params["devices"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
