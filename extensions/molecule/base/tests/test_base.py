"""What a user checks after the base role: the account, the directories, the time zone, packages."""

from __future__ import annotations


def test_service_account_is_a_system_user_without_login(host):
    user = host.user("sovereign")
    assert user.exists
    assert user.uid == 2600
    assert user.group == "sovereign"
    assert user.home == "/srv/sovereign"
    assert user.shell == "/usr/sbin/nologin"


def test_data_root_is_private_to_the_service_user(host):
    root = host.file("/srv/sovereign")
    assert root.is_directory
    assert root.user == "sovereign"
    assert root.group == "sovereign"
    assert root.mode == 0o750


def test_state_directory_is_readable_by_reports(host):
    state = host.file("/var/lib/sovereign-cloud")
    assert state.is_directory
    assert state.user == "sovereign"
    assert state.mode == 0o755


def test_time_zone_is_set(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/America/Edmonton"
    assert host.check_output("date +%Z") in ("MST", "MDT")


def test_common_packages_are_installed(host):
    for name in ("acl", "ca-certificates", "python3-venv", "rsync", "sqlite3", "tzdata", "less"):
        assert host.package(name).is_installed, name


def test_service_user_can_be_become_target(host):
    # acl is what makes `become_user: sovereign` work for the scheduled-job roles.
    out = host.run("sudo -u sovereign -- /bin/sh -c 'id -un'")
    assert out.rc == 0
    assert out.stdout.strip() == "sovereign"
