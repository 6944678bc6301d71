#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: restic_repository
short_description: Make sure a restic repository exists and opens with its password
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Probes the repository with C(restic cat config). When it opens, nothing changes. When there is no repository
    at the location, it is initialised with C(restic init) (unless O(init=false), which fails instead).
  - When a repository exists but the password does not open it, the module fails and says so; it never
    initialises over it.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.restic
options:
  init:
    description: Initialise the repository when there is none at the location. With V(false), a missing repository fails.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - The probe runs in check mode (it only reads); C(restic init) does not. When restic or the O(env_file) is not
        on the host yet (a first run in check mode), the module reports that it would initialise.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Ensure the NAS repository exists (credentials from the env file the role wrote)
  sovereign.cloud.restic_repository:
    env_file: /etc/sovereign/restic/nas.env

- name: Ensure the Backblaze B2 repository exists
  sovereign.cloud.restic_repository:
    repository: s3:s3.us-west-004.backblazeb2.com/family-backup/server
    password: "{{ vault_restic_password }}"
    env:
      AWS_ACCESS_KEY_ID: "{{ vault_b2_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_b2_application_key }}"
"""

RETURN = r"""
summary:
  description: What was found or done.
  returned: always
  type: str
  sample: initialised the restic repository /srv/backup/restic
created:
  description: Whether the repository was (or in check mode, would be) initialised.
  returned: always
  type: bool
config:
  description: The repository's C(config) (C(id), C(version), C(chunker_polynomial)) when it exists.
  returned: when the repository opens
  type: dict
  sample: {id: 5b9c0f..., version: 2, chunker_polynomial: 3c2a3d01bfbbd9}
kind:
  description: What went wrong, for a playbook to branch on (for example V(wrong_password), V(locked), V(config)).
  returned: on failure
  type: str
  sample: wrong_password
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils import restic


def probe(module, env: dict) -> tuple[str, dict]:
    """('exists', config) or ('no_repository', {}); anything else fails the module."""
    binary = module.params["restic_binary"]
    location = env.get("RESTIC_REPOSITORY", "")
    result = restic.run(["cat", "config", "--no-lock"], env, binary=binary)
    if result.returncode == restic.OK:
        try:
            return "exists", json.loads(result.stdout)
        except ValueError:
            return "exists", {}
    kind = restic.classify_error(result.stderr)
    if kind == "no_repository":
        return kind, {}
    raise restic.ResticError(restic.explain(kind, location, result.stderr), rc=result.returncode,
                             stderr=result.stderr, kind=kind)


def run_module() -> None:
    spec = dict(restic.ARG_SPEC, init={"type": "bool", "default": True})
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_one_of=[("repository", "env_file")])
    params = module.params
    if module.check_mode:
        missing = []
        if params["env_file"] and not os.path.exists(params["env_file"]):
            missing.append(f"the env file {params['env_file']}")
        try:
            restic.find_restic(params["restic_binary"])
        except restic.ResticError:
            missing.append("restic")
        if missing:
            module.exit_json(changed=True, created=True,
                             summary=f"would probe and initialise the repository if needed ({' and '.join(missing)} "
                                     "not on the host yet)")
    try:
        env = restic.module_env(module)
        location = restic.redact_repository(env.get("RESTIC_REPOSITORY", ""))
        state, config = probe(module, env)
        if state == "exists":
            module.exit_json(changed=False, created=False, config=config,
                             summary=f"the restic repository {location} exists and opens")
        if not params["init"]:
            module.fail_json(msg=f"there is no restic repository at {location} and init is false: create it, or set "
                                 "init to true", created=False)
        if module.check_mode:
            module.exit_json(changed=True, created=True, summary=f"would initialise the restic repository {location}")
        result = restic.run(["init"], env, binary=params["restic_binary"])
        restic.raise_for(result, env.get("RESTIC_REPOSITORY", ""), f"cannot initialise the restic repository {location}")
        state, config = probe(module, env)
        module.exit_json(changed=True, created=True, config=config,
                         summary=f"initialised the restic repository {location}")
    except restic.ResticError as exc:
        module.fail_json(msg=str(exc), kind=exc.kind, rc=exc.rc)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
