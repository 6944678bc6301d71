#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: photo_catalog_info
short_description: Report what the photo vault holds, from its catalog
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Reads the photo vault's catalog and returns counts and bytes in total, per media type, format,
    year, month, source folder, device (camera make and model) and date source; live-photo pairs,
    photos from iPhones, photos with GPS; thumbnail status; rejected inputs; and the last
    verification run, restore drill and ingest run.
  - Read-only. It never creates or changes a catalog, so it is safe in check mode and on a schedule.
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.attributes.info_module
  - sovereign.cloud.photo_vault
options:
  vault:
    description:
      - Root of the photo vault. Its catalog is C(<vault>/catalog.sqlite) unless O(catalog) is set.
      - Required unless O(catalog) is set.
    type: path
  thumbs_root:
    description:
      - Report thumbnail status for this thumbnails root only (with a count of assets that have none).
        Unset reports every root the catalog knows.
    type: path
seealso:
  - module: sovereign.cloud.photo_verify
  - module: sovereign.cloud.photo_thumbnails
"""

EXAMPLES = r"""
- name: Read what the vault holds
  sovereign.cloud.photo_catalog_info:
    vault: /srv/photos
  register: vault_info

- name: Say when the vault was last verified
  ansible.builtin.debug:
    msg: "{{ vault_info.assets }} assets; last verification {{ vault_info.last_verification.finished_at | default('never') }}"
"""

RETURN = r"""
assets:
  description: Number of assets (originals) in the vault.
  returned: always
  type: int
  sample: 51234
bytes:
  description: Total size of the originals.
  returned: always
  type: int
  sample: 512000000000
images:
  description: Number of photos (stills).
  returned: always
  type: int
  sample: 48000
videos:
  description: Number of videos.
  returned: always
  type: int
  sample: 3234
taken_range:
  description: Earliest and latest capture date (local wall-clock time, ISO 8601).
  returned: always
  type: dict
  sample: {"first": "2004-07-14T10:21:00", "last": "2026-11-20T18:02:11"}
per_media_type:
  description: C(count) and C(bytes) per media type (image, video).
  returned: always
  type: dict
  sample: {"image": {"count": 48000, "bytes": 200000000000}}
per_format:
  description: C(count) and C(bytes) per file format (jpeg, heic, png, quicktime...).
  returned: always
  type: dict
  sample: {"heic": {"count": 30000, "bytes": 90000000000}}
per_year:
  description: C(count) and C(bytes) per capture year.
  returned: always
  type: dict
  sample: {"2023": {"count": 4100, "bytes": 16000000000}}
per_month:
  description: C(count) and C(bytes) per capture month (C(YYYY-MM)).
  returned: always
  type: dict
  sample: {"2023-05": {"count": 380, "bytes": 1500000000}}
per_date_source:
  description: C(count) and C(bytes) per source of the capture date (exif, quicktime, xmp_sidecar, filename, mtime).
  returned: always
  type: dict
  sample: {"exif": {"count": 47000, "bytes": 190000000000}, "mtime": {"count": 12, "bytes": 9000000}}
per_device:
  description:
    - Assets per camera make and model (null when the file does not say), most first.
    - C(camera) is the name to show, as photo tools do (the model alone when it starts with the make, C(Canon EOS 40D)).
  returned: always
  type: list
  elements: dict
  sample: [{"make": "Apple", "model": "iPhone 13", "camera": "Apple iPhone 13", "count": 21000, "bytes": 70000000000}]
per_source:
  description: Distinct assets (C(count), C(bytes)) each source folder contributed; one asset can come from several.
  returned: always
  type: dict
  sample: {"/srv/icloudpd/alice": {"count": 30000, "bytes": 120000000000}}
source_paths:
  description: Number of source paths ever seen.
  returned: always
  type: int
  sample: 60211
live_pairs:
  description: Number of Live Photos (stills paired with their video).
  returned: always
  type: int
  sample: 8200
from_iphone:
  description: Number of assets taken with an iPhone.
  returned: always
  type: int
  sample: 30000
with_gps:
  description: Number of assets with a GPS position.
  returned: always
  type: int
  sample: 25000
with_icloud_ids:
  description: Number of assets with an iCloud asset or master id.
  returned: always
  type: int
  sample: 29000
thumbnails:
  description: Per thumbnails root, assets with status C(ok), C(skipped), C(failed), and C(missing) (none recorded).
  returned: always
  type: dict
  sample: {"/srv/photos/thumbs": {"ok": 51000, "skipped": 200, "failed": 4, "missing": 30}}
rejected:
  description: Number of rejected inputs (bad files left in the sources).
  returned: always
  type: int
  sample: 3
rejected_reasons:
  description: Rejected inputs per reason (the 20 most frequent).
  returned: always
  type: dict
  sample: {"the file is empty": 2}
verification:
  description: Coverage of verification across the vault.
  returned: always
  type: dict
  sample: {"never_verified": 1200, "last_status_not_ok": 0, "oldest_verification": "2026-08-01T03:00:00Z"}
last_verification:
  description: The last finished verification run (null when there was none).
  returned: always
  type: dict
  sample: {"id": 12, "mode": "sample", "finished_at": "2026-11-20T03:12:00Z", "checked": 5000, "corrupt": 0,
           "missing": 0, "result": "ok"}
last_restore_drill:
  description: The last restore drill (null when there was none).
  returned: always
  type: dict
  sample: {"id": 3, "performed_at": "2026-11-01T04:00:00Z", "passed": 1, "sample_count": 20}
last_ingest:
  description: The last ingest run (null when there was none).
  returned: always
  type: dict
  sample: {"id": 40, "finished_at": "2026-11-22T02:00:00Z", "ingested": 12, "duplicates": 1}
catalog:
  description: Back end (sqlite or postgresql), location (password hidden), schema version, vault id and creation time.
  returned: always
  type: dict
  sample: {"backend": "sqlite", "location": "/srv/photos/catalog.sqlite", "schema_version": "1"}
summary:
  description: One line describing the vault.
  returned: always
  type: str
  sample: "51234 assets (48000 photos, 3234 videos, 512.0 GB) from 2004 to 2026, 8200 live photos, 3 rejected; ..."
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import CATALOG_ARG_SPEC
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.report import ReportError, catalog_info


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "vault": {"type": "path"},
            **CATALOG_ARG_SPEC,
            "thumbs_root": {"type": "path"},
        },
        required_one_of=[("vault", "catalog")],
        supports_check_mode=True,
    )
    try:
        report = catalog_info(module.params["vault"], module.params["catalog"], module.params["thumbs_root"])
    except ReportError as exc:
        module.fail_json(msg=str(exc))
    for warning in report.pop("warnings", []):
        module.warn(warning)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
