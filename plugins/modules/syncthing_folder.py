#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: syncthing_folder
short_description: Add, update or remove a Syncthing folder, and revert local changes on a receive-only one
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Manages one folder of a Syncthing node through its REST API, and whom it is shared with.
  - Syncthing's C(POST /rest/config/folders) replaces the whole folder and resets every field it is not given to
    its default. This module reads the current folder, changes only the options you set, and writes the merged
    folder back; only those options are compared.
  - The folder type is checked here, because Syncthing silently turns an unknown type into V(sendreceive).
  - The node's own device is always part of a folder's devices in Syncthing; O(devices) lists the other peers,
    and the own device is ignored when comparing.
  - With O(revert_local_changes=true), local changes on a V(receiveonly) folder (files added, modified or deleted
    on this node) are undone, so that it mirrors the sending devices again. The module reports a change only
    when Syncthing counts local changes.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.syncthing
options:
  id:
    description: The folder ID, the same on every device that shares the folder.
    type: str
    required: true
    aliases: [folder_id]
  label:
    description: Name shown for the folder in the GUI.
    type: str
  path:
    description:
      - The folder's directory on the Syncthing host (a Windows path for a Windows peer). Required to create the
        folder. Syncthing creates a missing directory, owned by the user Syncthing runs as.
    type: str
  type:
    description:
      - V(sendreceive) syncs both ways, V(sendonly) only sends (the source of truth), V(receiveonly) only receives
        (a mirror; local changes are flagged and can be reverted), V(receiveencrypted) stores encrypted data for an
        untrusted device.
    type: str
    choices: [sendreceive, sendonly, receiveonly, receiveencrypted]
  devices:
    description:
      - Peers the folder is shared with, by device ID or by the name of a device already configured on this node
        (see M(sovereign.cloud.syncthing_device)).
      - The list is exact unless O(append_devices=true). The node's own device is always kept.
    type: list
    elements: str
  append_devices:
    description: Add O(devices) to those the folder is already shared with instead of replacing them.
    type: bool
    default: false
  rescan_interval:
    description: Seconds between full rescans (C(rescanIntervalS)).
    type: int
  fs_watcher:
    description: Watch the directory for changes instead of waiting for the next rescan (C(fsWatcherEnabled)).
    type: bool
  fs_watcher_delay:
    description: Seconds to gather file system events before syncing them (C(fsWatcherDelayS)).
    type: int
  ignore_perms:
    description: Do not sync file permissions (C(ignorePerms)); useful towards Windows or FAT file systems.
    type: bool
  paused:
    description: Pause the folder.
    type: bool
  versioning:
    description:
      - File versioning, which keeps replaced and deleted files in C(.stversions). On a receive-only mirror it is
        what keeps files removed by a revert.
    type: dict
    suboptions:
      type:
        description: Versioning kind; V(none) switches it off.
        type: str
        choices: [none, trashcan, simple, staggered, external]
        required: true
      params:
        description: Syncthing's parameters for that kind, such as C(cleanoutDays) or C(keep); values become strings.
        type: dict
      cleanup_interval:
        description: Seconds between cleanups of old versions (C(cleanupIntervalS)).
        type: int
      fs_path:
        description: Where to keep versions instead of C(.stversions) (C(fsPath)).
        type: str
  settings:
    description:
      - Other Syncthing folder keys in Syncthing's own camelCase spelling, such as C(maxConflicts) or C(order).
      - Keys Syncthing does not know are an error (Syncthing itself would ignore them silently); keys that have
        their own option above must be set with that option.
    type: dict
  revert_local_changes:
    description:
      - Undo local changes on a V(receiveonly) folder (C(POST /rest/db/revert)) after rescanning it. Files added
        locally are removed, modified or deleted ones are pulled again from the sending devices.
      - Nothing is done while no sending device's index for the folder has arrived (a revert then would treat every
        local file as a local change), nor while the folder is paused.
      - Refused when the folder has no versioning, unless O(revert_without_versioning=true), because files added
        locally would then be deleted for good; with versioning they are kept in C(.stversions).
    type: bool
    default: false
  revert_without_versioning:
    description: Allow O(revert_local_changes) on a folder without versioning.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, after a revert, for the folder to be pulled back to the sending devices' state.
    type: int
    default: 60
  state:
    description: Whether the folder should be configured. Removing a folder never deletes its files.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details:
      - With O(revert_local_changes=true), check mode still asks Syncthing to rescan the folder (it only reads the
        disk) so that it can report the local changes a real run would revert.
  diff_mode:
    support: full
    details:
      - The diff shows the folder ID and the options that were set; devices as a sorted list of peer IDs.
