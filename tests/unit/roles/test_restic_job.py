"""The restic_backup role's job runner, installed as the role installs it (restic_job.py next to
sovereign_restic.py, a copy of plugins/module_utils/restic.py) and run on real restic."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.host_lib import ship
from support.restic import ResticRepo

REPO = Path(__file__).resolve().parents[3]
RUNNER = REPO / "roles" / "restic_backup" / "files" / "restic_job.py"
HOST = socket.gethostname()


@pytest.fixture
def runner(tmp_path):
    lib = ship(tmp_path / "lib", packages=("common",), modules=("restic",))
    shutil.copy(RUNNER, lib / "restic_job.py")
    return lib / "restic_job.py"


@pytest.fixture
def repo(tmp_path):
    return ResticRepo(tmp_path).init()


@pytest.fixture
def data(tmp_path):
    src = tmp_path / "data"
    (src / "docs").mkdir(parents=True)
    for i in range(4):
        (src / "docs" / f"doc{i}.txt").write_bytes(os.urandom(2000 + i))
    (src / "docs" / "skip.tmp").write_text("scratch")
    return src


def job_config(tmp_path, repo, name, paths, retention, **extra) -> Path:
    env_file = repo.write_env_file(tmp_path / "repo.env")
    cfg = {"job": name, "repository": "test", "env_file": str(env_file), "cache_dir": str(repo.cache),
           "paths": [str(p) for p in paths], "excludes": ["*.tmp"], "tags": ["docs"], "retention": retention,
           "group_by": "host", "prune": True, "state_file": str(tmp_path / "state" / f"{name}.json"),
           "lock_file": str(tmp_path / "lock" / "test.lock")}
    cfg.update(extra)
    path = tmp_path / f"job-{name}.json"
    path.write_text(json.dumps(cfg))
    return path


def run(runner, *args):
    return subprocess.run([sys.executable, str(runner), *map(str, args)], capture_output=True, text=True, check=False)


def read_state(tmp_path, name):
    return json.loads((tmp_path / "state" / f"{name}.json").read_text())


def test_a_job_backs_up_forgets_and_writes_its_result(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_within": "30d"})
    result = run(runner, "backup", cfg)
    assert result.returncode == 0, result.stderr
    state = read_state(tmp_path, "documents")
    assert state["status"] == "ok" and state["phase"] == "done" and state["rc"] == 0
    assert state["stats"]["files_new"] == 4  # skip.tmp excluded
    assert state["stats"]["data_added"] > 8000
    assert state["forget"] == {"groups": 1, "kept": 1, "removed": 0, "kept_ids": [state["snapshot_id"]],
                               "removed_ids": []}
    assert state["pruned"] is False  # nothing removed, nothing to prune
    assert state["started_at"].endswith("Z") and state["finished_at"] >= state["started_at"]
    assert state["last_success_snapshot"] == state["snapshot_id"]
    [snap] = repo.snapshots()
    assert snap["short_id"] == state["snapshot_id"] and snap["hostname"] == HOST
    assert set(snap["tags"]) == {"sovereign-job:documents", "docs"}
    assert "job documents: ok" in result.stdout
    assert repo.password not in (tmp_path / "state" / "documents.json").read_text()


def test_retention_removes_only_this_jobs_old_snapshots(tmp_path, runner, repo, data):
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    days = [f"2026-01-{d:02d}" for d in range(1, 11)]
    for day in days:  # the job's own past snapshots, and another job's in the same repository
        repo.backup(str(data), tags=("sovereign-job:documents",), host=HOST, time=f"{day} 03:00:00")
        repo.backup(str(other), tags=("sovereign-job:other",), host=HOST, time=f"{day} 04:00:00")
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_last": 3})
    assert run(runner, "backup", cfg).returncode == 0
    state = read_state(tmp_path, "documents")
    assert (state["forget"]["kept"], state["forget"]["removed"]) == (3, 8)
    assert state["pruned"] is True and "prune_report" in state
    assert len(repo.snapshots("--tag", "sovereign-job:documents")) == 3
    assert len(repo.snapshots("--tag", "sovereign-job:other")) == 10
    repo.run("check")


def test_a_missing_source_fails_keeps_the_last_success_and_exits_non_zero(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_within": "30d"})
    assert run(runner, "backup", cfg).returncode == 0
    good = read_state(tmp_path, "documents")
    shutil.rmtree(data)
    result = run(runner, "backup", cfg)
    assert result.returncode == 1
    state = read_state(tmp_path, "documents")
    assert state["status"] == "failed" and state["phase"] == "backup"
    assert "none of the job's paths exist (is the disk mounted?)" in state["errors"][0]
    assert state["last_success_snapshot"] == good["snapshot_id"]
    assert state["last_success_at"] == good["last_success_at"]
    assert "error:" in result.stderr


def test_a_wrong_password_is_reported_as_such(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_within": "30d"})
    repo.write_env_file(tmp_path / "repo.env", password="not the password")
    assert run(runner, "backup", cfg).returncode == 1
    assert "password does not open it" in read_state(tmp_path, "documents")["errors"][0]


def test_a_bad_policy_fails_before_anything_runs(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_daily": 0})
    assert run(runner, "backup", cfg).returncode == 1
    assert "keep_daily must be a whole number" in read_state(tmp_path, "documents")["errors"][0]
    assert repo.snapshots() == []


def test_check_passes_then_fails_on_a_damaged_pack(tmp_path, runner, repo, data):
    repo.backup(str(data))
    env_file = repo.write_env_file(tmp_path / "repo.env")
    cfg = tmp_path / "check-test.json"
    cfg.write_text(json.dumps({"repository": "test", "env_file": str(env_file), "cache_dir": str(repo.cache),
                               "subset": "100%", "state_file": str(tmp_path / "state" / "check-test.json"),
                               "lock_file": str(tmp_path / "lock" / "test.lock")}))
    assert run(runner, "check", cfg).returncode == 0
    ok = read_state(tmp_path, "check-test")
    assert ok["status"] == "ok" and ok["errors"] == []
    repo.corrupt_blob(hashlib.sha256((data / "docs" / "doc1.txt").read_bytes()).hexdigest())
    assert run(runner, "check", cfg).returncode == 1
    bad = read_state(tmp_path, "check-test")
    assert bad["status"] == "failed" and bad["last_success_at"] == ok["last_success_at"]
    assert any("Pack ID does not match" in e or "repository contains errors" in e for e in bad["errors"])


def test_the_restic_subcommand_runs_restic_with_the_env_file(tmp_path, runner, repo, data):
    repo.backup(str(data))
    env_file = repo.write_env_file(tmp_path / "repo.env")
    result = run(runner, "restic", env_file, "snapshots", "--json")
    assert result.returncode == 0 and len(json.loads(result.stdout)) == 1


def test_the_restic_subcommand_uses_the_env_files_cache(tmp_path, runner, repo, data):
    """sovereign-restic used /var/cache/sovereign-restic whatever restic_backup_cache_dir said."""
    repo.backup(str(data))
    env_file = repo.write_env_file(tmp_path / "repo.env")
    shutil.rmtree(repo.cache, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "RESTIC_CACHE_DIR"}
    result = subprocess.run([sys.executable, str(runner), "restic", str(env_file), "snapshots", "--json"], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert repo.cache.is_dir() and any(repo.cache.iterdir())


def test_a_missing_path_among_good_ones_is_incomplete_and_forgets_nothing(tmp_path, runner, repo, data):
    # An unmounted disk next to a mounted one: restic skips the path and exits 0. Counting that as a
    # good backup would let retention drop the snapshots that still hold the missing files.
    gone = tmp_path / "nas-photos"
    for day in ("2026-01-01", "2026-01-02"):
        repo.backup(str(data), tags=("sovereign-job:documents",), host=HOST, time=f"{day} 03:00:00")
    cfg = job_config(tmp_path, repo, "documents", [data, gone], {"keep_last": 1})
    result = run(runner, "backup", cfg)
    assert result.returncode == 3
    state = read_state(tmp_path, "documents")
    assert state["status"] == "incomplete" and state["snapshot_id"] and state["forget"] is None
    assert f"{gone} does not exist (is the disk mounted?)" in state["errors"]
    assert len(repo.snapshots()) == 3, "nothing was forgotten"


def test_a_backup_that_shrinks_by_half_stays_incomplete_until_accepted(tmp_path, runner, repo, data):
    # The guard compares with the last good run: a second half-empty night is as incomplete as the
    # first, and only the accept command makes the new size the baseline.
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_last": 1})
    assert run(runner, "backup", cfg).returncode == 0
    good = read_state(tmp_path, "documents")
    for name in ("doc0.txt", "doc1.txt", "doc2.txt"):
        (data / "docs" / name).unlink()
    for night in (1, 2):
        assert run(runner, "backup", cfg).returncode == 3, f"night {night}"
        state = read_state(tmp_path, "documents")
        assert state["status"] == "incomplete" and "more than 50% fewer" in state["errors"][0]
        assert "the last good backup" in state["errors"][0] and "4 files" in state["errors"][0]
        assert state["last_success_snapshot"] == good["snapshot_id"] and state["last_success_files"] == 4
        assert f"restic_job.py accept {cfg}" in state["errors"][0], "the message names the accept command"
    assert len(repo.snapshots()) == 3, "nothing was forgotten on either night"
    accepted = run(runner, "accept", cfg)
    assert accepted.returncode == 0, accepted.stderr
    assert "the next backup of documents becomes the new baseline" in accepted.stdout
    assert run(runner, "backup", cfg).returncode == 0, "the accepted size passes"
    state = read_state(tmp_path, "documents")
    assert state["last_success_files"] == 1 and state["accept_next"] is False
    assert len(repo.snapshots()) == 1
    assert run(runner, "backup", cfg).returncode == 0


def test_a_failed_run_does_not_reset_the_baseline(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_last": 1})
    assert run(runner, "backup", cfg).returncode == 0
    repo.write_env_file(tmp_path / "repo.env", password="not the password")
    assert run(runner, "backup", cfg).returncode == 1
    repo.write_env_file(tmp_path / "repo.env")
    for name in ("doc0.txt", "doc1.txt", "doc2.txt"):
        (data / "docs" / name).unlink()
    assert run(runner, "backup", cfg).returncode == 3
    assert "more than 50% fewer" in read_state(tmp_path, "documents")["errors"][0]
    assert len(repo.snapshots()) == 2


def test_an_empty_mount_point_is_incomplete_even_with_the_shrink_guard_off(tmp_path, runner, repo, data):
    # An unmounted NAS leaves its empty mount point: restic backs it up happily (exit 0, 0 files).
    photos = tmp_path / "nas-photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(os.urandom(3000))
    cfg = job_config(tmp_path, repo, "documents", [data, photos], {"keep_last": 1}, max_shrink_percent=100)
    assert run(runner, "backup", cfg).returncode == 0
    (photos / "a.jpg").unlink()
    for night in (1, 2):
        assert run(runner, "backup", cfg).returncode == 3, f"night {night}"
        state = read_state(tmp_path, "documents")
        assert state["status"] == "incomplete" and state["forget"] is None
        assert any(f"{photos} is empty, the last good backup" in e and "is the disk mounted?" in e
                   for e in state["errors"]), state["errors"]
    assert len(repo.snapshots()) == 3
    assert run(runner, "accept", cfg).returncode == 0
    assert run(runner, "backup", cfg).returncode == 0
    assert read_state(tmp_path, "documents")["last_success_nonempty_paths"] == [str(data)]


def test_an_empty_source_is_incomplete_when_the_last_good_run_had_files(tmp_path, runner, repo, data):
    cfg = job_config(tmp_path, repo, "documents", [data], {"keep_last": 1}, max_shrink_percent=100)
    assert run(runner, "backup", cfg).returncode == 0
    shutil.rmtree(data / "docs")
    assert run(runner, "backup", cfg).returncode == 3
    errors = read_state(tmp_path, "documents")["errors"]
    assert len(errors) == 2 and f"{data} is empty, the last good backup" in errors[0], errors
