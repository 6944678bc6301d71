#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pbs_preflight
short_description: Check that a Proxmox Backup Server API is reachable and that tokens hold the privileges a run needs
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads C(GET /version) through the pinned certificate with the API token, then C(GET /access/permissions) for the
    module's own token and for every other token in O(checks) (such as the one PVE backs up with), and fails naming
    each privilege that is missing on which path, with the C(proxmox-backup-manager acl update) command that grants it.
  - A token in O(checks) that does not exist fails with the C(proxmox-backup-manager user generate-token) command.
  - Changes nothing.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.pbs
options:
  checks:
    description: What to check. Without it only reachability, the certificate and the token are checked.
    type: list
    elements: dict
    default: []
    suboptions:
      auth_id:
        description: The token to check (C(user@realm!name)); omitted means the module's own O(api_token_id).
        type: str
      required:
        description: The privileges it needs.
        type: list
        elements: dict
        required: true
        suboptions:
          path:
            description: ACL path, such as C(/datastore/backups) or C(/remote).
            type: str
            required: true
          privileges:
            description: Privilege names, such as C(Datastore.Backup).
            type: list
            elements: str
            required: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Check the PBS API and the token PVE backs up with
  sovereign.cloud.pbs_preflight:
    api_host: pbs.example.com
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pbs_token_secret }}"
    fingerprint: "{{ vault_pbs_fingerprint }}"
    checks:
      - required: [{path: /datastore, privileges: [Datastore.Allocate, Datastore.Audit]}]
      - auth_id: pve@pbs!pve
        required: [{path: /datastore/backups, privileges: [Datastore.Backup]}]
"""

RETURN = r"""
version:
  description: The PBS version the API reports.
  returned: success
  type: str
checks:
  description: Per token, the privileges it lacks (empty on success).
  returned: success
  type: list
  elements: dict
kind:
  description: Why the check failed, V(unreachable), V(fingerprint), V(auth), V(permission), V(not_found) or V(api).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.client import API_ARGUMENT_SPEC, PBSClient, PBSError
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs.preflight import run_preflight

REQUIRED = {"path": {"type": "str", "required": True}, "privileges": {"type": "list", "elements": "str", "required": True}}
CHECK = {"auth_id": {"type": "str"}, "required": {"type": "list", "elements": "dict", "required": True, "options": REQUIRED}}


def main() -> None:
    spec = dict(API_ARGUMENT_SPEC)
    spec["checks"] = {"type": "list", "elements": "dict", "default": [], "options": CHECK}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    try:
        report = run_preflight(PBSClient.from_module(module), module.params["checks"])
    except PBSError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
