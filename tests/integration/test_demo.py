"""`make demo`: the full rollout against localhost, without root, twice."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_rollout_is_green_then_idempotent(run_playbook, tmp_path):
    demo_root = tmp_path / "demo"
    extravars = {"sovereign_demo_root": str(demo_root)}

    first = run_playbook("site.yml", REPO / "inventory" / "demo", extravars)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.failed == 0
    assert first.changed > 0

    second = run_playbook("site.yml", REPO / "inventory" / "demo", extravars)
    assert second.rc == 0, second.stdout[-3000:]
    assert second.changed == 0, second.stdout[-3000:]

    # What the demo promises a reader: everything under the demo root, and a summary at the end.
    assert (demo_root / "data").is_dir()
    assert (demo_root / "state").is_dir()
    assert "sovereign.cloud - what this run did" in second.stdout


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
