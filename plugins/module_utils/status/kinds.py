# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the status page knows about each status kind: one :class:`Kind` per entry in :data:`KINDS`.

A new kind plugs in by adding one entry (or, for a kind defined elsewhere, :func:`register`);
nothing else changes. A kind that is not registered is still shown: its title is its kind, its
thresholds come from the status file's ``every`` and its fix from the file's ``fix``.

``fix`` is a template with ``{name}`` (the status name) and ``{host}``; every command named here
exists in this collection (tests/unit/plugins/module_utils/status/test_kinds.py checks each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 31 * DAY

# The fix of an item whose kind and files name none: converge the host again.
FALLBACK_FIX = "ansible-playbook playbooks/site.yml --limit {host}"

# A details check returns None (nothing to add) or (state, reason): state is "amber" or "red".
DetailsCheck = Callable[[dict], Optional[tuple]]


@dataclass(frozen=True)
class Kind:
    title: str
    group: str
    every: int
    fix: str
    check: Optional[DetailsCheck] = None


def _zfs_scrub(doc: dict) -> tuple | None:
    details = doc.get("details") or {}
    result = details.get("result")
    if result == "running":
        return None
    if result == "degraded":
        return ("red", f"The pool is {details.get('state') or 'not ONLINE'}: a disk needs attention.")
    if result in ("paused", "canceled"):
        return ("amber", f"The last scrub was {result} before it finished.")
    return None


KINDS: dict[str, Kind] = {
    "photo_vault.ingest": Kind("Photo vault ingest", "Photos", DAY, "sovereign-photos ingest"),
    "photo_vault.thumbnails": Kind("Photo thumbnails", "Photos", DAY, "sovereign-photos thumbnails"),
    "photo_vault.verify": Kind("Photo vault verification", "Photos", WEEK, "sovereign-photos verify --full"),
    "restic.backup": Kind("Restic backup", "Backups", DAY, "systemctl start sovereign-restic-{name}.service"),
    "restic.check": Kind("Restic repository check", "Backups", WEEK,
                         "systemctl start sovereign-restic-check-{name}.service"),
    "pbs.backup": Kind("PBS media backup", "Backups", DAY,
                       "systemctl start sovereign-pbs-backup-{name}.service"),
    "pbs.restore_drill": Kind("PBS restore drill", "Backups", MONTH,
                              "systemctl start sovereign-pbs-drill-{name}.service"),
    "zfs.scrub": Kind("ZFS scrub", "Disks", MONTH, "systemctl start sovereign-zpool-scrub-{name}.service", _zfs_scrub),
    "icloudpd.download": Kind("iCloud download", "Photos", DAY, "systemctl start sovereign-icloudpd-{name}.service"),
    "icloud.session": Kind("iCloud session", "Photos", DAY,
                           "ansible-playbook playbooks/icloud_reauth.yml --limit {host} -e icloud_username={name}"),
}

GROUP_ORDER = ("Photos", "Backups", "Disks", "Devices", "Messages", "Other")


def register(kind: str, entry: Kind) -> None:
    """Plug a kind in from elsewhere (a later role's engine)."""
    KINDS[kind] = entry


def lookup(kind: str) -> Kind | None:
    return KINDS.get(kind)


def fix_for(kind: str, name: str, host: str, *candidates) -> str:
    """The one command that fixes ``kind``/``name`` on ``host``: the first non-empty candidate
    (the expectation's, then the status file's), else the kind's, else a converge of the host."""
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    entry = KINDS.get(kind)
    template = entry.fix if entry else FALLBACK_FIX
    return template.format(name=name, host=host)
