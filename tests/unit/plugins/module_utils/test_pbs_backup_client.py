"""module_utils/pbs/backup_client.py: the proxmox-backup-client argv the media backup and the PBS drill build, the
repository format (reference §6), and which snapshot the drill restores from."""

from __future__ import annotations

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client as pbc

CASES = [
    ({"archive": "media.pxar", "path": "/mnt/media"}, ["pbc", "backup", "media.pxar:/mnt/media"]),
    ({"archive": "media.pxar", "path": "/mnt/media", "keyfile": "/etc/pbs/key.json", "ns": "photos",
      "backup_id": "intel-1250p", "excludes": [".stversions"]},
     ["pbc", "backup", "media.pxar:/mnt/media", "--keyfile", "/etc/pbs/key.json", "--ns", "photos",
      "--backup-id", "intel-1250p", "--exclude", ".stversions"]),
]


@pytest.mark.parametrize("args, argv", CASES)
def test_backup_argv(args, argv):
    assert pbc.backup_argv("pbc", **args) == argv


@pytest.mark.parametrize("archive, path", [("media", "/mnt/media"), ("media.tar", "/mnt/media"), ("media.pxar", "rel")])
def test_a_bad_backup_spec_is_refused_before_running(archive, path):
    with pytest.raises(pbc.BackupClientError) as exc:
        pbc.backup_argv("pbc", archive, path)
    assert exc.value.kind == "usage"


@pytest.mark.parametrize("repository, ok", [
    ("pve@pbs!media@192.168.1.52:8007:backups", True),
    ("root@pam@192.168.1.52:datastore", True),
    ("pbs.example.com:backups", True),
    ("backups", True),
    ("sync@pbs!n6005@[fd00::52]:8007:replica", True),
    ("pve@pbs!media@192.168.1.52:8007:", False),      # the datastore is missing
    ("pve@pbs!media@192.168.1.52:8007:ab", False),    # datastore names have 3..32 characters
])
def test_repository_format(repository, ok):
    assert bool(pbc.REPOSITORY.match(repository)) is ok


def test_the_newest_snapshot_holding_the_archive_is_chosen():
    snaps = [
        {"backup-type": "host", "backup-id": "intel-1250p", "backup-time": 1700000000,
         "files": [{"filename": "media.pxar.didx"}]},
        {"backup-type": "host", "backup-id": "intel-1250p", "backup-time": 1700086400,
         "files": [{"filename": "media.pxar.didx"}]},
        {"backup-type": "ct", "backup-id": "51", "backup-time": 1700090000, "files": [{"filename": "root.pxar.didx"}]},
    ]
    newest = pbc.newest_with(snaps, "media.pxar")
    assert pbc.snapshot_name(newest) == "host/intel-1250p/2023-11-15T22:13:20Z"
    assert pbc.newest_with(snaps, "media.pxar", backup_id="other") is None
    assert pbc.restore_argv("pbc", "host/x/2023-11-15T22:13:20Z", "media.pxar", "/tmp/t", ["/a/b.jpg"]) == \
        ["pbc", "restore", "host/x/2023-11-15T22:13:20Z", "media.pxar", "/tmp/t", "--pattern", "/a/b.jpg"]


@pytest.mark.parametrize("stderr, kind", [
    ("WARNING: certificate fingerprint does not match expected fingerprint!\nError: error trying to connect: "
     "certificate verify failed", "fingerprint"),
    ("Error: authentication failed - invalid API token", "auth"),
    ("Error: error trying to connect: tcp connect error: Connection refused (os error 111)", "unreachable"),
])
def test_failures_are_classified_with_what_to_do(stderr, kind):
    assert pbc.classify(stderr) == kind
    assert stderr.splitlines()[-1] in pbc.explain(kind, stderr)
