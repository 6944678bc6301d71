"""What the mac roles left on the stand-in Macs (Linux containers with the macOS stand-ins of
tests/support/macos_standin, NOT macOS): read from the stand-ins' state files and the plists.

sc-mac_nodes-1 is Server A (backup controller, Mom's identity node), sc-mac_nodes-2 Alex's Mac.
Read after side_effect.yml rehearsed seed 000 "Server A dies" (playbooks/dr/mac_server_a_dies.yml with
dr_new_controller=sc-mac_nodes-2): Server A is dead and was not contacted, so it keeps what converge
left; the RAID moved to Alex's Mac, which is now a backup controller too and mounts the share from itself.
"""

from __future__ import annotations

import json
import plistlib
import shlex

import pytest

STATE = "/var/lib/macos-standin"
PEOPLE = {"sc-mac_nodes-1": ("mom", 502), "sc-mac_nodes-2": ("alex", 501)}
SECRETS = ("Test-Only-SMB-pw-7c1e", "Test-Only-restic-pw-51d0", "Test-Only-s3-secret-9a2f")
MOUNT = "cloud.sovereign.mount-share"
ARCHIVE = "cloud.sovereign.imessage-archive"
REBOOT = "cloud.sovereign.monthly-reboot"
RESTIC = "cloud.sovereign.restic-offsite"
RESTIC_CHECK = "cloud.sovereign.restic-check-offsite"
# Where each Mac's login mount points: the dead Server A still names itself (never contacted by the
# recovery); Alex's Mac names the new server (no ansible_host in molecule's inventory: its name).
SHARE_SERVER = {"sc-mac_nodes-1": "server-a.home.example.com", "sc-mac_nodes-2": "sc-mac_nodes-2"}


def name_of(host) -> str:
    return host.backend.get_hostname().split("://")[-1]


def person(host) -> tuple[str, int]:
    return PEOPLE[name_of(host)]


def state(host, tool: str):
    return json.loads(host.file(f"{STATE}/{tool}.json").content_string)


def plist(host, path: str) -> dict:
    return plistlib.loads(host.file(path).content)


def agent_path(host, label: str) -> str:
    return f"/Users/{person(host)[0]}/Library/LaunchAgents/{label}.plist"


def test_the_mac_never_sleeps_and_restarts_after_a_power_failure(host):
    ac = state(host, "pmset")["profiles"]["AC Power"]
    assert (ac["sleep"], ac["disksleep"], ac["womp"], ac["autorestart"]) == ("0", "0", "1", "1")
    assert "sleep                0" in host.check_output("pmset -g custom")


def test_launch_agents_are_valid_plists_with_their_program_schedule_and_arguments(host):
    who, uid = person(host)
    mount = plist(host, agent_path(host, MOUNT))
    archive = plist(host, agent_path(host, ARCHIVE))
    for job in (mount, archive):
        assert job["ProgramArguments"][:2] == ["/usr/bin/python3", "/usr/local/lib/sovereign/mac_agent.py"]
        assert host.file(job["ProgramArguments"][1]).exists
        assert job["LimitLoadToSessionType"] == "Aqua"
    assert mount["Label"] == MOUNT and mount["RunAtLoad"] is True
    args = mount["ProgramArguments"]
    assert args[2] == "mount-share"
    assert args[args.index("--server") + 1] == SHARE_SERVER[name_of(host)]
    assert args[args.index("--account") + 1] == "sovereign-backup"
    assert args[args.index("--mountpoint") + 1] == "/Volumes/Pegasus"
    assert archive["StartCalendarInterval"] == {"Weekday": 0, "Hour": 3, "Minute": 0}
    args = archive["ProgramArguments"]
    assert args[2] == "imessage-archive"
    assert args[args.index("--exporter") + 1] == "/usr/local/bin/imessage-exporter"
    assert args[args.index("--dest") + 1] == f"/Volumes/Pegasus/Archives/{who.capitalize()}/Messages"
    assert args[args.index("--format") + 1] == "html"
    plists = host.file(f"/Users/{who}/Library/LaunchAgents")
    assert (host.file(agent_path(host, MOUNT)).user, plists.user) == (who, who)
    loaded = state(host, "launchctl")["services"]
    assert {f"gui/{uid}/{MOUNT}", f"gui/{uid}/{ARCHIVE}"} <= set(loaded)


