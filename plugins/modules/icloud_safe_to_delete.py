#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: icloud_safe_to_delete
short_description: Report, asset by asset, which iCloud photos are provably safe to delete and why the others must stay
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Lists every asset of one Apple ID's iCloud photo library through pyicloud, with the session icloudpd keeps in
    O(cookie_directory) (copied to a private directory, so the files icloudpd uses are never written), and every
    file each asset has in iCloud - the original, a RAW or alternative original, a Live Photo's video, an edit.
  - Calls an asset V(safe) only when, for every one of those files, all of this holds - each file was downloaded
    (found in the vault's catalog by the iCloud id ingest recorded from icloudpd's name-id7 file name, else by file
    name, size and capture date); its size equals iCloud's; its sha256 is in the catalog and the vault's copy did not
    fail photo_verify; the vault's copy decodes and still has that sha256; it is in at least O(min_copies) verified
    backup copies (restic snapshots taken before the repository's last passing C(restic check), PBS snapshots that
    passed verification); and the vault's last restore drill passed within O(drill_max_age_days).
  - Every other asset is V(keep) with each reason that applies, in words that say what to do next.
  - Writes C(<report_name>.json), C(.csv) and a self-contained C(.html) page into O(output_dir), each atomically and
    only when the verdicts or the evidence changed, so a second run with the same evidence reports no change.
  - Never deletes anything, in iCloud or anywhere else, and never writes into the vault or its catalog.
extends_documentation_fragment:
  - sovereign.cloud.attributes
options:
  username:
    description: The Apple ID (an email address) whose library is assessed.
    type: str
    required: true
  cookie_directory:
    description:
      - The directory holding the Apple ID's session, shared with icloudpd's C(--cookie-directory) and kept by
        M(sovereign.cloud.icloud_session). Read only.
    type: path
    required: true
  library:
    description: The iCloud photo library, V(PrimarySync) or a shared library's zone (C(SharedSync-<UUID>)).
    type: str
    default: PrimarySync
  domain:
    description: V(cn) for an Apple ID whose country is China mainland.
    type: str
    choices: [com, cn]
    default: com
  vault:
    description: The photo vault's root (C(originals/) and, by default, C(catalog.sqlite)).
    type: path
    required: true
  catalog:
    description: The catalog, when it is not C(<vault>/catalog.sqlite) - a file path or a C(postgresql://) DSN.
    type: str
  download_roots:
    description:
      - The folders icloudpd downloads this Apple ID's library into. Only catalog sources under them are matched
        (so another person's photos never vouch for this account's), and files there that ingest has not seen yet
        are named as such.
      - Empty matches every source the catalog knows.
    type: list
    elements: path
    default: []
  walk_downloads:
    description: Walk O(download_roots) for files not in the catalog yet, to tell "not ingested" from "not downloaded".
    type: bool
    default: true
  output_dir:
    description: Where the JSON, CSV and HTML reports are written (created when missing).
    type: path
    required: true
  report_name:
    description: The reports' file name without extension; by default the Apple ID without its non-word characters.
    type: str
  state_dir:
    description:
      - The report's own state - the decode cache, cached restic listings, the last report's fingerprint. Never the
        vault. By default C(<output_dir>/.state).
    type: path
  mode:
    description: The reports' file mode.
    type: str
    default: "0640"
  require:
    description:
      - The files of an asset that must be downloaded and backed up before it is safe. V(original) is always required.
      - Leave out V(edited) only if losing Apple's edits (kept in iCloud only) is acceptable.
    type: list
    elements: str
    choices: [original, alternative, live_video, edited, edited_video]
    default: [original, alternative, live_video, edited, edited_video]
  min_copies:
    description: The verified backup copies every file needs (see O(count_copies_by)).
    type: int
    default: 2
  count_copies_by:
    description:
      - V(repository) counts each restic repository or PBS datastore holding the file in a verified snapshot once;
        two snapshots of one repository share its stored data and are one copy.
      - V(snapshot) counts verified snapshots (weaker; for a single repository with many snapshots).
    type: str
    choices: [repository, snapshot]
    default: repository
  restic:
    description: The restic repositories that back the vault up.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The repository's name (as in the restic_backup role's C(restic_backup_repositories)).
        type: str
        required: true
      repository:
        description: The repository location (overrides E(RESTIC_REPOSITORY) of O(restic[].env_file)).
        type: str
      password:
        description: The repository password. Keep it in ansible-vault.
        type: str
      password_file:
        description: A file on the host holding the repository password.
        type: path
      env_file:
        description: The repository's environment file (C(/etc/sovereign/restic/<name>.env), mode 0600).
        type: path
      env:
        description: Extra environment for restic (cloud credentials).
        type: dict
      cache_dir:
        description: restic's cache directory.
        type: path
      host:
        description: Only snapshots of this host.
        type: str
      tags:
        description: Only snapshots with these tags.
        type: list
        elements: str
      snapshot_vault_path:
        description: Where the vault is inside the snapshots, when it was backed up from another path.
        type: str
      check_status_file:
        description:
          - The result of the repository's last C(restic check) - the state file the restic_backup role's check timer
            writes (C(/var/lib/sovereign-cloud/restic/check-<name>.json)) or a status document. Without a passing
            check no snapshot of the repository counts.
        type: path
      check_max_age_days:
        description: The oldest passing check that still counts.
        type: int
        default: 35
      check_command:
        description: The command named when the check is missing, failed or old.
        type: str
      restic_binary:
        description: The restic executable.
        type: str
        default: restic
  pbs:
    description: Proxmox Backup Server datastores holding the vault as a pxar archive.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for the datastore in the report.
        type: str
        required: true
      env_file:
        description: An environment file with E(PBS_REPOSITORY), E(PBS_PASSWORD) and E(PBS_FINGERPRINT) (mode 0600).
        type: path
      env:
        description: Extra environment for proxmox-backup-client (the same variables).
        type: dict
      archive:
        description: The vault's archive in the snapshots.
        type: str
        default: media.pxar
      backup_id:
        description: Only snapshots of this backup id.
        type: str
      ns:
        description: The datastore namespace.
        type: str
      client_binary:
        description: The proxmox-backup-client executable.
        type: str
        default: proxmox-backup-client
  drill_max_age_days:
    description: The oldest passing restore drill that still counts.
    type: int
    default: 35
  decode_check:
    description:
      - V(standard) - the vault's own validation (JPEG entropy-decoded at 1/8 scale, PNG, TIFF, WebP and GIF fully
        decoded, HEIC container and headers, movies' container). V(full) also decodes each HEIC's image
        (about 0.4 s a photo, once).
    type: str
    choices: [standard, full]
    default: standard
  decode_max_seconds:
    description:
      - Stop checking new originals after this many seconds; the rest are kept as "not checked yet" and the next run
        goes on (results are cached). Unlimited when not set.
    type: int
  workers:
    description: Processes for the decode check; by default every core.
    type: int
  html_rows_per_group:
    description: Rows per group on the HTML page (every asset is always in the JSON and CSV).
    type: int
    default: 2000
  allow_empty:
    description: Accept a library in which iCloud lists no asset (otherwise that fails, as a wrong library name would).
    type: bool
    default: false
  reauth_command:
    description: The command named when the session must be renewed.
    type: str
