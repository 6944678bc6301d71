"""What a user checks after the photo_vault role: a real venv, real systemd units run as the service
user, the demo inbox ingested through the timer's service, and verification catching a flipped byte.

The tests run in file order on one host; side_effect.yml already started the ingest service once
(before the idempotence run), exactly as its timer does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

VAULT = "/srv/sovereign/photos"
THUMBS = "/var/cache/sovereign-thumbs"
STATE = "/var/lib/sovereign-cloud/status"
EXPECT = "/etc/sovereign/status.d"
VENV_PY = "/opt/sovereign-photos/venv/bin/python"
SOURCES = {"icloud": "/srv/icloudpd/alice", "phone": "/srv/syncthing/phone-bob"}
ENGINE = "/opt/sovereign-photos/lib/ansible_collections/sovereign/cloud/plugins/module_utils"


@pytest.fixture(scope="module")
def manifest():
    work = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if not work:
        pytest.skip("run through molecule: the inbox manifest lives in its ephemeral directory")
    return json.loads(Path(work, "inbox.manifest.json").read_text())


def unique_assets(manifest) -> dict:
    return {info["sha256"]: info for info in manifest["good"].values()}


def original(info) -> str:
    return f"{VAULT}/originals/{info['folder']}/{info['sha256']}.{info['ext']}"


def status_file(host, name) -> str:
    return f"{STATE}/photo_vault.{name}--photos.json"


def status(host, name) -> dict:
    """The job's status document (common.status)."""
    return json.loads(host.file(status_file(host, name)).content_string)


def state(host, name) -> dict:
    """What sovereign-photos recorded about its last run (the status document's details)."""
    return status(host, name)["details"]


def start(host, unit):
    return host.run(f"systemctl start {unit}")


def wait_for(host, shell_condition: str, seconds: int = 60) -> bool:
    """Poll a shell condition on the host (0.2 s steps), never a blind sleep."""
    return host.run(f"for i in $(seq {seconds * 5}); do {shell_condition} && exit 0; sleep 0.2; done; exit 1").rc == 0


# ------------------------------------------------------------------------------ installation
def test_the_venv_has_the_image_libraries_and_no_psycopg(host):
    out = host.run(f"{VENV_PY} -c 'import PIL, pillow_heif, pyvips, yaml; "
                   "print(PIL.__version__, pillow_heif.__version__, pyvips.__version__)'")
    assert out.rc == 0, out.stderr
    assert out.stdout.split() == ["13.0.0", "1.8.1", "3.2.0"]
    assert host.run(f"{VENV_PY} -c 'import psycopg'").rc != 0, "psycopg only when a DSN is set"


def test_the_engine_is_the_collections_code(host):
    here = Path(__file__).resolve().parents[4] / "plugins" / "module_utils"
    shipped = sorted(p for package in ("photo_vault", "common") for p in (here / package).rglob("*.py")
                     if "__pycache__" not in p.parts)
    assert len(shipped) > 20
    for local in shipped:
        rel = local.relative_to(here)
        assert host.file(f"{ENGINE}/{rel}").content_string == local.read_text(), rel
    assert not host.file(f"{ENGINE}/vault_ingest.py").exists, "the flat files of earlier releases are gone"
    for package in ("ansible_collections", "ansible_collections/sovereign", "ansible_collections/sovereign/cloud",
                    "ansible_collections/sovereign/cloud/plugins", "ansible_collections/sovereign/cloud/plugins/module_utils"):
        assert host.file(f"/opt/sovereign-photos/lib/{package}/__init__.py").exists, package


def test_layout_owners_and_modes(host):
    for path, mode in ((VAULT, 0o750), (f"{VAULT}/originals", 0o750), (THUMBS, 0o750), (STATE, 0o755)):
        item = host.file(path)
        assert item.is_directory and item.user == "sovereign" and item.group == "sovereign", path
        assert item.mode == mode, path
    config = host.file("/etc/sovereign/photo-vault.yml")
    assert config.user == "root" and config.group == "sovereign" and config.mode == 0o640
    assert f"thumbs_root: \"{THUMBS}\"" in config.content_string
    assert host.file("/usr/local/bin/sovereign-photos").mode == 0o755


