# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The photo_vault role's systemd units, rendered by Ansible from the role's own defaults, vars and
template: every job needs the vault's and the thumbnails' mounts; ingest also every required watched folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "photo_vault"


def test_units_require_the_mounts_of_the_vault_thumbnails_and_watched_folders(tmp_path):
    playbook = shutil.which("ansible-playbook")
    if not playbook:
        pytest.skip("ansible-playbook is not installed")
    (tmp_path / "play.yml").write_text(f"""
- hosts: localhost
  gather_facts: false
  vars_files: ["{ROLE}/defaults/main.yml", "{ROLE}/vars/main.yml"]
  tasks:
    - ansible.builtin.template:
        src: "{ROLE}/templates/job.service.j2"
        dest: "{tmp_path}/{{{{ item.name }}}}.service"
        mode: "0644"
      loop: "{{{{ photo_vault__jobs }}}}"
""")
    (tmp_path / "vars.json").write_text(json.dumps({
        "photo_vault_root": "/mnt/nas/photos", "photo_vault_thumbs_root": "/mnt/ssd/thumbs",
        "photo_vault_sources": [{"name": "icloud", "path": "/mnt/nas/photos/icloud-sync"},
                                {"name": "phone", "path": "/srv/syncthing/phone"},
                                {"name": "card", "path": "/media/card", "required": False}]}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    result = subprocess.run([playbook, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                             "-e", f"@{tmp_path / 'vars.json'}"],
                            capture_output=True, text=True, timeout=120, env=env, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

    def mounts(job: str) -> list[str]:
        text = (tmp_path / f"{job}.service").read_text()
        return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("RequiresMountsFor=")]

    assert mounts("ingest") == ["/mnt/nas/photos", "/mnt/ssd/thumbs", "/mnt/nas/photos/icloud-sync",
                                "/srv/syncthing/phone"]  # an optional folder may be absent: not required
    assert mounts("thumbnails") == mounts("verify") == ["/mnt/nas/photos", "/mnt/ssd/thumbs"]
    text = (tmp_path / "ingest.service").read_text()
    assert "ReadWritePaths=-/var/lib/sovereign-cloud/photo_vault" in text  # where the vault id is remembered
