"""The off-site restic job against a real S3 server: SeaweedFS's ``weed server -s3`` (tests/support/s3_server.py,
built once by scripts/weed-build.sh), not an emulator.

The restic_backup role is applied on localhost through ansible-runner (its units, env files, job settings and
sovereign-restic command go to a temporary root; systemd is not asked), exactly as a user's play applies it
with an ``s3:`` repository and vaulted AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Then the job runner the
units start (``python3 restic_job.py backup job-<name>.json``) backs up to the bucket, forgets per retention
tier, prunes; the check runner checks; sovereign-restic restores, byte for byte. A wrong secret key and a
missing bucket fail with what to do, and neither secret appears in any output, state or status file.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / ".collections"))

# pylint: disable-next=wrong-import-position,unused-import
from support.s3_server import SECRET_KEY, s3_server  # noqa: E402,F401

from ansible_collections.sovereign.cloud.plugins.module_utils import restic  # noqa: E402  pylint: disable=wrong-import-position

BUCKET = "sovereign-offsite"
PREFIX = "family/server-a"
NAME = "s3offsite"  # the repository's name in restic_backup_repositories (and its lock file)
PASSWORD = "restic-s3-repo-password-9d41c7"  # test-only
HOST = "server-a"
WRONG_SECRET = "not-the-secret-4a7b9e"  # a mistyped secret is a secret too
DAY = 86400

# Every text a user or a report could see; none may hold a secret (checked at the end).
SEEN: list[tuple[str, str]] = []


def see(what: str, text: str) -> str:
    SEEN.append((what, text))
    return text


def write_tree(root: Path, files: dict[str, int], seed: int) -> None:
    rng = random.Random(seed)
    for rel, size in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))


def sha256_tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def site(s3_server, tmp_path_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    if not Path(REPO / ".venv" / "bin" / "ansible-runner").exists():
        pytest.skip("ansible-runner is not installed in .venv")
    if not shutil.which("restic"):
        pytest.skip("restic is not installed: run scripts/test-deps.sh (apt-get install restic) as root")
    root = tmp_path_factory.mktemp("restic-s3")
    docs, media = root / "data" / "documents", root / "data" / "media"
    write_tree(docs, {f"letters/{i:02d}.pdf": 40_000 + i * 1_000 for i in range(12)}
               | {"taxes/2026.ods": 300_000, "notes.txt": 1_234, "empty.txt": 0}, seed=1)
    write_tree(media, {f"2026/IMG_{i:04d}.HEIC": 250_000 for i in range(6)}, seed=2)
    (root / "systemd").mkdir()  # like /etc/systemd/system and /usr/local/sbin, they exist before the role runs
    (root / "bin").mkdir()
    inventory = root / "hosts.yml"
    inventory.write_text(f"""all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: {sys.executable}
""")
    play = root / "apply.yml"
    play.write_text("""---
- name: Back the server up off-site
  hosts: localhost
  gather_facts: true
  roles:
    - role: sovereign.cloud.restic_backup
