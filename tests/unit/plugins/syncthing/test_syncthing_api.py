"""module_utils/syncthing.py against two real Syncthing 1.19 instances (see conftest.py).

Each test asserts on what Syncthing itself answers afterwards (or on the files on disk), not on
which calls were made.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils import syncthing as st

API = "/rest/config"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def paired(laptop, nas):
    """The laptop and the NAS know each other by name and loopback address."""
    st.ensure_device(laptop.client(), nas.device_id, {"name": "nas", "addresses": [nas.address]})
    st.ensure_device(nas.client(), laptop.device_id, {"name": "laptop", "addresses": [laptop.address]})
    return laptop, nas


# -- client and errors ---------------------------------------------------------------------------
def test_wrong_api_key_says_where_the_key_is(nas):
    with pytest.raises(st.SyncthingHTTPError) as err:
        nas.client(key="not-the-key").ping()
    assert err.value.status == 403
    assert "403 CSRF Error: the API key is wrong; it is in config.xml <gui><apikey>" in str(err.value)


def test_wrong_key_fails_at_once_instead_of_waiting(nas):
    with pytest.raises(st.SyncthingHTTPError):
        nas.client(key="not-the-key").wait_until_up(timeout=30)


def test_nothing_listening_says_to_check_the_service(syncthing):
    client = st.SyncthingClient("http://127.0.0.1:9", "key", timeout=2)
    with pytest.raises(st.SyncthingError) as err:
        client.ping()
    assert "connection refused" in str(err.value)
    assert "systemctl status 'syncthing@USER'" in str(err.value)
    with pytest.raises(st.SyncthingError, match="did not come up within 1 s"):
        client.wait_until_up(timeout=1)


def test_bad_api_url_and_empty_key_are_explained():
    with pytest.raises(st.SyncthingError, match="must start with http:// or https://"):
        st.SyncthingClient("127.0.0.1:8384", "key")
    with pytest.raises(st.SyncthingError, match="<gui><apikey>"):
        st.SyncthingClient("http://127.0.0.1:8384", "")


def test_own_device_id_matches_the_one_syncthing_prints(nas, syncthing_binary):
    import subprocess

    printed = subprocess.run([syncthing_binary, "serve", f"--home={nas.home}", "--device-id"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert nas.client().my_id() == printed


# -- device IDs --------------------------------------------------------------------------------------
def test_device_ids_are_normalised_and_validated(nas):
    canonical = nas.device_id
    assert st.normalize_device_id(canonical.lower().replace("-", "")) == canonical
    assert st.normalize_device_id("not-a-device") is None
    with pytest.raises(st.SyncthingError, match="8 groups of 7 characters"):
        st.require_device_id("not-a-device")


# -- devices -------------------------------------------------------------------------------------
def test_device_is_added_then_up_to_date(laptop, nas):
    client = nas.client()
    client.delete(f"{API}/devices/{laptop.device_id}")
    wanted = {"name": "laptop", "addresses": [laptop.address], "compression": "always"}

    first = st.ensure_device(client, laptop.device_id, wanted)
    assert first["changed"] is True
    assert first["summary"].endswith("added")
    stored = client.get(f"{API}/devices/{laptop.device_id}")
    assert (stored["name"], stored["addresses"], stored["compression"]) == ("laptop", [laptop.address], "always")

    again = st.ensure_device(client, laptop.device_id.lower().replace("-", ""), wanted)
    assert again["changed"] is False
    assert again["diff"]["before"] == again["diff"]["after"]


def test_updating_one_field_keeps_the_others(laptop, nas):
    """POST replaces the whole device; the merge must keep the addresses a name change does not mention."""
    client = nas.client()
    st.ensure_device(client, laptop.device_id,
                     {"name": "laptop", "addresses": [laptop.address], "maxSendKbps": 500})
    result = st.ensure_device(client, laptop.device_id, {"name": "alienware"})
    assert result["changed"] is True
    assert result["diff"] == {"before": {"deviceID": laptop.device_id, "name": "laptop"},
                              "after": {"deviceID": laptop.device_id, "name": "alienware"}}
    stored = client.get(f"{API}/devices/{laptop.device_id}")
    assert stored["name"] == "alienware"
    assert stored["addresses"] == [laptop.address]
    assert stored["maxSendKbps"] == 500
    st.ensure_device(client, laptop.device_id, {"name": "laptop", "maxSendKbps": 0})


def test_device_check_mode_reports_without_writing(laptop, nas):
    client = nas.client()
    client.delete(f"{API}/devices/{laptop.device_id}")
    result = st.ensure_device(client, laptop.device_id, {"name": "laptop"}, check_mode=True)
    assert result["changed"] is True
    assert "would be added" in result["summary"]
    assert client.get_or_none(f"{API}/devices/{laptop.device_id}") is None


def test_device_removal_is_honest_about_missing_devices(laptop, nas):
    client = nas.client()
    st.ensure_device(client, laptop.device_id, {"name": "laptop"})
    assert st.ensure_device(client, laptop.device_id, state="absent", check_mode=True)["changed"] is True
    assert client.get_or_none(f"{API}/devices/{laptop.device_id}") is not None
    assert st.ensure_device(client, laptop.device_id, state="absent")["changed"] is True
    assert client.get_or_none(f"{API}/devices/{laptop.device_id}") is None
    # Syncthing answers 200 to DELETE of a missing device; the module must still say "unchanged".
    assert st.ensure_device(client, laptop.device_id, state="absent")["changed"] is False


def test_own_device_can_be_renamed_but_not_removed(nas):
    client = nas.client()
    assert st.ensure_device(client, nas.device_id, {"name": "intel-1250p"})["device"]["name"] == "intel-1250p"
    with pytest.raises(st.SyncthingError, match="own device"):
        st.ensure_device(client, nas.device_id, state="absent")


def test_unknown_device_settings_are_refused(laptop, nas):
    with pytest.raises(st.SyncthingError, match="unknown setting.*maxSendKiBps"):
        st.ensure_device(nas.client(), laptop.device_id, {}, settings={"maxSendKiBps": 10})
    with pytest.raises(st.SyncthingError, match="own option"):
        st.ensure_device(nas.client(), laptop.device_id, {}, settings={"name": "x"})


# -- folders ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad_type, hint", [("readonly", "legacy name Syncthing turns into 'sendonly'"),
                                            ("recieveonly", "silently store it as 'sendreceive'")])
def test_unknown_folder_type_is_refused_before_syncthing_stores_sendreceive(nas, tmp_path, unique_id, bad_type, hint):
    client = nas.client()
    with pytest.raises(st.SyncthingError, match=hint):
        st.ensure_folder(client, unique_id, {"path": str(tmp_path), "type": bad_type})
    assert client.get_or_none(f"{API}/folders/{unique_id}") is None


def test_folder_is_created_with_peers_by_name_and_is_then_up_to_date(paired, tmp_path, unique_id):
    laptop, nas = paired
    client = nas.client()
    wanted = {"path": str(tmp_path / "mirror"), "type": "receiveonly", "label": "Photos"}

    first = st.ensure_folder(client, unique_id, wanted, devices=["laptop"])
    assert first["changed"] is True
    stored = client.get(f"{API}/folders/{unique_id}")
    assert stored["type"] == "receiveonly"
    # Syncthing always adds the own device; the module's view leaves it out.
    assert {d["deviceID"] for d in stored["devices"]} == {nas.device_id, laptop.device_id}
    assert first["diff"]["after"]["devices"] == [laptop.device_id]
    assert (tmp_path / "mirror" / ".stfolder").is_dir()

    again = st.ensure_folder(client, unique_id, wanted, devices=[laptop.device_id])
    assert again["changed"] is False, again["diff"]
    # Listing the own device as well changes nothing either.
    assert st.ensure_folder(client, unique_id, wanted, devices=["laptop", nas.device_id])["changed"] is False


def test_folder_devices_are_exact_unless_appending(paired, tmp_path, unique_id, syncthing_binary):
    laptop, nas = paired
    client = nas.client()
    st.ensure_folder(client, unique_id, {"path": str(tmp_path), "type": "sendreceive"}, devices=["laptop"])
    phone = st.normalize_device_id("MFZWI3DBONSGYCYLTMRWGC43ENR5QXGZDMMFZWI3DPBONSGYYLTMRWAD") or ""
    # A syntactically valid ID that still has to be configured first:
    with pytest.raises(st.SyncthingError, match="not configured on this node"):
        st.ensure_folder(client, unique_id, {}, devices=[phone])
    with pytest.raises(st.SyncthingError, match="neither a device ID nor the name"):
        st.ensure_folder(client, unique_id, {}, devices=["grandma-ipad"])

    assert st.ensure_folder(client, unique_id, {}, devices=[], append_devices=True)["changed"] is False
    removed = st.ensure_folder(client, unique_id, {}, devices=[])
    assert removed["changed"] is True
    assert removed["diff"] == {"before": {"id": unique_id, "devices": [laptop.device_id]},
                               "after": {"id": unique_id, "devices": []}}
    stored = client.get(f"{API}/folders/{unique_id}")
    assert [d["deviceID"] for d in stored["devices"]] == [nas.device_id]
    added = st.ensure_folder(client, unique_id, {}, devices=["laptop"], append_devices=True)
    assert added["changed"] is True
    shared = {d["deviceID"] for d in client.get(f"{API}/folders/{unique_id}")["devices"]}
    assert shared == {nas.device_id, laptop.device_id}


def test_updating_one_folder_field_keeps_the_others(paired, tmp_path, unique_id):
    nas = paired[1]
    client = nas.client()
    st.ensure_folder(client, unique_id, {"path": str(tmp_path), "type": "receiveonly", "rescanIntervalS": 120,
                                         "fsWatcherDelayS": 2}, devices=["laptop"],
                     versioning={"type": "trashcan", "params": {"cleanoutDays": 90}})
    result = st.ensure_folder(client, unique_id, {"label": "Vault"})
    assert result["changed"] is True
    stored = client.get(f"{API}/folders/{unique_id}")
    assert stored["label"] == "Vault"
    assert (stored["type"], stored["rescanIntervalS"], stored["fsWatcherDelayS"]) == ("receiveonly", 120, 2)
    assert stored["versioning"]["type"] == "trashcan"
    assert stored["versioning"]["params"] == {"cleanoutDays": "90"}
    assert len(stored["devices"]) == 2
    # Versioning params given as YAML ints are stored as strings and compare equal next time.
    again = st.ensure_folder(client, unique_id, {"label": "Vault"},
                             versioning={"type": "trashcan", "params": {"cleanoutDays": 90}})
    assert again["changed"] is False


def test_folder_check_mode_creates_nothing(nas, tmp_path, unique_id):
    client = nas.client()
    result = st.ensure_folder(client, unique_id, {"path": str(tmp_path / "new"), "type": "sendonly"}, check_mode=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["type"] == "sendonly"
    assert client.get_or_none(f"{API}/folders/{unique_id}") is None
    assert not (tmp_path / "new").exists()


def test_folder_needs_a_path_and_known_settings(nas, tmp_path, unique_id):
    client = nas.client()
    with pytest.raises(st.SyncthingError, match="path is required"):
        st.ensure_folder(client, unique_id, {"type": "sendonly"})
    with pytest.raises(st.SyncthingError, match="unknown setting.*rescanIntervalSecs"):
        st.ensure_folder(client, unique_id, {"path": str(tmp_path)}, settings={"rescanIntervalSecs": 5})
    with pytest.raises(st.SyncthingError, match="own option"):
        st.ensure_folder(client, unique_id, {"path": str(tmp_path)}, settings={"type": "readonly"})


def test_folder_removal_keeps_the_files(nas, tmp_path, unique_id):
    client = nas.client()
    st.ensure_folder(client, unique_id, {"path": str(tmp_path), "type": "sendreceive"})
    (tmp_path / "keep.txt").write_text("keep")
    result = st.ensure_folder(client, unique_id, state="absent")
    assert result["changed"] is True
    assert "files stay on disk" in result["summary"]
    assert client.get_or_none(f"{API}/folders/{unique_id}") is None
    assert (tmp_path / "keep.txt").read_text() == "keep"
    assert st.ensure_folder(client, unique_id, state="absent")["changed"] is False


# -- options ---------------------------------------------------------------------------------------
def test_lan_only_switches_off_discovery_relays_and_nat(nas):
    client = nas.client()
    try:
        # What `syncthing generate` writes by default (the test instances start with all of it off).
        client.patch(f"{API}/options", {"globalAnnounceEnabled": True, "relaysEnabled": True, "natEnabled": True,
                                        "urAccepted": 0})
        wanted = st.options_wanted({"lan_only": True, "usage_reporting": False, "crash_reporting": False})
        check = st.ensure_options(client, wanted, check_mode=True)
        assert check["changed"] is True
        assert client.get(f"{API}/options")["relaysEnabled"] is True

        result = st.ensure_options(client, wanted)
        assert result["changed"] is True
        assert result["diff"]["before"]["globalAnnounceEnabled"] is True
        options = client.get(f"{API}/options")
        assert (options["globalAnnounceEnabled"], options["relaysEnabled"], options["natEnabled"]) == (False,) * 3
        assert options["urAccepted"] == -1
        assert st.ensure_options(client, wanted)["changed"] is False
    finally:
        client.patch(f"{API}/options", {"globalAnnounceEnabled": False, "relaysEnabled": False, "natEnabled": False,
                                        "urAccepted": -1})


def test_lan_only_contradiction_and_unknown_option_are_refused(nas):
    with pytest.raises(st.SyncthingError, match="contradicts relays"):
        st.options_wanted({"lan_only": True, "relays": True})
    with pytest.raises(st.SyncthingError, match="unknown setting.*relayEnabled"):
        st.ensure_options(nas.client(), {}, settings={"relayEnabled": False})


def test_listen_addresses_and_raw_settings(nas):
    client = nas.client()
    before = client.get(f"{API}/options")
    try:
        result = st.ensure_options(client, {"listenAddresses": [nas.address]}, settings={"maxSendKbps": 1000})
        assert result["changed"] is True
        assert client.get(f"{API}/options")["maxSendKbps"] == 1000
        assert st.ensure_options(client, {"listenAddresses": [nas.address]},
                                 settings={"maxSendKbps": 1000})["changed"] is False
    finally:
        client.patch(f"{API}/options", {"maxSendKbps": before["maxSendKbps"]})


# -- sync, revert and status -----------------------------------------------------------------------------
@pytest.fixture
def mirrored(paired, tmp_path, unique_id, wait_for):
    """The laptop's sendonly folder mirrored by the NAS's receiveonly folder, with one photo synced."""
    laptop, nas = paired
    source, mirror = tmp_path / "vault", tmp_path / "mirror"
    source.mkdir()
    (source / "IMG_0001.jpg").write_bytes(os.urandom(64 * 1024))
    st.ensure_folder(laptop.client(), unique_id, {"path": str(source), "type": "sendonly"}, devices=["nas"])
    st.ensure_folder(nas.client(), unique_id, {"path": str(mirror), "type": "receiveonly"}, devices=["laptop"],
                     versioning={"type": "trashcan"})
    wait_for(lambda: (mirror / "IMG_0001.jpg").exists()
             and sha256(mirror / "IMG_0001.jpg") == sha256(source / "IMG_0001.jpg"), what="the first sync")
    wait_for(lambda: st.gather_info(nas.client(), [unique_id])["folders"][unique_id]["in_sync"], what="in_sync")
    return SimpleNamespace(laptop=laptop, nas=nas, folder=unique_id, source=source, mirror=mirror)


def test_local_changes_on_a_receive_only_mirror_are_reverted(mirrored):
    nas, folder, source, mirror = mirrored.nas, mirrored.folder, mirrored.source, mirrored.mirror
    client = nas.client()
    original = sha256(source / "IMG_0001.jpg")
    (mirror / "IMG_0001.jpg").write_bytes(b"edited on the NAS")
    (mirror / "added-on-nas.jpg").write_bytes(b"dropped on the NAS")

    check = st.revert_local_changes(client, folder, check_mode=True)
    assert check["changed"] is True
    assert check["reverted"]["receiveOnlyChangedFiles"] == 2
    assert (mirror / "added-on-nas.jpg").exists()

    result = st.revert_local_changes(client, folder, wait_timeout=30)
    assert result["changed"] is True
    assert "warning" not in result
    assert sha256(mirror / "IMG_0001.jpg") == original
    assert not (mirror / "added-on-nas.jpg").exists()
    # Versioning kept what the revert replaced or removed.
    assert (mirror / ".stversions" / "added-on-nas.jpg").read_bytes() == b"dropped on the NAS"
    assert (mirror / ".stversions" / "IMG_0001.jpg").read_bytes() == b"edited on the NAS"

    assert st.revert_local_changes(client, folder)["changed"] is False


def test_converge_folder_reports_revert_in_the_summary(mirrored):
    nas, folder, mirror = mirrored.nas, mirrored.folder, mirrored.mirror
    (mirror / "stray.txt").write_text("stray")
    result = st.converge_folder(nas.client(), folder, {"type": "receiveonly"}, revert=True, wait_timeout=30)
    assert result["changed"] is True
    assert result["summary"] == f"folder {folder}; 1 local change(s) reverted"
    assert not (mirror / "stray.txt").exists()
    again = st.converge_folder(nas.client(), folder, {"type": "receiveonly"}, revert=True)
    assert (again["changed"], again["summary"]) == (False, f"folder {folder} is up to date")


def test_revert_is_refused_without_versioning_and_on_other_types(mirrored):
    laptop, nas, folder, mirror = mirrored.laptop, mirrored.nas, mirrored.folder, mirrored.mirror
    st.ensure_folder(nas.client(), folder, {}, versioning={"type": "none"})
    (mirror / "precious.jpg").write_bytes(b"only copy")
    with pytest.raises(st.SyncthingError, match="no versioning"):
        st.revert_local_changes(nas.client(), folder)
    assert (mirror / "precious.jpg").exists()
    with pytest.raises(st.SyncthingError, match="only receiveonly folders"):
        st.revert_local_changes(laptop.client(), folder)


def test_revert_waits_for_the_peers_index(paired, tmp_path, unique_id, wait_for):
    """Before the sender's index arrived, every local file looks like a local change: do nothing."""
    laptop, nas = paired
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "already-here.jpg").write_bytes(b"copied by hand before Syncthing")
    client = nas.client()
    st.ensure_device(client, laptop.device_id, {"paused": True})
    try:
        st.ensure_folder(client, unique_id, {"path": str(mirror), "type": "receiveonly"}, devices=["laptop"],
                         versioning={"type": "trashcan"})
        info = st.gather_info(client, [unique_id])["folders"][unique_id]
        # Syncthing's own completion already says 100 %; in_sync must not.
        assert info["devices"][laptop.device_id]["completion"] == 100
        assert info["in_sync"] is False
        result = st.revert_local_changes(client, unique_id)
        assert result["changed"] is False
        assert "index" in result["skipped"]
        assert (mirror / "already-here.jpg").exists()
    finally:
        st.ensure_device(client, laptop.device_id, {"paused": False})


def test_gather_info_reports_peers_and_folders(mirrored):
    laptop, nas, folder = mirrored.laptop, mirrored.nas, mirrored.folder
    info = st.gather_info(nas.client(), [folder])
    assert info["device_id"] == nas.device_id
    assert info["version"].startswith("v1.")
    peer = next(d for d in info["devices"] if d["device_id"] == laptop.device_id)
    assert (peer["name"], peer["connected"]) == ("laptop", True)
    status = info["folders"][folder]
    assert (status["type"], status["state"], status["need_items"]) == ("receiveonly", "idle", 0)
    assert status["in_sync"] is True
    assert status["global_items"] >= 1
    with pytest.raises(st.SyncthingError, match="not configured"):
        st.gather_info(nas.client(), ["no-such-folder"])
