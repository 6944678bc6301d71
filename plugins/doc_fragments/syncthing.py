# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every sovereign.cloud.syncthing_* module reaches Syncthing's REST API.
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of Syncthing's GUI/REST API, as set in C(config.xml) at C(<gui><address>).
      - On the Syncthing host itself this is usually V(http://127.0.0.1:8384). For a peer whose Syncthing runs
        elsewhere (a Windows or macOS laptop), delegate the task to C(localhost) and point this at the
        peer's GUI address on the LAN, which that peer must listen on.
    type: str
    default: http://127.0.0.1:8384
  api_key:
    description:
      - Syncthing's API key, sent as the C(X-API-Key) header. It is in C(config.xml) at C(<gui><apikey>) and in
        the GUI under Actions > Settings > API Key.
      - Keep it in ansible-vault. If not given, the E(SYNCTHING_API_KEY) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Verify the TLS certificate when O(api_url) is V(https://...). Syncthing's own GUI certificate is
        self-signed, so set V(false) for it (or use V(http://) on loopback).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API answer.
    type: int
    default: 10
requirements:
  - Syncthing 1.12 or later (tested with 1.19.2) with its GUI/REST API enabled.
notes:
  - Only the Python standard library and C(ansible.module_utils) are used, so nothing has to be installed on
    the host the module runs on.
"""
