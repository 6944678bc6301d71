"""What a user checks after the syncthing role: the service, what the API answers, and that a photo
written on the laptop arrives on the NAS unchanged, while local changes on the NAS are undone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import testinfra

HOME = "/var/lib/syncthing/sovereign"
LAPTOP_VAULT = "/var/lib/syncthing/sovereign/Mylio Photos Vault"
NAS_MIRROR = "/srv/media"
API_SCRIPT = r"""
import json, re, sys, urllib.request
config = open(sys.argv[1]).read()
key = re.search(r"<apikey>([^<]+)</apikey>", config).group(1)
address = re.search(r"<gui[^>]*>\s*<address>([^<]+)</address>", config).group(1).replace("0.0.0.0", "127.0.0.1")
request = urllib.request.Request("http://" + address + sys.argv[2], headers={"X-API-Key": key})
print(urllib.request.urlopen(request, timeout=10).read().decode())
"""


@pytest.fixture(scope="module")
def laptop():
    return testinfra.get_host("podman://sc-syncthing-laptop")


@pytest.fixture(scope="module")
def nas():
    return testinfra.get_host("podman://sc-syncthing-nas")


@pytest.fixture(scope="module")
def peer():
    return testinfra.get_host("podman://sc-syncthing-peer")


def api(node, path: str):
    """Ask the node's Syncthing, on the node, with the key from its config.xml (as a user would)."""
    return json.loads(node.check_output("python3 -c %s %s %s", API_SCRIPT, f"{HOME}/config.xml", path))


def my_id(node) -> str:
    return api(node, "/rest/system/status")["myID"]


def sha256_on(node, path: str) -> str | None:
    result = node.run("sha256sum %s", path)
    return result.stdout.split()[0] if result.rc == 0 else None


def test_syncthing_runs_as_the_service_user(host):
    service = host.service("syncthing@sovereign")
    assert service.is_running
    assert service.is_enabled
    users = set(host.check_output("ps -o user= -C syncthing").split())
    assert users == {"sovereign"}


def test_configuration_and_keys_are_private(host):
    for name in ("config.xml", "key.pem"):
        config = host.file(f"{HOME}/{name}")
        assert config.user == "sovereign"
        assert config.mode == 0o600, name
    assert host.file(HOME).mode == 0o700


def test_gui_listens_only_where_configured(laptop, nas):
    assert re.search(r"127\.0\.0\.1:8384\b", nas.check_output("ss -ltnH"))
    assert not re.search(r"(0\.0\.0\.0|\*|\[::\]):8384\b", nas.check_output("ss -ltnH"))
    assert re.search(r"(0\.0\.0\.0|\*|\[::\]):8384\b", laptop.check_output("ss -ltnH"))


def test_api_rejects_a_wrong_key(nas):
    status = nas.check_output("python3 -c %s", (
        "import urllib.request, urllib.error\n"
        "r = urllib.request.Request('http://127.0.0.1:8384/rest/system/ping', headers={'X-API-Key': 'nope'})\n"
        "try:\n    urllib.request.urlopen(r, timeout=5); print(200)\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n"))
    assert status == "403"


def test_options_keep_syncthing_on_the_lan(host):
    options = api(host, "/rest/config/options")
    assert options["globalAnnounceEnabled"] is False
    assert options["relaysEnabled"] is False
    assert options["natEnabled"] is False
    assert options["localAnnounceEnabled"] is False  # the scenario turns local discovery off as well
    assert options["crashReportingEnabled"] is False
    assert options["urAccepted"] == -1
    assert options["autoUpgradeIntervalH"] == 0
    assert options["listenAddresses"] == ["tcp://0.0.0.0:22000", "quic://0.0.0.0:22000"]


