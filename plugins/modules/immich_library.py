#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: immich_library
short_description: Create, update or remove an Immich external library, validated by Immich, and scan it
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Manages one Immich external library (folders Immich indexes in place, without copying) through Immich's REST API.
  - The library is found by O(name). Its owner is given by email and looked up through Immich's admin users API;
    Immich cannot change the owner of an existing library, so a different owner is an error.
  - Before import paths are saved, Immich's C(POST /libraries/{id}/validate) checks them on the server; a path it
    rejects fails the task with Immich's reason (for example C(Path does not exist (ENOENT))) and nothing is saved.
    A new library is created without paths, validated, and removed again if a path is rejected.
  - Import paths and exclusion patterns are compared as sets.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.immich
options:
  name:
    description: The library's name, unique among the server's libraries.
    type: str
    required: true
  owner:
    description: Email of the Immich user the library's assets belong to. Required with O(state=present).
    type: str
  import_paths:
    description:
      - Folders Immich scans, as paths B(inside the immich-server container) (mount host folders there, read-only).
      - Left out, the library's import paths are not managed.
    type: list
    elements: str
  exclusion_patterns:
    description:
      - Glob patterns on the full path that Immich skips, such as C(**/@eaDir/**) or C(**/*.tif).
      - Left out, the library's exclusion patterns are not managed.
    type: list
    elements: str
  scan:
    description:
      - Queue a scan of the library (Immich finds new, changed and removed files). Queued on every run where it is
        V(true); without O(wait) that is reported as a change.
    type: bool
    default: false
  wait:
    description:
      - With O(scan), wait until Immich's library queue is idle again, then report the asset count before and after.
        The task is changed only when the scan added or removed assets.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait for the scan with O(wait).
    type: int
    default: 600
  state:
    description: Whether the library should exist. Removing a library removes its assets from Immich, never the files.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details:
      - Changed import paths of an existing library are validated by Immich in check mode too (the validate
        endpoint only reads); a library that does not exist yet cannot be validated before it is created.
      - No scan is queued in check mode.
  diff_mode:
    support: full
    details:
      - The diff shows name, owner, import paths and exclusion patterns (sorted).
"""

EXAMPLES = r"""
- name: Ensure the family's photo vault is an Immich external library, and scan it
  sovereign.cloud.immich_library:
    api_url: https://photos.example.com
    api_key: "{{ vault_immich_api_key }}"
    name: Photo vault
    owner: admin@example.com
    import_paths: [/mnt/media]
    exclusion_patterns: ["**/@eaDir/**", "**/.thumbnails/**"]
    scan: true
    wait: true

- name: Ensure the old iCloud import library is gone
  sovereign.cloud.immich_library:
    api_key: "{{ vault_immich_api_key }}"
    name: iCloud import
    state: absent
"""

RETURN = r"""
summary:
  description: One line saying what was done, for the run summary.
  returned: always
  type: str
  sample: "library 'Photo vault' created; scanned: 0 -> 1250 assets"
library:
  description:
    - The library as Immich returns it (C(LibraryResponseDto)); the would-be library in check mode, empty after removal.
  returned: always
  type: dict
  sample: {"id": "8f9c0d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "name": "Photo vault", "ownerId": "0d3b3f1e-1111-4a2b-9c3d-2e4f5a6b7c8d",
           "importPaths": ["/mnt/media"], "exclusionPatterns": ["**/@eaDir/**"], "assetCount": 1250,
           "createdAt": "2026-12-03T06:00:00.000Z", "updatedAt": "2026-12-03T06:00:00.000Z",
           "refreshedAt": "2026-12-03T06:01:00.000Z"}
validation:
  description: Immich's answer to validating the import paths (C(importPath), C(isValid), C(message)).
  returned: when import paths were created or changed
  type: list
  elements: dict
  sample: [{"importPath": "/mnt/media", "isValid": true}]
scan:
  description:
    - What happened to the scan; C(asset_count_before), C(asset_count_after) and C(seconds) when O(wait=true).
  returned: when O(scan=true)
  type: dict
  sample: {"queued": true, "waited": true, "seconds": 4.5, "asset_count_before": 0, "asset_count_after": 1250}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.immich.client import ImmichClient, ImmichError, api_argument_spec
from ansible_collections.sovereign.cloud.plugins.module_utils.immich.library import converge_library


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        owner={"type": "str"},
        import_paths={"type": "list", "elements": "str"},
        exclusion_patterns={"type": "list", "elements": "str"},
        scan={"type": "bool", "default": False},
        wait={"type": "bool", "default": False},
        wait_timeout={"type": "int", "default": 600},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ["owner"])])
    params = module.params
    try:
        result = converge_library(
            ImmichClient.from_module(module), name=params["name"], owner=params["owner"],
            import_paths=params["import_paths"], exclusion_patterns=params["exclusion_patterns"], state=params["state"],
            scan=params["scan"], wait=params["wait"], wait_timeout=params["wait_timeout"], check_mode=module.check_mode)
    except ImmichError as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