attributes:
  check_mode:
    support: full
    details:
      - Lists iCloud, reads the catalog and the backups and computes the whole report; writes no file (not even the
        caches) and reports whether the reports would change.
  diff_mode:
    support: full
    details:
      - The counts of the previous report and of this one.
requirements:
  - pyicloud 2026.10.1 where the task runs; restic and/or proxmox-backup-client for the backup evidence; Pillow and
    pillow-heif for the decode check.
notes:
  - Apple cannot be reached from the tests; the listing is tested by answering pyicloud's HTTP requests in-process with
    answers written from the documented CloudKit shapes. The vault, the catalog and restic are real in the tests.
  - A PBS pxar archive is not listed file by file; a file counts in a verified PBS snapshot taken after the vault
    recorded it, and only while a restore drill from that datastore passed within O(drill_max_age_days) (the drill
    restores files from the archive and compares their sha256, which proves the archive holds the vault).
seealso:
  - module: sovereign.cloud.icloud_session
  - module: sovereign.cloud.restore_drill
  - module: sovereign.cloud.photo_verify
"""

EXAMPLES = r"""
- name: Report what Parent A may delete from iCloud
  sovereign.cloud.icloud_safe_to_delete:
    username: parent.a@example.com
    cookie_directory: /var/lib/sovereign-cloud/icloudpd/cookies
    vault: /srv/photos
    download_roots: [/srv/photos-inbox/icloud/parent.a]
    output_dir: /var/lib/sovereign-cloud/reports/icloud
    restic:
      - name: local
        env_file: /etc/sovereign/restic/local.env
        check_status_file: /var/lib/sovereign-cloud/restic/check-local.json
      - name: offsite
        env_file: /etc/sovereign/restic/offsite.env
        check_status_file: /var/lib/sovereign-cloud/restic/check-offsite.json
  register: icloud_report

- name: Say how much can go
  ansible.builtin.debug:
    msg: "{{ icloud_report.summary }} - open {{ icloud_report.reports.html }}"
"""

RETURN = r"""
summary:
  description: One line with the counts and whether the reports changed.
  returned: success
  type: str
  sample: "parent.a@example.com: 41210 of 41388 iCloud asset(s) safe to delete (212.4 GB), 178 to keep (1.9 GB); report wrote"
