#!/usr/bin/python
# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: photo_ingest
short_description: Ingest photos and videos into the content-addressed photo vault
version_added: 0.1.0
author: sovereign.cloud developers (@sovereign-cloud)
description:
  - Copies every new photo and video found under O(sources) into the vault as
    C(originals/YYYY/MM/DD/<sha256>.<ext>) with an XMP sidecar C(<sha256>.xmp) beside it, and records
    it in the catalog. C(YYYY/MM/DD) is the capture date (EXIF, QuickTime, an XMP sidecar next to the
    source, a date in the file name, or the file's modification time, in that order); C(<ext>) comes
    from the content, never from the file name.
  - One original per content. A photo found under several paths is stored once and every path is
    recorded; two different photos with the same name (an IMG_0001 counter wrap-around) are both kept.
  - Sources are only read. Originals are written to a temporary file in their final directory,
    fsynced, read back and re-hashed, then published with a hard link, so no partial file ever
    appears under a final name; an interrupted run (even kill -9 or a power cut) is completed by the
    next one.
  - Bad input never stops the batch and never lands in the vault. Truncated or corrupt images and
    videos, empty files, random bytes or text with a photo extension and unreadable files are listed in
    RV(rejected) with the reason, each with a warning.
  - A file name that is not UTF-8 (old cameras, Windows and SMB shares) is ingested like any other; the
    catalog and the sidecar record it losslessly with each byte that is not UTF-8 written as C(\xNN)
    (and a backslash in such a name as C(\\)), e.g. C(\xe9t\xe9.jpg) for the Latin-1 name C(été.jpg).
  - Symbolic links in a watched folder are never followed (a link may point anywhere, or at itself); each
    is listed in RV(skipped_links) with the reason.
  - A source may be a folder inside the vault root beside C(originals/) (C(<vault>/icloud-sync)), never
    C(originals/), the thumbnails, the catalog or the vault's own C(.sovereign*) state.
  - Silently ignored are C(.DS_Store), C(._*), C(@eaDir/), C(Thumbs.db), C(desktop.ini), icloudpd C(*.part),
    Syncthing's C(.stfolder), C(.stversions/), C(~syncthing~*) and C(.syncthing.*.tmp), sidecars
    (C(*.xmp) are read as metadata; C(*.aae), C(*.json)), hidden folders, and files modified in the last
    O(min_age) seconds.
  - A file whose path, size and modification time match the catalog is not read again, so a rescan
    of an unchanged library of 50,000 photos takes about a second.
  - Pairs Live Photos (a still and its movie) by Apple ContentIdentifier, else by base name in the same
    folder, and records the pair on both assets and in both sidecars.
  - Makes the thumbnails (tiny, small, medium) while the file is in memory when O(thumbnails=true).
extends_documentation_fragment:
  - sovereign.cloud.attributes
  - sovereign.cloud.photo_vault
  - sovereign.cloud.photo_vault.thumbs_root
options:
  state_dir:
    description:
      - Where this host remembers the vault id it last saw at O(vault) (C(<state_dir>/photo_vault/vaults/)); the
        photo_vault role passes its C(photo_vault_state_dir). With it, a vault folder without its C(.sovereign-vault)
        marker where this host saw a vault (an unmounted NAS share) is refused, even when the SQLite catalog lives in
        the vault. Unset, only the marker and the catalog are compared.
    type: path
  create:
    description:
      - Start a new, empty vault at O(vault) even though this host remembers another vault there (see O(state_dir)),
        or mark an unmarked folder as the vault of a catalog that knows assets.
      - Not needed for a first vault, nor for a vault made before vaults carried the C(.sovereign-vault) marker
        (it is marked on the next run). Set it for one run only, after checking the NAS is mounted.
    type: bool
    default: false
  sources:
    description:
      - Folders to ingest from (an icloudpd download folder, a Syncthing folder, a camera card copy...).
        Searched recursively. Never written to.
    type: list
    elements: path
    required: true
  vault:
    description:
      - Root of the photo vault. Created (one level) when missing; its parent must exist.
    type: path
    required: true
  thumbnails:
    description: Make the thumbnails of each new photo while it is in memory (the decode also validates it).
    type: bool
    default: true
  min_age:
    description: Leave files modified less than this many seconds ago for the next run (they may still be written).
    type: int
    default: 60
  workers:
    description: Worker processes. V(0) means one per CPU core.
    type: int
    default: 0
  fail_on_rejected:
    description: Fail the task when any input was rejected. The result keys are returned either way.
    type: bool
    default: false
  verify_writes:
    description:
      - Read every original back from the disk (after dropping it from the page cache) and compare its
        sha256 before publishing it. Turn off only for speed on storage that checksums itself.
    type: bool
    default: true
  repair:
    description:
      - After the ingest, check every original of the vault (re-hashing it) and every sidecar, and repair
        what is damaged, as C(sovereign-photos repair) does. A missing or corrupt original is copied again
        from any source path the catalog ever recorded whose bytes still hash right (the damaged file is
        set aside as C(<name>.corrupt-<time>), never deleted); a missing sidecar is rewritten from the
        catalog, one that does not parse is set aside as C(<sha256>.xmp.orig-<time>) and rewritten.
      - What could not be repaired is listed in RV(repair.not_repaired) and fails the task.
      - Without it, every run still restores an original that is missing or of the wrong size when a
        watched source holds its bytes (RV(restored)); only a same-size corruption needs O(repair).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details:
      - Reads, hashes and classifies every new file exactly like a real run, so the counts are true, and
        writes nothing at all (no catalog, no lock file, no directories). Live Photo pairs are not counted.
  diff_mode:
    support: none
notes:
  - One ingest runs at a time per vault (a lock on C(<vault>/.sovereign-ingest.lock)); a second one fails
    and names the process holding the lock.
  - Vault write failures (a full disk, a different file already under an original's name) fail the task
    after the rest of the batch is done, listed in RV(errors).
  - Progress (files, MB/s, ETA) goes to the host's log every 30 seconds during long runs.
seealso:
  - module: sovereign.cloud.photo_verify
  - module: sovereign.cloud.photo_thumbnails
  - module: sovereign.cloud.photo_catalog_info
"""

EXAMPLES = r"""
- name: Ingest the icloudpd and Syncthing folders into the vault
  sovereign.cloud.photo_ingest:
    sources:
      - /srv/icloudpd/alice
      - /srv/syncthing/phone-bob
    vault: /srv/photos

- name: Ingest with the catalog on PostgreSQL and thumbnails on a workstation SSD
  sovereign.cloud.photo_ingest:
    sources: [/mnt/inbox]
    vault: /mnt/nas/photos
    catalog: "postgresql://pics@db.home.arpa/pics"
    thumbs_root: /var/cache/photo-thumbs
  register: ingest

- name: Ingest, then re-hash the whole vault and repair what is damaged
  sovereign.cloud.photo_ingest:
    sources: [/srv/icloudpd/alice]
    vault: /srv/photos
    repair: true

- name: Fail the play when anything was rejected
  sovereign.cloud.photo_ingest:
    sources: [/srv/card-import]
    vault: /srv/photos
    fail_on_rejected: true
"""

RETURN = r"""
ingested:
  description: New originals added to the vault (in check mode, that would be added).
  returned: always
  type: int
  sample: 120
duplicates:
  description: Paths whose content already had an original (in the vault, or earlier in this run); recorded as sources.
  returned: always
  type: int
  sample: 8
unchanged:
  description: Files that match the catalog (path, size, modification time) and were not read.
  returned: always
  type: int
  sample: 50000
skipped_files:
  description:
    - Files not ingested this time and not rejected (not a photo or video, still being written, changed while read).
    - Not called C(skipped), which Ansible reserves for the task's own status.
  returned: always
  type: int
  sample: 3
skipped_reasons:
  description: RV(skipped_files) broken down by reason.
  returned: always
  type: dict
  sample: {"not a photo or video": 2, "modified less than min_age seconds ago (still being written?)": 1}
skipped_links:
  description:
    - Symbolic links found in the watched folders, which are never followed, each with the reason (also counted in
      RV(skipped_files) and RV(skipped_reasons)).
    - A link to a file outside the watched folder, a loop, a broken link, a link to a folder or to a file inside it
      (that file is ingested under its own name).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/inbox/passwd.jpg", "reason": "a symbolic link to a file outside the watched folder (not followed)"}]
rejected:
  description:
    - Inputs that are not acceptable photos or videos, with the reason. The files were not touched.
    - Only a decode failure of the original rejects a photo. One whose thumbnails could not be made (the thumbnails
      root full or not writable, out of memory) lands; the summary counts it "without thumbnails", a warning says
      why, and the next photo_thumbnails run makes them.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/inbox/IMG_0007.JPG", "reason": "truncated JPEG: the image data stops before the end-of-image marker"}]
errors:
  description: Files that could not be written to the vault (the task fails when this is not empty).
  returned: always
  type: list
  elements: dict
  sample: []
bytes_ingested:
  description: Bytes of new originals.
  returned: always
  type: int
  sample: 481200000
adopted:
  description: New catalog entries whose original was already on disk (left by an interrupted run) and verified.
  returned: always
  type: int
  sample: 0
live_pairs:
  description: Live Photo pairs recorded in this run.
  returned: always
  type: int
  sample: 4
restored:
  description:
    - Originals that were missing from the vault or of the wrong size (the catalog knew them, the disk had lost
      them) and were copied again from a watched source that still holds their bytes.
  returned: always
  type: int
  sample: 0
restored_files:
  description: One entry per restored original, with the reason and the source it came from.
  returned: always
  type: list
  elements: dict
  sample: [{"sha256": "9f86d0...", "path": "originals/2023/05/01/9f86d0....jpg", "from": "/srv/inbox/IMG_0001.JPG",
            "reason": "the original in the vault was missing"}]
set_aside:
  description:
    - Files kept beside the vault's own instead of being overwritten, relative to the vault, such as another
      tool's sidecar that does not parse (C(<sha256>.xmp.orig-<time>)) or a damaged original
      (C(<name>.corrupt-<time>)).
  returned: always
  type: list
  elements: str
  sample: ["originals/2023/05/01/9f86d0....xmp.orig-20261203T061500Z"]
repair:
  description: What O(repair=true) found and did.
  returned: when O(repair=true)
  type: dict
  contains:
    checked:
      description: Assets checked.
      type: int
    originals_restored:
      description: Originals copied again from a recorded source ({sha256, path, problem, from}).
      type: list
      elements: dict
    sidecars_rewritten:
      description: Sidecars rewritten from the catalog ({sha256, path, problem}).
      type: list
      elements: dict
    set_aside:
      description: Damaged or foreign files moved aside, relative to the vault.
      type: list
      elements: str
    not_repaired:
      description: Originals that could not be repaired ({sha256, path, problem, reason}).
      type: list
      elements: dict
    summary:
      description: One line.
      type: str
seconds:
  description: Wall-clock duration.
  returned: always
  type: float
  sample: 12.5
vault_id:
  description: The vault's id, kept in C(<vault>/.sovereign-vault) and in the catalog (null in check mode on a new vault).
  returned: always
  type: str
  sample: 3f2b8c1e-6a5d-4f7e-9c0b-2d1e4a6b8c9f
vault:
  description: The vault root.
  returned: always
  type: str
  sample: /srv/photos
summary:
  description: One line saying what was done.
  returned: always
  type: str
  sample: "ingested 120 new photos/videos (481.2 MB) in 9.8 s; 50000 unchanged, 8 duplicate paths, 1 rejected"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import CATALOG_ARG_SPEC
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import (
    IngestConfig, IngestError, run_ingest)
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.repair import RepairError, repair_vault

MAX_WARNINGS = 1000


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "sources": {"type": "list", "elements": "path", "required": True},
            "vault": {"type": "path", "required": True},
            **CATALOG_ARG_SPEC,
            "thumbnails": {"type": "bool", "default": True},
            "thumbs_root": {"type": "path"},
            "min_age": {"type": "int", "default": 60},
            "workers": {"type": "int", "default": 0},
            "fail_on_rejected": {"type": "bool", "default": False},
            "verify_writes": {"type": "bool", "default": True},
            "state_dir": {"type": "path"},
            "create": {"type": "bool", "default": False},
            "repair": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params

    def log_progress(state: dict) -> None:
        eta = f", about {state['eta_s'] / 60:.0f} min left" if state.get("eta_s") else ""
        module.log(f"photo_ingest: {state['files_done']}/{state['files_total']} files, "
                   f"{state['bytes_done'] / 1e9:.2f}/{state['bytes_total'] / 1e9:.2f} GB, {state['mb_per_s']} MB/s{eta}")

    config = IngestConfig(params["sources"], params["vault"], catalog=params["catalog"],
                          thumbnails=params["thumbnails"], thumbs_root=params["thumbs_root"],
                          min_age=params["min_age"], workers=params["workers"] or None,
                          verify_writes=params["verify_writes"], check=module.check_mode,
                          progress=log_progress, progress_interval=30,
                          state_dir=params["state_dir"], create=params["create"])
    try:
        report = run_ingest(config)
    except IngestError as exc:
        module.fail_json(msg=str(exc))
    for warning in report.pop("warnings"):
        module.warn(warning)
    for item in report["rejected"][:MAX_WARNINGS]:
        module.warn(f"rejected {item['path']}: {item['reason']}")
    if len(report["rejected"]) > MAX_WARNINGS:
        module.warn(f"... and {len(report['rejected']) - MAX_WARNINGS} more rejected files (see the rejected list)")
    report.pop("catalog", None)  # may be a DSN; the catalog option is no_log
    if report["errors"]:
        first = report["errors"][0]
        module.fail_json(msg=f"{len(report['errors'])} file(s) could not be written to the vault; first: "
                             f"{first['path']}: {first['reason']}", **report)
    if params["repair"]:
        try:
            report["repair"] = repair_vault(params["vault"], params["catalog"], check=module.check_mode,
                                            verify_writes=params["verify_writes"])
        except RepairError as exc:
            module.fail_json(msg=str(exc), **report)
        report["changed"] = report["changed"] or report["repair"].pop("changed")
        if report["repair"]["not_repaired"]:
            first = report["repair"]["not_repaired"][0]
            module.fail_json(msg=f"{len(report['repair']['not_repaired'])} original(s) could not be repaired; first: "
                                 f"{first['path']}: {first['reason']}", **report)
    if params["fail_on_rejected"] and report["rejected"]:
        module.fail_json(msg=f"{len(report['rejected'])} input(s) rejected (fail_on_rejected is set); see rejected",
                         **report)
    module.exit_json(**report)


if __name__ == "__main__":
    main()
