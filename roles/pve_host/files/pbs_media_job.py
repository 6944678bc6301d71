# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sovereign.cloud PBS media backup runner (installed by the pve_host role; standard library only).

  pbs_media_job.py backup SETTINGS.json   proxmox-backup-client backup <archive>:<path> to the PBS datastore
  pbs_media_job.py drill SETTINGS.json    restore a random sample of the newest snapshot, compare sha256 with the
                                          photo vault's catalog (the collection's restore-drill engine)

The credentials (PBS_REPOSITORY, PBS_PASSWORD, PBS_FINGERPRINT) come from the unit's EnvironmentFile (mode 0600),
never from argv. Every run records itself with ``common.status`` in ``<state_dir>/status/pbs.<job>--<name>.json``
and exits non-zero on failure, so the unit's ``OnFailure=sovereign-notify@%n.service`` (base role) fires.
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position,import-error
from ansible_collections.sovereign.cloud.plugins.module_utils.common import status  # noqa: E402
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client as pbc  # noqa: E402


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def backup(cfg: dict) -> int:
    started = status.utc_now()
    argv = pbc.backup_argv(cfg["client"], cfg["archive"], cfg["path"], keyfile=cfg.get("keyfile") or None,
                           ns=cfg.get("ns") or None, backup_id=cfg.get("backup_id") or None,
                           excludes=cfg.get("excludes") or [])
    begin = time.monotonic()
    result = pbc.run(argv, dict(os.environ))
    print(result.stdout, end="", flush=True)
    print(result.stderr, end="", file=sys.stderr, flush=True)
    ok = result.returncode == 0
    took = round(time.monotonic() - begin, 1)
    repository = os.environ.get("PBS_REPOSITORY", "")
    summary = (f"{cfg['archive']} of {cfg['path']} backed up to {repository} in {took} s" if ok else
               f"backup of {cfg['path']} to {repository} failed: {pbc.explain(pbc.classify(result.stderr), result.stderr)}")
    status.write_status(cfg["state_dir"], "pbs.backup", cfg["name"], ok, summary, started_at=started,
                        every=86400, fix=f"systemctl start {cfg['unit']}",
                        details={"rc": result.returncode, "duration_s": took, "archive": cfg["archive"],
                                 "path": cfg["path"], "repository": repository})
    print(summary, flush=True)
    return 0 if ok else 1


def drill(cfg: dict) -> int:
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import restore_drill
    started = status.utc_now()
    try:
        result = restore_drill.run_pbs_drill(
            cfg["vault"], dict(os.environ), catalog=cfg.get("catalog") or None, count=cfg.get("count") or None,
            archive=cfg["archive"], backup_id=cfg.get("backup_id") or None, ns=cfg.get("ns") or None,
            keyfile=cfg.get("keyfile") or None, tmp_dir=cfg.get("tmp_dir") or None, client_binary=cfg["client"])
        ok, summary = bool(result["passed"]), result["summary"]
        details = {"snapshot": result["snapshot"].get("id"), "sample": result["sample"]["count"],
                   "failures": result["failures"][:20]}
    except restore_drill.DrillError as exc:
        ok, summary, details = False, f"restore drill could not run: {exc}", {}
    status.write_status(cfg["state_dir"], "pbs.restore_drill", cfg["name"], ok, summary, started_at=started,
                        every=31 * 86400, fix=f"systemctl start {cfg['drill_unit']}", details=details)
    print(summary, flush=True)
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("backup", "drill"):
        print(__doc__, file=sys.stderr)
        return 2
    cfg = load(argv[1])
    try:
        return backup(cfg) if argv[0] == "backup" else drill(cfg)
    except pbc.BackupClientError as exc:
        print(f"pbs_media_job: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
