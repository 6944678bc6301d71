# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How every sovereign.cloud.pve_* module reaches the Proxmox VE API.
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - V(https) talks to the API over the network (from the controller), V(local) runs C(pvesh) on the PVE node
        itself as root (proxmoxer's local backend; run the task on the node with C(become)).
    type: str
    choices: [https, local]
    default: https
  api_host:
    description: Host name or address of the PVE node. Required with O(backend=https).
    type: str
  api_port:
    description: Port of the PVE API (C(pveproxy)).
    type: int
    default: 8006
  api_user:
    description:
      - User to log in as with O(api_password), C(user@realm). PVE allows bind mounts only to V(root@pam).
    type: str
    default: root@pam
  api_password:
    description: Password of O(api_user); the module logs in for a ticket. Keep it in ansible-vault.
    type: str
  api_token_id:
    description:
      - API token, C(user@realm!tokenname) (or the token name alone, with O(api_user)), sent as
        C(PVEAPIToken=user@realm!tokenname=SECRET). Create one with C(pveum user token add USER NAME).
      - PVE refuses bind mounts to every token, root@pam's included.
    type: str
  api_token_secret:
    description: The token's secret (a UUID), shown once when the token is made.
    type: str
  fingerprint:
    description:
      - SHA-256 fingerprint of the node's TLS certificate (C(AA:BB:...), 32 pairs), from C(pvenode cert info).
        When set, the certificate is checked against it instead of CA and host name checks (PVE's default
        certificate is self-signed).
    type: str
  validate_certs:
    description: Verify the certificate against the system CAs when O(fingerprint) is not set.
    type: bool
    default: true
  timeout:
    description: Seconds to wait for each API answer.
    type: int
    default: 30
requirements:
  - proxmoxer >= 2.0 where the module runs (the controller for V(https), the node for V(local)).
  - Proxmox VE 8 or 9.
"""
