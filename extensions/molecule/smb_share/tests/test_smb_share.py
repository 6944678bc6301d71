"""What a user checks after the smb_share role, with a real Samba and smbclient on the NAS.

The password is the one in the scenario's ansible-vault file, read here through ansible's own
VaultLib with the TEST-ONLY password file: the same path the converge took.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

SCENARIO = Path(__file__).resolve().parents[1]
SHARE = "//127.0.0.1/vault"
AUTH = "/run/smb-test-auth"


@pytest.fixture(scope="module")
def password() -> str:
    secret = VaultSecret((SCENARIO / "vault-password.test-only").read_bytes().strip())
    plain = VaultLib([("default", secret)]).decrypt((SCENARIO / "group_vars" / "all" / "vault.yml").read_bytes())
    return yaml.safe_load(plain)["vault_smb_backup_user_password"]


@pytest.fixture(scope="module")
def auth_file(host, password):
    """An smbclient credentials file (0600, under /run), so the password is never on a command line."""
    content = f"username = vaultbackup\npassword = {password}\n"
    assert host.run(f"umask 077; printf %s {shlex.quote(content)} > {AUTH}").rc == 0
    yield AUTH
    host.run(f"rm -f {AUTH}")


def smbclient(host, *args: str, commands: str = "ls"):
    return host.run("smbclient " + " ".join(shlex.quote(a) for a in args) + " -c " + shlex.quote(commands))


def refused(result) -> bool:
    text = result.stdout + result.stderr
    return result.rc != 0 and ("NT_STATUS_LOGON_FAILURE" in text or "NT_STATUS_ACCESS_DENIED" in text)


def test_user_puts_and_gets_a_file_unchanged(host, auth_file):
    assert host.run("head -c 3145728 /dev/urandom > /tmp/photo-in.heic").rc == 0
    result = smbclient(host, SHARE, "-A", auth_file,
                       commands="mkdir 2026; put /tmp/photo-in.heic 2026/IMG_0001.HEIC; "
                                "get 2026/IMG_0001.HEIC /tmp/photo-out.heic")
    assert result.rc == 0, result.stdout + result.stderr
    sent = host.check_output("sha256sum < /tmp/photo-in.heic")
    assert host.check_output("sha256sum < /tmp/photo-out.heic") == sent
    assert host.check_output("sha256sum < /srv/vault/2026/IMG_0001.HEIC") == sent


def test_files_written_over_smb_belong_to_the_service_group(host, auth_file):
    smbclient(host, SHARE, "-A", auth_file, commands="mkdir perms; put /etc/hostname perms/note.txt")
    note = host.file("/srv/vault/perms/note.txt")
    assert (note.user, note.group, note.mode) == ("vaultbackup", "sovereign", 0o660)
    folder = host.file("/srv/vault/perms")
    assert (folder.user, folder.group, folder.mode) == ("vaultbackup", "sovereign", 0o2770)
    # The base role's service account (restic, the photo vault jobs) can read what the Macs wrote.
    assert host.run("sudo -u sovereign -- cat /srv/vault/perms/note.txt").rc == 0


def test_mac_metadata_streams_are_stored(host, auth_file):
    # vfs_fruit + streams_xattr: Finder metadata travels as a named stream and lands in an xattr.
    result = smbclient(host, SHARE, "-A", auth_file,
                       commands="put /etc/hostname streams.txt; put /etc/hostname streams.txt:com.apple.tag; "
                                "allinfo streams.txt")
    assert result.rc == 0, result.stdout + result.stderr
    assert "com.apple.tag" in result.stdout


def test_wrong_password_is_refused(host):
    assert refused(smbclient(host, SHARE, "-U", "vaultbackup%not-the-password"))


def test_unknown_user_is_refused_not_mapped_to_guest(host):
    assert refused(smbclient(host, SHARE, "-U", "mallory%whatever"))


def test_guest_and_anonymous_access_are_refused(host):
    assert refused(smbclient(host, SHARE, "-N"))
    assert refused(smbclient(host, SHARE, "-U", "guest%"))
    # restrict anonymous = 2: an anonymous session cannot even list the shares.
    assert refused(host.run("smbclient -N -L //127.0.0.1"))


def test_live_configuration_says_no_to_guests_and_speaks_mac(host):
    def param(name: str, section: str = "global") -> str:
        return host.check_output(f"testparm -s --section-name={section} --parameter-name={shlex.quote(name)} 2>/dev/null")

    assert param("map to guest") == "Never"
    assert param("restrict anonymous") == "2"
    assert param("guest ok", "vault") == "No"
    assert param("valid users", "vault") == "vaultbackup"
    assert param("vfs objects") == "catia fruit streams_xattr"
    assert param("server min protocol") == "SMB3"


def test_smbd_runs_and_nmbd_does_not(host):
    assert host.service("smbd").is_running
    assert host.service("smbd").is_enabled
    assert not host.service("nmbd").is_running
    assert not host.service("nmbd").is_enabled
    assert host.socket("tcp://0.0.0.0:445").is_listening


def test_backup_account_cannot_log_in_to_the_host(host):
    user = host.user("vaultbackup")
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "sovereign"
    assert user.password in ("!", "*")


def test_password_is_nowhere_on_disk_in_clear(host, password, auth_file):
    # Only Samba's own passdb (an NT hash) may know it; not smb.conf, logs or Ansible leftovers.
    found = host.run(f"grep -rlF --exclude-dir=proc -- {shlex.quote(password)} /etc /var/log /var/lib/samba /root /tmp")
    assert found.rc == 1, found.stdout
