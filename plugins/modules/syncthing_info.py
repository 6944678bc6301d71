#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: syncthing_info
short_description: Read a Syncthing node's device ID, peers and folder sync state
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Returns the node's own device ID (what peers need to add it), its Syncthing version, its peers with their
    connection state, and for each folder its state, counts and whether it is in sync.
  - Syncthing reports a folder 100 % complete before any index was exchanged with a peer. So C(in_sync) is only
    true when the folder is idle, needs nothing, and at least one sharing peer is connected and has sent its
    index for the folder.
  - Can wait for the API to come up first (O(wait_timeout)), which is how the role waits after starting Syncthing.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.attributes.info_module
  - sovereign.cloud.syncthing
options:
  folders:
    description: Only report these folder IDs; unknown IDs are an error. By default every folder is reported.
    type: list
    elements: str
  wait_timeout:
    description:
      - Seconds to wait for the API to answer C(GET /rest/system/ping) before reading; V(0) does not wait.
      - A wrong API key fails at once.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Read the NAS's device ID once Syncthing is up
  sovereign.cloud.syncthing_info:
    api_key: "{{ syncthing_api_key }}"
    wait_timeout: 60
  register: syncthing

- name: Read the Windows laptop's device ID through its API, from the controller
  sovereign.cloud.syncthing_info:
    api_url: http://192.168.1.109:8384
    api_key: "{{ vault_syncthing_laptop_api_key }}"
    folders: [photo-vault]
  delegate_to: localhost
  become: false
  register: laptop

- name: Show whether the photo vault mirror is in sync
  ansible.builtin.debug:
    msg: "{{ syncthing.folders['photo-vault'].in_sync }}"
"""

RETURN = r"""
summary:
  description: One line describing the node.
  returned: always
  type: str
  sample: Syncthing v1.19.2-ds1, device GDYOC4D, 1 of 1 peer(s) connected, 1 of 1 folder(s) in sync
device_id:
  description: This node's device ID.
  returned: always
  type: str
  sample: GDYOC4D-QPYWBSX-NOPTJ6Y-76OCYXA-TYVQB2I-FKYG4BD-52433BM-BSLZ5AU
version:
  description: Syncthing's version string.
  returned: always
  type: str
  sample: v1.19.2-ds1
uptime:
  description: Seconds since Syncthing started.
  returned: always
  type: int
devices:
  description: The configured peers (the own device left out).
  returned: always
  type: list
  elements: dict
  sample: [{"device_id": "BA4NWG6-...", "name": "intel-1250p", "connected": true, "address": "192.168.1.40:22000"}]
folders:
  description:
    - Per folder ID, C(id), C(label), C(path), C(type), C(paused), C(state) (idle, scanning, syncing, ...),
      C(global_items), C(local_items), C(need_items), C(global_bytes), C(receive_only_changed_items), C(errors),
      C(in_sync), and C(devices) with, per sharing peer, C(connected), C(index_received), C(completion) and
      C(need_items).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.syncthing import (
    SyncthingClient,
    SyncthingError,
    api_argument_spec,
    gather_info,
    short_id,
)


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        folders={"type": "list", "elements": "str"},
        wait_timeout={"type": "int", "default": 0},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        client = SyncthingClient.from_module(module)
        if module.params["wait_timeout"] > 0:
            client.wait_until_up(module.params["wait_timeout"])
        info = gather_info(client, module.params["folders"])
    except SyncthingError as exc:
        module.fail_json(msg=str(exc))
    connected = sum(1 for d in info["devices"] if d["connected"])
    in_sync = sum(1 for f in info["folders"].values() if f["in_sync"])
    info["summary"] = (f"Syncthing {info['version']}, device {short_id(info['device_id'])}, {connected} of "
                       f"{len(info['devices'])} peer(s) connected, {in_sync} of {len(info['folders'])} folder(s) in sync")
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
