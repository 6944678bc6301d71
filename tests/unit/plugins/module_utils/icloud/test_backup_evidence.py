"""module_utils/icloud/backup_evidence: what counts as a verified backup copy of an original.

The restic provider end to end (real restic) is in test_safe_to_delete.py; here, the rules on
their own: restic's ``ls --json`` lines, a sidecar never standing in for its original, a
snapshot holding a name with another size never counting, the check state's two formats, and
the PBS rule (a verified snapshot of the archive taken after the vault recorded the original).
"""

from __future__ import annotations

import json

from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import backup_evidence as be
from ansible_collections.sovereign.cloud.plugins.module_utils.pbs import backup_client as pbc

SHA = "a" * 64


def ls_line(name: str, size: int, kind: str = "file") -> str:
    return json.dumps({"name": name, "type": kind, "path": f"/srv/photos/originals/2024/01/01/{name}", "size": size,
                       "struct_type": "node"}, separators=(",", ":"))


def test_parse_ls_reads_originals_and_never_their_sidecars():
    lines = "\n".join([
        json.dumps({"time": "2026-01-01T00:00:00Z", "struct_type": "snapshot"}),
        ls_line(f"{SHA}.jpg", 1888), ls_line(f"{SHA}.xmp", 1237),
        ls_line("b" * 64 + ".heic", 99), ls_line("c" * 64 + ".json", 5),
        ls_line("IMG_0001.JPG", 7), ls_line("d" * 64, 0, kind="dir"), "not json"])
    assert be.parse_ls(lines) == {SHA: 1888, "b" * 64: 99}


def _restic(snapshots) -> be.ResticEvidence:
    evidence = be.ResticEvidence({"name": "local"}, "/srv/photos")
    for size, verified in snapshots:
        known = evidence._held.get(SHA)  # pylint: disable=protected-access
        if known is None or known[0] == size:
            base = known or (size, 0, 0)
            evidence._held[SHA] = (size, base[1] + verified, base[2] + (not verified))  # pylint: disable=protected-access
        else:
            evidence._odd.setdefault(SHA, []).append((size, verified))  # pylint: disable=protected-access
    return evidence


def test_only_snapshots_with_the_catalogs_size_count():
    evidence = _restic([(100, True), (100, False), (99, True)])
    assert evidence.held(SHA, 100, None) == (1, 1)
    assert evidence.held(SHA, 99, None) == (1, 0)
    assert evidence.held("e" * 64, 100, None) == (0, 0)
    evidence.problem = "the last check failed"
    assert evidence.held(SHA, 100, None) == (0, 2)


def test_check_state_in_both_formats(tmp_path):
    job = tmp_path / "check-local.json"
    job.write_text(json.dumps({"status": "ok", "started_at": "2026-11-30T02:00:00Z",
                               "finished_at": "2026-11-30T02:10:00Z"}))
    got = be.read_check_status(str(job))
    assert got["ok"] is True and got["finished"] - got["started"] == 600
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"ok": False, "summary": "pack damaged", "finished_at": "2026-11-30T02:10:00Z"}))
    got = be.read_check_status(str(status))
    assert got["ok"] is False and got["error"] == "pack damaged"
    (tmp_path / "junk.json").write_text("[]")
    assert be.read_check_status(str(tmp_path / "junk.json")) is None
    assert be.read_check_status(str(tmp_path / "missing.json")) is None


def test_a_restic_repository_without_a_recent_passing_check_does_not_count(tmp_path):
    now = 1_800_000_000.0
    evidence = be.ResticEvidence({"name": "local", "check_status_file": str(tmp_path / "none.json")}, "/srv/photos")
    assert evidence._judge_check(now) is None and "no result" in evidence.problem  # pylint: disable=protected-access
    assert evidence.fix == "systemctl start sovereign-restic-check-local.service"


def test_pbs_counts_only_verified_snapshots_taken_after_the_original_was_recorded(monkeypatch):
    snaps = [
        {"backup-type": "host", "backup-id": "vault", "backup-time": 1000, "files": [{"filename": "media.pxar.didx"}],
         "verification": {"state": "ok", "upid": "x"}},
        {"backup-type": "host", "backup-id": "vault", "backup-time": 2000, "files": [{"filename": "media.pxar.didx"}],
         "verification": {"state": "ok", "upid": "y"}},
        {"backup-type": "host", "backup-id": "vault", "backup-time": 3000, "files": [{"filename": "media.pxar.didx"}]},
        {"backup-type": "host", "backup-id": "vault", "backup-time": 4000, "files": [{"filename": "media.pxar.didx"}],
         "verification": {"state": "failed", "upid": "z"}},
        {"backup-type": "ct", "backup-id": "51", "backup-time": 5000, "files": [{"filename": "root.pxar.didx"}],
         "verification": {"state": "ok", "upid": "w"}},
    ]
    monkeypatch.setattr(pbc, "list_snapshots", lambda *_a, **_k: snaps)
    evidence = be.PbsEvidence({"name": "pbs1", "env": {"PBS_PASSWORD": "s3cret-token-value",
                                                       "PBS_REPOSITORY": "media@pbs!r@192.0.2.5:backups"}})
    evidence.load(9000.0, None, False)
    assert len(evidence.snapshots) == 4
    assert evidence.held(SHA, 1, 1500.0) == (1, 2)   # after: 2000 (verified), 3000, 4000
    assert evidence.held(SHA, 1, 500.0) == (2, 2)
    assert evidence.held(SHA, 1, 4500.0) == (0, 0)
    assert evidence.held(SHA, 1, None) == (0, 0)     # when the vault recorded it is unknown: never counts
    assert "s3cret-token-value" in evidence.secrets
    assert "s3cret" not in json.dumps(evidence.describe())


def test_pbs_counts_only_while_a_recent_drill_from_it_passed():
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.safe_to_delete import pbs_drill_problem
    evidence = be.PbsEvidence({"name": "pbs1"})
    evidence.location = "media@pbs!r@192.0.2.5:backups"
    now = 1_800_000_000.0
    recent = "2027-01-15T00:00:00Z"  # 1_800_000_000 is 2027-01-15T08:00Z
    assert "no restore drill from PBS pbs1" in pbs_drill_problem(evidence, {}, now, 35)
    assert "failed" in pbs_drill_problem(evidence, {evidence.location: {"passed": False, "performed_at": recent}},
                                         now, 35)
    assert "older than 35" in pbs_drill_problem(evidence, {evidence.location: {"passed": True,
                                                                               "performed_at": "2026-01-01T00:00:00Z"}},
                                                now, 35)
    assert pbs_drill_problem(evidence, {evidence.location: {"passed": True, "performed_at": recent}}, now, 35) is None
    other = {"other@pbs!r@192.0.2.9:backups": {"passed": True, "performed_at": recent}}
    assert pbs_drill_problem(evidence, other, now, 35) is not None