def test_no_secret_in_any_plist_script_or_setting(host):
    files = host.check_output(
        "find /Users /Library /usr/local/lib/sovereign /etc/sovereign -type f "
        "\\( -name '*.plist' -o -name '*.py' -o -name '*.json' -o -name '*.sh' \\) 2>/dev/null || true").split()
    assert any(f.endswith(f"{MOUNT}.plist") for f in files)
    for path in files:
        if path.endswith(".env"):
            continue
        content = host.file(path).content_string
        for secret in SECRETS:
            assert secret not in content, path


def test_the_share_password_is_only_in_the_login_keychain(host):
    """Converge put it there for Server A; the recovery manages no keychain entry on the Mac that now
    holds the RAID (mac_identity_node_keychain_manage: false), so the old entry stays, unused."""
    who = person(host)[0]
    if who == "mom":
        pytest.skip("Server A holds the RAID itself: no keychain entry to mount it")
    result = host.run(f"sudo -u {who} -H security find-internet-password -s server-a.home.example.com "
                      f"-a sovereign-backup -r 'smb ' -w /Users/{who}/Library/Keychains/login.keychain-db")
    assert result.rc == 0 and result.stdout.strip() == SECRETS[0]


def test_imessage_exporter_comes_from_homebrew(host):
    assert "imessage-exporter" in state(host, "brew")["formulae"]


def test_a_missing_full_disk_access_grant_is_reported_as_exactly_that(host):
    """The agent runs with the plist's own arguments; a Messages database the agent cannot open is what
    TCC shows a program without Full Disk Access (here: root-owned, mode 0600)."""
    who = person(host)[0]
    home = f"/Users/{who}"
    host.run(f"mkdir -p {home}/Library/Messages && : > {home}/Library/Messages/chat.db && "
             f"chmod 0600 {home}/Library/Messages/chat.db")
    args = plist(host, agent_path(host, ARCHIVE))["ProgramArguments"]
    result = host.run(f"cd / && sudo -u {who} -H " + " ".join(shlex.quote(a) for a in args))
    assert result.rc == 1, result.stdout + result.stderr
    status = json.loads(host.file(f"/Users/Shared/sovereign-cloud/status/mac.imessage_archive--{who}.json").content)
    assert status["ok"] is False and status["details"]["reason"] == "full_disk_access_missing"
    assert status["summary"].startswith("Full Disk Access missing")
    assert "Privacy & Security > Full Disk Access" in status["fix"] and "launchctl kickstart" in status["fix"]
    host.run(f"rm -rf {home}/Library/Messages")


def test_status_expectations_are_written(host):
    who = person(host)[0]
    expect = json.loads(host.file(f"/etc/sovereign/status.d/mac.imessage_archive--{who}.json").content)
    assert expect["every"] == 604800 and expect["fix"].startswith("launchctl kickstart gui/")


def test_monthly_reboot_only_where_the_seed_asks(host):
    path = f"/Library/LaunchDaemons/{REBOOT}.plist"
    if name_of(host) == "sc-mac_nodes-1":
        job = plist(host, path)
        assert job["StartCalendarInterval"] == {"Day": 1, "Hour": 4, "Minute": 30}
        assert job["ProgramArguments"][:3] == ["/sbin/shutdown", "-r", "now"]
        assert f"system/{REBOOT}" in state(host, "launchctl")["services"]
    else:
        assert not host.file(path).exists


@pytest.fixture()
def controller(host):
    """Both Macs are backup controllers here: Server A from converge, Alex's Mac from the recovery."""
    return host