""")
    extravars = {
        "restic_backup_repositories": [{
            "name": NAME, "repository": s3_server.repository(BUCKET, PREFIX), "password": PASSWORD,
            "env": s3_server.env, "check_subset": "100%"}],
        "restic_backup_jobs": [
            {"name": "documents", "repository": NAME, "tier": "documents", "paths": [str(docs)], "host": HOST},
            {"name": "media", "repository": NAME, "tier": "media", "paths": [str(media)], "host": HOST}],
        # The base role's settings, which restic_backup's defaults build on (inventory group_vars in a site).
        "base_state_dir": str(root / "var"),
        "base_lib_dir": str(root / "lib"),
        "restic_backup_config_dir": str(root / "etc" / "restic"),
        "restic_backup_lib_dir": str(root / "lib"),
        "restic_backup_state_dir": str(root / "state"),
        "restic_backup_cache_dir": str(root / "cache"),
        "restic_backup_unit_dir": str(root / "systemd"),
        "restic_backup_bin_dir": str(root / "bin"),
        "restic_backup_manage_services": False,
        "status_expectations_dir": str(root / "status.d"),
    }
    return {"root": root, "s3": s3_server, "play": play, "inventory": inventory, "vars": extravars,
            "docs": docs, "media": media}


def apply(run_playbook, site, check=False, extravars=None):  # pylint: disable=redefined-outer-name
    recap = run_playbook(str(site["play"]), site["inventory"], extravars=extravars or site["vars"], check=check)
    see(f"ansible-playbook (check={check})", recap.stdout)
    # The HTML run report (sovereign.cloud.report) and ansible-runner's job events (what AWX would store).
    for report in re.findall(r"Run report: (\S+)", recap.stdout):
        report = Path(report)
        see(str(report), report.read_text(errors="replace"))
        for event in report.parent.parent.glob("runner-*/artifacts/*/job_events/*.json"):
            see(str(event), event.read_text(errors="replace"))
    return recap


def runner(site, *args, timeout=600):  # pylint: disable=redefined-outer-name
    """The runner as the units start it: /usr/bin/python3 <lib>/restic_job.py ..."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    result = subprocess.run([python, str(site["root"] / "lib" / "restic_job.py"), *map(str, args)],
                            capture_output=True, text=True, timeout=timeout, check=False)
    see(f"restic_job.py {args[0]} stdout", result.stdout)
    see(f"restic_job.py {args[0]} stderr", result.stderr)
    return result


def sovereign_restic(site, *args, check=True):  # pylint: disable=redefined-outer-name
    result = subprocess.run([str(site["root"] / "bin" / "sovereign-restic"), NAME, *args], capture_output=True,
                            text=True, timeout=600, check=False)
    see(f"sovereign-restic {args[0]}", result.stdout + result.stderr)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def state(site, name):  # pylint: disable=redefined-outer-name
    return json.loads((site["root"] / "state" / f"{name}.json").read_text())


def test_check_mode_on_a_fresh_host_changes_nothing(run_playbook, site):  # pylint: disable=redefined-outer-name
    recap = apply(run_playbook, site, check=True)
    assert recap.rc == 0, recap.stdout
    assert recap.changed > 0
    assert "~ restic_backup: Ensure the repositories exist and open with their passwords" in recap.stdout
    assert not (site["root"] / "etc").exists() and not list((site["root"] / "systemd").iterdir())
    assert BUCKET not in site["s3"].buckets()


def test_apply_initialises_the_s3_repository_then_changes_nothing(run_playbook, site):  # pylint: disable=redefined-outer-name
    first = apply(run_playbook, site)
    assert first.rc == 0, first.stdout
    assert BUCKET in site["s3"].buckets()
    keys = site["s3"].keys(BUCKET, PREFIX + "/")
    assert f"{PREFIX}/config" in keys and any(k.startswith(f"{PREFIX}/keys/") for k in keys), keys
    second = apply(run_playbook, site)
    assert second.rc == 0 and second.changed == 0, second.stdout
    check = apply(run_playbook, site, check=True)
    assert check.rc == 0 and check.changed == 0, check.stdout
    env_file = site["root"] / "etc" / "restic" / f"{NAME}.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    env = restic.read_env_file(str(env_file))
    assert env["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY and env["RESTIC_REPOSITORY"].startswith("s3:http://127.0.0.1:")
    for path in (site["root"] / "etc" / "restic").glob("*.json"):
        see(path.name, path.read_text())
    for path in (site["root"] / "systemd").iterdir():
        see(path.name, path.read_text())


def _seed_old_snapshots(site):  # pylint: disable=redefined-outer-name
    """Earlier nightly runs of both jobs, 60 and 10 days ago (restic backup --time), in the same repository."""
    env = restic.build_env(env_file=str(site["root"] / "etc" / "restic" / f"{NAME}.env"))
    for job, path, ages in (("documents", site["docs"], (60, 10)), ("media", site["media"], (60,))):
        for age in ages:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - age * DAY))
            result = restic.run(["backup", "--json", "--host", HOST, "--tag", f"sovereign-job:{job}", "--tag", job,
                                 "--time", when, str(path)], env)
            assert result.returncode == 0, result.stderr


