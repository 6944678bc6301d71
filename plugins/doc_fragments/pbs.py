# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every sovereign.cloud.pbs_* module reaches the Proxmox Backup Server API.
    DOCUMENTATION = r"""
options:
  api_host:
    description: Host name or address of the Proxmox Backup Server.
    type: str
    required: true
  api_port:
    description: Port of the PBS API (C(proxmox-backup-proxy)).
    type: int
    default: 8007
  api_token_id:
    description:
      - API token id, C(user@realm!tokenname), sent in the C(Authorization) header as C(PBSAPIToken=user@realm!tokenname:SECRET).
      - Create one with C(proxmox-backup-manager user generate-token USER TOKENNAME) and grant it privileges with
        C(proxmox-backup-manager acl update PATH ROLE --auth-id USER!TOKENNAME).
    type: str
    required: true
  api_token_secret:
    description: The token's secret (a UUID), shown once when the token is made. Keep it in ansible-vault.
    type: str
    required: true
  fingerprint:
    description:
      - SHA-256 fingerprint of the PBS server certificate (C(aa:bb:...), 32 pairs), as shown by
        C(proxmox-backup-manager cert info) or on the dashboard. When set, every connection is checked against
        it, instead of CA and host name checks (PBS's default certificate is self-signed).
    type: str
  validate_certs:
    description: Verify the server certificate against the system CAs when O(fingerprint) is not set.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API answer.
    type: int
    default: 30
requirements:
  - Proxmox Backup Server 3.x or 4.x.
notes:
  - Only the Python standard library and C(ansible.module_utils) are used.
"""
