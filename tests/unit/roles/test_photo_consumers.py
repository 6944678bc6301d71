# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The photo_consumers role, run by ansible-playbook on this machine (twice: the second run changes
nothing), and the files it writes read the way digiKam (KConfig ini) and PhotoPrism (YAML) read them.
digiKam and PhotoPrism themselves cannot run here; what they would read is checked against their
documented keys, and exiftool reads a real vault sidecar under the name digiKam then looks for."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]


def play(tmp_path: Path, extra: dict) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text("- hosts: localhost\n  gather_facts: false\n  roles:\n"
                                       "    - sovereign.cloud.photo_consumers\n")
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    return subprocess.run([shutil.which("ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"],
                          capture_output=True, text=True, timeout=180, env=env, cwd=REPO, check=False)


@pytest.mark.skipif(not shutil.which("ansible-playbook"), reason="ansible-playbook is not installed")
def test_digikam_and_photoprism_read_the_vault_read_only_with_its_sidecars(tmp_path):
    rc = tmp_path / "home" / ".config" / "digikamrc"
    rc.parent.mkdir(parents=True)
    rc.write_text("[General]\nShow Splash=false\n\n[Metadata Settings]\nUse XMP Sidecar For Reading=false\n")
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    extra = {"photo_consumers_vault": str(tmp_path / "vault"), "photo_consumers_digikam": True,
             "photo_consumers_digikam_user": user, "photo_consumers_digikam_config": str(rc),
             "photo_consumers_photoprism": True, "photo_consumers_photoprism_config_dir": str(tmp_path / "pp"),
             "photo_consumers_photoprism_options": {"ReadOnly": False, "SiteTitle": "Family photos"}}
    first = play(tmp_path, extra)
    assert first.returncode == 0, first.stdout + first.stderr
    second = play(tmp_path, extra)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout

    kconfig = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    kconfig.optionxform = str  # KConfig keys are case-sensitive and hold spaces
    kconfig.read(rc)
    assert kconfig["General"]["Show Splash"] == "false", "the user's other settings are kept"
    meta = kconfig["Metadata Settings"]
    assert meta["Use XMP Sidecar For Reading"] == "true" and meta["Use Compatible File Name"] == "true"
    assert meta["Metadata Writing Mode"] == "1"  # WRITE_TO_SIDECAR_ONLY: originals are never written
    assert " = " not in rc.read_text()

    options = yaml.safe_load((tmp_path / "pp" / "options.yml").read_text())
    assert options["ReadOnly"] is True, "an inventory cannot turn read-only off"
    assert options["OriginalsPath"] == "/photoprism/originals" and options["SiteTitle"] == "Family photos"
    assert options["SidecarPath"].startswith(options["StoragePath"]) and options["DisableWebDAV"] is True
    volumes = yaml.safe_load((tmp_path / "pp" / "volumes.yml").read_text())["volumes"]
    assert volumes == [f"{tmp_path / 'vault'}/originals:/photoprism/originals:ro"]


@pytest.mark.skipif(not shutil.which("exiftool"), reason="exiftool is not installed (scripts/test-deps.sh installs it)")
def test_the_sidecar_digikam_looks_for_is_the_vaults_own(tmp_path):
    """With "Use Compatible File Name", digiKam's sidecar of <sha256>.jpg is <sha256>.xmp: the vault's."""
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog
    from support.vault_builder import add_original, jpeg_bytes

    vault = tmp_path / "vault"
    vault.mkdir()
    with Catalog.open(str(vault)) as cat:
        record = add_original(vault, cat, jpeg_bytes(seed=3))
    original = vault / record["rel_path"]
    compatible = original.with_suffix(".xmp")
    assert compatible.is_file() and not Path(str(original) + ".xmp").exists()
    out = subprocess.run(["exiftool", "-j", "-G1", str(compatible)], capture_output=True, text=True, check=True)
    tags = json.loads(out.stdout)[0]
    assert any(value == record["sha256"] for value in tags.values()), tags