def test_nas_mirrors_the_laptop_receive_only(laptop, nas):
    laptop_id, nas_id = my_id(laptop), my_id(nas)
    folder = api(nas, "/rest/config/folders/photo-vault")
    assert folder["type"] == "receiveonly"
    assert folder["path"] == NAS_MIRROR
    assert {d["deviceID"] for d in folder["devices"]} == {nas_id, laptop_id}  # not the backup node
    assert folder["versioning"]["type"] == "trashcan"
    peer = api(nas, f"/rest/config/devices/{laptop_id}")
    assert (peer["name"], peer["addresses"]) == ("alienware-laptop", ["tcp://sc-syncthing-laptop:22000"])
    assert api(nas, f"/rest/config/devices/{nas_id}")["name"] == "intel-1250p"
    mirror = nas.file(NAS_MIRROR)
    assert (mirror.user, mirror.group, mirror.mode) == ("sovereign", "sovereign", 0o750)


def test_laptop_was_configured_through_its_api_to_send_only(laptop, nas):
    laptop_id, nas_id = my_id(laptop), my_id(nas)
    folder = api(laptop, "/rest/config/folders/photo-vault")
    assert folder["type"] == "sendonly"
    assert folder["path"] == LAPTOP_VAULT
    assert {d["deviceID"] for d in folder["devices"]} == {laptop_id, nas_id}
    peer = api(laptop, f"/rest/config/devices/{nas_id}")
    assert (peer["name"], peer["addresses"]) == ("intel-1250p", ["tcp://sc-syncthing-nas:22000"])


def test_device_id_is_published_for_reports(host):
    state = json.loads(host.file("/var/lib/sovereign-cloud/syncthing.json").content_string)
    assert state["device_id"] == my_id(host)
    assert host.file("/var/lib/sovereign-cloud/syncthing.json").mode == 0o644


def test_a_photo_written_on_the_laptop_arrives_on_the_nas_unchanged(laptop, nas):
    photo = f"{LAPTOP_VAULT}/2025/10/IMG_4242.HEIC"
    laptop.check_output("install -d -o sovereign -g sovereign %s", f"{LAPTOP_VAULT}/2025/10")
    laptop.check_output("head -c 3000000 /dev/urandom > %s && chown sovereign: %s", photo, photo)
    expected = sha256_on(laptop, photo)
    deadline = time.monotonic() + 90
    while sha256_on(nas, f"{NAS_MIRROR}/2025/10/IMG_4242.HEIC") != expected:
        assert time.monotonic() < deadline, "the photo did not reach the NAS within 90 s"
        time.sleep(1)
    assert nas.file(f"{NAS_MIRROR}/2025/10/IMG_4242.HEIC").user == "sovereign"