account:
  description: The Apple ID.
  returned: success
  type: str
library:
  description: The library assessed.
  returned: success
  type: str
counts:
  description:
    - C(assets), C(safe), C(keep), C(safe_bytes), C(keep_bytes) (iCloud's sizes of every file of the assets),
      C(by_reason) (per first reason - C(label), C(assets), C(bytes)), C(min_copies), C(count_copies_by).
  returned: success
  type: dict
reports:
  description: The paths of the C(json), C(csv) and C(html) reports.
  returned: success
  type: dict
generated_at:
  description: When the reports' content was produced (it stays when a run finds nothing changed).
  returned: success
  type: str
evidence:
  description:
    - The evidence behind every verdict - C(backups) (per repository - C(kind), C(name), C(location) without
      credentials, C(counts), C(problem), C(fix), C(snapshots), C(verified_snapshots)), C(restore_drill), the decode
      level, C(min_copies) and the required files.
  returned: success
  type: dict
timings:
  description: Seconds spent reading the catalog, the backups, assessing, decoding, and in total.
  returned: success
  type: dict
kind:
  description: What went wrong, for a playbook to branch on (V(session), V(throttled), V(web_access), V(report), ...).
  returned: on failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import safe_to_delete
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError

KINDS = ["original", "alternative", "live_video", "edited", "edited_video"]
RESTIC_SPEC = {
    "name": {"type": "str", "required": True},
    "repository": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "password_file": {"type": "path", "no_log": False},
    "env_file": {"type": "path"},
    "env": {"type": "dict", "no_log": True},
    "cache_dir": {"type": "path"},
    "host": {"type": "str"},
    "tags": {"type": "list", "elements": "str"},
    "snapshot_vault_path": {"type": "str"},
    "check_status_file": {"type": "path"},
    "check_max_age_days": {"type": "int", "default": 35},
    "check_command": {"type": "str"},
    "restic_binary": {"type": "str", "default": "restic"},
}
PBS_SPEC = {
    "name": {"type": "str", "required": True},
    "env_file": {"type": "path"},
    "env": {"type": "dict", "no_log": True},
    "archive": {"type": "str", "default": "media.pxar"},
    "backup_id": {"type": "str"},
    "ns": {"type": "str"},
    "client_binary": {"type": "str", "default": "proxmox-backup-client"},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "username": {"type": "str", "required": True},
            "cookie_directory": {"type": "path", "required": True},
            "library": {"type": "str", "default": "PrimarySync"},
            "domain": {"type": "str", "choices": ["com", "cn"], "default": "com"},
            "vault": {"type": "path", "required": True},
            "catalog": {"type": "str", "no_log": True},
            "download_roots": {"type": "list", "elements": "path", "default": []},
            "walk_downloads": {"type": "bool", "default": True},
            "output_dir": {"type": "path", "required": True},
            "report_name": {"type": "str"},
            "state_dir": {"type": "path"},
            "mode": {"type": "str", "default": "0640"},
            "require": {"type": "list", "elements": "str", "choices": KINDS, "default": KINDS},
            "min_copies": {"type": "int", "default": 2},
            "count_copies_by": {"type": "str", "choices": ["repository", "snapshot"], "default": "repository"},
            "restic": {"type": "list", "elements": "dict", "default": [], "options": RESTIC_SPEC},
            "pbs": {"type": "list", "elements": "dict", "default": [], "options": PBS_SPEC},
            "drill_max_age_days": {"type": "int", "default": 35},
            "decode_check": {"type": "str", "choices": ["standard", "full"], "default": "standard"},
            "decode_max_seconds": {"type": "int"},
            "workers": {"type": "int"},
            "html_rows_per_group": {"type": "int", "default": 2000},
            "allow_empty": {"type": "bool", "default": False},
            "reauth_command": {"type": "str"},
        },
        supports_check_mode=True,
    )
    for spec in module.params["restic"]:
        for key in ("env_file",):
            if spec.get(key):
                try:
                    module.no_log_values.update(restic.secret_values(restic.read_env_file(spec[key])))
                except restic.ResticError:
                    pass  # the engine reports the unreadable file as this repository's problem
    for spec in module.params["pbs"]:
        if spec.get("env_file"):
            try:
                module.no_log_values.update(v for k, v in restic.read_env_file(spec["env_file"]).items()
                                            if "PASSWORD" in k and v)
            except restic.ResticError:
                pass
    try:
        result = safe_to_delete.run(module.params, check_mode=module.check_mode)
    except ICloudError as exc:
        module.fail_json(msg=str(exc), kind=exc.kind)
    except safe_to_delete.SafeDeleteError as exc:
        module.fail_json(msg=str(exc), kind="report")
    except OSError as exc:
        module.fail_json(msg=f"cannot write the report into {module.params['output_dir']}: {exc}", kind="report")
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
