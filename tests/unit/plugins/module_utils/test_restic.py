"""The restic client: parsing REAL restic 0.14 output captured here from temporary repositories,
error classification, retention flags and env files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils import restic
from support.restic import ResticRepo


@pytest.fixture
def repo(tmp_path):
    return ResticRepo(tmp_path).init()


@pytest.fixture
def source(tmp_path):
    src = tmp_path / "src"
    (src / "docs").mkdir(parents=True)
    for i in range(5):
        (src / "docs" / f"f{i}.bin").write_bytes(os.urandom(1000 * (i + 1)))
    return src


# ------------------------------------------------------------------------------ backup --json
def test_backup_summary_from_real_output(repo, source):
    result = repo.run("backup", "--json", "--tag", "t", str(source))
    parsed = restic.parse_backup(result.stdout, result.stderr, result.returncode)
    assert parsed["status"] == "ok"
    assert parsed["files_new"] == 5 and parsed["files_changed"] == 0
    assert parsed["data_added"] > 15000
    assert parsed["snapshot_id"] == repo.snapshots()[0]["short_id"]
    assert parsed["unreadable"] == [] and parsed["fatal"] == []

    (source / "docs" / "f0.bin").write_bytes(b"changed")
    result = repo.run("backup", "--json", str(source))
    again = restic.parse_backup(result.stdout, result.stderr, result.returncode)
    assert (again["files_new"], again["files_changed"], again["files_unmodified"]) == (0, 1, 4)


def test_a_missing_path_next_to_a_good_one_is_a_warning_not_json(repo, source, tmp_path):
    result = repo.run("backup", "--json", str(source), str(tmp_path / "gone"))
    parsed = restic.parse_backup(result.stdout, result.stderr, result.returncode)
    assert parsed["status"] == "ok"
    assert any("does not exist, skipping" in line for line in parsed["warnings"])
    assert parsed["missing_paths"] == [str(tmp_path / "gone")]


def test_only_missing_paths_is_fatal(repo, tmp_path):
    result = repo.run("backup", "--json", str(tmp_path / "gone"), check=False)
    parsed = restic.parse_backup(result.stdout, result.stderr, result.returncode)
    assert result.returncode == restic.FATAL
    assert parsed["status"] == "failed" and parsed["snapshot_id"] is None
    assert restic.classify_error(result.stderr) == "no_source"


@pytest.fixture
def world_traversable_dir():
    # pytest's tmp_path sits in a 0700 directory that an unprivileged user cannot enter.
    path = tempfile.mkdtemp(prefix="sc-restic-test-")
    os.chmod(path, 0o755)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_unreadable_files_make_an_incomplete_backup(world_traversable_dir):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run restic as an unprivileged user")
    work = world_traversable_dir / "w"
    (work / "src" / "closed").mkdir(parents=True)
    (work / "src" / "ok.txt").write_text("fine")
    (work / "src" / "secret.txt").write_text("no")
    shutil.chown(work, "nobody")
    (work / "src" / "secret.txt").chmod(0)
    (work / "src" / "closed").chmod(0)
    env = dict(os.environ, RESTIC_REPOSITORY=str(work / "repo"), RESTIC_PASSWORD="pw",
               RESTIC_CACHE_DIR=str(work / "cache"), HOME=str(work))
    as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "restic"]
    subprocess.run([*as_nobody, "init"], env=env, check=True, capture_output=True)
    result = subprocess.run([*as_nobody, "backup", "--json", str(work / "src")], env=env, capture_output=True,
                            text=True, check=False)
    parsed = restic.parse_backup(result.stdout, result.stderr, result.returncode)
    assert result.returncode == restic.INCOMPLETE
    assert parsed["status"] == "incomplete" and parsed["snapshot_id"]
    items = {u["item"]: u["error"] for u in parsed["unreadable"]}
    assert items[str(work / "src" / "secret.txt")] == "open: Permission denied"
    assert str(work / "src" / "closed") in items  # reported twice by restic, once here


# ------------------------------------------------------------------------------ forget --json
def fabricate(repo, source, days, tags=("t",), host="h"):
    for day in days:
        repo.backup(str(source), tags=tags, host=host, time=f"2026-{day} 03:00:00")


def test_forget_counts_kept_and_removed(repo, source):
    fabricate(repo, source, ["01-05", "01-20", "02-03", "02-04", "02-05", "03-01"])
    result = repo.run("forget", "--json", "--group-by", "host", *restic.retention_args({"keep_daily": 2,
                                                                                        "keep_monthly": 3}))
    parsed = restic.parse_forget(result.stdout)
    # daily: 03-01, 02-05; monthly: 03 (03-01), 02 (02-05), 01 (01-20)
    assert (parsed["groups"], parsed["kept"], parsed["removed"]) == (1, 3, 3)
    assert sorted(s["short_id"] for s in repo.snapshots()) == sorted(parsed["kept_ids"])
    again = restic.parse_forget(repo.run("forget", "--json", "--group-by", "host", "--keep-daily", "2",
                                         "--keep-monthly", "3").stdout)
    assert (again["kept"], again["removed"]) == (3, 0)


def test_forget_with_prune_prints_text_after_the_json(repo, source):
    fabricate(repo, source, ["01-01", "01-02", "01-03"])
    result = repo.run("forget", "--json", "--prune", "--keep-last", "1")
    with pytest.raises(ValueError, match="Extra data"):
        json.loads(result.stdout)
    parsed = restic.parse_forget(result.stdout)
    assert (parsed["kept"], parsed["removed"]) == (1, 2)
    assert parsed["text"], "prune's report is kept as text"


def test_forget_without_policy_prints_nothing_so_policies_must_keep_something():
    assert restic.parse_forget("")["groups"] == 0
    with pytest.raises(ValueError, match="at least one keep rule"):
        restic.retention_args({})


@pytest.mark.parametrize(("policy", "argv"), [
    ({"keep_within": "30d"}, ["--keep-within", "30d"]),
    ({"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 6},
     ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6"]),
    ({"keep_monthly": "6", "keep_last": 1}, ["--keep-last", "1", "--keep-monthly", "6"]),
    ({"keep_within_daily": "1y2m", "keep_tag": ["pinned", "a,b"]},
     ["--keep-within-daily", "1y2m", "--keep-tag", "pinned", "--keep-tag", "a,b"]),
])
def test_retention_policy_to_forget_flags(policy, argv):
    assert restic.retention_args(policy) == argv


@pytest.mark.parametrize(("policy", "message"), [
    ({"keep_daily": 0}, "whole number >= 1"),
    ({"keep_daily": True}, "whole number >= 1"),
    ({"keep_daily": "seven"}, "whole number >= 1"),
    ({"keep_within": "30 days"}, "duration"),
    ({"keep_dialy": 7}, "unknown retention keys"),
    ({"keep_daily": None}, "no keep rule"),
])
def test_bad_retention_policies_are_refused(policy, message):
    with pytest.raises(ValueError, match=message):
        restic.retention_args(policy)


def test_real_restic_accepts_every_generated_flag(repo, source):
    repo.backup(str(source))
    every = {"keep_last": 1, "keep_hourly": 1, "keep_daily": 1, "keep_weekly": 1, "keep_monthly": 1,
             "keep_yearly": 1, "keep_within": "1d", "keep_within_hourly": "1d", "keep_within_daily": "1d",
             "keep_within_weekly": "7d", "keep_within_monthly": "1m", "keep_within_yearly": "1y",
             "keep_tag": ["x"]}
    result = repo.run("forget", "--json", "--dry-run", *restic.retention_args(every))
    assert restic.parse_forget(result.stdout)["kept"] == 1


# ------------------------------------------------------------------------------ errors
def test_no_repository_and_wrong_password_are_told_apart(repo, tmp_path):
    env = dict(repo.env, RESTIC_REPOSITORY=str(tmp_path / "none"))
    missing = repo.run("cat", "config", env=env, check=False)
    assert missing.returncode == 1 and restic.classify_error(missing.stderr) == "no_repository"
    wrong = repo.run("cat", "config", env=dict(repo.env, RESTIC_PASSWORD="nope"), check=False)
    assert wrong.returncode == 1 and restic.classify_error(wrong.stderr) == "wrong_password"
    assert "Never initialise a new repository" in restic.explain("wrong_password", str(repo.path), wrong.stderr)
    again = repo.run("init", check=False)
    assert restic.classify_error(again.stderr) == "exists"


# restic 0.14's stderr against a real S3 server (SeaweedFS 4.53's `weed server -s3`, captured for
# tests/integration/test_restic_s3.py): a wrong secret or key id and a missing bucket all end with
# "Is there a repository at the following location?", which must not pass for "no repository".
S3_LOCATION = "s3:http://127.0.0.1:18333/bucket1/fam"
S3_WRONG_SECRET = ("Fatal: unable to open config file: Stat: The request signature we calculated does not match the "
                   f"signature you provided. Check your key and signing method.\nIs there a repository at the following "
                   f"location?\n{S3_LOCATION}\n")
S3_WRONG_KEY_ID = ("Fatal: unable to open config file: Stat: The access key ID you provided does not exist in our "
                   f"records.\nIs there a repository at the following location?\n{S3_LOCATION}\n")
S3_INIT_WRONG_SECRET = (f"Fatal: create repository at {S3_LOCATION} failed: client.BucketExists: The request signature we "
                        "calculated does not match the signature you provided. Check your key and signing method.\n\n")
S3_NO_BUCKET = ("Fatal: unable to open config file: Stat: The specified bucket does not exist\nIs there a repository "
                "at the following location?\ns3:http://127.0.0.1:18333/nobucket/fam\n")


@pytest.mark.parametrize("stderr", [S3_WRONG_SECRET, S3_WRONG_KEY_ID, S3_INIT_WRONG_SECRET])
def test_s3_credentials_refused_are_not_a_missing_repository(stderr):
    assert restic.classify_error(stderr) == "access_denied"
    message = restic.explain("access_denied", S3_LOCATION, stderr)
    assert "refused the credentials" in message and "AWS_SECRET_ACCESS_KEY" in message
    assert "Initialise" not in message and "Is there a repository" not in message


def test_b2_credentials_name_the_b2_variables():
    stderr = "Fatal: unable to open config file: b2_authorize_account: 401: unauthorized\n"
    assert restic.classify_error(stderr) == "access_denied"
    assert "B2_ACCOUNT_KEY" in restic.explain("access_denied", "b2:family-backup:server", stderr)


def test_s3_missing_bucket_says_so():
    assert restic.classify_error(S3_NO_BUCKET) == "no_repository"
    message = restic.explain("no_repository", "s3:http://127.0.0.1:18333/nobucket/fam", S3_NO_BUCKET)
    assert "bucket does not exist" in message and "fix the bucket name" in message


def test_check_subset_values():
    assert all(restic.valid_subset(v) for v in ("5%", "100%", "2.5%", "1/5", "500M", "1G"))
    assert not any(restic.valid_subset(v) for v in ("0%", "110%", "6/5", "0/5", "five", ""))


def test_no_password_is_refused_before_restic_can_hang():
    with pytest.raises(restic.ResticError, match="no restic password"):
        restic.build_env(repository="/tmp/r", base={})


# ------------------------------------------------------------------------------ env files
NASTY = 'p"w\\d$x`y\'z #;=  end'


def test_env_values_round_trip_through_bash_and_our_parser(tmp_path):
    env_file = tmp_path / "repo.env"
    env_file.write_text(f"# written by the role\nRESTIC_PASSWORD={restic.quote_env_value(NASTY)}\nPLAIN=abc\n")
    assert restic.read_env_file(str(env_file)) == {"RESTIC_PASSWORD": NASTY, "PLAIN": "abc"}
    shell = subprocess.run(["bash", "-c", f'set -a; . "{env_file}"; printf %s "$RESTIC_PASSWORD"'],
                           capture_output=True, text=True, check=True)
    assert shell.stdout == NASTY


def test_env_values_with_newlines_are_refused():
    with pytest.raises(ValueError):
        restic.quote_env_value("a\nb")


def test_secrets_are_recognised_and_locations_redacted():
    env = {"RESTIC_PASSWORD": "hunter22", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "B2_ACCOUNT_KEY": "k3y",
           "RESTIC_REPOSITORY": "/srv/r", "RESTIC_PASSWORD_FILE": "/etc/pw"}
    assert restic.secret_values(env) == {"hunter22", "s3cr3t", "k3y"}
    assert restic.redact_repository("rest:https://user:pa55@host:8000/repo") == "rest:https://user:***@host:8000/repo"
    assert restic.redact_repository("sftp:backup@nas:/srv/restic") == "sftp:backup@nas:/srv/restic"
