#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pve_lxc_mount
short_description: Manage a mount point (mpN) of a Proxmox VE container
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - >-
    Sets or removes one mount point C(mpN) of an LXC container, such as the read-only bind mount
    C(mp0: /mnt/media,mp=/mnt/media,ro=1) that lets an Immich container read the media dataset.
  - Reads the container config with its C(digest) and writes with it, so a concurrent change makes the
    write fail instead of being overwritten. Values are compared parsed (key order and C(ro=true) versus
    C(ro=1) do not matter; keys at PVE's default are not written).
  - On a running container PVE hot-plugs a new mount point, but a changed or removed one stays pending
    until the container restarts. The module then returns RV(pending=true); it restarts the container
    only with O(restart=true).
  - Bind mounts (a host path) can only be set by C(root@pam) with its password (a ticket), or with
    O(backend=local) on the node. An API token gets PVE's refusal, which the module explains.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pve
options:
  node:
    description: The PVE node the container is on (C(pvecm nodes), usually the short host name).
    type: str
    required: true
  vmid:
    description: Container id. Give this or O(hostname).
    type: int
  hostname:
    description: Container host name, looked up on O(node) when O(vmid) is not given.
    type: str
  mp:
    description: Mount point key, V(mp0) to V(mp255).
    type: str
    required: true
  host_path:
    description: Host directory to bind (an absolute path), or a storage volume (C(STORAGE:VOLUME)). Required for O(state=present).
    type: str
  container_path:
    description: Where it appears inside the container (C(mp=)). Required for O(state=present).
    type: str
  ro:
    description: Read-only (C(ro=1)).
    type: bool
    default: false
  backup:
    description: Include the mount point in vzdump backups (C(backup=1); PVE backs up volume mount points only).
    type: bool
    default: false
  extra:
    description: Other mount options as PVE names them (C(acl), C(mountoptions), C(shared), C(replicate), C(quota), C(size)).
    type: dict
  restart:
    description: Reboot the container when the change is pending (C(POST .../status/reboot)) and wait for it.
    type: bool
    default: false
  task_timeout:
    description: Seconds to wait for the reboot task.
    type: int
    default: 300
  state:
    description: Whether the mount point should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Reads the config and says what would change, whether it would be pending, and whether PVE would refuse it.
  diff_mode:
    support: full
seealso:
  - module: sovereign.cloud.pve_backup_job
"""

EXAMPLES = r"""
- name: Give the Immich container the media dataset read-only
  sovereign.cloud.pve_lxc_mount:
    api_host: 192.168.1.40
    api_user: root@pam
    api_password: "{{ vault_pve_root_password }}"
    fingerprint: "{{ sovereign_pve_fingerprint }}"
    node: intel-1250p
    vmid: 151
    mp: mp0
    host_path: /mnt/media
    container_path: /mnt/media
    ro: true

- name: The same on the node itself with pvesh (no password needed)
  become: true
  sovereign.cloud.pve_lxc_mount:
    backend: local
    node: intel-1250p
    hostname: immich
    mp: mp0
    host_path: /mnt/media
    container_path: /mnt/media
    ro: true
    restart: true
"""

RETURN = r"""
vmid:
  description: The container id (looked up from O(hostname) when given).
  returned: success
  type: int
  sample: 151
node:
  description: The node.
  returned: success
  type: str
mp:
  description: The mount point key.
  returned: success
  type: str
  sample: mp0
value:
  description: The value in PVE's canonical form (none when O(state=absent)).
  returned: success
  type: str
  sample: /mnt/media,mp=/mnt/media,ro=1
status:
  description: The container's state when the module read it (V(running), V(stopped)).
  returned: success
  type: str
pending:
  description: Whether the mount point's wanted state waits for a container restart (PVE's C([pending]) section).
  returned: success
  type: bool
restarted:
  description: Whether the module rebooted (or would reboot) the container.
  returned: success
  type: bool
summary:
  description: What was done, in words.
  returned: always
  type: str
  sample: "container 151 (intel-1250p): set mp0: /mnt/media,mp=/mnt/media,ro=1"
kind:
  description: >-
    Why it failed: V(unreachable), V(fingerprint), V(auth), V(permission) (names the privilege), V(bind_mount)
    (a bind mount asked by a token or a user other than root@pam), V(not_found) (no such container or node),
    V(digest), V(missing_library), V(usage) or V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pve.client import API_ARGUMENT_SPEC, PveClient, PveError
from ansible_collections.sovereign.cloud.plugins.module_utils.pve.lxc_mount import ensure_mount

OPTIONS = {
    "node": {"type": "str", "required": True},
    "vmid": {"type": "int"},
    "hostname": {"type": "str"},
    "mp": {"type": "str", "required": True},
    "host_path": {"type": "str"},
    "container_path": {"type": "str"},
    "ro": {"type": "bool", "default": False},
    "backup": {"type": "bool", "default": False},
    "extra": {"type": "dict"},
    "restart": {"type": "bool", "default": False},
    "task_timeout": {"type": "int", "default": 300},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
}


def main() -> None:
    module = AnsibleModule(argument_spec={**API_ARGUMENT_SPEC, **OPTIONS}, supports_check_mode=True,
                           required_one_of=[("vmid", "hostname")],
                           required_if=[("state", "present", ("host_path", "container_path"))])
    params = module.params
    try:
        client = PveClient.from_params(params)
        result = ensure_mount(client, params["node"], params["mp"], vmid=params["vmid"], hostname=params["hostname"],
                              host_path=params["host_path"], container_path=params["container_path"],
                              ro=params["ro"], backup=params["backup"], extra=params["extra"],
                              state=params["state"], restart=params["restart"], check_mode=module.check_mode,
                              task_timeout=params["task_timeout"])
    except PveError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind, summary=f"{params['mp']}: failed ({exc.kind})")
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
