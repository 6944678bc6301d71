"""The pve storage engine's decisions, without a server: values compared parsed (content and nodes as sets,
prune-backups as a mapping, fingerprints without regard to case or colons, PVE's defaults), the create / update /
delete / recreate plans, PUT carrying only the changed keys and ``delete`` for removed ones, and the secrets PVE
never returns (password by ``update_password``, the encryption key by its fingerprint)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.pve import storage
from ansible_collections.sovereign.cloud.plugins.module_utils.pve.client import PveError

FP = "AB:" * 31 + "CD"
FP2 = "12:" * 31 + "34"
SEED = {"server": "192.168.1.52", "datastore": "backups", "username": "pve@pbs!pve", "pbs_fingerprint": FP,
        "content": ["backup"], "nodes": ["intel-1250p"]}
# The entry as PVE answers GET /storage/pbs-1250p after the seed's create.
CURRENT = {"type": "pbs", "storage": "pbs-1250p", "server": "192.168.1.52", "datastore": "backups",
           "username": "pve@pbs!pve", "fingerprint": FP, "content": "backup", "nodes": "intel-1250p",
           "digest": "d" * 40}
KEY = json.dumps({"kdf": None, "data": "abc", "fingerprint": "aa:" * 31 + "bb"})


def desired(**changes):
    return storage.desired_from_options({**SEED, **changes})


def test_create_sends_the_keys_and_the_password_apart():
    step = storage.plan(None, desired(), "present", password="s3cret")
    assert step["action"] == "create"
    # content backup is PVE's default for pbs: not sent; the fingerprint goes out in the schema's form.
    assert step["params"] == {"server": "192.168.1.52", "datastore": "backups", "username": "pve@pbs!pve",
                              "fingerprint": FP, "nodes": "intel-1250p"}
    assert step["secrets"] == {"password": "s3cret"}
    assert "password" not in step["after"]


def test_a_new_entry_needs_server_and_datastore():
    with pytest.raises(PveError, match="needs server and datastore"):
        storage.plan(None, storage.desired_from_options({"username": "x"}), "present")


def test_the_entry_as_pve_returns_it_needs_nothing():
    step = storage.plan(CURRENT, desired(), "present", password="s3cret")
    assert step["action"] == "none" and not step["params"] and not step["secrets"]


@pytest.mark.parametrize("changes", [
    {"pbs_fingerprint": FP.lower()}, {"pbs_fingerprint": FP.replace(":", "")}, {"content": []},
    {"nodes": "intel-1250p"}, {"port": 8007}, {"namespace": ""}, {"enabled": True}])
def test_equivalent_spellings_and_pve_defaults_are_no_change(changes):
    assert storage.plan(CURRENT, desired(**changes), "present")["action"] == "none"


def test_content_nodes_and_prune_backups_are_compared_order_free():
    current = dict(CURRENT, nodes="pve2,intel-1250p", content="none,backup",
                   **{"prune-backups": "keep-weekly=4,keep-daily=7"})
    want = desired(nodes=["intel-1250p", "pve2"], content=["backup", "none"],
                   prune_backups={"keep-daily": 7, "keep-weekly": 4})
    assert storage.plan(current, want, "present")["action"] == "none"
    # The object form some PVE answers carry is the same retention.
    current["prune-backups"] = {"keep-daily": 7, "keep-weekly": 4}
    assert storage.plan(current, want, "present")["action"] == "none"


def test_a_renewed_pbs_certificate_is_an_update_of_the_fingerprint_only():
    step = storage.plan(CURRENT, desired(pbs_fingerprint=FP2), "present", password="s3cret")
    assert step["action"] == "update"
    assert step["params"] == {"fingerprint": FP2} and step["delete"] == [] and step["secrets"] == {}
    assert step["before"]["fingerprint"] != step["after"]["fingerprint"]


def test_update_sends_only_what_differs_and_deletes_what_was_cleared():
    current = dict(CURRENT, namespace="pve", port=8443, **{"prune-backups": "keep-all=1"})
    step = storage.plan(current, desired(namespace="", port=8007, prune_backups="keep-daily=7,keep-monthly=6",
                                         enabled=False, max_protected_backups=3), "present")
    assert step["params"] == {"prune-backups": "keep-daily=7,keep-monthly=6", "disable": "1",
                              "max-protected-backups": "3"}
    assert step["delete"] == ["namespace", "port"]
    enable = storage.plan(dict(CURRENT, disable=1), desired(enabled=True), "present")
    assert enable["delete"] == ["disable"] and not enable["params"]


def test_options_not_given_are_left_alone():
    current = dict(CURRENT, namespace="pve", **{"prune-backups": "keep-daily=3"})
    step = storage.plan(current, storage.desired_from_options({"server": "192.168.1.52"}), "present")
    assert step["action"] == "none"


def test_password_on_create_only_by_default_always_when_asked():
    assert storage.plan(CURRENT, desired(), "present", password="new")["action"] == "none"
    step = storage.plan(CURRENT, desired(), "present", password="new", update_password="always")
    assert step["action"] == "update" and step["secrets"] == {"password": "new"} and not step["params"]


def test_encryption_key_is_compared_by_the_fingerprint_pve_keeps():
    step = storage.plan(CURRENT, desired(), "present", encryption_key=KEY)
    assert step["action"] == "update" and step["secrets"] == {"encryption-key": KEY}
    assert step["after"]["encryption-key"] == "aa" * 31 + "bb"
    same = dict(CURRENT, **{"encryption-key": "AA:" * 31 + "BB"})
    assert storage.plan(same, desired(), "present", encryption_key=KEY)["action"] == "none"
    removed = storage.plan(same, desired(), "present", encryption_key="")
    assert removed["delete"] == ["encryption-key"]
    with pytest.raises(PveError, match="not a JSON formatted PBS encryption key"):
        storage.plan(CURRENT, desired(), "present", encryption_key="autogen")


def test_server_and_datastore_are_fixed_so_a_change_fails_and_says_why():
    with pytest.raises(PveError) as failed:
        storage.plan(CURRENT, desired(datastore="backups-2"), "present", password="s3cret")
    assert failed.value.kind == "fixed" and "datastore 'backups' -> 'backups-2'" in failed.value.msg
    assert "recreate: true" in failed.value.msg


def test_recreate_keeps_what_the_entry_holds_and_sends_the_secrets_again():
    current = dict(CURRENT, namespace="pve", **{"encryption-key": "aa:" * 31 + "bb"})
    step = storage.plan(current, storage.desired_from_options({"server": "pbs.lan", "datastore": "backups"}),
                        "present", password="s3cret", encryption_key=KEY, recreate=True)
    assert step["action"] == "recreate" and step["fixed"] == ["server"]
    assert step["params"]["server"] == "pbs.lan" and step["params"]["namespace"] == "pve"
    assert step["params"]["fingerprint"] == FP and step["params"]["username"] == "pve@pbs!pve"
    assert step["secrets"] == {"password": "s3cret", "encryption-key": KEY}


def test_recreate_refuses_to_lose_the_password_or_the_encryption_key():
    with pytest.raises(PveError, match="needs password"):
        storage.plan(CURRENT, desired(server="pbs.lan"), "present", recreate=True)
    keyed = dict(CURRENT, **{"encryption-key": "1"})
    with pytest.raises(PveError, match="delete its encryption key"):
        storage.plan(keyed, desired(server="pbs.lan"), "present", password="s3cret", recreate=True)


def test_absent_deletes_only_an_existing_entry_and_another_type_is_refused():
    assert storage.plan(CURRENT, {}, "absent")["action"] == "delete"
    assert storage.plan(None, {}, "absent")["action"] == "none"
    with pytest.raises(PveError, match="exists with type dir"):
        storage.plan({"type": "dir", "storage": "pbs-1250p", "path": "/x"}, desired(), "present")


def test_bad_values_fail_before_any_request():
    with pytest.raises(PveError, match="not a sha256 fingerprint"):
        storage.desired_from_options({"pbs_fingerprint": "AB:CD"})
    with pytest.raises(PveError, match="unknown key"):
        storage.desired_from_options({"prune_backups": "keep-forever=1"})


def test_pves_refusal_to_add_an_unreachable_pbs_says_what_to_check():
    failed = PveError("POST /storage: create storage failed: pbs-1250p: error fetching datastores - fingerprint "
                      "'ab:cd' not verified, abort! (HTTP 500).", "api", 500)
    assert "pbs_fingerprint (`proxmox-backup-manager cert info` on the PBS)" in \
        storage.explain_create(failed, "pbs-1250p").msg
    other = PveError("POST /storage: something else (HTTP 500).", "api", 500)
    assert storage.explain_create(other, "pbs-1250p").msg == "POST /storage: something else (HTTP 500)."
