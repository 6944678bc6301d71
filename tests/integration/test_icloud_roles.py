"""The icloudpd and immich roles and playbooks/icloud_reauth.yml through ansible-playbook (ansible-runner).

Real here: icloudpd 1.32.3 installed from PyPI into a venv by the role (the role asks it for its
version), the runner the role installs and the units it renders, the collection's session engine
reading cookie jars written with ``http.cookiejar.LWPCookieJar`` (support.apple), the photo vault's
real ingest. Apple is never contacted: a run whose session is gone must stop before icloudpd
starts, and the download itself is played by a fake icloudpd script that records how it was
called. Immich is the stand-in server (tests/support/immich_standin.py), not Immich.

Every path is under the test's temp dir (connection local, no root, no systemd running: the units
are written to a temp unit dir and checked as files).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

# pylint: disable=wrong-import-position
from support import media_factory  # noqa: E402
from support.apple import write_session  # noqa: E402
from support.immich_standin import ImmichStandIn  # noqa: E402

A, B = "parent.a@example.com", "parent.b@example.com"


def write_inventory(path: Path, groups: dict) -> Path:
    import yaml  # pylint: disable=import-outside-toplevel
    path.write_text(yaml.safe_dump({"all": {"children": groups}}), encoding="utf-8")
    return path


def local(**host_vars) -> dict:
    return dict({"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "sovereign_become": False}, **host_vars)


@pytest.fixture
def icloudpd_host(tmp_path):
    """An icloudpd host in tmp_path: two Apple IDs (A with a trusted session, B with none), A's
    shared library disabled; a stray cookie file with the wrong mode."""
    root = tmp_path / "host"
    cookies = root / "state" / "icloudpd" / "cookies"
    write_session(cookies, A, 30)
    os.chmod(cookies / "parentaexamplecom", 0o644)
    host_vars = local(
        icloudpd_manage_owner=False,
        icloudpd_venv=str(root / "opt" / "venv"),
        icloudpd_reauth_python=sys.executable,
        icloudpd_lib_dir=str(root / "opt" / "lib"),
        icloudpd_config_dir=str(root / "etc" / "icloudpd"),
        icloudpd_state_dir=str(root / "state"),
        icloudpd_cookie_directory=str(cookies),
        icloudpd_download_root=str(root / "inbox"),
        icloudpd_unit_dir=str(root / "units"),
        icloudpd_status_expectations_dir=str(root / "etc" / "status.d"),
        icloudpd_accounts=[{"name": "parent-a", "username": A},
                           {"name": "parent-a-shared", "username": A, "library": "SharedSync-0A1B", "enabled": False,
                            "extra_args": ["--skip-videos"]},
                           {"name": "parent-b", "username": B, "until_found": 50}])
    inventory = write_inventory(tmp_path / "hosts.yml", {"icloudpd_hosts": {"hosts": {"localhost": host_vars}}})
    return {"root": root, "cookies": cookies, "inventory": inventory}


def fake_icloudpd(path: Path, body: str) -> str:
    """A stand-in icloudpd executable (a Python script) that records argv and what stdin is."""
    path.write_text(f"""#!{sys.executable}
