#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: syncthing_options
short_description: Set Syncthing's global options (discovery, relays, NAT, reporting, listen addresses)
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Sets the node-wide options of a Syncthing instance through its REST API (C(PATCH /rest/config/options)),
    changing only the options you set.
  - O(lan_only=true) is the switch for a family whose devices only ever meet on the home LAN, or reach each other
    through a VPN they own. It turns off global discovery (which publishes this device's addresses to Syncthing's
    public discovery servers), relaying through public relays, and NAT port mapping (UPnP/NAT-PMP on the router).
    Local discovery, a broadcast on the LAN itself, is left as set by O(local_discovery).
  - Options are read back after the change; a value Syncthing did not store as given is an error.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.syncthing
options:
  lan_only:
    description:
      - Turn off O(global_discovery), O(relays) and O(nat) together. Setting one of them to V(true) as well is an
        error.
    type: bool
  global_discovery:
    description: Announce this device to, and look peers up on, the global discovery servers (C(globalAnnounceEnabled)).
    type: bool
  local_discovery:
    description: Announce this device on the LAN by broadcast and multicast (C(localAnnounceEnabled)).
    type: bool
  relays:
    description: Use public relays when a direct connection fails (C(relaysEnabled)).
    type: bool
  nat:
    description: Ask the router for a port mapping with UPnP or NAT-PMP (C(natEnabled)).
    type: bool
  crash_reporting:
    description: Send crash reports to the Syncthing project (C(crashReportingEnabled)).
    type: bool
  usage_reporting:
    description:
      - V(false) declines anonymous usage reporting for good (C(urAccepted=-1)), so the GUI stops asking.
      - V(true) accepts it (version 3, or a newer version already accepted).
    type: bool
  auto_upgrade_interval:
    description:
      - Hours between checks for a new Syncthing release (C(autoUpgradeIntervalH)); V(0) turns automatic upgrades
        off. Distribution packages (such as Debian's) never upgrade themselves anyway.
    type: int
  listen_addresses:
    description: Addresses to accept connections on, such as V(tcp://0.0.0.0:22000) and V(quic://0.0.0.0:22000), or V(default).
    type: list
    elements: str
  start_browser:
    description: Open a browser on start (meaningless for a service; C(startBrowser)).
    type: bool
  settings:
    description:
      - Other option keys in Syncthing's camelCase spelling, such as C(maxSendKbps) or C(alwaysLocalNets).
      - Keys Syncthing does not know are an error (Syncthing itself would ignore them silently); keys that have
        their own option above must be set with that option.
    type: dict
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the options that were set, in Syncthing's spelling, before and after.
"""

EXAMPLES = r"""
- name: Ensure Syncthing stays on the family LAN and reports nothing
  sovereign.cloud.syncthing_options:
    api_key: "{{ syncthing_api_key }}"
    lan_only: true
    local_discovery: true
    crash_reporting: false
    usage_reporting: false
    auto_upgrade_interval: 0
    listen_addresses:
      - tcp://0.0.0.0:22000
      - quic://0.0.0.0:22000
"""

RETURN = r"""
summary:
  description: One line saying what was done, for the run summary.
  returned: always
  type: str
  sample: "Syncthing options changed: globalAnnounceEnabled, natEnabled, relaysEnabled"
options:
  description: All of Syncthing's options after the change (as they would be, in check mode).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sovereign.cloud.plugins.module_utils.syncthing import (
    SyncthingClient,
    SyncthingError,
    api_argument_spec,
    ensure_options,
    options_wanted,
)


def main() -> None:
    argument_spec = api_argument_spec()
    argument_spec.update(
        lan_only={"type": "bool"},
        global_discovery={"type": "bool"},
        local_discovery={"type": "bool"},
        relays={"type": "bool"},
        nat={"type": "bool"},
        crash_reporting={"type": "bool"},
        usage_reporting={"type": "bool"},
        auto_upgrade_interval={"type": "int"},
        listen_addresses={"type": "list", "elements": "str"},
        start_browser={"type": "bool"},
        settings={"type": "dict"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = ensure_options(SyncthingClient.from_module(module), options_wanted(module.params),
                                settings=module.params["settings"], check_mode=module.check_mode)
    except SyncthingError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
