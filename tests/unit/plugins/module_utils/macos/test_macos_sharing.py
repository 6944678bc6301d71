"""sharing engine: ``sharing -l`` parsing and the add/edit/remove plan, over the ``sharing`` stand-in.

Apple publishes no source for ``sharing``: every listing here is RECONSTRUCTED (the man page's options,
the shape of listings people posted), as is the stand-in's output.
"""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.sharing import (
    Sharing, SharingError, describe, ensure, flags, parse_list)
from support.macos import calls, run_standin, standin_runner

# Reconstructed: two share points, protocol blocks in different orders, a name with spaces, extra keys.
LISTING = """List of Share Points
name:\t\tPegasus
path:\t\t/Volumes/Pegasus
\tsmb:\t{
\t\tname:\tPegasus
\t\tshared:\t1
\t\tguest access:\t0
\t}
\tafp:\t{
\t\tname:\tPegasus
\t\tshared:\t0
\t\tguest access:\t0
\t\tinherit perms:\t0
\t}
\tftp:\t{
\t\tname:\tPegasus
\t\tshared:\t0
\t\tguest access:\t0
\t}

name:\t\tMom's Public Folder
path:\t\t/Users/mom/Public
\tafp:\t{
\t\tname:\tMom's Public Folder
\t\tshared:\t1
\t\tguest access:\t1
\t\tinherit perms:\t0
\t}
\tsmb:\t{
\t\tname:\tMom's Public Folder
\t\tshared:\t1
\t\tguest access:\t1
\t}
"""


def test_listing_is_parsed_whatever_the_block_order():
    shares = parse_list(LISTING)
    assert [s["name"] for s in shares] == ["Pegasus", "Mom's Public Folder"]
    assert describe(shares[0]) == {"state": "present", "name": "Pegasus", "path": "/Volumes/Pegasus",
                                   "protocols": ["smb"], "guest": False}
    assert describe(shares[1]) == {"state": "present", "name": "Mom's Public Folder", "path": "/Users/mom/Public",
                                   "protocols": ["afp", "smb"], "guest": True}


def test_no_share_points():
    assert parse_list("No share point records.\n") == []
    assert parse_list("") == []


def test_flags_are_afp_ftp_smb():
    assert flags(["smb"]) == "001"
    assert flags(["afp", "smb"]) == "101"
    assert flags(["smb"], on=False) == "000"


@pytest.fixture()
def standin(tmp_path):
    state = tmp_path / "state"
    volume = tmp_path / "Pegasus"
    volume.mkdir()
    return Sharing(standin_runner(state), "sharing"), state, volume


def test_add_then_nothing_then_edit_then_remove(standin):
    sharing, state, volume = standin
    first = ensure(sharing, "Pegasus", str(volume), ["smb"], False, "present", check_mode=False)
    assert first["changed"] and first["share"]["protocols"] == ["smb"]
    assert first["commands"] == [f"sharing -a {volume} -n Pegasus -s 001 -g 000"]
    assert first["diff"]["before"] == {"state": "absent"}
    again = ensure(sharing, "Pegasus", str(volume), ["smb"], False, "present", check_mode=False)
    assert not again["changed"] and again["commands"] == []
    # Guest access turned on by hand is turned off again; AFP is added on request.
    run_standin(["sharing", "-e", "Pegasus", "-g", "001"], state)
    fixed = ensure(sharing, "Pegasus", str(volume), ["smb", "afp"], False, "present", check_mode=False)
    assert fixed["changed"] and fixed["commands"] == ["sharing -e Pegasus -s 101 -g 000"]
    assert fixed["diff"]["before"]["guest"] is True and fixed["share"]["guest"] is False
    gone = ensure(sharing, "Pegasus", None, ["smb"], False, "absent", check_mode=False)
    assert gone["changed"] and gone["share"] == {"state": "absent"}
    assert run_standin(["sharing", "-l"], state).stdout.startswith("No share point records")


def test_check_mode_runs_only_the_listing(standin):
    sharing, state, volume = standin
    result = ensure(sharing, "Pegasus", str(volume), ["smb"], False, "present", check_mode=True)
    assert result["changed"] and "check mode" in result["summary"]
    assert [c[1] for c in calls(state, "sharing")] == ["-l"]


def test_a_moved_share_is_removed_and_added_at_the_new_path(standin, tmp_path):
    sharing, state, volume = standin
    ensure(sharing, "Pegasus", str(volume), ["smb"], False, "present", check_mode=False)
    other = tmp_path / "Pegasus2"
    other.mkdir()
    moved = ensure(sharing, "Pegasus", str(other), ["smb"], False, "present", check_mode=False)
    assert moved["commands"][0] == "sharing -r Pegasus"
    assert moved["share"]["path"] == str(other)


def test_a_path_shared_under_another_name_is_not_taken_over(standin):
    sharing, state, volume = standin
    run_standin(["sharing", "-a", str(volume), "-n", "RAID"], state)
    with pytest.raises(SharingError, match="already shared as 'RAID'"):
        ensure(sharing, "Pegasus", str(volume), ["smb"], False, "present", check_mode=False)


def test_a_failing_sharing_says_what_to_do(standin, tmp_path):
    sharing, _state, _volume = standin
    with pytest.raises(SharingError, match="No such file or directory"):
        ensure(sharing, "Pegasus", str(tmp_path / "not-mounted"), ["smb"], False, "present", check_mode=False)
    with pytest.raises(SharingError, match="not offered"):
        ensure(sharing, "Pegasus", "/x", ["ftp"], False, "present", check_mode=False)