def test_the_recovery_moved_the_share_to_the_new_controller(host):
    """The dead Server A was not contacted (its mount still names server-a); on Alex's Mac the share,
    iMazing's destination (in Alex's session) and the login mount all name the new server."""
    mount = plist(host, agent_path(host, MOUNT))["ProgramArguments"]
    server = mount[mount.index("--server") + 1]
    shares = [s["name"] for s in state(host, "sharing") if s["path"] == "/Volumes/Pegasus"]
    assert shares == ["Pegasus"]
    if name_of(host) == "sc-mac_nodes-1":
        assert server == "server-a.home.example.com"
        return
    assert server == "sc-mac_nodes-2"
    prefs = plist(host, "/Users/alex/Library/Preferences/com.DigiDNA.iMazing3Mac.plist")
    assert prefs["BackupLocation"] == "/Volumes/Pegasus/iMazing"
    assert host.file("/Volumes/Pegasus/iMazing").user == "alex"
    assert {"imazing", "backblaze"} <= set(state(host, "brew")["casks"])


def test_the_raid_is_shared_over_smb_only(controller):
    shares = [s for s in state(controller, "sharing") if s["path"] == "/Volumes/Pegasus"]
    assert len(shares) == 1
    share = shares[0]
    assert share["smb"]["shared"] == 1 and share["afp"]["shared"] == 0
    assert (share["smb"]["guest access"], share["afp"]["guest access"]) == (0, 0)


def test_the_backup_account_is_hidden_without_shell_and_has_a_password(controller):
    record = json.loads(controller.file(f"{STATE}/dscl.json").content_string)["/Users/sovereign-backup"]
    assert record["UserShell"] == ["/usr/bin/false"] and record["IsHidden"] == ["1"]
    assert record["UniqueID"] == ["450"] and record["_standin_password_sha256"]


def test_imazing_and_backblaze_casks_and_the_backup_destination(controller):
    brew = state(controller, "brew")
    assert {"imazing", "backblaze"} <= set(brew["casks"]) and "restic" in brew["formulae"]
    prefs = plist(controller, f"/Users/{person(controller)[0]}/Library/Preferences/com.DigiDNA.iMazing3Mac.plist")
    assert prefs["BackupLocation"] == "/Volumes/Pegasus/iMazing"


def test_the_offsite_restic_job_is_restic_backups_job_under_launchd(controller):
    """mac_backup_controller hands the job to restic_backup (restic_backup_scheduler: launchd): one
    LaunchDaemon for the job, one for the repository's weekly check, both running restic_backup's runner
    with its settings files; Server A's schedule is the default "*-*-* 01:30:00", Alex's Mac (the recovery)
    gives the deprecated launchd mapping {Hour: 1, Minute: 30}: the same plist."""
    job = plist(controller, f"/Library/LaunchDaemons/{RESTIC}.plist")
    assert job["Label"] == RESTIC
    assert job["ProgramArguments"] == ["/usr/bin/python3", "/usr/local/lib/sovereign/restic_job.py", "backup",
                                       "/etc/sovereign/restic/job-offsite.json"]
    assert job["StartCalendarInterval"] == {"Hour": 1, "Minute": 30}
    assert job["EnvironmentVariables"] == {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}
    assert job["StandardOutPath"] == job["StandardErrorPath"] == f"/Library/Logs/sovereign/{RESTIC}.log"
    assert "Disabled" not in job
    check = plist(controller, f"/Library/LaunchDaemons/{RESTIC_CHECK}.plist")
    assert check["ProgramArguments"] == ["/usr/bin/python3", "/usr/local/lib/sovereign/restic_job.py", "check",
                                         "/etc/sovereign/restic/check-offsite.json"]
    # restic_backup's check schedule, "Sat *-*-* 05:00:00": launchd's Saturday is 6.
    assert check["StartCalendarInterval"] == {"Weekday": 6, "Hour": 5, "Minute": 0}
    for path in (f"/Library/LaunchDaemons/{RESTIC}.plist", f"/Library/LaunchDaemons/{RESTIC_CHECK}.plist"):
        daemon = controller.file(path)
        assert (daemon.user, daemon.mode) == ("root", 0o644)
        text = daemon.content_string
        assert not any(secret in text for secret in SECRETS) and "AWS_" not in text and "RESTIC_" not in text
    loaded = state(controller, "launchctl")["services"]
    assert loaded[f"system/{RESTIC}"]["path"] == f"/Library/LaunchDaemons/{RESTIC}.plist"
    assert loaded[f"system/{RESTIC_CHECK}"]["program_arguments"] == check["ProgramArguments"]
    # No systemd unit: the stand-in Macs boot systemd, but the job is launchd's.
    assert not controller.file("/etc/systemd/system/sovereign-restic-offsite.timer").exists


