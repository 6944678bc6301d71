"""The macOS modules end to end over the stand-ins of tests/support/macos_standin/bin (pmset, sharing,
security): idempotence, check mode, diff, RETURN documentation, and no secret in any result.

macOS cannot run here; the stand-ins answer in the documented formats (pmset) or reconstructed ones
(sharing, security), as their docstrings say.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.sovereign.cloud.plugins.modules import (
    ios_backup_info, mac_file_share, mac_keychain_password, pmset)
from support import return_docs
from support.ansible_module import run_adhoc, run_module
from support.macos import calls, run_standin, standin_env, standin_path, write_backup, write_pmset_state

SECRET = "Pegasus-share-pa55word with spaces"


@pytest.fixture()
def state(tmp_path, monkeypatch):
    return standin_path(tmp_path / "standin-state", monkeypatch)


def test_pmset_converges_once_and_returns_what_it_documents(state):
    args = {"settings": {"sleep": 0, "disksleep": 0, "womp": 1, "autorestart": 1}}
    check = run_module(pmset, args, check_mode=True)
    assert check["changed"] and not [c for c in calls(state, "pmset") if c[1] != "-g"]
    first = run_module(pmset, args)
    second = run_module(pmset, args)
    assert first["changed"] and not second["changed"], (first, second)
    # The 2012 Mac mini stand-in starts with womp 1: only the differing keys are written.
    assert first["commands"] == ["pmset -a sleep 0 disksleep 0 autorestart 1"]
    assert [c[1:] for c in calls(state, "pmset") if c[1] != "-g"] == [["-a", "sleep", "0", "disksleep", "0",
                                                                      "autorestart", "1"]]
    assert first["current"]["ac"]["sleep"] == "0" and list(first["current"]) == ["ac"]
    assert first["diff"]["before"] == {"ac": {"sleep": "10", "disksleep": "10", "womp": "1", "autorestart": "0"}}
    on_battery = run_module(pmset, {"settings": {"sleep": 15}, "source": "battery"})
    assert not on_battery["changed"] and "no battery power profile" in on_battery["warnings"][0]
    return_docs.assert_matches("pmset", [check, first, second, on_battery])


def test_pmset_on_a_laptop_sets_battery_only(state):
    write_pmset_state(state, {"Battery Power": {"sleep": "1", "displaysleep": "2"},
                              "AC Power": {"sleep": "1", "displaysleep": "10"}}, assertions=["sharingd"])
    result = run_module(pmset, {"settings": {"displaysleep": 5}, "source": "battery"})
    assert result["changed"] and result["commands"] == ["pmset -b displaysleep 5"]
    assert result["current"]["battery"]["displaysleep"] == "5" and result["current"]["ac"]["displaysleep"] == "10"
    failed = run_module(pmset, {"settings": {"nosuchsetting": 1}})
    assert failed["failed"] and "unrecognized setting" in failed["msg"]


def test_mac_file_share_converges_once(state, tmp_path):
    volume = tmp_path / "Pegasus"
    volume.mkdir()
    args = {"name": "Pegasus", "path": str(volume) + "/"}
    check = run_module(mac_file_share, args, check_mode=True)
    assert check["changed"] and [c[1] for c in calls(state, "sharing")] == ["-l"]
    first = run_module(mac_file_share, args)
    second = run_module(mac_file_share, args)
    assert first["changed"] and not second["changed"]
    assert second["share"] == {"state": "present", "name": "Pegasus", "path": str(volume), "protocols": ["smb"],
                               "guest": False}
    listing = run_standin(["sharing", "-l"], state).stdout
    assert "smb:" in listing and f"path:\t\t{volume}" in listing
    removed = run_module(mac_file_share, {"name": "Pegasus", "state": "absent"})
    assert removed["changed"]
    missing_path = run_module(mac_file_share, {"name": "Pegasus", "path": str(tmp_path / "nowhere")})
    assert missing_path["failed"] and "No such file or directory" in missing_path["msg"]
    return_docs.assert_matches("mac_file_share", [check, first, second, removed, missing_path])


def test_mac_keychain_password_converges_and_never_shows_the_password(state, tmp_path):
    args = {"server": "server-a.local", "account": "backup", "password": SECRET, "label": "Pegasus RAID",
            "keychain": str(tmp_path / "login.keychain-db")}
    runs = [run_module(mac_keychain_password, args, check_mode=True), run_module(mac_keychain_password, args),
            run_module(mac_keychain_password, args)]
    assert [r["changed"] for r in runs] == [True, True, False]
    assert runs[1]["item"]["password"] == "matches"
    runs.append(run_module(mac_keychain_password, dict(args, password="a new one")))
    assert runs[-1]["changed"] and runs[-1]["diff"]["before"]["password"] == "differs"
    run_standin(["security", "lock-keychain", args["keychain"]], state)
    runs.append(run_module(mac_keychain_password, args))
    assert runs[-1]["failed"] and "unlock-keychain" in runs[-1]["msg"]
    run_standin(["security", "unlock-keychain", args["keychain"]], state)
    runs.append(run_module(mac_keychain_password, {k: v for k, v in args.items() if k != "password"} |
                           {"state": "absent"}))
    assert runs[-1]["changed"]
    for result in runs:
        assert SECRET not in json.dumps(result), result
    assert SECRET not in (state / "calls.log").read_text()
    return_docs.assert_matches("mac_keychain_password", runs)


def test_mac_keychain_password_through_ansible_keeps_the_password_out_of_the_output(state, tmp_path, monkeypatch):
    # Through `ansible` itself: the module travels in AnsiballZ, and the task result is what a callback sees.
    monkeypatch.setenv("HOME", str(tmp_path))
    args = {"server": "server-a.local", "account": "backup", "password": SECRET}
    first = run_adhoc("mac_keychain_password", args)
    assert first.get("changed") is True, first
    assert SECRET not in json.dumps(first)
    stored = run_standin(["security", "find-internet-password", "-s", "server-a.local", "-a", "backup", "-w"], state,
                         env={"HOME": str(tmp_path)})
    assert stored.stdout == SECRET + "\n"
    assert standin_env(state)["MACOS_STANDIN_STATE"] == str(state)


def test_ios_backup_info_reports_and_never_changes(tmp_path):
    root = tmp_path / "Backups"
    write_backup(root, "00008130-000A1B2C3D4E5F60", "iPhone 15 Pro", "iPhone16,1", 0.2)
    write_backup(root, "00008120-001A2B3C4D5E6F70", "iPhone 14 Pro", "iPhone15,2", 12)
    write_backup(root, "00008101-0000000000000000", "Guest iPhone", "iPhone13,2", 1)
    args = {"path": str(root), "devices": [{"name": "iPhone 15 Pro", "owner": "Nithin"},
                                           {"name": "iPhone 14 Pro", "owner": "Wife"},
                                           {"name": "iPhone 12", "owner": "Dad", "max_age_days": 3},
                                           {"name": "Apple Watch", "owner": "Wife", "inside": "iPhone 14 Pro"}]}
    normal, checked = run_module(ios_backup_info, args), run_module(ios_backup_info, args, check_mode=True)
    for result in (normal, checked):
        assert result["changed"] is False
        assert [d["status"] for d in result["devices"]] == ["fresh", "stale", "missing", "stale", "unknown"]
        assert result["stale"] == ["Wife's iPhone 14 Pro", "Wife's Apple Watch"]
        assert result["missing"] == ["Dad's iPhone 12"]
        assert result["unknown"] == ["Guest iPhone"]
    assert normal["devices"][2]["max_age_days"] == 3
    failed = run_module(ios_backup_info, {"path": str(tmp_path / "not-mounted")})
    assert failed["failed"] and "is the volume mounted" in failed["msg"]
    return_docs.assert_matches("ios_backup_info", [normal, checked, failed])
