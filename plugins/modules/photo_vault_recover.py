#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: photo_vault_recover
short_description: Restore a whole photo vault from restic onto a new host, and prove every original
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Disaster recovery of the photo vault. Restores the vault from one restic snapshot (the newest that holds it, or
    O(snapshot)) into a staging directory beside O(dest), then checks every original before O(dest) sees anything -
    each file under C(originals/) must hash to the sha256 its name carries, and when the snapshot holds the SQLite
    catalog, every asset it lists must be there with its sha256 and size.
  - Only a restore that passes is renamed into O(dest) (one rename on the same file system) and recorded in
    C(<dest>/.sovereign-restore.json). A restore that fails is kept in the staging directory (RV(kept_at)) for a
    person to look at, O(dest) is left untouched, and the task fails with the files named.
  - When O(dest) is a mount point (a re-created ZFS dataset such as C(/mnt/media)), the staging directory is inside
    it (C(.sovereign-restoring-<pid>)) and the vault's top-level entries are renamed up into O(dest) once it passed.
  - O(dest) must be missing or empty; files already there are never overwritten. A second run against a O(dest)
    restored from the same snapshot changes nothing.
  - O(source=pbs) restores from a Proxmox Backup Server instead (seed 001's "restore photos from n6005's PBS") -
    the newest snapshot holding O(archive) (the media backup's C(media.pxar)), read with C(proxmox-backup-client).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.restic
options:
  source:
    description: Where the backup is - a restic repository (the O(repository) options) or a PBS datastore (the O(pbs_repository) options).
    type: str
    choices: [restic, pbs]
    default: restic
  pbs_repository:
    description:
      - The PBS repository, as C(proxmox-backup-client) takes it - C(user@realm!token@host:port:datastore).
      - Overrides E(PBS_REPOSITORY) from O(pbs_env_file).
    type: str
  pbs_password:
    description: The token secret or password (E(PBS_PASSWORD)). Keep it in ansible-vault.
    type: str
  pbs_fingerprint:
    description: The PBS server's certificate fingerprint (E(PBS_FINGERPRINT)), pinned.
    type: str
  pbs_env_file:
    description:
      - A C(KEY="value") file on the managed host with E(PBS_REPOSITORY), E(PBS_PASSWORD), E(PBS_FINGERPRINT), such
        as the one the P(sovereign.cloud.pve_host#role) role writes for the media backup (mode 0600).
    type: path
  archive:
    description: The archive in the PBS snapshots that holds the vault.
    type: str
    default: media.pxar
  backup_id:
    description: Only snapshots of this backup id (the backed-up host, for example C(intel-1250p)).
    type: str
  namespace:
    description: The PBS namespace of the snapshots.
    type: str
  keyfile:
    description: The encryption key file, when the media backup was encrypted.
    type: path
  client_binary:
    description: The C(proxmox-backup-client) executable.
    type: str
    default: proxmox-backup-client
  dest:
    description: Where the vault is restored (missing or an empty directory, for example the new host's RAID mount).
    type: path
    required: true
  snapshot:
    description:
      - The snapshot to restore, or V(latest) for the newest that holds the vault. restic - an id or unique prefix;
        PBS - C(host/<backup-id>/<time>) as C(proxmox-backup-client snapshot list) shows it.
    type: str
    default: latest
  snapshot_vault_path:
    description:
      - Where the vault was inside the snapshots. restic - its absolute path on the host that backed it up (by
        default O(dest)). PBS - its path inside the archive (by default V(/), the archive is the vault's folder).
    type: path
  host:
    description: Only consider snapshots made on this host (restic's C(--host)), the lost host's name.
    type: str
  tags:
    description: Only consider snapshots with all of these tags.
    type: list
    elements: str
    default: []
  workers:
    description: Hashing processes (0 is one per CPU core).
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    details: Finds the snapshot (read-only) and says what would be restored; restores nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Restore the vault of the dead NAS onto this host from the off-site repository
  sovereign.cloud.photo_vault_recover:
    dest: /srv/sovereign/photos
    snapshot_vault_path: /srv/sovereign/photos
    host: nas
    repository: "s3:s3.us-west-004.backblazeb2.com/family-offsite/nas"
    password: "{{ vault_restic_offsite_password }}"
    env:
      AWS_ACCESS_KEY_ID: "{{ vault_b2_key_id }}"
      AWS_SECRET_ACCESS_KEY: "{{ vault_b2_application_key }}"
"""

RETURN = r"""
summary:
  description: One line - what was restored from which snapshot and that every original matched, or why not.
  returned: always
  type: str
  sample: "restored 41230 original(s) (612.4 GiB) from snapshot 88d484e1 into /srv/sovereign/photos; every one matches
    its sha256 and the catalog's 41230 assets are all there"
passed:
  description: Whether every original matched. V(null) in check mode.
  returned: always
  type: bool
vault:
  description: The restored vault (O(dest)).
  returned: always
  type: str
snapshot:
  description: The snapshot restored (C(id), C(short_id), C(time), C(hostname), C(paths), C(tags), C(repository)).
  returned: always
  type: dict
snapshot_vault_path:
  description: Where the vault was inside the snapshot.
  returned: always
  type: str
originals:
  description: How many originals were restored and checked.
  returned: when something was restored or already had been
  type: int
bytes:
  description: Their size in bytes.
  returned: when something was restored or already had been
  type: int
catalog_assets:
  description: Assets in the restored SQLite catalog (V(null) when the snapshot held none).
  returned: when something was restored or already had been
  type: int
ok:
  description: Originals whose content matched their name.
  returned: when something was restored
  type: int
mismatched:
  description: Originals whose content does not hash to their name (C(path), C(sha256), C(named)); at most 50 listed.
  returned: when something was restored
  type: list
  elements: dict
unreadable:
  description: Originals that could not be read (C(path), C(reason)).
  returned: when something was restored
  type: list
  elements: dict
missing:
  description: Catalog assets not restored intact (C(path), C(sha256)).
  returned: when something was restored
  type: list
  elements: dict
unknown:
  description: Files under C(originals/) that the catalog does not list or that are not named by a sha256.
  returned: when something was restored
  type: list
  elements: str
restic_errors:
  description: The errors restic reported while restoring, one per file; any of them fails the recovery.
  returned: when something was restored
  type: list
  elements: str
duration_s:
  description: Seconds the restore and the check took.
  returned: when something was restored
  type: float
kept_at:
  description: Where a restore that did not pass was kept (O(dest) is untouched).
  returned: when the restore did not pass
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.recover import (
    PbsSource, RecoverError, ResticSource, recover_vault)


PBS_ENV = {"pbs_repository": "PBS_REPOSITORY", "pbs_password": "PBS_PASSWORD", "pbs_fingerprint": "PBS_FINGERPRINT"}


def pbs_env(module) -> dict:
    params = module.params
    env = dict(os.environ)
    if params["pbs_env_file"]:
        env.update(restic.read_env_file(params["pbs_env_file"]))
    env.update({name: params[key] for key, name in PBS_ENV.items() if params[key]})
    if env.get("PBS_PASSWORD"):
        module.no_log_values.add(env["PBS_PASSWORD"])
    return env


def main() -> None:
    spec = dict(
        restic.ARG_SPEC,
        source={"type": "str", "choices": ["restic", "pbs"], "default": "restic"},
        pbs_repository={"type": "str"},
        pbs_password={"type": "str", "no_log": True},
        pbs_fingerprint={"type": "str"},
        pbs_env_file={"type": "path"},
        archive={"type": "str", "default": "media.pxar"},
        backup_id={"type": "str"},
        namespace={"type": "str"},
        keyfile={"type": "path", "no_log": False},
        client_binary={"type": "str", "default": "proxmox-backup-client"},
        dest={"type": "path", "required": True},
        snapshot={"type": "str", "default": "latest"},
        snapshot_vault_path={"type": "path"},
        host={"type": "str"},
        tags={"type": "list", "elements": "str", "default": []},
        workers={"type": "int", "default": 0},
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    try:
        if params["source"] == "pbs":
            source = PbsSource(pbs_env(module), archive=params["archive"], backup_id=params["backup_id"],
                               ns=params["namespace"], keyfile=params["keyfile"], binary=params["client_binary"],
                               snapshot=params["snapshot"])
        else:
            source = ResticSource(restic.module_env(module), snapshot=params["snapshot"], host=params["host"],
                                  tags=params["tags"], binary=params["restic_binary"])
        result = recover_vault(params["dest"], source, snapshot_vault_path=params["snapshot_vault_path"],
                               workers=params["workers"], check_mode=module.check_mode)
    except RecoverError as exc:
        module.fail_json(msg=str(exc), **dict({"passed": False}, **exc.result))
    except (restic.ResticError, OSError) as exc:
        module.fail_json(msg=f"the vault could not be restored: {exc}", passed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
