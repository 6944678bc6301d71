"""playbooks/icloud_safe_to_delete.yml through ansible-playbook (ansible-runner), on localhost.

iCloud cannot be answered in-process from a separate ansible-playbook process, so the playbook
run checks the wiring: repositories named by restic_backup_repositories become the module's
restic evidence, an account whose session is gone stops with the re-authentication command before
anything is written, and a host without accounts says what to set and changes nothing. The
verdicts themselves are tested end to end in
tests/unit/plugins/module_utils/icloud/test_safe_to_delete.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support.apple import write_session  # noqa: E402  pylint: disable=wrong-import-position


def inventory(tmp_path: Path, host_vars: dict) -> Path:
    import yaml  # pylint: disable=import-outside-toplevel
    hosts = {"all": {"children": {"photo_vault_hosts": {"hosts": {"localhost": dict(
        {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "sovereign_become": False},
        **host_vars)}}}}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts), encoding="utf-8")
    return path


def test_a_gone_session_stops_with_the_command_and_writes_nothing(run_playbook, tmp_path):
    vault, reports, state = tmp_path / "vault", tmp_path / "reports", tmp_path / "state"
    vault.mkdir()
    cookies = tmp_path / "cookies"
    write_session(cookies, "parent.a@example.com", -1)
    inv = inventory(tmp_path, {
        "photo_vault_root": str(vault), "icloud_safe_to_delete_output_dir": str(reports),
        "restic_backup_repositories": [{"name": "local"}], "restic_backup_state_dir": str(state),
        "restic_backup_config_dir": str(tmp_path / "etc"),
        "icloud_safe_to_delete_accounts": [{"username": "parent.a@example.com", "cookie_directory": str(cookies),
                                            "download_roots": [str(tmp_path / "icloud")]}]})
    recap = run_playbook("icloud_safe_to_delete.yml", inv)
    assert recap.rc != 0 and recap.failed == 1, recap.stdout[-3000:]
    assert "playbooks/icloud_reauth.yml" in recap.stdout
    assert not reports.exists()


def test_no_account_says_what_to_set_and_changes_nothing(run_playbook, tmp_path):
    inv = inventory(tmp_path, {"photo_vault_root": str(tmp_path)})
    for check in (False, True):
        recap = run_playbook("icloud_safe_to_delete.yml", inv, check=check)
        assert recap.rc == 0 and recap.changed == 0, recap.stdout[-3000:]
        assert "icloud_safe_to_delete_accounts is empty" in recap.stdout
