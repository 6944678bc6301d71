"""icloud_safe_to_delete end to end, on real data: iCloud through pyicloud answered in-process
(support.apple, the documented CloudKit shapes), the photo vault made by the real photo_ingest
from files named as icloudpd names them, real restic repositories checked by ``restic check``, and
a real restore drill. Each test asserts outcomes: an asset is "safe" only when every piece of
evidence is there, and each missing piece keeps it with the right reason.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import safe_to_delete
from ansible_collections.sovereign.cloud.plugins.module_utils.icloud.client import ICloudError
from ansible_collections.sovereign.cloud.plugins.modules import icloud_safe_to_delete, photo_ingest, restore_drill
from support import return_docs
from support.ansible_module import run_module
from support.apple import Account, AppleAnswers, Photo, Resource, icloudpd_filename, write_session
from support.media_factory import handmade_movie
from support.restic import ResticRepo
from support.vault_builder import jpeg_bytes

USER = "parent.a@example.com"
TAKEN = _dt.datetime(2024, 6, 1, 9, 0, tzinfo=_dt.timezone.utc)


def _photo(n: int, *extra: Resource, adjusted: bool = False) -> Photo:
    original = Resource("resOriginal", jpeg_bytes(320, 240, seed=n + 1), "public.jpeg")
    return Photo(f"M{n:04d}xMasterRecord{n:04d}", f"IMG_{n:04d}.JPG", [original, *extra],
                 TAKEN + _dt.timedelta(minutes=n), adjusted=adjusted)


def _download(folder: Path, photo: Photo, resource: Resource, data: bytes | None = None) -> Path:
    """A file as icloudpd writes it: its name-id7 name, mtime = the capture time."""
    path = folder / icloudpd_filename(photo, resource)
    path.write_bytes(resource.data if data is None else data)
    stamp = photo.taken.timestamp()
    os.utime(path, (stamp, stamp))
    return path


def _check_passed(repo: ResticRepo, path: Path) -> Path:
    """Run the real ``restic check`` (reading the data, as the role's check reads a subset of it)
    and record it as the restic_backup role's check timer does."""
    started = _dt.datetime.now(_dt.timezone.utc)
    result = repo.run("check", "--read-data", check=False)
    finished = _dt.datetime.now(_dt.timezone.utc)
    path.write_text(json.dumps({"status": "ok" if result.returncode == 0 else "failed",
                                "started_at": started.isoformat(), "finished_at": finished.isoformat(),
                                "errors": [] if result.returncode == 0 else [result.stderr.strip()[-200:]]}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """One account with one asset per outcome, a vault, two restic repositories and a drill."""
    tmp = tmp_path_factory.mktemp("safedelete")
    downloads, vault = tmp / "icloud" / "parent.a", tmp / "vault"
    downloads.mkdir(parents=True)
    vault.mkdir()
    photos: dict[str, Photo] = {}

    # 0: everything there -> safe
    photos["safe"] = _photo(0)
    # 1: an edit, both versions downloaded -> safe
    edit = Resource("resJPEGFull", jpeg_bytes(320, 240, color=(10, 200, 10), seed=99), "public.jpeg", on_asset=True)
    photos["safe_edited"] = _photo(1, edit, adjusted=True)
    # 2: never downloaded
    photos["not_downloaded"] = _photo(2)
    # 3: the download has other bytes than iCloud's (icloudpd kept an older file of the name)
    photos["size_differs"] = _photo(3)
    # 4: a Live Photo whose movie was not downloaded
    movie = Resource("resOriginalVidCompl", b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 200, "com.apple.quicktime-movie")
    photos["live_missing"] = _photo(4, movie)
    # 5: an edit in iCloud only
    edit5 = Resource("resJPEGFull", jpeg_bytes(320, 240, color=(10, 10, 200), seed=98), "public.jpeg", on_asset=True)
    photos["edit_missing"] = _photo(5, edit5, adjusted=True)
    # 6: downloaded after the last ingest
    photos["not_ingested"] = _photo(6)
    # 7: ingested after the backups ran
    photos["not_backed_up"] = _photo(7)
    # 8: a Live Photo, still and movie downloaded -> safe
    clip = Resource("resOriginalVidCompl", handmade_movie(creation_utc=int(TAKEN.timestamp())),
                    "com.apple.quicktime-movie")
    photos["live_safe"] = _photo(8, clip)

    for key in ("safe", "safe_edited", "size_differs", "live_missing", "edit_missing", "not_backed_up", "live_safe"):
        photo = photos[key]
        for resource in photo.resources:
            if (key, resource.prefix) in (("live_missing", "resOriginalVidCompl"), ("edit_missing", "resJPEGFull")):
                continue
            if key == "not_backed_up":
                continue
            data = jpeg_bytes(640, 480, seed=333) if key == "size_differs" else None
            _download(downloads, photo, resource, data)
    ingest = {"sources": [str(downloads)], "vault": str(vault), "min_age": 0, "thumbnails": False}
    first = run_module(photo_ingest, ingest)
    assert not first.get("failed"), first

    repos = {}
    for name in ("local", "offsite"):
        root = tmp / name
        root.mkdir()
        repo = ResticRepo(root).init()
        repo.backup(str(vault))
        repos[name] = repo
    checks = {name: _check_passed(repo, tmp / f"check-{name}.json") for name, repo in repos.items()}
    scratch = tmp / "scratch"
    scratch.mkdir()
    drill = run_module(restore_drill, {"vault": str(vault), "repository": str(repos["local"].path),
                                       "password": repos["local"].password, "cache_dir": str(repos["local"].cache),
                                       "tmp_dir": str(scratch)})
    assert drill.get("passed") is True, drill

    # after the backups: one more ingest, and one download nobody ingested yet
    _download(downloads, photos["not_backed_up"], photos["not_backed_up"].resources[0])
    second = run_module(photo_ingest, ingest)
    assert not second.get("failed"), second
    _download(downloads, photos["not_ingested"], photos["not_ingested"].resources[0])

    account = Account(photos=sorted(photos.values(), key=lambda p: p.taken))
    answers = AppleAnswers(account)
    cookies = tmp / "cookies"
    answers.accept_written_session(cookies, USER, trust_days=25)
    env_files = {name: repo.write_env_file(tmp / f"{name}.env") for name, repo in repos.items()}
    params = {"username": USER, "cookie_directory": str(cookies), "vault": str(vault),
              "download_roots": [str(downloads)], "output_dir": str(tmp / "reports"), "min_copies": 2,
              "restic": [{"name": name, "env_file": str(env_files[name]), "check_status_file": str(checks[name])}
                         for name in repos],
              "workers": 1}
    return {"tmp": tmp, "vault": vault, "downloads": downloads, "photos": photos, "repos": repos, "checks": checks,
            "answers": answers, "account": account, "params": params, "cookies": cookies}


def run(world, check_mode=False, **changes) -> dict:
    params = copy.deepcopy(world["params"])
    params.update(changes)
    hooks = safe_to_delete.Hooks(transport=world["answers"], workers=1)
    return safe_to_delete.run(params, check_mode=check_mode, hooks=hooks)


def verdicts(result: dict) -> dict[str, dict]:
    with open(result["reports"]["json"], encoding="utf-8") as handle:
        doc = json.load(handle)
    return {a["asset_id"]: a for a in doc["assets"]}


def by_key(world, result) -> dict[str, dict]:
    found = verdicts(result)
    return {key: found[photo.asset_id] for key, photo in world["photos"].items()}


def codes(entry: dict) -> set[str]:
    return {r["code"] for r in entry["reasons"]}


def test_each_asset_gets_the_verdict_its_evidence_allows(world):
    result = run(world, output_dir=str(world["tmp"] / "r-main"))
    got = by_key(world, result)
    assert got["safe"]["status"] == "safe", json.dumps(got, indent=1)
    assert got["safe_edited"]["status"] == "safe", got["safe_edited"]
    assert got["live_safe"]["status"] == "safe", got["live_safe"]
    assert {f["kind"] for f in got["live_safe"]["files"]} == {"original", "live_video"}
    assert codes(got["not_downloaded"]) == {"not_downloaded"}
    assert codes(got["size_differs"]) == {"size_differs"}
    assert codes(got["live_missing"]) == {"live_video_missing"}
    assert codes(got["edit_missing"]) == {"not_downloaded"}
    assert "edited version" in got["edit_missing"]["reasons"][0]["text"]
    assert codes(got["not_ingested"]) == {"not_in_catalog"}
    assert "not ingested yet" in got["not_ingested"]["reasons"][0]["text"]
    assert codes(got["not_backed_up"]) == {"too_few_copies"}
    assert result["counts"]["assets"] == 9 and result["counts"]["safe"] == 3 and result["counts"]["keep"] == 6
    assert result["changed"] is True
    for entry in got.values():
        assert entry["status"] in ("safe", "keep")
        assert (entry["status"] == "safe") == (not entry["reasons"]), entry


def test_a_second_run_changes_nothing_and_check_mode_writes_nothing(world):
    out = world["tmp"] / "r-idem"
    first = run(world, check_mode=True, output_dir=str(out))
    assert first["changed"] is True and not out.exists(), "check mode wrote something"
    assert first["counts"]["safe"] == 3
    written = run(world, output_dir=str(out))
    stamps = {p: os.stat(p).st_mtime_ns for p in written["reports"].values()}
    again = run(world, output_dir=str(out))
    assert again["changed"] is False and "unchanged" in again["summary"]
    assert {p: os.stat(p).st_mtime_ns for p in again["reports"].values()} == stamps
    checked = run(world, check_mode=True, output_dir=str(out))
    assert checked["changed"] is False


def test_one_verified_copy_is_not_enough_when_two_are_required(world):
    params = world["params"]
    one = run(world, output_dir=str(world["tmp"] / "r-one"), restic=params["restic"][:1])
    got = by_key(world, one)
    assert codes(got["safe"]) == {"too_few_copies"}
    assert "1 verified backup repository" in got["safe"]["reasons"][0]["text"]
    relaxed = run(world, output_dir=str(world["tmp"] / "r-one-ok"), restic=params["restic"][:1], min_copies=1)
    assert by_key(world, relaxed)["safe"]["status"] == "safe"


def test_a_failed_missing_or_old_check_makes_a_repository_not_count(world, tmp_path):
    params = copy.deepcopy(world["params"])
    failed = tmp_path / "check-failed.json"
    failed.write_text(json.dumps({"status": "failed", "started_at": "2026-01-01T00:00:00Z",
                                  "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                                  "errors": ["pack 1234 is damaged"]}))
    params["restic"][1]["check_status_file"] = str(failed)
    result = run(world, output_dir=str(tmp_path / "failed"), restic=params["restic"], min_copies=2)
    got = by_key(world, result)
    assert codes(got["safe"]) == {"backup_unverified", "too_few_copies"}
    assert "pack 1234 is damaged" in json.dumps(result["evidence"])
    params["restic"][1]["check_status_file"] = str(tmp_path / "never-ran.json")
    result = run(world, output_dir=str(tmp_path / "missing"), restic=params["restic"])
    assert codes(by_key(world, result)["safe"]) == {"backup_unverified", "too_few_copies"}
    old = tmp_path / "check-old.json"
    old.write_text(json.dumps({"status": "ok", "started_at": "2025-01-01T00:00:00Z",
                               "finished_at": "2025-01-01T01:00:00Z"}))
    params["restic"][1]["check_status_file"] = str(old)
    result = run(world, output_dir=str(tmp_path / "old"), restic=params["restic"])
    assert by_key(world, result)["safe"]["status"] == "keep"


def test_snapshots_taken_after_the_last_check_do_not_count(world, tmp_path):
    params = copy.deepcopy(world["params"])
    before = tmp_path / "check-before.json"
    before.write_text(json.dumps({"status": "ok", "started_at": "2024-01-01T00:00:00Z",
                                  "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat()}))
    params["restic"][0]["check_status_file"] = str(before)
    result = run(world, output_dir=str(tmp_path / "r"), restic=params["restic"])
    reasons = by_key(world, result)["safe"]["reasons"]
    assert {r["code"] for r in reasons} == {"backup_unverified", "too_few_copies"}
    assert "taken after the last verification" in reasons[0]["text"] or any(
        "after the last verification" in r["text"] for r in reasons)


def test_no_passing_recent_drill_keeps_everything(world, tmp_path):
    now = _dt.datetime.now(_dt.timezone.utc)
    later = run(world, output_dir=str(tmp_path / "late"), drill_max_age_days=1)
    hooks = safe_to_delete.Hooks(transport=world["answers"], workers=1, now=lambda: now + _dt.timedelta(days=3))
    params = dict(copy.deepcopy(world["params"]), output_dir=str(tmp_path / "late2"), drill_max_age_days=1)
    stale = safe_to_delete.run(params, hooks=hooks)
    assert later["counts"]["safe"] == 3
    assert stale["counts"]["safe"] == 0
    assert all("drill_old" in codes(v) for v in verdicts(stale).values())


def test_a_damaged_vault_copy_is_kept(world, tmp_path):
    # a copy of the vault whose one original has a flipped byte: same size, other sha256
    vault = tmp_path / "vault"
    shutil.copytree(world["vault"], vault, symlinks=True)
    safe = world["photos"]["safe"].resources[0].data
    import hashlib  # pylint: disable=import-outside-toplevel
    sha = hashlib.sha256(safe).hexdigest()
    target = next(vault.glob(f"originals/**/{sha}.jpg"))
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.chmod(0o644)
    target.write_bytes(bytes(raw))
    restic = copy.deepcopy(world["params"]["restic"])
    for spec in restic:
        spec["snapshot_vault_path"] = str(world["vault"])  # the snapshots hold the vault at its first place
    result = run(world, vault=str(vault), output_dir=str(tmp_path / "r"), restic=restic)
    got = by_key(world, result)
    assert codes(got["safe"]) == {"does_not_decode"}
    assert "not the original the catalog names" in got["safe"]["reasons"][0]["text"]
    assert got["safe_edited"]["status"] == "safe"


def test_no_secret_reaches_the_reports_or_the_result(world):
    result = run(world, output_dir=str(world["tmp"] / "r-secrets"))
    password = world["repos"]["local"].password
    text = json.dumps(result)
    for path in result["reports"].values():
        text += Path(path).read_text(encoding="utf-8")
    assert password not in text
    assert "HSARMTKNSRVWFla" not in text and "AQAAAABn" not in text
    for path in result["reports"].values():
        assert os.stat(path).st_mode & 0o777 == 0o640


def test_an_expired_session_stops_with_the_reauth_command(world, tmp_path):
    cookies = tmp_path / "cookies"
    write_session(cookies, USER, -1)
    with pytest.raises(ICloudError, match="icloud_reauth.yml"):
        run(world, cookie_directory=str(cookies), output_dir=str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_the_cookie_directory_is_never_written(world):
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in world["cookies"].iterdir()}
    run(world, output_dir=str(world["tmp"] / "r-cookies"))
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in world["cookies"].iterdir()}
    assert before == after


def test_the_html_page_says_what_to_do(world):
    result = run(world, output_dir=str(world["tmp"] / "r-html"))
    page = Path(result["reports"]["html"]).read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert "Not downloaded from iCloud" in page and "IMG_0002.JPG" in page
    assert "files required: alternative, edited, edited video, live video, original" in page
    rows = Path(result["reports"]["csv"]).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 9 and rows[0].startswith("status,reason")


def test_the_module_returns_what_it_documents(world, monkeypatch):
    # the module makes its own Hooks(): give it the in-process iCloud answers
    hooks = safe_to_delete.Hooks(transport=world["answers"], workers=1)
    monkeypatch.setattr(safe_to_delete, "Hooks", lambda: hooks)
    args = dict(copy.deepcopy(world["params"]), output_dir=str(world["tmp"] / "r-module"))
    runs = [run_module(icloud_safe_to_delete, args, check_mode=True), run_module(icloud_safe_to_delete, args),
            run_module(icloud_safe_to_delete, args),
            run_module(icloud_safe_to_delete, dict(args, vault=str(world["tmp"] / "nowhere")))]
    assert not any(r.get("failed") for r in runs[:3]), runs[:3]
    assert runs[1]["changed"] and not runs[2]["changed"]
    assert runs[-1]["failed"] and runs[-1]["kind"] == "report"
    return_docs.assert_matches("icloud_safe_to_delete", runs)


def test_nothing_unproven_is_called_safe_when_the_evidence_is_empty(world, tmp_path):
    result = run(world, output_dir=str(tmp_path / "r"), restic=[], pbs=[])
    assert result["counts"]["safe"] == 0
    with pytest.raises(safe_to_delete.SafeDeleteError, match="at least 1"):
        run(world, output_dir=str(tmp_path / "r0"), min_copies=0)


def test_a_damaged_repository_fails_its_real_check_and_stops_counting(world, tmp_path):
    # bit rot in the offsite repository: restic check finds it, and the repository no longer counts
    import hashlib  # pylint: disable=import-outside-toplevel
    damaged = ResticRepo(tmp_path)
    shutil.copytree(world["repos"]["offsite"].path, damaged.path)
    damaged.corrupt_blob(hashlib.sha256(world["photos"]["safe"].resources[0].data).hexdigest())
    check = _check_passed(damaged, tmp_path / "check-offsite.json")
    assert json.loads(check.read_text())["status"] == "failed"
    restic = copy.deepcopy(world["params"]["restic"])
    restic[1].update(env_file=str(damaged.write_env_file(tmp_path / "offsite.env")), check_status_file=str(check))
    result = run(world, output_dir=str(tmp_path / "r"), restic=restic)
    got = by_key(world, result)
    assert got["safe"]["status"] == "keep" and "too_few_copies" in codes(got["safe"])
    assert result["counts"]["safe"] == 0
    offsite = [b for b in result["evidence"]["backups"] if b["name"] == "offsite"][0]
    assert offsite["counts"] is False and "failed" in offsite["problem"]
    assert offsite["fix"] == "systemctl start sovereign-restic-check-offsite.service"
