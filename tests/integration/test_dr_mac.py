"""Disaster-recovery rehearsals of seed 000's Macs: playbooks/dr/mac_server_a_dies.yml and mac_server_b_dies.yml.

What runs here: the playbooks' syntax, their parameter check, and the plan they print (run through
ansible-runner with ``--limit localhost``: the Mac plays match no host), with every command they print
checked to exist (playbooks on disk, site.yml tags, site.yml plays for the limited groups). The roles
themselves (mac_backup_controller, mac_identity_node) are NOT run here: they need root paths
(/Library, /etc/sovereign, /etc/macos-standin) and person accounts that only the mac_nodes molecule
scenario's containers provide with the macOS stand-ins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = (REPO / "playbooks" / "site.yml").read_text()
SITE_TAGS = set(re.findall(r"tags: \[(\w+)\]", SITE))


def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(f"""
all:
  hosts:
    localhost: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
  children:
    mac_identity_nodes:
      hosts:
        server-a: {{ansible_host: server-a.home.example.com, mac_identity_node_person: mom}}
        server-b: {{ansible_host: 192.168.1.20, mac_identity_node_person: dad}}
        node-alex: {{ansible_host: node-alex.home.example.com, mac_identity_node_person: alex}}
    mac_backup_controller:
      hosts:
        server-a:
""")
    return path


def assert_commands_exist(stdout: str) -> int:
    checked = 0
    for playbook, rest in re.findall(r"ansible-playbook (playbooks/\S+\.yml)([^\n\"]*)", stdout):
        assert (REPO / playbook).is_file(), playbook
        for tags in re.findall(r"--tags ([\w,]+)", rest):
            assert set(tags.split(",")) <= SITE_TAGS, (tags, SITE_TAGS)
        checked += 1
    return checked


def test_syntax():
    for name in ("mac_server_a_dies.yml", "mac_server_b_dies.yml"):
        result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                                 "-i", str(REPO / "inventory/examples/mac_family"), "-e", "dr_new_controller=server-b",
                                 str(REPO / "playbooks/dr" / name)], capture_output=True, text=True, check=False, cwd=REPO)
        assert result.returncode == 0, result.stdout + result.stderr


def test_server_a_dies_plan(run_playbook, tmp_path):
    inv = inventory(tmp_path)
    extravars = {"dr_new_controller": "server-b"}
    check = run_playbook("dr/mac_server_a_dies.yml", inv, extravars, check=True, limit="localhost")
    assert check.rc == 0 and check.changed == 0, check.stdout
    run = run_playbook("dr/mac_server_a_dies.yml", inv, extravars, limit="localhost")
    assert run.rc == 0 and run.changed == 0, run.stdout
    out = run.stdout
    assert "server-a is replaced by server-b (192.168.1.20)" in out
    assert "Thunderbolt" in out and "/Volumes/Pegasus" in out and "over USB" in out
    assert "replace 'server-a:' with 'server-b:'" in out
    assert "mac_identity_node_share_server: 192.168.1.20" in out
    assert f"ansible-playbook playbooks/site.yml -i {inv.resolve()} --limit server-b" in out
    assert "smb://192.168.1.20/Pegasus" in out and "mac_backup_controller_imazing_user: dad" in out
    assert assert_commands_exist(out) >= 3
    # the identity-node play leaves the dead controller alone (meta end_host before gathering facts)
    playbook = (REPO / "playbooks/dr/mac_server_a_dies.yml").read_text()
    assert "ansible.builtin.meta: end_host" in playbook and "sovereign.cloud.mac_identity_node" in playbook
    # an explicit address wins over ansible_host
    other = run_playbook("dr/mac_server_a_dies.yml", inv, dict(extravars, dr_new_server_address="10.0.0.9"), limit="localhost")
    assert other.rc == 0 and "smb://10.0.0.9/Pegasus" in other.stdout


def test_server_a_dies_refuses_an_unknown_controller(run_playbook, tmp_path):
    inv = inventory(tmp_path)
    for extravars in ({"dr_new_controller": "nope"}, {}):
        result = run_playbook("dr/mac_server_a_dies.yml", inv, extravars, limit="localhost")
        assert result.rc != 0 and "-e dr_new_controller=<host>" in result.stdout, result.stdout


def test_server_b_dies_guidance(run_playbook, tmp_path):
    inv = inventory(tmp_path)
    run = run_playbook("dr/mac_server_b_dies.yml", inv, {"dr_dead_node": "server-b"}, limit="localhost")
    assert run.rc == 0 and run.changed == 0, run.stdout
    assert "dad's iPhone is still backed up daily by server-a" in run.stdout
    assert assert_commands_exist(run.stdout) >= 2


def test_printed_playbooks_in_the_sources_exist():
    for name in ("mac_server_a_dies.yml", "mac_server_b_dies.yml"):
        assert assert_commands_exist((REPO / "playbooks/dr" / name).read_text()) >= 1
