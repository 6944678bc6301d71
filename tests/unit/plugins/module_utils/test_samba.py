"""Samba passdb engine: the NT hash, pdbedit parsing and the plan that makes passwords idempotent.

The fake passdb below behaves like pdbedit/smbpasswd (same output format, same exit codes,
same "Username not found!"); molecule's smb_share scenario runs the real tools.
"""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.samba import (
    Passdb, SambaError, ensure_user, md4, nt_hash, parse_smbpasswd_line)

RFC1320_VECTORS = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("data", "digest"), RFC1320_VECTORS)
def test_md4_matches_rfc1320(data, digest):
    assert md4(data).hex() == digest


def test_md4_pure_python_path_is_used_when_openssl_refuses(monkeypatch):
    import hashlib

    def refuse(name, *args, **kwargs):
        raise ValueError(f"unsupported hash type {name}")

    monkeypatch.setattr(hashlib, "new", refuse)
    for data, digest in RFC1320_VECTORS:
        assert md4(data).hex() == digest


def test_nt_hash_matches_what_samba_4_17_stored():
    # `printf 's3cret\ns3cret\n' | smbpasswd -a -s u; pdbedit -L -w -u u` on Debian 12.
    assert nt_hash("s3cret") == "D4C619CB16D4632B275658316A7E657E"
    assert nt_hash("password") == "8846F7EAEE8FB117AD06BDD830B7586C"
    # Non-ASCII passwords are hashed as UTF-16LE, like Samba does.
    assert nt_hash("fotos-für-oma") != nt_hash("fotos-fur-oma")


def test_pdbedit_line_is_parsed():
    entry = parse_smbpasswd_line(
        "vaultbackup:997:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:D4C619CB16D4632B275658316A7E657E:[DU         ]:LCT-6B030D54:")
    assert (entry.name, entry.uid, entry.disabled) == ("vaultbackup", 997, True)
    assert entry.password_matches("s3cret")
    assert not entry.password_matches("S3cret")


def test_user_without_password_never_matches():
    entry = parse_smbpasswd_line("u:1000:" + "X" * 32 + ":" + "X" * 32 + ":[NU         ]:LCT-00000000:")
    assert not entry.has_password
    assert not entry.password_matches("")


class FakeSamba:
    """pdbedit -L -w / smbpasswd -a -s / -s / -e / -d / -x over an in-memory passdb."""

    def __init__(self):
        self.users: dict[str, dict] = {}
        self.calls: list[list[str]] = []

    def __call__(self, argv, data=None, binary_data=False):
        self.calls.append(argv)
        tool, args, name = argv[0], argv[1:-1], argv[-1]
        if tool == "pdbedit":
            if name not in self.users:
                return 255, "", "Username not found!\n"
            user = self.users[name]
            flags = ("D" if user["disabled"] else "") + "U"
            return 0, f"{name}:1001:{'X' * 32}:{user['hash']}:[{flags:<11}]:LCT-6B030D54:\n", ""
        if "-a" in args:
            password = data.split("\n")[0]
            self.users[name] = {"hash": nt_hash(password), "disabled": False}
            return 0, "Added user %s.\n" % name, ""
        if name not in self.users:
            return 1, "", f"Failed to find entry for user {name}.\n"
        if args == ["-s"]:
            self.users[name]["hash"] = nt_hash(data.split("\n")[0])
        elif args == ["-e"]:
            self.users[name]["disabled"] = False
        elif args == ["-d"]:
            self.users[name]["disabled"] = True
        elif args == ["-x"]:
            del self.users[name]
        return 0, "", ""


@pytest.fixture
def samba():
    return FakeSamba()


def converge(samba, check_mode=False, **wanted):
    params = {"state": "present", "password": "correct horse", "enabled": True, "update_password": "always"}
    params.update(wanted)
    return ensure_user(Passdb(samba, "pdbedit", "smbpasswd"), "vaultbackup", params["state"], params["password"],
                       params["enabled"], params["update_password"], check_mode)


def test_new_user_is_added_then_left_alone(samba):
    first = converge(samba)
    assert first["changed"] and first["actions"] == ["add"]
    assert samba.users["vaultbackup"]["hash"] == nt_hash("correct horse")
    assert first["diff"] == {"before": {"state": "absent"},
                             "after": {"state": "present", "enabled": True, "password": "matches"}}
    second = converge(samba)
    assert not second["changed"]
    assert second["summary"] == "Samba user vaultbackup: already up to date"


def test_password_changed_by_hand_is_put_back(samba):
    converge(samba)
    samba.users["vaultbackup"]["hash"] = nt_hash("typed on the console")
    result = converge(samba)
    assert result["actions"] == ["password"]
    assert result["diff"]["before"]["password"] == "differs"
    assert samba.users["vaultbackup"]["hash"] == nt_hash("correct horse")


def test_new_vault_password_is_applied(samba):
    converge(samba)
    assert converge(samba, password="battery staple")["actions"] == ["password"]
    assert samba.users["vaultbackup"]["hash"] == nt_hash("battery staple")


def test_on_create_leaves_an_existing_password_alone(samba):
    converge(samba)
    result = converge(samba, password="other", update_password="on_create")
    assert not result["changed"]
    assert result["diff"]["after"]["password"] == "differs"


def test_check_mode_reports_without_touching(samba):
    converge(samba)
    samba.users["vaultbackup"]["disabled"] = True
    result = converge(samba, check_mode=True, password="new one")
    assert result["actions"] == ["password", "enable"]
    assert "check mode" in result["summary"]
    assert samba.users["vaultbackup"] == {"hash": nt_hash("correct horse"), "disabled": True}
    assert [call for call in samba.calls if call[0] == "smbpasswd"] == [["smbpasswd", "-a", "-s", "vaultbackup"]]


def test_disable_and_remove(samba):
    converge(samba)
    assert converge(samba, enabled=False)["actions"] == ["disable"]
    assert samba.users["vaultbackup"]["disabled"]
    assert converge(samba, state="absent", password=None)["actions"] == ["remove"]
    assert "vaultbackup" not in samba.users
    assert not converge(samba, state="absent", password=None)["changed"]


def test_nothing_secret_reaches_the_result(samba):
    converge(samba)
    samba.users["vaultbackup"]["hash"] = nt_hash("typed on the console")
    text = repr(converge(samba))
    for secret in ("correct horse", nt_hash("correct horse"), nt_hash("typed on the console")):
        assert secret not in text


def test_broken_samba_says_what_to_check():
    def broken(argv, data=None, binary_data=False):
        return 1, "", "Can't load /etc/samba/smb.conf - run testparm to debug it\n"

    with pytest.raises(SambaError, match="testparm"):
        ensure_user(Passdb(broken, "pdbedit", "smbpasswd"), "u", "present", "pw", True, "always", False)