"""

EXAMPLES = r"""
- name: Ensure the NAS mirrors the laptop's photo vault, receive-only, keeping what a revert removes
  sovereign.cloud.syncthing_folder:
    api_key: "{{ syncthing_api_key }}"
    id: photo-vault
    label: Mylio Photos Vault
    path: /mnt/media
    type: receiveonly
    devices: [alienware-laptop]
    versioning:
      type: trashcan
      params:
        cleanoutDays: 90
    revert_local_changes: true

- name: Ensure the laptop sends its vault to the NAS (Syncthing on Windows, from the controller)
  sovereign.cloud.syncthing_folder:
    api_url: http://192.168.1.109:8384
    api_key: "{{ vault_syncthing_laptop_api_key }}"
    id: photo-vault
    path: 'D:\Mylio Photos Vault'
    type: sendonly
    devices: ["{{ syncthing_device_id }}"]
    append_devices: true
  delegate_to: localhost
  become: false
"""

RETURN = r"""
summary:
  description: One line saying what was done, for the run summary.
  returned: always
  type: str
  sample: folder photo-vault updated (type); 2 local change(s) reverted
folder:
  description:
    - The folder as Syncthing stores it (empty after removal; the would-be folder in check mode).
    - Never with the devices' encryption passwords; each device entry has C(encrypted) instead (true when the peer
      stores the folder encrypted).
  returned: always
  type: dict
reverted:
  description:
    - Syncthing's counts of local changes found on a receive-only folder (C(receiveOnlyChangedFiles),
      C(receiveOnlyChangedDirectories), C(receiveOnlyChangedSymlinks), C(receiveOnlyChangedDeletes)), which were
      reverted (or would be, in check mode).
  returned: when O(revert_local_changes=true)
  type: dict
  sample: {"receiveOnlyChangedFiles": 2, "receiveOnlyChangedDirectories": 0, "receiveOnlyChangedSymlinks": 0,
           "receiveOnlyChangedDeletes": 0}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.syncthing import (
    FOLDER_FIELDS,
    FOLDER_TYPES,
    VERSIONING_TYPES,
    SyncthingClient,
    SyncthingError,
    api_argument_spec,
    converge_folder,
    wanted_from_params,
)


def run(module: AnsibleModule) -> dict:
    params = module.params
    result = converge_folder(
        SyncthingClient.from_module(module), params["id"], wanted_from_params(params, FOLDER_FIELDS),
        settings=params["settings"], devices=params["devices"], append_devices=params["append_devices"],
        versioning=params["versioning"], state=params["state"], check_mode=module.check_mode,
        revert=params["revert_local_changes"], revert_without_versioning=params["revert_without_versioning"],
        wait_timeout=params["wait_timeout"])
    for warning in result.pop("warnings", []):
        module.warn(warning)
    return result


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        id={"type": "str", "required": True, "aliases": ["folder_id"]},
        label={"type": "str"},
        path={"type": "str"},
        type={"type": "str", "choices": list(FOLDER_TYPES)},
        devices={"type": "list", "elements": "str"},
        append_devices={"type": "bool", "default": False},
        rescan_interval={"type": "int"},
        fs_watcher={"type": "bool"},
        fs_watcher_delay={"type": "int"},
        ignore_perms={"type": "bool"},
        paused={"type": "bool"},
        versioning={"type": "dict", "options": {
            "type": {"type": "str", "choices": list(VERSIONING_TYPES), "required": True},
            "params": {"type": "dict"},
            "cleanup_interval": {"type": "int"},
            "fs_path": {"type": "str"},
        }},
        settings={"type": "dict"},
        revert_local_changes={"type": "bool", "default": False},
        revert_without_versioning={"type": "bool", "default": False},
        wait_timeout={"type": "int", "default": 60},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = run(module)
    except SyncthingError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
