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

# A details check returns None (nothing to add) or (state, reason) or (state, reason, fix): state is
# "amber" or "red"; a fix given here is a template like Kind.fix and wins over every other fix. It is also
# asked about a failed run (whose state stays red): its reason then says what failed and what to do.
DetailsCheck = Callable[[dict], Optional[tuple]]

# The fix of a Mac role's own problems (a program it installs is missing, a keychain entry it writes).
MAC_IDENTITY_CONVERGE = "ansible-playbook playbooks/site.yml --limit {host} --tags mac_identity_node"
MAC_BACKUP_CONVERGE = "ansible-playbook playbooks/site.yml --limit {host} --tags mac_backup_controller"


@dataclass(frozen=True)
class Kind:
    """``ages``: False for a status whose age says nothing (a share mounted at login stays mounted);
    ``advice``: added to the reason when the status is late or overdue."""
    title: str
    group: str
    every: int
    fix: str
    check: Optional[DetailsCheck] = None
    ages: bool = True
    advice: str = ""


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


def _imessage_archive(doc: dict) -> tuple | None:
    """mac_agent.py's iMessage archive: what each failure means on the Mac and what to do."""
    details = doc.get("details") or {}
    reason = details.get("reason")
    if doc.get("ok") or not reason:
        return None
    if reason == "full_disk_access_missing":
        program = details.get("program") or "/usr/bin/python3"
        return ("red", "Full Disk Access is missing, so the Messages database cannot be read. On the Mac, signed in "
                       "as the person: System Settings > Privacy & Security > Full Disk Access > + (Cmd-Shift-G, type "
                       f"{program}) > Open, switch it on; then run the command below (or wait for next week's run).")
    if reason == "share_not_mounted":
        return ("red", "The RAID's share was not mounted, so the archive had nowhere to go: mount it with the command "
                       "below (the share's login agent), then run the archive again.", doc.get("fix") or None)
    if reason == "messages_not_set_up":
        return ("red", "This Mac has no Messages history: sign in to Messages and turn on Messages in iCloud "
                       "(Messages > Settings > iMessage), then run the command below.")
    if reason == "exporter_missing":
        return ("red", "imessage-exporter is not installed: converge the Mac (it installs it from Homebrew).",
                MAC_IDENTITY_CONVERGE)
    return ("red", "imessage-exporter failed; its log is ~/Library/Logs/sovereign/imessage-archive.log on the Mac.")


def _mount_share(doc: dict) -> tuple | None:
    """mac_agent.py's share mount at login: a missing keychain entry is fixed by converging the Mac."""
    if doc.get("ok"):
        return None
    if "keychain" in str(doc.get("summary") or ""):
        return ("red", "The login keychain has no password for the share: converge the Mac (the role puts it there), "
                       "then log out and in again.", MAC_IDENTITY_CONVERGE)
    return ("red", "The share did not mount at login: is the RAID's Mac on and sharing? Then mount it with the "
                   "command below.")


def _ios_backup(doc: dict) -> tuple | None:
    """An iOS device's last backup (read from its Info.plist when the page gathers): why it is not fresh."""
    details = doc.get("details") or {}
    where = details.get("root") or "the backup folder"
    if details.get("problem") == "root_unreadable":
        return ("red", f"{where} cannot be read ({details.get('error')}): is the RAID mounted on this Mac?")
    if details.get("problem") == "missing":
        return ("red", f"iMazing has no backup of this device in {where}: connect it to this Mac by USB once, "
                       "pair it in iMazing and turn on automatic Wi-Fi backups.")
    if not doc.get("ok"):
        return ("red", f"Its backup in {where} has no readable date ({details.get('error') or 'Info.plist'}): "
                       "back it up again in iMazing.")
    return None


def _syncthing_folder(doc: dict) -> tuple | None:
    """A Syncthing folder as sovereign-syncthing-status saw it."""
    details = doc.get("details") or {}
    if not doc.get("ok"):
        if details.get("problem") == "api":
            return ("red", "Syncthing did not answer its REST API: restart it with the command below "
                           "(its log: journalctl -u syncthing@<user>).", doc.get("fix") or None)
        errors = details.get("errors") or []
        first = f" (first: {errors[0]})" if errors else ""
        return ("red", f"{details.get('error_count') or len(errors)} item(s) cannot be synced{first}: usually "
                       "permissions or a full disk on this host; converge it to reset the folder's owner and mode.",
                "ansible-playbook playbooks/site.yml --limit {host} --tags syncthing")
    changed = details.get("receive_only_changed_items") or 0
    if changed:
        return ("amber", f"{changed} item(s) were changed here in a receive-only folder: they are not sent to the other "
                         "devices and this copy differs from theirs. To undo them (Syncthing's Revert Local Changes; "
                         "files added here are kept in .stversions when versioning is on) run the command below.",
                "ansible-playbook playbooks/syncthing_revert.yml --limit {host} -e syncthing_revert_folder={name}")
    if details.get("paused"):
        return ("amber", "The folder is paused: nothing syncs until it is resumed (syncthing_folders: paused: false, "
                         "then converge).", "ansible-playbook playbooks/site.yml --limit {host} --tags syncthing")
    if details.get("peers") and not details.get("connected_peers"):
        return ("amber", "None of the devices it shares with is connected: are they on, and on this network?")
    if details.get("need_items"):
        return ("amber", f"{details['need_items']} item(s) still to sync from the other devices.")
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
    # The Macs (mac_identity_node's agent; the fix of an expected job is its launchctl kickstart).
    "mac.imessage_archive": Kind("iMessage archive", "Messages", WEEK, MAC_IDENTITY_CONVERGE, _imessage_archive),
    "mac.mount_share": Kind("RAID share mounted at login", "Disks", DAY, MAC_IDENTITY_CONVERGE, _mount_share, ages=False),
    # Read from each device's backup when the page gathers (mac_backup_controller writes what to expect).
    "ios.backup": Kind("iOS device backup", "Devices", DAY, "open -a iMazing", _ios_backup,
                       advice="Open iMazing on this Mac: is the device on Wi-Fi near it, with automatic backups on?"),
    # sovereign-syncthing-status (syncthing role), one status per folder.
    "syncthing.folder": Kind("Syncthing folder", "Devices", HOUR, "systemctl start sovereign-syncthing-status.service",
                             _syncthing_folder, advice="Its check runs every hour: is sovereign-syncthing-status.timer on?"),
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