def test_the_job_backs_up_forgets_per_tier_and_prunes(run_playbook, site):  # pylint: disable=redefined-outer-name
    if not (site["root"] / "lib" / "restic_job.py").exists():
        assert apply(run_playbook, site).rc == 0
    _seed_old_snapshots(site)
    config = site["root"] / "etc" / "restic"
    t0 = time.monotonic()
    docs = runner(site, "backup", config / "job-documents.json")
    docs_s = time.monotonic() - t0
    assert docs.returncode == 0, docs.stdout + docs.stderr
    doc_state = state(site, "documents")
    see("state documents.json", json.dumps(doc_state))
    assert doc_state["status"] == "ok" and doc_state["phase"] == "done" and not doc_state["errors"], doc_state
    assert doc_state["location"] == f"s3:{site['s3'].endpoint}/{BUCKET}/{PREFIX}"
    assert doc_state["stats"]["total_files_processed"] == 15
    # documents keeps 30 days: the 60-day-old run goes, the 10-day-old one stays; prune ran against S3.
    assert doc_state["forget"]["removed"] == 1 and doc_state["forget"]["kept"] == 2, doc_state["forget"]
    assert doc_state["pruned"] is True
    media = runner(site, "backup", config / "job-media.json")
    assert media.returncode == 0, media.stdout + media.stderr
    media_state = state(site, "media")
    see("state media.json", json.dumps(media_state))
    # media keeps 90 days: its 60-day-old run stays; the documents policy never touched it.
    assert media_state["status"] == "ok" and media_state["forget"]["removed"] == 0
    assert media_state["forget"]["kept"] == 2 and media_state["pruned"] is False
    snapshots = json.loads(sovereign_restic(site, "snapshots", "--json").stdout)
    by_job: dict[str, list] = {}
    for snap in snapshots:
        job = next(t.split(":", 1)[1] for t in snap["tags"] if t.startswith("sovereign-job:"))
        by_job.setdefault(job, []).append(snap)
        assert snap["hostname"] == HOST
        assert sorted(snap["tags"]) == sorted([f"sovereign-job:{job}", job]), snap["tags"]
    assert {job: len(snaps) for job, snaps in by_job.items()} == {"documents": 2, "media": 2}
    assert doc_state["snapshot_id"] in {s["short_id"] for s in by_job["documents"]} | {s["id"] for s in by_job["documents"]}
    assert by_job["media"][-1]["paths"] == [str(site["media"])]
    packs = site["s3"].keys(BUCKET, f"{PREFIX}/data/")
    assert packs, "no pack files in the bucket"
    print(f"\ndocuments job (backup + forget + prune) to weed S3: {docs_s:.1f} s")


def test_the_check_job_passes_and_a_restore_is_byte_identical(site, tmp_path):  # pylint: disable=redefined-outer-name
    if not (site["root"] / "state" / "documents.json").exists():
        pytest.skip("needs test_the_job_backs_up_forgets_per_tier_and_prunes")
    check = runner(site, "check", site["root"] / "etc" / "restic" / f"check-{NAME}.json")
    assert check.returncode == 0, check.stdout + check.stderr
    check_state = state(site, f"check-{NAME}")
    see("state check.json", json.dumps(check_state))
    assert check_state["status"] == "ok" and check_state["subset"] == "100%", check_state
    assert sovereign_restic(site, "check").returncode == 0
    target = tmp_path / "restore"
    sovereign_restic(site, "restore", "latest", "--tag", "sovereign-job:documents", "--host", HOST,
                     "--target", str(target))
    restored = target / str(site["docs"]).lstrip("/")
    assert sha256_tree(restored) == sha256_tree(site["docs"])
    assert (restored / "empty.txt").stat().st_size == 0


