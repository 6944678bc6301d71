"""sovereign.cloud.restic_repository on real restic: idempotent init, check mode, and a wrong
password that must never lead to a new repository."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sovereign.cloud.plugins.modules import restic_repository as module
from support import return_docs
from support.restic import PASSWORD, require_restic


def run_module(args: dict, capsys, check_mode: bool = False) -> dict:
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return return_docs.check("restic_repository", json.loads(capsys.readouterr().out))


@pytest.fixture
def location(tmp_path):
    require_restic()
    return {"repository": str(tmp_path / "repo"), "password": PASSWORD, "cache_dir": str(tmp_path / "cache")}


def test_init_once_then_nothing_changes(location, capsys, tmp_path):
    first = run_module(location, capsys)
    assert first["changed"] is True and first["created"] is True
    assert (tmp_path / "repo" / "config").is_file()
    assert first["config"]["version"] == 2
    second = run_module(location, capsys)
    assert second["changed"] is False and second["config"]["id"] == first["config"]["id"]


def test_check_mode_reports_the_init_and_creates_nothing(location, capsys, tmp_path):
    out = run_module(location, capsys, check_mode=True)
    assert out["changed"] is True and "would initialise" in out["summary"]
    assert not (tmp_path / "repo").exists()


def test_a_missing_env_file_in_check_mode_is_a_predicted_change(capsys, tmp_path):
    out = run_module({"env_file": str(tmp_path / "nas.env")}, capsys, check_mode=True)
    assert out["changed"] is True and "not on the host yet" in out["summary"]


def test_a_wrong_password_fails_and_never_reinitialises(location, capsys, tmp_path):
    created = run_module(location, capsys)["config"]["id"]
    out = run_module(dict(location, password="not the password"), capsys)
    assert out["failed"] is True and out["kind"] == "wrong_password"
    assert "Never initialise a new repository there" in out["msg"]
    assert "not the password" not in json.dumps(out)
    assert run_module(location, capsys)["config"]["id"] == created


def test_init_false_fails_on_a_missing_repository(location, capsys):
    out = run_module(dict(location, init=False), capsys)
    assert out["failed"] is True and "init is false" in out["msg"]


def test_credentials_from_the_env_file_are_never_returned(capsys, tmp_path):
    require_restic()
    env_file = tmp_path / "repo.env"
    env_file.write_text(f'RESTIC_REPOSITORY="{tmp_path}/repo"\nRESTIC_PASSWORD="{PASSWORD}"\n'
                        'AWS_SECRET_ACCESS_KEY="s3cr3t-value"\n')
    out = run_module({"env_file": str(env_file), "cache_dir": str(tmp_path / "cache")}, capsys)
    assert out["changed"] is True
    text = json.dumps(out)
    assert PASSWORD not in text and "s3cr3t-value" not in text
