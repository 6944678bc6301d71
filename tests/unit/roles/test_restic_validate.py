"""restic_backup's checks on the inventory, run by ansible-playbook before anything changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PLAY = """
- name: Validate the restic settings
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Validate
      ansible.builtin.import_role:
        name: sovereign.cloud.restic_backup
        tasks_from: validate.yml
"""


def validate(tmp_path, repositories):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps({"restic_backup_repositories": repositories}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default")
    playbook = Path(sys.executable).parent / "ansible-playbook"
    return subprocess.run([str(playbook), "-i", "localhost,", str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False)


def test_a_line_break_in_a_secret_is_refused_by_name_without_showing_it(tmp_path):
    run = validate(tmp_path, [
        {"name": "good", "repository": "/srv/restic", "password": 'fine "quoted" $HOME `x` \\ too'},
        {"name": "nas", "repository": "sftp:restic@nas:/srv/restic", "password": "from-a-file-lookup\n"},
        {"name": "offsite", "repository": "s3:s3.example.com/b", "password": "ok", "env": {"AWS_SECRET_ACCESS_KEY": "k3y\r"}},
    ])
    assert run.returncode != 0
    assert "Repositories nas, offsite: the password, location or an env value holds a line break" in run.stdout
    assert "from-a-file-lookup" not in run.stdout + run.stderr and "k3y" not in run.stdout + run.stderr


def test_single_line_settings_pass(tmp_path):
    run = validate(tmp_path, [{"name": "good", "repository": "/srv/restic", "password": 'fine "quoted" $HOME `x` \\ too',
                               "env": {"B2_ACCOUNT_KEY": "abc"}}])
    assert run.returncode == 0, run.stdout[-2000:]