import json, os, sys, time
stdin = os.fstat(0)
null = os.stat("/dev/null")
with open({str(path) + '.calls'!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin_is_null": (stdin.st_rdev, stdin.st_ino) == (null.st_rdev, null.st_ino)}}) + "\\n")
{body}
""", encoding="utf-8")
    path.chmod(0o755)
    return str(path)


def run_job(root: Path, command: str, settings: Path, timeout: float = 60):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(root / "opt" / "lib" / "icloudpd_job.py"), command, str(settings)],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    return proc, time.monotonic() - started


def with_icloudpd(root: Path, name: str, executable: str) -> Path:
    settings = json.loads((root / "etc" / "icloudpd" / f"{name}.json").read_text())
    settings["icloudpd"] = executable
    path = root / f"{name}-fake.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path


def status_of(root: Path, kind: str, name: str) -> dict:
    return json.loads((root / "state" / "status" / f"{kind}--{name}.json").read_text())


def test_icloudpd_role_installs_runs_and_stops_without_a_session(run_playbook, icloudpd_host):
    root, inventory = icloudpd_host["root"], icloudpd_host["inventory"]
    # --check --diff on the fresh host succeeds and writes nothing
    recap = run_playbook("site.yml", inventory, tags="icloudpd", check=True)
    assert recap.rc == 0, recap.stdout[-4000:]
    assert not (root / "units").exists() and not (root / "opt").exists()
    (root / "units").mkdir()  # /etc/systemd/system exists on a real host

    recap = run_playbook("site.yml", inventory, tags="icloudpd")
    assert recap.rc == 0 and recap.changed > 0, recap.stdout[-4000:]
    assert "version:1.32.3" in subprocess.run([str(root / "opt" / "venv" / "bin" / "icloudpd"), "--version"],
                                              capture_output=True, text=True, check=True).stdout
    for check in (False, True):
        again = run_playbook("site.yml", inventory, tags="icloudpd", check=check)
        assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]

    # the cookie directory is private, every file in it 0600
    cookies = icloudpd_host["cookies"]
    assert stat.S_IMODE(cookies.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in cookies.iterdir()} == {0o600}

    # the units: one service + timer per account and library, hardened, never a prompt, no restart loop
    units = sorted(p.name for p in (root / "units").iterdir())
    assert units == ["sovereign-icloud-session.service", "sovereign-icloud-session.timer",
                     "sovereign-icloudpd-parent-a-shared.service", "sovereign-icloudpd-parent-a-shared.timer",
                     "sovereign-icloudpd-parent-a.service", "sovereign-icloudpd-parent-a.timer",
                     "sovereign-icloudpd-parent-b.service", "sovereign-icloudpd-parent-b.timer"]
    service = (root / "units" / "sovereign-icloudpd-parent-a.service").read_text()
    for line in ("StandardInput=null", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "ProtectHome=yes", "OnFailure=sovereign-notify@%n.service", "Type=oneshot", "User=sovereign",
                 f"ReadWritePaths={root / 'inbox' / 'parent-a'}", "CapabilityBoundingSet="):
        assert line in service, line
    assert "Restart=" not in service.replace("No Restart=", "")
    session_unit = (root / "units" / "sovereign-icloud-session.service").read_text()
    assert "PrivateNetwork=yes" in session_unit and "OnFailure=sovereign-notify@%n.service" in session_unit

    # the flags: name-id7, the Live Photo movie under its own name, nothing that deletes or rewrites
    settings = json.loads((root / "etc" / "icloudpd" / "parent-a.json").read_text())
    args = settings["args"]
    assert args[args.index("--file-match-policy") + 1] == "name-id7"
    assert args[args.index("--live-photo-mov-filename-policy") + 1] == "original"
    assert args[args.index("--directory") + 1] == str(root / "inbox" / "parent-a")
    for flag in ("--auto-delete", "--set-exif-datetime", "--keep-icloud-recent-days", "--delete-after-download",
                 "--watch-with-interval", "--password"):
        assert flag not in args
    assert "--until-found" not in args
    b_args = json.loads((root / "etc" / "icloudpd" / "parent-b.json").read_text())["args"]
    assert b_args[b_args.index("--until-found") + 1] == "50"
    shared = json.loads((root / "etc" / "icloudpd" / "parent-a-shared.json").read_text())["args"]
    assert shared[shared.index("--library") + 1] == "SharedSync-0A1B" and "--skip-videos" in shared
    # what the status page expects: enabled downloads and one countdown per Apple ID
    expected = sorted(p.name for p in (root / "etc" / "status.d").iterdir())
    assert expected == ["icloud.session--parent.a@example.com.json", "icloud.session--parent.b@example.com.json",
                        "icloudpd.download--parent-a.json", "icloudpd.download--parent-b.json"]
    reauth_b = (f"re-authenticate: ansible-playbook playbooks/icloud_reauth.yml -i {inventory} --limit localhost "
                f"-e icloud_username={B}")

    # B has no session: the run stops at once with the command, icloudpd is never started
    recorder = fake_icloudpd(root / "icloudpd-recorder", 'print("Downloaded /x/IMG_0001_QVpTNGN.HEIC", flush=True)')
    proc, took = run_job(root, "run", with_icloudpd(root, "parent-b", recorder))
    assert proc.returncode == 1 and took < 10, proc
    assert reauth_b in proc.stdout
    assert not Path(recorder + ".calls").exists()
    doc = status_of(root, "icloudpd.download", "parent-b")
    assert doc["ok"] is False and doc["fix"].startswith("ansible-playbook playbooks/icloud_reauth.yml")
    # ... also with the real icloudpd installed
    proc, took = run_job(root, "run", root / "etc" / "icloudpd" / "parent-b.json")
    assert proc.returncode == 1 and reauth_b in proc.stdout and took < 10

    # A has a session: icloudpd runs with the flags and an empty stdin; its downloads are counted
    proc, _took = run_job(root, "run", with_icloudpd(root, "parent-a", recorder))
    assert proc.returncode == 0, proc
    call = json.loads(Path(recorder + ".calls").read_text().splitlines()[0])
    assert call["argv"] == args and call["stdin_is_null"] is True
    doc = status_of(root, "icloudpd.download", "parent-a")
    assert doc["ok"] is True and doc["details"]["downloaded"] == 1 and "1 file(s) downloaded" in doc["summary"]

    # icloudpd asking for a code anyway (an expired trust Apple noticed first): stopped, never waited for
    prompter = fake_icloudpd(root / "icloudpd-prompter", """
print("Two-step authentication required. Your trusted devices are:", flush=True)
print("Please enter two-factor authentication code:", flush=True)
time.sleep(600)
""")
    proc, took = run_job(root, "run", with_icloudpd(root, "parent-a", prompter), timeout=120)
    assert proc.returncode == 1 and took < 30, proc
    assert f"-e icloud_username={A}" in proc.stdout and "asked for a sign-in" in proc.stdout
    # throttling: reported, not retried
    throttled = fake_icloudpd(root / "icloudpd-throttled", """
print("ERROR private db access disabled for this account (ACCESS_DENIED)", flush=True)
sys.exit(1)
""")
    proc, _took = run_job(root, "run", with_icloudpd(root, "parent-a", throttled))
    assert proc.returncode == 1 and "do not start it by hand in a loop" in proc.stdout
    assert len(Path(throttled + ".calls").read_text().splitlines()) == 1

    # the daily countdown: B has no session -> exit 1 (the notice) with B's command; A is fine
    proc, _took = run_job(root, "session", root / "etc" / "icloudpd" / "session.json")
    assert proc.returncode == 1 and reauth_b in proc.stdout, proc
    assert status_of(root, "icloud.session", A)["ok"] is True
    assert status_of(root, "icloud.session", B)["fix"].endswith(f"-e icloud_username={B}")
    # A ends within the warning days -> the notice names A too
    write_session(icloudpd_host["cookies"], A, 3.5)
    proc, _took = run_job(root, "session", root / "etc" / "icloudpd" / "session.json")
    assert proc.returncode == 1 and f"-e icloud_username={A}" in proc.stdout and "3 days left" in proc.stdout


def test_reauth_playbook_counts_down_and_never_signs_in_without_what_it_needs(run_playbook, icloudpd_host):
    inventory = icloudpd_host["inventory"]
    # only the Apple ID asked for; its session has 29+ days: nothing is due, no prompt, days left printed
    recap = run_playbook("icloud_reauth.yml", inventory, extravars={"icloud_username": A})
    assert recap.rc == 0 and recap.changed == 0, recap.stdout[-4000:]
    assert "days left" in recap.stdout and "Ask for the code" not in recap.stdout
    # B has no session and no password in the vault: stops before Apple is asked, naming what to do
    recap = run_playbook("icloud_reauth.yml", inventory, extravars={"icloud_username": B})
    assert recap.rc != 0, recap.stdout[-4000:]
    assert "its password is not set" in recap.stdout and "icloud_reauth.yml" in recap.stdout
    assert "Ask for the code" not in recap.stdout
    # an Apple ID no host has
    recap = run_playbook("icloud_reauth.yml", inventory, extravars={"icloud_username": "nobody@example.com"})
    assert recap.rc != 0 and "is not an Apple ID of any host" in recap.stdout


@pytest.fixture
def immich():
    with ImmichStandIn(version="3.2.2", scan_seconds=0.3) as server:
        yield server


def test_immich_role_configures_the_library_and_scans_after_an_ingest(run_playbook, tmp_path, immich):
    inbox, vault = tmp_path / "inbox", tmp_path / "vault"
    for i in range(3):
        media_factory.write(inbox / f"IMG_{i:04d}_QVpTNGN.JPG", media_factory.jpeg(seed=i), mtime=time.time() - 3600)
    vault.mkdir()
    inventory = write_inventory(tmp_path / "hosts.yml", {
        "photo_vault_hosts": {"hosts": {"localhost": local(
            base_state_dir=str(tmp_path / "state"), base_service_user_create=False,
            photo_vault_root=str(vault), photo_vault_sources=[{"name": "icloud", "path": str(inbox)}],
            photo_vault_venv_create=False, photo_vault_python=sys.executable, photo_vault_systemd=False,
            photo_vault_lib_dir=str(tmp_path / "lib"), photo_vault_bin_dir=str(tmp_path / "bin"),
            photo_vault_config_file=str(tmp_path / "etc" / "photo-vault.yml"), photo_vault_min_age=0,
            photo_vault_thumbs_root=str(tmp_path / "thumbs"))}},
        "immich_servers": {"hosts": {"immich": local(
            immich_api_url=immich.url, immich_api_key=immich.api_key, immich_owner="admin@example.com",
            immich_libraries=[{"name": "Family", "import_paths": [str(vault / "originals")]}])}}})
    (vault / "originals").mkdir()

    recap = run_playbook("site.yml", inventory, tags="immich", limit="immich")
    assert recap.rc == 0 and recap.count("changed", "immich") == 1, recap.stdout[-4000:]
    [library] = immich.libraries.values()
    assert library["importPaths"] == [str(vault / "originals")] and "**/@eaDir/**" in library["exclusionPatterns"]
    scans = [r for r in immich.requests if r[0] == "POST" and r[1].endswith("/scan")]
    assert len(scans) == 1  # created -> scanned once
    assert immich.api_key not in recap.stdout
    recap = run_playbook("site.yml", inventory, tags="immich", limit="immich")
    assert recap.rc == 0 and recap.changed == 0, recap.stdout[-4000:]
    assert len([r for r in immich.requests if r[0] == "POST" and r[1].endswith("/scan")]) == 1

    # an ingest that added photos scans the library, and Immich counts them
    recap = run_playbook("photo_ingest.yml", inventory)
    assert recap.rc == 0, recap.stdout[-4000:]
    assert len([r for r in immich.requests if r[0] == "POST" and r[1].endswith("/scan")]) == 2
    assert library["assetCount"] == 3
    # nothing new: no scan
    recap = run_playbook("photo_ingest.yml", inventory)
    assert recap.rc == 0, recap.stdout[-4000:]
    assert len([r for r in immich.requests if r[0] == "POST" and r[1].endswith("/scan")]) == 2
