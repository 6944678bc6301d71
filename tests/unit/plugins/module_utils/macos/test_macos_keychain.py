"""keychain engine: internet passwords through the ``security`` stand-in, idempotent on the password itself,
never showing it. The attribute listing is RECONSTRUCTED (no Apple source; see the stand-in's docstring).
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.macos.keychain import (
    Keychain, KeychainError, ensure, parse_attributes, protocol_code)
from support.macos import calls, run_standin, standin_runner

SECRET = "correct horse battery staple"

# Reconstructed from published `security find-internet-password` listings.
LISTING = '''keychain: "/Users/dad/Library/Keychains/login.keychain-db"
version: 512
class: "inet"
attributes:
    0x00000007 <blob>="Pegasus RAID"
    0x00000008 <blob>=<NULL>
    "acct"<blob>="backup"
    "atyp"<blob>="dflt"
    "cdat"<timedate>=0x32303236313230343035333030305A00  "20261204053000Z\\000"
    "desc"<blob>=<NULL>
    "port"<uint32>=0x00000000
    "ptcl"<uint32>="smb "
    "srvr"<blob>="server-a.local"
'''


def test_attributes_are_parsed():
    attributes = parse_attributes(LISTING)
    assert attributes["keychain"] == "/Users/dad/Library/Keychains/login.keychain-db"
    assert attributes["label"] == "Pegasus RAID"
    assert (attributes["acct"], attributes["srvr"], attributes["ptcl"]) == ("backup", "server-a.local", "smb ")
    assert attributes["desc"] is None
    assert attributes["cdat"] == "20261204053000Z"


def test_protocol_codes_are_four_characters():
    assert protocol_code("smb") == "smb "
    assert protocol_code("afp") == "afpx"
    with pytest.raises(KeychainError):
        protocol_code("gopher")


@pytest.fixture()
def keychain(tmp_path):
    state = tmp_path / "state"
    return Keychain(standin_runner(state), "security", str(tmp_path / "login.keychain-db")), state


def converge(keychain, password=SECRET, label="Pegasus RAID", state="present", check_mode=False):
    return ensure(keychain, "server-a.local", "backup", "smb", password, label, state, check_mode)


def test_add_then_nothing_then_put_back_after_a_change_by_hand(keychain):
    chain, state = keychain
    first = converge(chain)
    assert first["changed"] and first["summary"].endswith("added")
    assert first["diff"]["before"] == {"state": "absent"}
    assert converge(chain)["changed"] is False
    # Someone changed it in Keychain Access: the module puts the wanted one back.
    run_standin(["security", "add-internet-password", "-U", "-s", "server-a.local", "-a", "backup", "-r", "smb ",
                 "-w", "typed by hand", chain.keychain], state)
    fixed = converge(chain)
    assert fixed["changed"] and "password updated" in fixed["summary"]
    assert fixed["diff"]["before"]["password"] == "differs"
    stored = run_standin(["security", "find-internet-password", "-s", "server-a.local", "-a", "backup", "-r", "smb ",
                          "-w", chain.keychain], state)
    assert stored.stdout == SECRET + "\n"
    relabelled = converge(chain, label="RAID")
    assert relabelled["changed"] and relabelled["summary"].endswith("label updated")


def test_check_mode_reads_only(keychain):
    chain, state = keychain
    result = converge(chain, check_mode=True)
    assert result["changed"] and "check mode" in result["summary"]
    assert {c[1] for c in calls(state, "security")} == {"find-internet-password"}


def test_absent_removes(keychain):
    chain, _state = keychain
    converge(chain)
    gone = converge(chain, password=None, state="absent")
    assert gone["changed"] and gone["item"] == {"state": "absent"}
    assert converge(chain, password=None, state="absent")["changed"] is False


def test_a_locked_keychain_says_how_to_unlock_it(keychain):
    chain, state = keychain
    converge(chain)
    run_standin(["security", "lock-keychain", chain.keychain], state)
    with pytest.raises(KeychainError, match="unlock-keychain") as error:
        converge(chain, password="another one")
    assert "another one" not in str(error.value) and SECRET not in str(error.value)


def test_the_password_is_in_no_result_and_no_log(keychain):
    chain, state = keychain
    results = [converge(chain, check_mode=True), converge(chain), converge(chain),
               converge(chain, password=None, state="absent")]
    assert SECRET not in json.dumps(results)
    assert SECRET not in (state / "calls.log").read_text()
