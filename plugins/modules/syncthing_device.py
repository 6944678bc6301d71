#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: syncthing_device
short_description: Add, update or remove a device (peer) in Syncthing through its REST API
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Manages one entry of Syncthing's device list, the peers this node talks to.
  - Syncthing's C(POST /rest/config/devices) replaces the whole entry and resets every field it is not
    given to its default (for instance the addresses back to V(dynamic)). This module reads the current
    entry, changes only the options you set, and writes the merged entry back; only those options are
    compared, so fields changed in the GUI and not managed here are left alone.
  - After a write the entry is read back, and a value Syncthing did not store as given is an error.
  - The node's own device can be renamed but not removed.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.syncthing
options:
  device_id:
    description:
      - The peer's device ID, as printed by C(syncthing --device-id) or shown under Actions > Show ID.
      - Lower case and missing dashes are accepted; the canonical form is used for comparisons.
    type: str
    required: true
    aliases: [id]
  name:
    description: Name shown for the device in the GUI.
    type: str
  addresses:
    description:
      - Where to reach the device, such as V(tcp://192.168.1.40:22000), or V(dynamic) for discovery.
      - With global and local discovery off (a LAN-only family), give the address explicitly.
    type: list
    elements: str
  compression:
    description: What to compress on the wire.
    type: str
    choices: [metadata, always, never]
  introducer:
    description: Accept the devices this device shares folders with (Syncthing's introducer).
    type: bool
  skip_introduction_removals:
    description: Keep devices this introducer once introduced, even when it no longer lists them.
    type: bool
  paused:
    description: Pause all syncing with this device.
    type: bool
  auto_accept_folders:
    description: Automatically accept folders this device shares with us.
    type: bool
  allowed_networks:
    description: Networks (CIDR) the device may connect from; empty allows any.
    type: list
    elements: str
  max_send_kbps:
    description: Send rate limit to this device in KiB/s; V(0) is unlimited.
    type: int
  max_recv_kbps:
    description: Receive rate limit from this device in KiB/s; V(0) is unlimited.
    type: int
  untrusted:
    description: Treat the device as untrusted (it only receives encrypted data).
    type: bool
  settings:
    description:
      - Other Syncthing device keys in Syncthing's own camelCase spelling, such as C(maxRequestKiB).
      - Keys Syncthing does not know are an error (Syncthing itself would ignore them silently); keys that have
        their own option above must be set with that option.
    type: dict
  state:
    description: Whether the device should be configured.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the device ID and the options that were set, before and after.
"""

EXAMPLES = r"""
- name: Ensure the NAS knows the laptop, reachable on the LAN only
  sovereign.cloud.syncthing_device:
    api_key: "{{ syncthing_api_key }}"
    device_id: "{{ laptop_device_id }}"
    name: alienware-laptop
    addresses:
      - tcp://192.168.1.109:22000

- name: Ensure the laptop (Syncthing on Windows) knows the NAS, from the controller
  sovereign.cloud.syncthing_device:
    api_url: http://192.168.1.109:8384
    api_key: "{{ vault_syncthing_laptop_api_key }}"
    device_id: "{{ syncthing_device_id }}"
    name: intel-1250p
    addresses:
      - tcp://192.168.1.40:22000
  delegate_to: localhost
  become: false

- name: Ensure a retired phone is no longer a peer
  sovereign.cloud.syncthing_device:
    api_key: "{{ syncthing_api_key }}"
    device_id: MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-QXGZDMM-FZWI3DP-BONSGYY-LTMRWAD
    state: absent
"""

RETURN = r"""
summary:
  description: One line saying what was done, for the run summary.
  returned: always
  type: str
  sample: device alienware-laptop (GDYOC4D) added
device:
  description: The device entry as Syncthing stores it (empty after removal; the would-be entry in check mode).
  returned: always
  type: dict
  sample: {"deviceID": "GDYOC4D-QPYWBSX-NOPTJ6Y-76OCYXA-TYVQB2I-FKYG4BD-52433BM-BSLZ5AU", "name": "alienware-laptop",
           "addresses": ["tcp://192.168.1.109:22000"], "compression": "metadata", "paused": false}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.syncthing import (
    COMPRESSION_MODES,
    DEVICE_FIELDS,
    SyncthingClient,
    SyncthingError,
    api_argument_spec,
    ensure_device,
    wanted_from_params,
)


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        device_id={"type": "str", "required": True, "aliases": ["id"]},
        name={"type": "str"},
        addresses={"type": "list", "elements": "str"},
        compression={"type": "str", "choices": list(COMPRESSION_MODES)},
        introducer={"type": "bool"},
        skip_introduction_removals={"type": "bool"},
        paused={"type": "bool"},
        auto_accept_folders={"type": "bool"},
        allowed_networks={"type": "list", "elements": "str"},
        max_send_kbps={"type": "int"},
        max_recv_kbps={"type": "int"},
        untrusted={"type": "bool"},
        settings={"type": "dict"},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    try:
        client = SyncthingClient.from_module(module)
        result = ensure_device(client, params["device_id"], wanted_from_params(params, DEVICE_FIELDS),
                               settings=params["settings"], state=params["state"], check_mode=module.check_mode)
    except SyncthingError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
