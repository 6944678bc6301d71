"""The photo_vault role's command line (sovereign-photos), installed as the role installs it: the
role's pack_engine.py packs the collection's photo_vault and common packages under
``ansible_collections/sovereign/cloud/plugins/module_utils`` next to ``sovereign_photos.py``, the
tar is extracted, and the command runs as a separate process on the demo inbox."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pty
import select
import stat
import tarfile
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CLI = REPO / "roles" / "photo_vault" / "files" / "sovereign_photos.py"
PACKER = REPO / "roles" / "photo_vault" / "files" / "pack_engine.py"
ENGINE = REPO / "plugins" / "module_utils"

pytest.importorskip("PIL")
pytest.importorskip("pillow_heif")


def _demo_inbox():
    spec = importlib.util.spec_from_file_location("demo_inbox", REPO / "scripts" / "demo-inbox.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("inbox")
    expected = _demo_inbox().build(root)
    return root, expected


@pytest.fixture
def installed(tmp_path):
    """The role's layout: lib/sovereign_photos.py + lib/ansible_collections/.../module_utils/{photo_vault,common}/,
    packed by the role's own packer and extracted."""
    lib = tmp_path / "lib"
    lib.mkdir()
    bundle = tmp_path / "engine.tar"
    packed = subprocess.run([sys.executable, str(PACKER), str(ENGINE), str(CLI), str(bundle), "photo_vault", "common"],
                            capture_output=True, text=True, check=True)
    files = json.loads(packed.stdout)
    assert "photo_vault/ingest/worker.py" in files and "common/atomic.py" in files
    with tarfile.open(bundle) as tar:
        tar.extractall(lib, filter="data")
    return lib / "sovereign_photos.py"


def write_config(tmp_path, inbox_root, **overrides) -> Path:
    config = {
        "vault": str(tmp_path / "vault"), "thumbs_root": str(tmp_path / "ssd" / "thumbs"), "catalog": None,
        "user": None, "group": None,
        "sources": [{"name": "icloud", "path": str(inbox_root / "icloud"), "required": True},
                    {"name": "phone", "path": str(inbox_root / "phone"), "required": True}],
        "workers": 2, "progress_interval": 30, "state_dir": str(tmp_path / "state"),
        "ingest": {"min_age": 60, "thumbnails": True, "verify_writes": True, "fail_on_rejected": False},
        "verify": {"percent": 100, "max_seconds": 600, "max_bytes": None, "fail_on_problems": True},
    }
    config.update(overrides)
    (tmp_path / "ssd" / "thumbs").mkdir(parents=True, exist_ok=True)  # the role creates the thumbnails root
    path = tmp_path / "photo-vault.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(cli: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    # A clean environment: the installed copy must not lean on the checkout's .collections path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "JOURNAL_STREAM")}
    return subprocess.run([sys.executable, str(cli), "--config", str(config), *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd="/", check=False)


def status_file(tmp_path, command: str) -> dict:
    """The run's status document (common.status): ``<state_dir>/status/photo_vault.<command>--<vault name>.json``."""
    return json.loads((tmp_path / "state" / "status" / f"photo_vault.{command}--vault.json").read_text())


def state(tmp_path, command: str) -> dict:
    """What sovereign-photos recorded about its last run (the status file's ``details``)."""
    return status_file(tmp_path, command)["details"]


def tree_hashes(*roots: Path, skip: tuple = ()) -> dict:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not any(part in skip for part in path.parts):
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_ingest_then_rescan_writes_the_originals_and_the_status(installed, inbox, tmp_path):
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root)
    before = tree_hashes(inbox_root)

    first = run(installed, config, "ingest")
    assert first.returncode == 0, first.stderr
    unique = {info["sha256"]: info for info in expected["good"].values()}
    for sha, info in unique.items():
        original = tmp_path / "vault" / "originals" / info["folder"] / f"{sha}.{info['ext']}"
        assert hashlib.sha256(original.read_bytes()).hexdigest() == sha, original
        assert original.with_suffix(".xmp").is_file()
    assert len(list((tmp_path / "vault" / "originals").rglob("*.jpg"))) == sum(
        1 for info in unique.values() if info["ext"] == "jpg")  # the duplicate is stored once
    assert tree_hashes(inbox_root) == before, "sources are never written"
    assert len(list((tmp_path / "ssd" / "thumbs" / "medium").rglob("*.jpg"))) >= len(unique) - 2

    document = status_file(tmp_path, "ingest")
    assert (document["kind"], document["name"], document["ok"]) == ("photo_vault.ingest", "vault", True)
    assert document["summary"].startswith(f"ingested {len(unique)} new")
    assert document["last_success_at"] == document["finished_at"]
    assert stat.S_IMODE(os.stat(tmp_path / "state" / "status" / "photo_vault.ingest--vault.json").st_mode) == 0o644
    result = document["details"]
    assert result["status"] == "ok" and result["exit_code"] == 0
    assert result["result"]["ingested"] == len(unique)
    assert result["result"]["rejected_count"] == 1
    assert "truncated" in result["result"]["rejected"][0]["reason"].lower() or "IMG_1210" in \
        result["result"]["rejected"][0]["path"]
    assert "warning: rejected" in first.stderr and "IMG_1210.JPG" in first.stderr
    assert f"ingested {len(unique)} new" in first.stdout
    # not a terminal: one progress line at the end, not a bar
    assert f"ingest: {len(expected['good']) + 1}/" in first.stdout or "ingest: " in first.stdout
    assert "\r" not in first.stdout + first.stderr

    second = run(installed, config, "ingest")
    assert second.returncode == 0, second.stderr
    assert state(tmp_path, "ingest")["result"]["ingested"] == 0
    assert state(tmp_path, "ingest")["result"]["unchanged"] == len(expected["good"])