def test_a_wrong_secret_key_fails_with_what_to_do(run_playbook, site, tmp_path):  # pylint: disable=redefined-outer-name
    wrong_secret = WRONG_SECRET
    bad = dict(site["vars"])
    bad["restic_backup_repositories"] = [dict(site["vars"]["restic_backup_repositories"][0],
                                              env=dict(site["s3"].env, AWS_SECRET_ACCESS_KEY=wrong_secret))]
    for key in ("restic_backup_config_dir", "restic_backup_lib_dir", "restic_backup_state_dir",
                "restic_backup_unit_dir", "restic_backup_bin_dir", "status_expectations_dir"):
        bad[key] = str(tmp_path / key)
    (tmp_path / "restic_backup_unit_dir").mkdir()
    (tmp_path / "restic_backup_bin_dir").mkdir()
    recap = apply(run_playbook, site, extravars=bad)
    assert recap.rc != 0, recap.stdout
    assert "refused the credentials" in recap.stdout and "AWS_SECRET_ACCESS_KEY" in recap.stdout, recap.stdout
    assert "signature" in recap.stdout  # the server's own words
    assert "there is no restic repository" not in recap.stdout
    assert wrong_secret not in recap.stdout
    # The job runner with the same wrong key: a failed run that says the same, its status file too.
    job = json.loads((site["root"] / "etc" / "restic" / "job-documents.json").read_text())
    env_text = (site["root"] / "etc" / "restic" / f"{NAME}.env").read_text().replace(SECRET_KEY, wrong_secret)
    (tmp_path / "wrong.env").write_text(env_text)
    job.update(env_file=str(tmp_path / "wrong.env"), state_file=str(tmp_path / "wrong-state.json"),
               lock_file=str(tmp_path / "wrong.lock"))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = runner(site, "backup", tmp_path / "job.json", timeout=300)
    assert result.returncode == 1
    failed = json.loads((tmp_path / "wrong-state.json").read_text())
    see("state wrong-state.json", json.dumps(failed))
    assert failed["status"] == "failed" and "refused the credentials" in failed["errors"][0], failed
    for text in (result.stdout, result.stderr, json.dumps(failed)):
        assert wrong_secret not in text


def test_a_missing_bucket_fails_with_what_to_do(site, tmp_path):  # pylint: disable=redefined-outer-name
    if not (site["root"] / "etc" / "restic" / "job-documents.json").exists():
        pytest.skip("needs the role applied")
    env_text = (site["root"] / "etc" / "restic" / f"{NAME}.env").read_text().replace(
        f"/{BUCKET}/", "/sovereign-no-such-bucket/")
    (tmp_path / "nobucket.env").write_text(env_text)
    job = json.loads((site["root"] / "etc" / "restic" / "job-documents.json").read_text())
    job.update(env_file=str(tmp_path / "nobucket.env"), state_file=str(tmp_path / "state.json"),
               lock_file=str(tmp_path / "nobucket.lock"))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = runner(site, "backup", tmp_path / "job.json", timeout=300)
    assert result.returncode == 1
    failed = json.loads((tmp_path / "state.json").read_text())
    see("state nobucket.json", json.dumps(failed))
    assert failed["status"] == "failed", failed
    assert "bucket does not exist" in failed["errors"][0] and "fix the bucket name" in failed["errors"][0], failed
    assert "sovereign-no-such-bucket" not in site["s3"].buckets()  # a backup never creates a bucket


def test_no_secret_in_any_output(site):  # pylint: disable=redefined-outer-name
    assert len(SEEN) > 10, [what for what, _text in SEEN]
    for path in list((site["root"] / "state").rglob("*.json")) + list((site["root"] / "status.d").rglob("*")):
        if path.is_file():
            see(str(path), path.read_text())
    for what, text in SEEN:
        for secret in (SECRET_KEY, PASSWORD, WRONG_SECRET):
            assert secret not in text, f"a secret appears in {what}"