def test_local_changes_on_the_nas_are_reverted(laptop, nas):
    original = sha256_on(laptop, f"{LAPTOP_VAULT}/2025/10/IMG_4242.HEIC")
    assert original, "runs after the sync test"
    nas.check_output(f"echo 'edited on the NAS' > {NAS_MIRROR}/2025/10/IMG_4242.HEIC")
    nas.check_output(f"echo 'dropped on the NAS' > {NAS_MIRROR}/stray.jpg")

    scenario = Path(__file__).resolve().parents[1]
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                          str(scenario / "revert.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"^sc-syncthing-nas\s*:.*changed=1\b", run.stdout, re.M), run.stdout[-3000:]
    assert "folder photo-vault; 2 local change(s) reverted" in run.stdout

    assert sha256_on(nas, f"{NAS_MIRROR}/2025/10/IMG_4242.HEIC") == original
    assert not nas.file(f"{NAS_MIRROR}/stray.jpg").exists
    # Nothing is lost: versioning kept both the stray file and the edited copy.
    assert nas.file(f"{NAS_MIRROR}/.stversions/stray.jpg").content_string == "dropped on the NAS\n"
    assert nas.file(f"{NAS_MIRROR}/.stversions/2025/10/IMG_4242.HEIC").exists
    status = api(nas, "/rest/db/status?folder=photo-vault")
    assert status["receiveOnlyChangedFiles"] == 0


def folder_check(node, folder: str) -> dict:
    """Run the status page's folder check now (as its timer does) and read what it recorded."""
    node.check_output("systemctl start sovereign-syncthing-status.service")
    return json.loads(node.file(f"/var/lib/sovereign-cloud/status/syncthing.folder--{folder}.json").content_string)


def test_the_folder_check_records_each_folder_for_the_status_page(laptop, nas):
    """The hourly check (as the Syncthing user) against the real Syncthing: the mirror in sync, then a file
    dropped on the NAS shows as a receive-only local change (amber on the page, with the revert as its fix)."""
    unit = nas.check_output("systemctl show -p User -p ProtectSystem -p NoNewPrivileges sovereign-syncthing-status.service")
    assert "User=sovereign" in unit and "ProtectSystem=strict" in unit and "NoNewPrivileges=yes" in unit
    assert nas.service("sovereign-syncthing-status.timer").is_enabled
    record = folder_check(nas, "photo-vault")
    assert record["ok"] and record["kind"] == "syncthing.folder" and record["details"]["type"] == "receiveonly"
    assert record["details"]["receive_only_changed_items"] == 0 and record["details"]["connected_peers"] == 1
    assert folder_check(nas, "documents")["ok"]
    expected = json.loads(nas.file("/etc/sovereign/status.d/syncthing.folder--photo-vault.json").content_string)
    assert expected["every"] == 3600 and expected["fix"] == "systemctl start sovereign-syncthing-status.service"

    nas.check_output(f"echo 'dropped on the NAS' > {NAS_MIRROR}/stray-check.jpg")
    deadline = time.monotonic() + 60
    while (record := folder_check(nas, "photo-vault"))["details"]["receive_only_changed_items"] == 0:
        assert time.monotonic() < deadline, record
        time.sleep(2)
    assert record["ok"] and "local change(s) in a receive-only folder" in record["summary"]

    scenario = Path(__file__).resolve().parents[1]
    run = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                          str(scenario / "revert.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert folder_check(nas, "photo-vault")["details"]["receive_only_changed_items"] == 0


def test_laptop_api_reports_the_nas_in_sync(laptop, nas):
    nas_id = my_id(nas)
    connections = api(laptop, "/rest/system/connections")["connections"]
    assert connections[nas_id]["connected"] is True
    completion = api(laptop, f"/rest/db/completion?folder=photo-vault&device={nas_id}")
    # Completion alone says 100 before any index exchange; the file count proves the index arrived.
    assert completion["completion"] == 100 and completion["globalItems"] >= 3


def test_inventory_peers_are_wired_by_their_published_ids(nas, peer):
    nas_id, peer_id = my_id(nas), my_id(peer)
    on_nas = api(nas, f"/rest/config/devices/{peer_id}")
    assert (on_nas["name"], on_nas["addresses"]) == ("family-backup", ["tcp://sc-syncthing-peer:22000"])
    on_peer = api(peer, f"/rest/config/devices/{nas_id}")
    assert (on_peer["name"], on_peer["addresses"]) == ("intel-1250p", ["tcp://sc-syncthing-nas:22000"])
    for node in (nas, peer):
        folder = api(node, "/rest/config/folders/documents")
        assert folder["type"] == "sendreceive"
        assert {d["deviceID"] for d in folder["devices"]} == {nas_id, peer_id}


def test_a_document_written_on_the_backup_node_reaches_the_nas(nas, peer):
    letter = "/srv/documents/letter.pdf"
    peer.check_output("head -c 200000 /dev/urandom > %s && chown sovereign: %s", letter, letter)
    expected = sha256_on(peer, letter)
    deadline = time.monotonic() + 90
    while sha256_on(nas, letter) != expected:
        assert time.monotonic() < deadline, "the document did not reach the NAS within 90 s"
        time.sleep(1)