def test_check_mode_writes_nothing(installed, inbox, tmp_path):
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root)
    result = run(installed, config, "ingest", "--check")
    assert result.returncode == 0, result.stderr
    assert "would ingest" in result.stdout
    assert not (tmp_path / "vault").exists() and not (tmp_path / "state").exists()


def test_a_missing_watched_source_fails_unless_optional(installed, inbox, tmp_path):
    inbox_root, _expected = inbox
    sources = [{"name": "icloud", "path": str(inbox_root / "icloud"), "required": True},
               {"name": "nas", "path": str(tmp_path / "not-mounted"), "required": True}]
    config = write_config(tmp_path, inbox_root, sources=sources)
    result = run(installed, config, "ingest")
    assert result.returncode == 1
    assert "watched source 'nas'" in result.stderr and "not mounted" in result.stderr
    document = status_file(tmp_path, "ingest")
    assert document["ok"] is False and document["fix"] == "sovereign-photos ingest"
    status = document["details"]
    assert status["status"] == "problems" and status["result"]["missing_sources"] == ["nas"]
    assert status["result"]["ingested"] > 0, "the sources that are there are still ingested"

    sources[1]["required"] = False
    config = write_config(tmp_path, inbox_root, sources=sources)
    result = run(installed, config, "ingest")
    assert result.returncode == 0, result.stderr
    assert "skipped (required: false)" in result.stderr


def test_verify_finds_a_flipped_byte_exits_non_zero_and_changes_nothing(installed, inbox, tmp_path):
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root)
    assert run(installed, config, "ingest").returncode == 0
    assert run(installed, config, "verify").returncode == 0
    assert state(tmp_path, "verify")["result"]["corrupt"] == []

    rel, info = next((r, i) for r, i in expected["good"].items() if i["ext"] == "heic")
    victim = tmp_path / "vault" / "originals" / info["folder"] / f"{info['sha256']}.heic"
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    catalog_files = ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm")
    vault_before = tree_hashes(tmp_path / "vault", tmp_path / "ssd", skip=catalog_files)

    result = run(installed, config, "verify", "--full")
    assert result.returncode == 1, (rel, result.stdout, result.stderr)
    assert f"corrupt original originals/{info['folder']}/{info['sha256']}.heic" in result.stderr
    status = state(tmp_path, "verify")
    assert status["status"] == "problems" and status["exit_code"] == 1
    assert status["result"]["corrupt"] == [info["sha256"]]
    assert info["sha256"] in status["result"]["problems"][0]
    vault_after = tree_hashes(tmp_path / "vault", tmp_path / "ssd", skip=catalog_files)
    assert vault_after == vault_before, "verification never repairs or rewrites anything"


