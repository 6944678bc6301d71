# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every pbs_* config module does: build the client, reconcile one item, exit with changed/diff."""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from .client import API_ARGUMENT_SPEC, PBSClient, PBSError
from .config import Kind, SectionConfig, desired_from_params


def argument_spec(options: dict) -> dict:
    spec = dict(API_ARGUMENT_SPEC)
    spec.update(options)
    spec["state"] = {"type": "str", "default": "present", "choices": ["present", "absent"]}
    return spec


def run_config_module(module: AnsibleModule, kind: Kind, ident_option: str, option_to_api: dict,
                      write_secret: bool = False, delete_params: dict | None = None) -> None:
    params = module.params
    try:
        client = PBSClient.from_module(module)
        engine = SectionConfig(client, kind, task_timeout=params.get("task_timeout") or 600)
        desired = desired_from_params(params, option_to_api)
        result = engine.ensure(params[ident_option], desired, params["state"], module.check_mode,
                               write_secret=write_secret, delete_params=delete_params)
    except PBSError as exc:
        module.fail_json(msg=exc.msg, kind=exc.kind)
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)
