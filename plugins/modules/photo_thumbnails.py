#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: photo_thumbnails
short_description: Make the missing thumbnails of the photo vault
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Makes thumbnails for the vault's assets that need them, on every core, and records each outcome in the catalog.
  - An asset needs them when it has none under O(thumbs_root) yet, when they were made with other settings
    (sizes, quality, engine version), when a thumbnail file was deleted from disk, or when it is a video that
    was skipped for lack of ffmpeg and ffmpeg is installed now.
  - Sizes fit inside 1920x1080 (C(medium)), 500x500 (C(small)) and 150x150 (C(tiny)), JPEG quality 85, upright
    and sRGB, under C(<thumbs_root>/<size>/<sha256[:2]>/<sha256>.jpg), with metadata in
    C(<thumbs_root>/metadata/<sha256[:2]>/<sha256>.json).
  - Videos get a poster frame when ffmpeg is installed; otherwise they are recorded as skipped with the reason.
  - Originals are only read. Assets whose thumbnails failed before are not retried on every run; O(force) retries them.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.photo_vault
  - sovereign.cloud.photo_vault.vault
  - sovereign.cloud.photo_vault.thumbs_root
options:
  state_dir:
    description:
      - Where this host remembers the vault id it last saw at O(vault) (C(<state_dir>/photo_vault/vaults/)); the
        photo_vault role passes its C(photo_vault_state_dir). With it, a vault folder without its C(.sovereign-vault)
        marker where this host saw a vault (an unmounted NAS share) is refused. Unset, only the marker and the
        catalog are compared.
    type: path
  workers:
    description: Processes making thumbnails. V(0) means one per CPU core.
    type: int
    default: 0
  force:
    description: Make every asset's thumbnails again, including those that failed before.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Counts the assets that need thumbnails and why; makes and records nothing.
  diff_mode:
    support: none
notes:
  - Needs Pillow and pillow-heif on the host (pyvips is used when installed), and ffmpeg for video poster frames.
seealso:
  - module: sovereign.cloud.photo_verify
  - module: sovereign.cloud.photo_catalog_info
"""

EXAMPLES = r"""
- name: Make the missing thumbnails next to the originals
  sovereign.cloud.photo_thumbnails:
    vault: /srv/photos

- name: Keep thumbnails on the workstation's SSD, originals on the NAS
  sovereign.cloud.photo_thumbnails:
    vault: /mnt/nas/photos
    thumbs_root: /var/cache/photo-thumbs
    workers: 4
"""

RETURN = r"""
created:
  description: Assets whose thumbnails were made in this run (in check mode, how many would be attempted).
  returned: always
  type: int
  sample: 120
unchanged:
  description: Assets whose thumbnails were already up to date (or failed before and were not retried).
  returned: always
  type: int
  sample: 50000
skipped_assets:
  description:
    - Assets for which no thumbnail can be made here, with the reason.
    - Not called C(skipped) or C(failed) (below), which Ansible reserves for the task's own status.
  returned: always
  type: list
  elements: dict
  sample: [{"sha256": "5e8f...", "reason": "ffmpeg is not installed (install it to get video poster frames)"}]
failed_assets:
  description:
    - Assets whose thumbnails could not be made in this run, with the reason.
    - An original that does not decode is recorded and not retried (O(force) retries it); a write error or lack of
      memory is not recorded, and the next run tries again.
  returned: always
  type: list
  elements: dict
  sample: [{"sha256": "a1b2...", "reason": "the jpg does not decode: image file is truncated"}]
due:
  description: Assets that needed thumbnails at the start of the run.
  returned: always
  type: int
  sample: 121
reasons:
  description: Why assets were due (new, settings changed, files deleted, ffmpeg installed, forced), with counts.
  returned: always
  type: dict
  sample: {"new": 120, "files deleted": 1}
previously_failed:
  description: Assets that failed before with the same settings and were not retried.
  returned: always
  type: int
  sample: 0
total_assets:
  description: Assets in the catalog.
  returned: always
  type: int
  sample: 50121
thumbs_root:
  description: The thumbnails root used (absolute).
  returned: always
  type: str
  sample: /srv/photos/thumbs
bytes_written:
  description: Bytes of thumbnail JPEGs written.
  returned: always
  type: int
  sample: 48000000
duration_s:
  description: Wall-clock seconds.
  returned: always
  type: float
  sample: 18.2
summary:
  description: One line saying what was made.
  returned: always
  type: str
  sample: "made thumbnails for 120 of 121 due assets in /srv/photos/thumbs (6.5/s on 2 workers), 50000 up to date, 1 skipped"
workers:
  description: Worker processes used.
  returned: always
  type: int
  sample: 2
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import CATALOG_ARG_SPEC
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.thumbnails_run import (
    ThumbnailRunError, make_missing_thumbnails)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vault": {"type": "path", "required": True},
            "thumbs_root": {"type": "path"},
            "state_dir": {"type": "path"},
            **CATALOG_ARG_SPEC,
            "workers": {"type": "int", "default": 0},
            "force": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        report = make_missing_thumbnails(params["vault"], params["catalog"], params["thumbs_root"],
                                         workers=params["workers"], force=params["force"],
                                         check_mode=module.check_mode, state_dir=params["state_dir"])
    except ThumbnailRunError as exc:
        module.fail_json(msg=str(exc))
    for warning in report.warnings:
        module.warn(warning)
    if report.failed:
        module.warn(f"{len(report.failed)} assets have no thumbnails: {report.failed[0]['reason']} (see failed)")
    module.exit_json(changed=report.changed, **report.as_dict())


if __name__ == "__main__":
    main()
