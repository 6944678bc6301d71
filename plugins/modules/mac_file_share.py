#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: mac_file_share
short_description: Share a folder from a Mac over SMB (and AFP), through macOS sharing
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Adds, edits or removes a share point with C(sharing -a), C(sharing -e) and C(sharing -r), after reading
    the existing ones from C(sharing -l).
  - A share point with the same name but another path is removed and added again at O(path); a share point
    on O(path) under another name is an error (the module does not take over a share it did not name).
  - Protocols and guest access are set with C(sharing)'s three-digit flags (afp, ftp, smb); FTP is never shared.
  - Turning File Sharing on (the SMB service itself) is not part of this module.
requirements:
  - macOS C(sharing). Changes need root (C(become=true)).
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  name:
    description: The share point's name, which is also the name clients see.
    type: str
    required: true
  path:
    description: The folder to share (it must exist). Required when O(state=present).
    type: path
  protocols:
    description: The protocols to share over.
    type: list
    elements: str
    choices: [smb, afp]
    default: [smb]
  guest:
    description: Whether guests (no account) may connect over the shared protocols.
    type: bool
    default: false
  state:
    description: Whether the share point should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
notes:
  - Apple publishes no source for C(sharing); the C(sharing -l) format read here is reconstructed from its
    man page and published listings.
"""

EXAMPLES = r"""
- name: Share the RAID over SMB only, without guest access
  sovereign.cloud.mac_file_share:
    name: Pegasus
    path: /Volumes/Pegasus
    protocols: [smb]
  become: true
"""

RETURN = r"""
share:
  description: The share point after the run (in check mode, as it would be).
  returned: success
  type: dict
  sample: {state: present, name: Pegasus, path: /Volumes/Pegasus, protocols: [smb], guest: false}
commands:
  description: The sharing commands run (or, in check mode, that would be).
  returned: success
  type: list
  elements: str
  sample: ["sharing -a /Volumes/Pegasus -n Pegasus -s 001 -g 000"]
summary:
  description: One line saying what happened.
  returned: always
  type: str
  sample: "Share point Pegasus: added"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.sharing import Sharing, SharingError, ensure


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "path": {"type": "path"},
            "protocols": {"type": "list", "elements": "str", "choices": ["smb", "afp"], "default": ["smb"]},
            "guest": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["path"])],
        supports_check_mode=True,
    )
    params = module.params
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C"}
    binary = module.get_bin_path("sharing")
    if not binary:
        module.fail_json(msg="sharing was not found on the target: this module manages macOS hosts only.",
                         summary=f"Share point {params['name']}: sharing not found")
    path = params["path"].rstrip("/") or "/" if params["path"] else None
    try:
        result = ensure(Sharing(module.run_command, binary), params["name"], path, params["protocols"],
                        params["guest"], params["state"], module.check_mode)
    except SharingError as exc:
        module.fail_json(msg=str(exc), summary=f"Share point {params['name']}: failed: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
