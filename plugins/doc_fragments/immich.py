# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every sovereign.cloud.immich_* module reaches Immich's REST API.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Address of the Immich server, as the web page is reached (with or without the trailing C(/api)).
      - If not given, the E(IMMICH_URL) environment variable is used.
    type: str
    default: http://127.0.0.1:2283
  api_key:
    description:
      - An Immich API key, sent as the C(x-api-key) header. External libraries are admin only, so it must belong
        to an admin user; make it in Immich's web page under Account Settings > API Keys.
      - Keep it in ansible-vault. If not given, the E(IMMICH_API_KEY) environment variable is used.
    type: str
    required: true
  validate_certs:
    description: Verify the TLS certificate when O(api_url) is V(https://...).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API answer.
    type: int
    default: 30
requirements:
  - Immich server 2.x or 3.x (answer shapes of both, from C(@immich/sdk) 2.7.5 and 3.2.2).
notes:
  - Only the Python standard library and C(ansible.module_utils) are used, so nothing has to be installed on
    the host the module runs on.
"""
