#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pmset
short_description: Set macOS power management settings per power source, only where they differ
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads the settings of every power source profile from C(pmset -g custom) and writes, with one
    C(pmset -a|-c|-b|-u key value ...), only the keys whose value differs.
  - Parsing does not depend on the order pmset prints keys in (it has none), keeps values with a
    C((sleep prevented by ...)) suffix apart from the suffix, and reads a wanted C(lowpowermode) from
    C(powermode) on Macs that show that one instead.
  - After writing, the settings are read again; a key pmset accepted but still shows differently (one
    this Mac does not support) is reported as a warning.
requirements:
  - macOS C(pmset). Writing needs root (C(become=true)).
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  settings:
    description:
      - "pmset setting name -> value, for example C({sleep: 0, disksleep: 0, womp: 1, autorestart: 1})."
      - Numbers and booleans are written as pmset prints them (V(true) becomes V(1)). A value of V(0) for
        C(sleep), C(disksleep) or C(displaysleep) means never.
    type: dict
    required: true
  source:
    description:
      - The power source profile to set. V(all) is C(pmset -a) and compares every profile the Mac shows.
      - V(ac) is C(-c) (wall power), V(battery) is C(-b), V(ups) is C(-u). A source the Mac has no profile
        for (a battery on a Mac mini) is left alone with a warning.
    type: str
    choices: [all, ac, battery, ups]
    default: all
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows, per compared source, the wanted keys before and after (V(null) where pmset shows no value).
"""

EXAMPLES = r"""
- name: Keep the backup controller awake, waking on network access and restarting after a power failure
  sovereign.cloud.pmset:
    settings:
      sleep: 0
      disksleep: 0
      womp: 1
      autorestart: 1
  become: true

- name: Let a laptop on battery sleep after 15 minutes
  sovereign.cloud.pmset:
    source: battery
    settings:
      sleep: 15
  become: true
"""

RETURN = r"""
current:
  description: Every setting of every power source profile, as pmset shows them after the run.
  returned: success
  type: dict
  sample: {ac: {sleep: "0", disksleep: "0", womp: "1", autorestart: "1", displaysleep: "10"}}
commands:
  description: The pmset command run (or, in check mode, the one that would be).
  returned: success
  type: list
  elements: str
  sample: ["pmset -a sleep 0 womp 1"]
summary:
  description: One line saying what happened.
  returned: always
  type: str
  sample: "pmset all: set sleep=0, womp=1"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.pmset import Pmset, PmsetError, ensure


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "source": {"type": "str", "choices": ["all", "ac", "battery", "ups"], "default": "all"},
        },
        supports_check_mode=True,
    )
    module.run_command_environ_update = {"LANG": "C", "LC_ALL": "C"}
    binary = module.get_bin_path("pmset")
    if not binary:
        module.fail_json(msg="pmset was not found on the target: this module manages macOS hosts only.",
                         summary="pmset: not found")
    try:
        result = ensure(Pmset(module.run_command, binary), module.params["settings"], module.params["source"],
                        module.check_mode)
    except PmsetError as exc:
        module.fail_json(msg=str(exc), summary=f"pmset: failed: {exc}")
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