def test_units_run_as_the_service_user_with_hardening(host):
    for job in ("ingest", "thumbnails", "verify"):
        timer = host.service(f"sovereign-photos-{job}.timer")
        assert timer.is_enabled and timer.is_running, job
        props = dict(line.split("=", 1) for line in host.check_output(
            f"systemctl show sovereign-photos-{job}.service -p User -p ProtectSystem -p NoNewPrivileges "
            "-p PrivateTmp -p IOSchedulingClass -p Nice -p ReadWritePaths -p OnFailure").splitlines())
        assert props["User"] == "sovereign" and props["ProtectSystem"] == "strict", job
        assert props["NoNewPrivileges"] == "yes" and props["PrivateTmp"] == "yes", job
        assert props["IOSchedulingClass"] in ("idle", "3") and props["Nice"] == "10", job
        assert VAULT in props["ReadWritePaths"] and THUMBS in props["ReadWritePaths"], job
        assert props["OnFailure"] == f"sovereign-notify@sovereign-photos-{job}.service.service", job
    assert "*:00/15:00" in host.check_output("systemctl show sovereign-photos-ingest.timer -p TimersCalendar")


# ------------------------------------------------------------------------------ ingest through the service
def test_the_ingest_service_ran_and_wrote_its_status(host, manifest):
    # side_effect.yml started it; starting it again is what the next timer tick does (a rescan).
    assert start(host, "sovereign-photos-ingest.service").rc == 0
    assert wait_for(host, f"test -s {status_file(host, 'ingest')}")
    document = status(host, "ingest")
    assert (document["kind"], document["name"], document["ok"], document["every"]) == (
        "photo_vault.ingest", "photos", True, 900)
    result = document["details"]
    assert result["status"] == "ok" and result["exit_code"] == 0
    assert result["result"]["unchanged"] == len(manifest["good"])
    assert host.file(status_file(host, "ingest")).mode == 0o644
    assert not [n for n in host.check_output(f"ls -A {STATE}").split() if n.startswith(".")]  # no temp file left
    journal = host.check_output("journalctl -u sovereign-photos-ingest.service -o cat --no-pager")
    assert f"ingested {len(unique_assets(manifest))} new photos/videos" in journal
    assert "rejected" in journal and "IMG_1210.JPG" in journal


def test_originals_have_the_right_hash_owner_and_sidecar(host, manifest):
    assets = unique_assets(manifest)
    paths = " ".join(original(info) for info in assets.values())
    sums = dict(reversed(line.split(None, 1)) for line in host.check_output(f"sha256sum {paths}").splitlines())
    for sha, info in assets.items():
        assert sums[original(info)] == sha, original(info)
        item = host.file(original(info))
        assert item.user == "sovereign" and item.mode == 0o444, original(info)
        assert host.file(original(info).rsplit(".", 1)[0] + ".xmp").exists, original(info)
    # duplicates once, the truncated JPEG never
    assert int(host.check_output(f"find {VAULT}/originals -type f ! -name '*.xmp' | wc -l")) == len(assets)
    rejected = host.check_output(f"sqlite3 {VAULT}/catalog.sqlite 'SELECT path FROM rejections'")
    assert "IMG_1210.JPG" in rejected


def test_sources_are_untouched(host, manifest):
    for rel, info in manifest["good"].items():
        kind, rest = rel.split("/", 1)
        path = f"{SOURCES[kind]}/{rest}"
        assert host.file(path).sha256sum == info["sha256"], path
        assert host.file(path).user == "root", "the vault never takes over a source file"


def test_thumbnails_exist_outside_the_vault(host, manifest):
    assets = unique_assets(manifest)
    images = [sha for sha, info in assets.items() if info["ext"] in ("jpg", "heic", "png")]
    for sha in images:
        for size in ("tiny", "small", "medium"):
            assert host.file(f"{THUMBS}/{size}/{sha[:2]}/{sha}.jpg").exists, (size, sha)
    assert start(host, "sovereign-photos-thumbnails.service").rc == 0
    result = state(host, "thumbnails")
    assert result["status"] == "ok" and result["result"]["due"] == 0, result["message"]
    assert "up to date" in result["message"]
    assert not host.file(f"{VAULT}/thumbs").exists