def test_the_offsite_job_settings_env_file_and_results_are_restic_backups(controller):
    settings = json.loads(controller.file("/etc/sovereign/restic/job-offsite.json").content_string)
    assert settings["retention_policy"] == "media" and settings["retention"] == {"keep_within": "90d"}
    assert settings["paths"] == ["/Volumes/Pegasus"] and settings["tags"] == ["offsite", "media"]
    assert settings["host"] == name_of(controller)
    assert settings["env_file"] == "/etc/sovereign/restic/offsite.env"
    assert settings["state_file"] == "/Library/Application Support/sovereign-cloud/restic/offsite.json"
    assert settings["cache_dir"] == "/Library/Application Support/sovereign-cloud/restic-cache"
    assert settings["lock_file"] == "/var/run/sovereign-restic-offsite.lock"
    check = json.loads(controller.file("/etc/sovereign/restic/check-offsite.json").content_string)
    assert check["state_file"] == "/Library/Application Support/sovereign-cloud/restic/check-offsite.json"
    for path in ("/etc/sovereign/restic/job-offsite.json", "/etc/sovereign/restic/check-offsite.json"):
        assert controller.file(path).mode == 0o600
    env = controller.file("/etc/sovereign/restic/offsite.env")
    assert env.mode == 0o600 and env.user == "root"
    text = env.content_string
    assert 'RESTIC_PASSWORD="Test-Only-restic-pw-51d0"' in text and 'AWS_SECRET_ACCESS_KEY="Test-Only-s3-secret-9a2f"' in text
    assert 'RESTIC_REPOSITORY="s3:http://127.0.0.1:8333/offsite/pegasus"' in text
    assert controller.file("/usr/local/lib/sovereign/ansible_collections/sovereign/cloud/plugins/module_utils/restic.py").exists
    assert controller.file("/usr/local/lib/sovereign/restic_job.py").exists
    assert controller.file("/usr/local/sbin/sovereign-restic").mode == 0o755
    assert "restic" in state(controller, "brew")["formulae"]


def test_the_status_page_expects_the_offsite_job_and_its_check(controller):
    backup = json.loads(controller.file("/etc/sovereign/status.d/restic.backup--offsite.json").content_string)
    assert backup["every"] == 86400 and backup["fix"] == f"launchctl kickstart system/{RESTIC}"
    check = json.loads(controller.file("/etc/sovereign/status.d/restic.check--offsite.json").content_string)
    assert check["every"] == 604800 and check["fix"] == f"launchctl kickstart system/{RESTIC_CHECK}"


def test_a_removed_restic_job_leaves_nothing_behind(controller):
    """side_effect.yml gave Alex's Mac a second (disabled) restic job, then took it away: its LaunchDaemon,
    settings and status expectation are gone, and launchd does not have it."""
    for path in ("/Library/LaunchDaemons/cloud.sovereign.restic-documents.plist", "/etc/sovereign/restic/job-documents.json",
                 "/etc/sovereign/status.d/restic.backup--documents.json"):
        assert not controller.file(path).exists, path
    assert "system/cloud.sovereign.restic-documents" not in state(controller, "launchctl")["services"]