def test_thumbnails_and_info(installed, inbox, tmp_path):
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root, ingest={"min_age": 60, "thumbnails": False})
    assert run(installed, config, "ingest").returncode == 0
    thumbs = run(installed, config, "thumbnails")
    assert thumbs.returncode == 0, thumbs.stderr
    unique = {info["sha256"] for info in expected["good"].values()}
    status = state(tmp_path, "thumbnails")
    assert status["status"] == "ok" and status["result"]["due"] == len(unique)
    assert len(list((tmp_path / "ssd" / "thumbs" / "tiny").rglob("*.jpg"))) == status["result"]["created"]
    again = run(installed, config, "thumbnails")
    assert "up to date" in again.stdout

    info = run(installed, config, "info", "--json")
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["assets"] == len(unique) and report["live_pairs"] == 1
    text = run(installed, config, "info")
    assert text.stdout.startswith(f"photo vault {tmp_path / 'vault'}: {len(unique)} assets")
    assert "per year: 2008 2" in text.stdout
    assert "Canon EOS 40D 2" in text.stdout and "Canon Canon" not in text.stdout
    assert not (tmp_path / "state" / "info.json").exists()


def test_a_terminal_gets_a_progress_bar(installed, inbox, tmp_path):
    inbox_root, _expected = inbox
    config = write_config(tmp_path, inbox_root)
    pid, fd = pty.fork()
    if pid == 0:  # the child: sovereign-photos on a terminal
        os.execv(sys.executable, [sys.executable, str(installed), "--config", str(config), "ingest"])
    output = b""
    while True:
        ready = select.select([fd], [], [], 120)[0]
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    status = os.waitpid(pid, 0)[1]
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\ringest [" in text and "#" * 28 in text and "MB/s" in text and "files" in text


def test_configuration_problems_exit_2_with_a_message(installed, tmp_path):
    missing = run(installed, tmp_path / "nope.yml", "info")
    assert missing.returncode == 2 and "no configuration at" in missing.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("thumbs_root: /x\n")
    result = run(installed, bad, "ingest")
    assert result.returncode == 2 and "does not name a vault" in result.stderr
    config = write_config(tmp_path, tmp_path)
    result = run(installed, config, "ingest", "--source", "camera")
    assert result.returncode == 2 and "not a watched source" in result.stderr and "icloud, phone" in result.stderr


def test_size_budgets_parse_like_the_module():
    spec = importlib.util.spec_from_file_location("sovereign_photos", CLI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.parse_size("50G") == 50 << 30
    assert module.parse_size("500 MB") == 500 << 20
    assert module.parse_size(1234) == 1234
    with pytest.raises(module.UsageError):
        module.parse_size("lots")


def test_the_roles_pinned_versions_match_the_controllers_constraints():
    """The host's venv runs the same library versions the tests and benchmarks run on the controller."""
    defaults = yaml.safe_load((REPO / "roles" / "photo_vault" / "defaults" / "main.yml").read_text())
    pins = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    for package, variable in (("pillow", "pillow"), ("pillow-heif", "pillow_heif"), ("pyvips", "pyvips"),
                              ("pyvips-binary", "pyvips_binary"), ("cffi", "cffi"), ("pycparser", "pycparser"),
                              ("pyyaml", "pyyaml"), ("psycopg", "psycopg"), ("psycopg-binary", "psycopg")):
        assert str(defaults[f"photo_vault_{variable}_version"]) == pins[package], package


def test_an_unmounted_nas_is_refused_by_every_command_until_mounted_or_create(installed, tmp_path):
    # issue 7 #3: the vault (SQLite catalog inside it) on a NAS share; unmounted, its folder is empty
    from support import media_factory as mf  # pylint: disable=import-outside-toplevel
    inbox_root = tmp_path / "inbox"
    for name in ("icloud", "phone"):
        mf.write(inbox_root / name / f"{name}.jpg", mf.jpeg(seed=len(name), datetime_original="2022:02:02 10:00:00"), mf.OLD)
    config = write_config(tmp_path, inbox_root, ingest={"min_age": 0, "thumbnails": False, "verify_writes": True})
    assert run(installed, config, "ingest").returncode == 0
    marker = (tmp_path / "vault" / ".sovereign-vault").read_text()
    (tmp_path / "vault").rename(tmp_path / "share")
    (tmp_path / "vault").mkdir()
    for command in ("ingest", "thumbnails", "verify"):
        result = run(installed, config, command)
        assert result.returncode == 1 and "is the NAS mounted?" in result.stderr, (command, result.stderr)
    assert "sovereign-photos ingest --create" in result.stderr
    assert sorted(p.name for p in (tmp_path / "vault").iterdir()) == []
    assert run(installed, config, "ingest", "--create").returncode == 0
    assert (tmp_path / "vault" / ".sovereign-vault").read_text() != marker


def test_repair_and_rebuild_catalog_bring_a_damaged_vault_back(installed, inbox, tmp_path):
    """verify's advice names 'sovereign-photos repair'; repair restores a rotten original from the watched
    folder; rebuild-catalog rebuilds a lost catalog (the old one moved aside) and ingest then copies nothing."""
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root)
    assert run(installed, config, "ingest").returncode == 0
    rel, info = next((r, i) for r, i in expected["good"].items() if i["ext"] == "heic")
    victim = tmp_path / "vault" / "originals" / info["folder"] / f"{info['sha256']}.heic"
    os.chmod(victim, 0o644)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    checked = run(installed, config, "verify", "--full")
    assert checked.returncode == 1 and "sovereign-photos repair" in checked.stdout + checked.stderr

    repaired = run(installed, config, "repair")
    assert repaired.returncode == 0, repaired.stderr
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == info["sha256"]
    assert state(tmp_path, "repair")["result"]["originals_restored"][0]["sha256"] == info["sha256"]
    assert run(installed, config, "verify", "--full").returncode == 0

    catalog = tmp_path / "vault" / "catalog.sqlite"
    before = json.loads(run(installed, config, "info", "--json").stdout)["assets"]
    catalog.write_bytes(b"lost")
    for suffix in ("-wal", "-shm"):
        Path(str(catalog) + suffix).unlink(missing_ok=True)
    rebuilt = run(installed, config, "rebuild-catalog")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert [p.read_bytes() for p in catalog.parent.glob("catalog.sqlite.moved-*")] == [b"lost"]
    assert json.loads(run(installed, config, "info", "--json").stdout)["assets"] == before
    again = run(installed, config, "ingest")
    assert again.returncode == 0 and state(tmp_path, "ingest")["result"]["ingested"] == 0

    victim.unlink()  # lost from the vault, still in the watched folder: the next ingest restores it and says so
    restored = run(installed, config, "ingest")
    assert restored.returncode == 0 and f"restored {victim.relative_to(tmp_path / 'vault')}" in restored.stderr
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == info["sha256"]


def test_every_sovereign_photos_command_a_message_names_exists():
    """Messages that tell a user what to do name a command that exists (every quoted ``sovereign-photos X``:
    'X', ``X``, C(X), or a usage line; prose such as "the sovereign-photos command" is not a command)."""
    import re
    spec = importlib.util.spec_from_file_location("sovereign_photos_cli", CLI)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    named = {}
    for root in (REPO / "plugins", REPO / "roles", REPO / "docs"):
        for path in root.rglob("*"):
            if path.suffix in (".py", ".yml", ".j2", ".md") and path.is_file():
                for match in re.finditer(r"(?:['`(\"]|^\s*)sovereign-photos ([a-z][a-z-]+)", path.read_text(errors="replace"), re.M):
                    named.setdefault(match.group(1), str(path))
    assert {"ingest", "repair", "rebuild-catalog"} <= set(named), named  # the pattern does find the messages
    missing = {cmd: where for cmd, where in named.items() if cmd not in cli.COMMANDS}
    assert not missing, missing


def test_get_prints_a_local_path_the_full_size_through_the_cache(installed, inbox, tmp_path):
    inbox_root, expected = inbox
    config = write_config(tmp_path, inbox_root, cache={"path": str(tmp_path / "cache"), "max_size": "1G",
                                                       "ttl_days": 7})
    assert run(installed, config, "ingest").returncode == 0
    sha = next(iter(expected["good"].values()))["sha256"]
    full = run(installed, config, "get", sha[:12])
    assert full.returncode == 0, full.stderr
    path = Path(full.stdout.strip())
    assert path.parent.parent == tmp_path / "cache" and hashlib.sha256(path.read_bytes()).hexdigest() == sha
    tiny = run(installed, config, "get", sha, "--size", "tiny")
    assert tiny.returncode == 0 and tiny.stdout.strip().startswith(str(tmp_path / "ssd" / "thumbs" / "tiny"))
    direct = run(installed, config, "get", sha, "--no-cache")
    assert direct.stdout.strip().startswith(str(tmp_path / "vault" / "originals"))
    missing = run(installed, config, "get", "f" * 64)
    assert missing.returncode == 1 and "no original with sha256" in missing.stderr and not missing.stdout
    assert not (tmp_path / "state" / "status" / "photo_vault.get--vault.json").exists()