def test_the_command_line_as_root_drops_to_the_service_user(host, manifest):
    out = host.run("sovereign-photos info")
    assert out.rc == 0, out.stderr
    assert out.stdout.startswith(f"photo vault {VAULT}: {len(unique_assets(manifest))} assets")
    # a by-hand run as root leaves the catalog owned by the service user
    assert host.file(f"{VAULT}/catalog.sqlite").user == "sovereign"


# ------------------------------------------------------------------------------ verification
def test_the_weekly_verification_passes_on_a_healthy_vault(host, manifest):
    assert start(host, "sovereign-photos-verify.service").rc == 0
    result = state(host, "verify")
    assert result["status"] == "ok" and result["result"]["checked"] == len(unique_assets(manifest))
    assert result["result"]["corrupt"] == []


@pytest.fixture
def flipped(host, manifest):
    """One byte of one original flipped (bit rot); put back afterwards."""
    info = [i for i in unique_assets(manifest).values() if i["ext"] == "jpg"][0]
    path = original(info)
    offset = info["size"] // 2
    flip = (f"{VENV_PY} -c \"import os; f=os.open('{path}', os.O_RDWR); b=os.pread(f, 1, {offset}); "
            f"os.pwrite(f, bytes([b[0] ^ 1]), {offset}); os.close(f)\"")
    assert host.run(flip).rc == 0
    yield info
    assert host.run(flip).rc == 0
    assert host.file(path).sha256sum == info["sha256"]


def vault_fingerprint(host) -> str:
    return host.check_output(f"cd {VAULT} && find originals {THUMBS} -type f -printf '%p %s %T@ %m\\n' | sort"
                             f" && find originals {THUMBS} -type f -print0 | sort -z | xargs -0 sha256sum")


def test_verification_finds_a_flipped_byte_and_changes_nothing(host, flipped):
    host.run("rm -f /var/lib/sovereign-cloud/notified.txt")
    before = vault_fingerprint(host)
    out = start(host, "sovereign-photos-verify.service")
    assert out.rc != 0, "a corrupt original must fail the service so that OnFailure fires"
    result = state(host, "verify")
    assert result["status"] == "problems" and result["exit_code"] == 1
    assert result["result"]["corrupt"] == [flipped["sha256"]]
    document = status(host, "verify")
    assert document["ok"] is False and document["fix"] == "sovereign-photos verify --full"
    assert document["last_success_at"], "the last good verification is still known"
    assert flipped["sha256"] in result["message"] or flipped["sha256"] in result["result"]["problems"][0]
    assert vault_fingerprint(host) == before, "verification never rewrites, moves or repairs anything"
    assert wait_for(host, "grep -q sovereign-photos-verify.service /var/lib/sovereign-cloud/notified.txt"), \
        "the OnFailure notice did not run the notify command"
    journal = host.check_output("journalctl -u sovereign-photos-verify.service -o cat --no-pager")
    assert f"corrupt original originals/{flipped['folder']}/{flipped['sha256']}" in journal
    # by hand too: a full pass exits non-zero and says which file
    by_hand = host.run("sovereign-photos --quiet verify --full")
    assert by_hand.rc == 1 and flipped["sha256"] in by_hand.stderr


def test_each_scheduled_job_says_what_to_expect_of_it(host):
    for job, every, fix in (("ingest", 900, "sovereign-photos ingest"), ("thumbnails", 86400, "sovereign-photos thumbnails"),
                            ("verify", 604800, "sovereign-photos verify --full")):
        item = host.file(f"{EXPECT}/photo_vault.{job}--photos.json")
        assert (item.user, item.mode) == ("root", 0o644), job
        expected = json.loads(item.content_string)
        assert expected == {"kind": f"photo_vault.{job}", "name": "photos", "title": expected["title"],
                            "every": every, "fix": fix}, job
        assert expected["title"].startswith("Photo vault"), job
        assert host.run(f"command -v {fix.split()[0]}").rc == 0, "the fix names a command that exists"
