#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: immich_info
short_description: Read an Immich server's version, external libraries and statistics
version_added: 0.2.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads the server version (Immich 2.x and 3.x shapes), every external library with its statistics, and the
    server's statistics (photos, videos, usage per user). Needs an admin's API key.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.attributes.info_module
  - sovereign.cloud.immich
options:
  library_statistics:
    description: Also read each library's statistics (one request per library).
    type: bool
    default: true
  server_statistics:
    description: Also read the server's statistics (C(GET /server/statistics)).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Read what Immich holds
  sovereign.cloud.immich_info:
    api_url: https://photos.example.com
    api_key: "{{ vault_immich_api_key }}"
  register: immich

- name: Show the libraries and their asset counts
  ansible.builtin.debug:
    msg: "{{ immich.libraries | items2dict(key_name='name', value_name='assetCount') }}"
"""

RETURN = r"""
server:
  description: The server version; C(prerelease) is null on 2.x, which does not report it.
  returned: always
  type: dict
  sample: {"version": "3.2.2", "major": 3, "minor": 2, "patch": 2, "prerelease": null}
libraries:
  description: Every external library (C(LibraryResponseDto)), with C(statistics) (photos, videos, total, usage in bytes).
  returned: always
  type: list
  elements: dict
statistics:
  description: The server's statistics (photos, videos, usage, usagePhotos, usageVideos, usageByUser); empty when not read.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.immich.client import ImmichClient, ImmichError, api_argument_spec
from ansible_collections.sovereign.cloud.plugins.module_utils.immich.library import gather_info


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        library_statistics={"type": "bool", "default": True},
        server_statistics={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        info = gather_info(ImmichClient.from_module(module), module.params["library_statistics"],
                           module.params["server_statistics"])
    except ImmichError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
