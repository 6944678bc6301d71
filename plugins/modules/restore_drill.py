#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: restore_drill
short_description: Prove that photo-vault originals restore intact from a restic snapshot
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Picks a random sample of originals from the photo vault's catalog (O(count) files, or as many as fit in
    O(max_bytes), or both limits), restores them with one C(restic restore) from the newest snapshot that holds
    the vault (or O(snapshot)) into a private temporary directory, compares each file's sha256 and size with the
    catalog, records the drill in the catalog (date, snapshot, sample, per-file result) and removes the temporary
    directory, also when something fails.
  - The drill passes only when every sampled file was restored with identical content. A file restic restores
    nothing for (a non-matching include restores nothing and still exits 0), a file restic reports an error for
    (such as a damaged pack), a different hash or size, and an empty sample all fail it, with the file named.
  - The catalog's drill record is the evidence that later allows deleting a photo from iCloud.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.photo_vault
  - sovereign.cloud.photo_vault.vault
  - sovereign.cloud.restic
options:
  count:
    description: How many originals to sample. Without O(count) and O(max_bytes), 10 are sampled.
    type: int
  max_bytes:
    description: Sample as many originals as fit in this many bytes (at least one). Combined with O(count), both apply.
    type: int
  snapshot:
    description: The snapshot to restore from (an id or unique prefix), or V(latest) for the newest that holds the vault.
    type: str
    default: latest
  host:
    description: Only consider snapshots made on this host (restic's C(--host)).
    type: str
  tags:
    description: Only consider snapshots with all of these tags (restic's C(--tag)).
    type: list
    elements: str
    default: []
  path:
    description: Only consider snapshots whose backed-up paths include this absolute path (restic's C(--path)).
    type: str
  snapshot_vault_path:
    description:
      - Where the vault is inside the snapshots. By default the absolute O(vault) path, which is right when the vault
        was backed up with an absolute path on this host (the P(sovereign.cloud.restic_backup#role) role always does).
      - Set it when the backup ran on another host or mount point (the vault mounted at C(/mnt/media) there).
    type: path
  tmp_dir:
    description:
      - Where the private restore directory is created (it is removed afterwards). It needs free space for the
        sample; by default the system's temporary directory.
    type: path
  fail_on_failure:
    description: Fail the task when the drill does not pass (after recording it). With V(false), check RV(passed).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - Samples and finds the snapshot (read-only, C(--no-lock)), and returns what would be restored; restores
        nothing and records nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Restore 25 random originals from the NAS repository and compare them with the catalog
  sovereign.cloud.restore_drill:
    vault: /srv/sovereign/vault
    env_file: /etc/sovereign/restic/nas.env
    count: 25

- name: Drill against the off-site copy, sampling up to 2 GB, on a roomy disk
  sovereign.cloud.restore_drill:
    vault: /mnt/nas/photos
    catalog: "{{ vault_catalog_dsn }}"
    repository: s3:s3.us-west-004.backblazeb2.com/family-backup/photos
    password: "{{ vault_restic_password }}"
    env:
      AWS_ACCESS_KEY_ID: "{{ vault_b2_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_b2_application_key }}"
    max_bytes: 2000000000
    tmp_dir: /srv/scratch
    tags: [photos]
"""

RETURN = r"""
summary:
  description: One line saying whether the drill passed, on how many files, from which snapshot.
  returned: always
  type: str
  sample: "restore drill passed: 25 original(s), 81234567 bytes, restored from snapshot 88d484e1 of /srv/backup/restic
    with sha256 identical to the catalog"
passed:
  description: Whether every sampled original was restored intact. V(null) in check mode.
  returned: always
  type: bool
snapshot:
  description: The snapshot the drill restored from (C(id), C(short_id), C(time), C(hostname), C(paths), C(tags)).
  returned: always
  type: dict
sample:
  description: The sample - C(count), C(bytes) and C(files) (C(sha256), C(rel_path), C(size)).
  returned: always
  type: dict
failures:
  description: The originals that did not restore intact, each with C(sha256), C(rel_path) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{sha256: 9f86d0..., rel_path: originals/2023/05/01/9f86d0....heic,
            reason: "restic restored nothing for /srv/vault/originals/...: ciphertext verification failed"}]
drill_id:
  description: The drill's id in the catalog.
  returned: when not in check mode
  type: int
duration_s:
  description: Seconds the drill took.
  returned: when not in check mode
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.restore_drill import DrillError, run_drill
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import CATALOG_ARG_SPEC, redact_dsn


def main() -> None:
    spec = dict(
        restic.ARG_SPEC,
        vault={"type": "path", "required": True},
        **CATALOG_ARG_SPEC,
        count={"type": "int"},
        max_bytes={"type": "int"},
        snapshot={"type": "str", "default": "latest"},
        host={"type": "str"},
        tags={"type": "list", "elements": "str", "default": []},
        path={"type": "str"},
        snapshot_vault_path={"type": "path"},
        tmp_dir={"type": "path"},
        fail_on_failure={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    if params["catalog"] and "://" in params["catalog"]:
        # A DSN's password must not show up in any output.
        if redact_dsn(params["catalog"]) != params["catalog"]:
            secret = params["catalog"].rpartition("@")[0].partition("://")[2].partition(":")[2]
            if secret:
                module.no_log_values.add(secret)
    try:
        env = restic.module_env(module)
        result = run_drill(
            params["vault"], env, catalog=params["catalog"], count=params["count"], max_bytes=params["max_bytes"],
            snapshot=params["snapshot"], host=params["host"], tags=params["tags"], path=params["path"],
            snapshot_vault_path=params["snapshot_vault_path"], tmp_dir=params["tmp_dir"],
            restic_binary=params["restic_binary"], check_mode=module.check_mode)
    except (DrillError, restic.ResticError) as exc:
        module.fail_json(msg=f"restore drill could not run: {exc}", passed=False)
    if result["passed"] is False and params["fail_on_failure"]:
        module.fail_json(msg=result["summary"], **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
