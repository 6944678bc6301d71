#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: photo_verify
short_description: Re-hash the photo vault's originals against its catalog
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Re-hashes the originals of a photo vault (C(originals/YYYY/MM/DD/<sha256>.<ext>)) with sha256
    and compares each with the catalog, on every core, streaming each file through a small buffer.
  - Reports originals that are C(corrupt) (content changed), C(missing) (not on disk) or C(unreadable)
    (permission or I/O error); files in C(originals/) the catalog does not know (C(unknown));
    missing XMP sidecars; and missing thumbnails when a thumbnails root exists.
  - Never repairs anything. No file in the vault is written, moved or deleted. A corrupt or missing
    original is left for a person. C(sovereign-photos repair) (or M(sovereign.cloud.photo_ingest) with
    C(repair=true)) copies it again from any source path the catalog
    recorded whose bytes still hash right and rewrites damaged sidecars; otherwise restore it from a backup.
  - Records every run in the catalog (counts, problems, and each asset's last verification), so that
    O(mode=sample) continues with the least recently verified originals next time.
  - Missing originals, missing sidecars and unknown files are found for the whole vault in both modes
    (a directory walk); O(mode) only decides which originals are re-hashed.
  - Each file's clean pages are dropped from the page cache before it is read, so the check reads the
    disk rather than a copy in memory.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.photo_vault
  - sovereign.cloud.photo_vault.vault
options:
  state_dir:
    description:
      - Where this host remembers the vault id it last saw at O(vault) (C(<state_dir>/photo_vault/vaults/)); the
        photo_vault role passes its C(photo_vault_state_dir). With it, a vault folder without its C(.sovereign-vault)
        marker where this host saw a vault (an unmounted NAS share) is refused. Unset, only the marker and the
        catalog are compared.
    type: path
  mode:
    description:
      - V(full) re-hashes every original.
      - V(sample) re-hashes the least recently verified originals first (never verified before anything
        else), within O(percent), O(max_bytes) and O(max_seconds), whichever is reached first. At least one is required.
    type: str
    choices: [full, sample]
    default: full
  percent:
    description: With O(mode=sample), the share of the vault's originals to re-hash (more than 0, at most 100).
    type: float
  max_bytes:
    description:
      - With O(mode=sample), stop before the first original that would take the run past this many bytes
        (at least one original is always re-hashed).
      - An integer, or a size such as V(50G) or V(500 MB) (powers of 1024).
    type: raw
  max_seconds:
    description:
      - With O(mode=sample), stop handing out work after this many seconds; files in progress are finished.
    type: int
  thumbs_root:
    description:
      - Thumbnails root to check. Unset means C(<vault>/thumbs), checked only when it exists.
      - When set and absent (a workstation disk not mounted), thumbnails are not checked and a warning says so.
    type: path
  workers:
    description: Hashing processes. V(0) means one per CPU core.
    type: int
    default: 0
  fail_on_problems:
    description:
      - Fail the task when an original is corrupt, missing or unreadable. The result keys are returned either way.
      - Unknown files, missing sidecars and missing thumbnails never fail the task; they are warnings.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Reads and hashes everything and reports what it finds, but records nothing in the catalog.
  diff_mode:
    support: none
notes:
  - The task never reports C(changed); recording a run in the catalog does not change the vault.
  - Run it as a user that can read every original (the vault's owner).
seealso:
  - module: sovereign.cloud.photo_catalog_info
  - module: sovereign.cloud.photo_thumbnails
"""

EXAMPLES = r"""
- name: Verify every original (monthly)
  sovereign.cloud.photo_verify:
    vault: /srv/photos

- name: Verify a weekly sample, least recently verified first, within an hour and 200 GB
  sovereign.cloud.photo_verify:
    vault: /srv/photos
    mode: sample
    percent: 25
    max_bytes: 200G
    max_seconds: 3600

- name: Verify against a PostgreSQL catalog, thumbnails on a workstation disk, report only
  sovereign.cloud.photo_verify:
    vault: /mnt/nas/photos
    catalog: "postgresql://pics@db.home.arpa/pics"
    thumbs_root: /var/cache/photo-thumbs
    fail_on_problems: false
  register: verify
"""

RETURN = r"""
checked:
  description: Number of originals re-hashed in this run.
  returned: always
  type: int
  sample: 1200
checked_bytes:
  description: Bytes read and hashed.
  returned: always
  type: int
  sample: 4812000000
corrupt:
  description: sha256 of originals whose content no longer matches.
  returned: always
  type: list
  elements: str
  sample: ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
missing:
  description: sha256 of originals in the catalog but not on disk.
  returned: always
  type: list
  elements: str
  sample: []
unreadable:
  description: sha256 of originals that could not be read (permission or I/O error; see RV(details)).
  returned: always
  type: list
  elements: str
  sample: []
unknown:
  description: Files under C(originals/) that the catalog does not know, relative to the vault.
  returned: always
  type: list
  elements: str
  sample: ["originals/2023/05/01/IMG_0001.JPG"]
missing_sidecars:
  description: sha256 of originals whose XMP sidecar is not on disk.
  returned: always
  type: list
  elements: str
  sample: []
missing_thumbnails:
  description: sha256 of assets whose thumbnails are not on disk (empty when thumbnails were not checked).
  returned: always
  type: list
  elements: str
  sample: []
details:
  description: One entry per problem, with what to do about it.
  returned: always
  type: list
  elements: dict
  sample: [{"sha256": "9f86d0...", "path": "originals/2023/05/01/9f86d0....jpg", "status": "corrupt",
            "detail": "content sha256 is 1b4f0e..."}]
ok:
  description: Number of re-hashed originals that matched.
  returned: always
  type: int
  sample: 1200
mode:
  description: The mode used.
  returned: always
  type: str
  sample: sample
selected:
  description: Originals selected for re-hashing (a time budget may stop before all of them).
  returned: always
  type: int
  sample: 1250
budget_exhausted:
  description: True when O(max_seconds) stopped the run before every selected original was re-hashed.
  returned: always
  type: bool
  sample: false
total_assets:
  description: Assets in the catalog.
  returned: always
  type: int
  sample: 50000
thumbs_root:
  description: The thumbnails root that was checked, or null when none was.
  returned: always
  type: str
  sample: /srv/photos/thumbs
run_id:
  description: The verification run recorded in the catalog (null in check mode).
  returned: always
  type: int
  sample: 42
data_at_risk:
  description: True when an original is corrupt, missing or unreadable (what O(fail_on_problems) fails on).
  returned: always
  type: bool
  sample: false
duration_s:
  description: Wall-clock seconds.
  returned: always
  type: float
  sample: 812.4
mb_per_s:
  description: Hashing throughput, MB (10^6 bytes) per second.
  returned: always
  type: float
  sample: 410.2
summary:
  description: One line saying what was verified and what was found.
  returned: always
  type: str
  sample: "verified 1200 of 50000 originals (a sample, 4.8 GB at 410 MB/s): all match; recorded as verification run 42"
total_bytes:
  description: Bytes of all originals in the catalog.
  returned: always
  type: int
  sample: 250000000000
selected_bytes:
  description: Bytes of the originals selected for this run.
  returned: always
  type: int
  sample: 4800000000
recorded:
  description: Whether this run was recorded in the catalog (false in check mode).
  returned: always
  type: bool
  sample: true
workers:
  description: Hashing processes used.
  returned: always
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import CATALOG_ARG_SPEC
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.verify import VerifyError, verify_vault


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vault": {"type": "path", "required": True},
            **CATALOG_ARG_SPEC,
            "mode": {"type": "str", "choices": ["full", "sample"], "default": "full"},
            "percent": {"type": "float"},
            "max_bytes": {"type": "raw"},
            "max_seconds": {"type": "int"},
            "thumbs_root": {"type": "path"},
            "state_dir": {"type": "path"},
            "workers": {"type": "int", "default": 0},
            "fail_on_problems": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    max_bytes = params["max_bytes"]
    if max_bytes is not None:
        try:
            max_bytes = human_to_bytes(str(max_bytes).strip())
        except ValueError:
            module.fail_json(msg=f"max_bytes: {max_bytes!r} is not a size; use bytes or a size such as 50G or 500 MB")
    try:
        report = verify_vault(params["vault"], params["catalog"], mode=params["mode"], percent=params["percent"],
                              max_bytes=max_bytes, max_seconds=params["max_seconds"],
                              thumbs_root=params["thumbs_root"], workers=params["workers"],
                              record=not module.check_mode, state_dir=params["state_dir"])
    except VerifyError as exc:
        module.fail_json(msg=str(exc))
    result = report.as_dict()
    for warning in report.warnings:
        module.warn(warning)
    if report.unknown:
        module.warn(f"{len(report.unknown)} files in originals/ are not in the catalog (see unknown), e.g. "
                    f"{report.unknown[0]}")
    if report.missing_sidecars or report.missing_thumbnails:
        module.warn(f"{len(report.missing_sidecars)} missing sidecars, {len(report.missing_thumbnails)} missing "
                    "thumbnails: photo_ingest rewrites sidecars and photo_thumbnails remakes thumbnails")
    if report.failed and params["fail_on_problems"]:
        module.fail_json(msg=report.summary(), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
