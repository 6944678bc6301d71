"""`make demo`: the full rollout against localhost, without root, twice."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def make_inbox(demo_root: Path) -> dict:
    """What `make demo` does before the playbook: the sample inbox (scripts/demo-inbox.py)."""
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "demo-inbox.py"), str(demo_root / "inbox")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads((demo_root / "inbox.manifest.json").read_text())


def test_demo_rollout_is_green_then_idempotent(run_playbook, tmp_path):
    demo_root = tmp_path / "demo"
    extravars = {"sovereign_demo_root": str(demo_root)}
    expected = make_inbox(demo_root)

    first = run_playbook("site.yml", REPO / "inventory" / "demo", extravars)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.failed == 0
    assert first.changed > 0

    second = run_playbook("site.yml", REPO / "inventory" / "demo", extravars)
    assert second.rc == 0, second.stdout[-3000:]
    assert second.changed == 0, second.stdout[-3000:]
    # The run reports (sovereign.cloud.report, docs/reports.md): JSON, HTML, Prometheus textfile.
    reports = tmp_path / "run-reports"
    latest = json.loads((reports / "latest.json").read_text())
    assert latest["playbook"] == "site.yml" and latest["success"] and latest["totals"]["changed"] == 0
    assert len(list(reports.glob("2*.json"))) == 2 and len(list(reports.glob("2*.html"))) == 2
    assert "sovereign_cloud_run_last_success{playbook=\"site.yml\"} 1" in (
        reports / "textfile" / "sovereign_cloud_run_site.prom").read_text()

    # What the demo promises a reader: everything under the demo root, and a summary at the end.
    assert (demo_root / "data").is_dir()
    assert (demo_root / "state").is_dir()
    assert "sovereign.cloud - what this run did" in second.stdout

    # The photo vault: every good file landed once under its capture date with its sha256 as name.
    vault = demo_root / "vault"
    unique = {info["sha256"]: info for info in expected["good"].values()}
    for sha, info in unique.items():
        original = vault / "originals" / info["folder"] / f"{sha}.{info['ext']}"
        assert hashlib.sha256(original.read_bytes()).hexdigest() == sha, original
        assert original.with_suffix(".xmp").is_file(), original
    stored = [p for p in (vault / "originals").rglob("*") if p.is_file() and p.suffix != ".xmp"]
    assert len(stored) == len(unique), "duplicates are stored once; the corrupt file never"
    assert expected["duplicates"] and len(expected["good"]) > len(unique)
    [(corrupt, _word)] = expected["rejected"].items()
    corrupt_sha = hashlib.sha256((demo_root / "inbox" / corrupt).read_bytes()).hexdigest()
    assert not list((vault / "originals").rglob(f"{corrupt_sha}.*"))
    assert "1 rejected" in first.stdout and corrupt in first.stdout
    # thumbnails of every photo, and the catalog summary as the run's headline
    photos = [sha for sha, info in unique.items() if info["ext"] in ("jpg", "heic", "png")]
    assert all((vault / "thumbs" / "medium" / sha[:2] / f"{sha}.jpg").is_file() for sha in photos)
    images = len(photos)
    videos = len(unique) - images
    headline = f"{len(unique)} assets ({images} photos, {videos} video"
    assert headline in first.stdout and headline in second.stdout
    assert "all match" in second.stdout
    assert (demo_root / "bin" / "sovereign-photos").is_file()

    # The scheduled-job playbooks (cron, AWX) on the same vault: nothing new, a full verification.
    ingest = run_playbook("photo_ingest.yml", REPO / "inventory" / "demo", extravars)
    assert ingest.rc == 0 and ingest.changed == 0, ingest.stdout[-3000:]
    assert f"{len(expected['good'])} unchanged" in ingest.stdout
    verify = run_playbook("photo_verify.yml", REPO / "inventory" / "demo",
                          {**extravars, "photo_vault_run_verify_mode": "full"})
    assert verify.rc == 0 and verify.changed == 0, verify.stdout[-3000:]
    assert f"verified {len(unique)} of {len(unique)} originals (every original" in verify.stdout


def test_check_mode_on_a_fresh_demo_root_writes_nothing(run_playbook, tmp_path):
    demo_root = tmp_path / "fresh"
    recap = run_playbook("site.yml", REPO / "inventory" / "demo",
                         {"sovereign_demo_root": str(demo_root)}, check=True)
    assert recap.rc == 0, recap.stdout[-3000:]
    assert recap.changed > 0
    assert not demo_root.exists()


def test_one_role_on_one_host_by_tag(run_playbook, tmp_path):
    demo_root = tmp_path / "tagged"
    recap = run_playbook("site.yml", REPO / "inventory" / "demo",
                         {"sovereign_demo_root": str(demo_root)}, tags="base", limit="localhost")
    assert recap.rc == 0, recap.stdout[-3000:]
    assert Path(demo_root / "data").is_dir()
