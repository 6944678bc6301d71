"""Every status kind the roles write is registered, and every command the page tells a person to
run exists in this collection."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ansible_collections.sovereign.cloud.plugins.module_utils.status import evaluate, kinds, render

REPO = Path(__file__).resolve().parents[5]

# Where each fix's command comes from: the file that installs it, and what that file says.
UNITS = {
    "sovereign-restic-{name}.service": ("roles/restic_backup/tasks/systemd.yml",
                                        "{{ restic_backup_unit_dir }}/sovereign-restic-{{ item.name }}.service"),
    "sovereign-restic-check-{name}.service": ("roles/restic_backup/tasks/systemd.yml",
                                              "{{ restic_backup_unit_dir }}/sovereign-restic-check-{{ item.name }}.service"),
    "sovereign-pbs-backup-{name}.service": ("roles/pve_host/tasks/media_backup.yml",
                                            "/etc/systemd/system/sovereign-pbs-backup-{{ item.name }}.service"),
    "sovereign-pbs-drill-{name}.service": ("roles/pve_host/tasks/media_backup.yml",
                                           "/etc/systemd/system/sovereign-pbs-drill-{{ item.name }}.service"),
    "sovereign-zpool-scrub-{name}.service": ("roles/zfs_datasets/tasks/scrub.yml",
                                             "/etc/systemd/system/sovereign-zpool-scrub-{{ zfs_datasets__pool }}.service"),
    "sovereign-icloudpd-{name}.service": ("roles/icloudpd/tasks/systemd.yml",
                                          "sovereign-icloudpd-{{ item.name }}.service"),
    "sovereign-syncthing-status.service": ("roles/syncthing/vars/main.yml",
                                           "syncthing__status_units: [sovereign-syncthing-status.service"),
}
# launchd labels the Mac roles install (their defaults), and the Homebrew casks whose apps a fix opens.
LAUNCHD = {"cloud.sovereign.imessage-archive": "roles/mac_identity_node/defaults/main.yml",
           "cloud.sovereign.mount-share": "roles/mac_identity_node/defaults/main.yml",
           "cloud.sovereign.restic-offsite": "roles/mac_backup_controller/defaults/main.yml"}
APPS = {"iMazing": ("roles/mac_backup_controller/tasks/main.yml", "community.general.homebrew_cask:\n    name: imazing")}


def sovereign_photos_commands() -> dict[str, set[str]]:
    """The sub-commands of sovereign-photos and their options, from its argument parser."""
    source = (REPO / "roles/photo_vault/files/sovereign_photos.py").read_text(encoding="utf-8")
    commands: dict[str, set[str]] = {}
    current = None
    for line in source.splitlines():
        parser = re.search(r'(\w+) = sub\.add_parser\("([\w-]+)"', line)
        if parser:
            current = commands.setdefault(parser.group(2), set())
        elif current is not None:
            current.update(re.findall(r'add_argument\("(--[\w-]+)"', line))
    return commands


def assert_exists(command: str) -> None:
    words = shlex.split(command)
    if words[0] == "sovereign-photos":
        assert "sovereign-photos" in (REPO / "roles/photo_vault/tasks/layout.yml").read_text(), command
        options = sovereign_photos_commands()
        assert words[1] in options, command
        assert set(w for w in words[2:] if w.startswith("--")) <= options[words[1]], command
    elif words[:2] == ["systemctl", "start"]:
        assert words[2] in UNITS, f"{command}: which role installs {words[2]}?"
        path, text = UNITS[words[2]]
        assert text in (REPO / path).read_text(encoding="utf-8"), command
    elif words[0] == "ansible-playbook":
        assert (REPO / words[1]).is_file(), command
        if "--tags" in words:
            tag = words[words.index("--tags") + 1]
            assert f"tags: [{tag}]" in (REPO / "playbooks/site.yml").read_text(), command
        for extra in [words[i + 1] for i, w in enumerate(words) if w == "-e"]:
            variable = extra.split("=", 1)[0]
            assert any(variable in path.read_text() for path in REPO.glob("roles/*/tasks/*.yml")), command
    elif words[0] == "launchctl" or words[:2] == ["sudo", "launchctl"]:
        words = words[1:] if words[0] == "sudo" else words
        assert words[1] == "kickstart" and re.match(r"^(gui/(\{uid\}|\d+)|system)/", words[2]), command
        label = words[2].rsplit("/", 1)[1]
        assert label in LAUNCHD and f": {label}" in (REPO / LAUNCHD[label]).read_text(), command
    elif words[:2] == ["open", "-a"]:
        path, text = APPS[words[2]]
        assert text.replace("\\n", "\n") in (REPO / path).read_text(), command
    elif words[0] == "ansible":
        assert words[2:] == ["-m", "ansible.builtin.ping"], command
    else:
        raise AssertionError(f"{command}: not a command this collection provides")


def test_every_registered_fix_exists():
    for kind, entry in kinds.KINDS.items():
        assert_exists(entry.fix), kind
    assert_exists(kinds.FALLBACK_FIX)
    assert_exists(render.REGENERATE)
    unreachable = evaluate.report({"nas": None})["items"][0]["fix"]
    assert_exists(unreachable.replace("nas", "{host}"))


def test_the_photo_vault_jobs_fixes_exist():
    vars_main = (REPO / "roles/photo_vault/vars/main.yml").read_text(encoding="utf-8")
    fixes = re.findall(r"^\s+fix: (.+)$", vars_main, re.M)
    assert len(fixes) == 3
    for fix in fixes:
        assert_exists(fix)


def test_every_kind_the_roles_write_is_registered():
    written = set()
    for path in list(REPO.glob("roles/*/files/*.py")):
        text = path.read_text(encoding="utf-8")
        written.update(re.findall(r'write_status\(\s*[^,]+,\s*"([\w.]+)"', text))
    # sovereign-photos writes photo_vault.<command> for each scheduled job
    jobs = re.findall(r"^  - name: (\w+)$", (REPO / "roles/photo_vault/vars/main.yml").read_text(), re.M)
    written.update(f"photo_vault.{job}" for job in jobs)
    written.update({"restic.backup", "restic.check", "zfs.scrub"})  # read from their own state files
    written.update({"icloudpd.download", "icloud.session"})  # icloudpd_job.py names them in constants
    assert {"pbs.backup", "pbs.restore_drill", "photo_vault.ingest", "photo_vault.verify"} <= written
    assert written <= set(kinds.KINDS), sorted(written - set(kinds.KINDS))


def role_expectations() -> list[tuple[str, str, str]]:
    """(role, kind, fix template) of every expectation a role's vars hand to status_expectations."""
    out = []
    for path in sorted(REPO.glob("roles/*/vars/main.yml")):
        text = path.read_text(encoding="utf-8")
        # restic_backup's fix depends on its scheduler: the systemd one (after `else`) is the registry's.
        launchd = r"(?:.*?if restic_backup_scheduler == 'launchd'\s+else )?"
        for match in re.finditer(r"'kind': '([\w.]+)'.*?'fix': " + launchd + r"'([^']+)' ~ [\w.]+ ~ '([^']*)'",
                                 text, re.S):
            out.append((path.parts[-3], match.group(1), match.group(2) + "{name}" + match.group(3)))
    return out


def test_every_expectation_the_roles_write_is_a_registered_kind_with_its_fix():
    found = role_expectations()
    assert {(role, kind) for role, kind, _fix in found} == {
        ("restic_backup", "restic.backup"), ("restic_backup", "restic.check"), ("zfs_datasets", "zfs.scrub"),
        ("pve_host", "pbs.backup"), ("pve_host", "pbs.restore_drill"), ("icloudpd", "icloudpd.download")}
    for role, kind, fix in found:
        assert kind in kinds.KINDS, (role, kind)
        assert fix == kinds.KINDS[kind].fix, (role, kind, fix)
        assert_exists(fix)
    # photo_vault's expectations are its jobs' kinds and fixes (checked above)
    assert "'kind': 'photo_vault.' ~ job.name" in (REPO / "roles/photo_vault/vars/main.yml").read_text()
    # and every role that writes them does it through the one module, from tasks/status.yml
    for role in ("restic_backup", "zfs_datasets", "pve_host", "photo_vault"):
        assert "sovereign.cloud.status_expectations:" in (REPO / f"roles/{role}/tasks/status.yml").read_text(), role
