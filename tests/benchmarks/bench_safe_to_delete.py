"""Benchmark: the iCloud safe-to-delete report over a large library (issue 10's speed target).

Builds, once per size into ``--workdir`` (default ``.cache/bench-safedelete-<N>/``):
- a photo vault of ``N`` originals (small real JPEGs, each unique, so the decode check really
  decodes them) with its catalog: one asset row and one source row per original, the source named
  as icloudpd names it (``IMG_<n>_<id7>.JPG``) and carrying the id7 ingest records;
- a real restic repository with two snapshots of the vault, a real ``restic check`` recorded as
  the restic_backup role's check timer records it, and a real restore drill (20 originals);
- the iCloud listing: ``N`` compact asset records (as :func:`library.from_pyicloud` makes them),
  fed to the engine through ``Hooks(assets=...)``; pyicloud's own paging is not measured here.

Then runs the report three times, each in a fresh process (as Ansible runs a module), and prints
wall time, CPU (the report's process and its helpers: decode workers, restic) and the largest
process's peak RSS (the report's own, and the largest helper's):
- ``cold``: no state at all (every original is decoded, every snapshot listed by ``restic ls``);
- ``warm``: restic's cache and the report's own caches warm, reports already written (the
  steady state of a nightly run: the target is under 60 s and 300 MB on 2 cores);
- ``warm_check``: the same in check mode.

Asserts nothing. ``python tests/benchmarks/bench_safe_to_delete.py [--assets N]`` runs it;
``--assets 2000`` is a quick smoke run. Needs restic.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import hashlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for entry in (str(REPO / ".collections"), str(REPO / "tests")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog  # noqa: E402  pylint: disable=wrong-import-position

PASSWORD = "bench-safedelete"
BASE = _dt.datetime(2020, 1, 1, tzinfo=_dt.timezone.utc).timestamp()


def _base_jpeg() -> bytes:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(out, "JPEG", quality=85)
    return out.getvalue()


def jpeg(base: bytes, n: int) -> bytes:
    """A unique, decodable JPEG: ``base`` with a COM segment naming ``n`` after SOI."""
    payload = f"sovereign bench {n}".encode()
    return base[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + base[2:]


def master_id(n: int) -> str:
    return f"M{n:08d}Bench"


def id7(master: str) -> str:
    return base64.b64encode(master.encode()).decode("ascii")[:7]


def build(workdir: Path, assets: int) -> dict:
    done = workdir / "built.json"
    if done.is_file():
        return json.loads(done.read_text())
    if workdir.exists():
        shutil.rmtree(workdir)
    vault, downloads = workdir / "vault", workdir / "icloud" / "parent.a"
    vault.mkdir(parents=True)
    downloads.mkdir(parents=True)
    base = _base_jpeg()
    listing = []
    started = time.monotonic()
    with Catalog.open(str(vault)) as cat:
        with cat.transaction():
            for n in range(assets):
                data = jpeg(base, n)
                sha = hashlib.sha256(data).hexdigest()
                taken = BASE + n * 60
                day = _dt.datetime.fromtimestamp(taken, _dt.timezone.utc)
                rel = f"originals/{day:%Y/%m/%d}/{sha}.jpg"
                (vault / rel).parent.mkdir(parents=True, exist_ok=True)
                (vault / rel).write_bytes(data)
                os.chmod(vault / rel, 0o444)
                master = master_id(n)
                name = f"IMG_{n:06d}_{id7(master)}.JPG"
                source = downloads / f"{n // 1000:03d}" / name
                source.parent.mkdir(exist_ok=True)
                os.link(vault / rel, source)
                cat.add_asset({"sha256": sha, "sha1": hashlib.sha1(data).hexdigest(), "size": len(data),  # nosec
                               "format": "jpeg", "ext": "jpg", "media_type": "image",
                               "taken_at": day.strftime("%Y-%m-%dT%H:%M:%S"), "date_source": "exif",
                               "rel_path": rel, "ingested_at": "2026-01-01T00:00:00Z"})
                cat.record_source(str(source), str(downloads), len(data), int(taken * 1e9), sha,
                                  icloud_master_id=f"id7:{id7(master)}")
                listing.append([f"A{n:08d}Bench", master, f"IMG_{n:06d}.JPG", taken, len(data)])
    (workdir / "listing.jsonl").write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in listing))
    catalog_s = time.monotonic() - started
    env = dict(os.environ, RESTIC_REPOSITORY=str(workdir / "repo"), RESTIC_PASSWORD=PASSWORD,
               RESTIC_CACHE_DIR=str(workdir / "restic-cache"))
    started = time.monotonic()
    subprocess.run(["restic", "init"], env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    for _snapshot in range(2):
        subprocess.run(["restic", "backup", "-q", str(vault)], env=env, check=True, capture_output=True,
                       stdin=subprocess.DEVNULL)
    backup_s = time.monotonic() - started
    check_started = _dt.datetime.now(_dt.timezone.utc)
    subprocess.run(["restic", "check"], env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    (workdir / "check-local.json").write_text(json.dumps({
        "status": "ok", "started_at": check_started.isoformat(),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(), "errors": []}))
    (workdir / "local.env").write_text(f'RESTIC_REPOSITORY="{workdir / "repo"}"\nRESTIC_PASSWORD="{PASSWORD}"\n'
                                       f'RESTIC_CACHE_DIR="{workdir / "restic-cache"}"\n')
    os.chmod(workdir / "local.env", 0o600)
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.restore_drill import run_drill
    (workdir / "scratch").mkdir()
    drill = run_drill(str(vault), env, count=20, tmp_dir=str(workdir / "scratch"))
    built = {"assets": assets, "vault": str(vault), "downloads": str(downloads), "catalog_build_s": round(catalog_s, 1),
             "restic_two_backups_s": round(backup_s, 1), "drill_passed": drill.get("passed"),
             "vault_mb": round(sum(f.stat().st_size for f in (vault / "originals").rglob("*.jpg")) / 1e6, 1)}
    done.write_text(json.dumps(built))
    return built


def params(workdir: Path, built: dict) -> dict:
    return {"username": "parent.a@example.com", "cookie_directory": str(workdir / "cookies"),
            "vault": built["vault"], "download_roots": [built["downloads"]], "output_dir": str(workdir / "reports"),
            "min_copies": 1, "allow_empty": False,
            "restic": [{"name": "local", "env_file": str(workdir / "local.env"),
                        "check_status_file": str(workdir / "check-local.json")}]}


def report_in_this_process(workdir: Path, check_mode: bool) -> None:
    """What one measured run does (in a fresh process): the engine with the listing as hooks."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.icloud import library, safe_to_delete
    built = json.loads((workdir / "built.json").read_text())

    def assets():  # streamed, as pyicloud's pages are
        with open(workdir / "listing.jsonl", encoding="utf-8") as rows:
            for line in rows:
                asset_id, master, name, taken, size = json.loads(line)
                yield library.ICloudAsset(asset_id, master, name, "image", taken, taken + 60,
                                          (library.Resource("original", name, size, "public.jpeg"),))
    result = safe_to_delete.run(params(workdir, built), check_mode=check_mode,
                                hooks=safe_to_delete.Hooks(assets=assets()))
    print(json.dumps({"counts": {k: result["counts"][k] for k in ("assets", "safe", "keep")},
                      "by_reason": result["counts"].get("by_reason"), "changed": result["changed"],
                      "timings": result["timings"],
                      "report_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "helpers_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}))


def measure(workdir: Path, check_mode: bool) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([sys.executable, __file__, "--workdir", str(workdir), "--report-only"]
                          + (["--check"] if check_mode else []), capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        return {"problem": done.stderr[-2000:]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures.update({"wall_s": round(wall, 2),
                    "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2),
                    "peak_rss_mb": max(figures["report_rss_mb"], figures["helpers_rss_mb"])})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--report-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or REPO / ".cache" / f"bench-safedelete-{args.assets}"
    if args.report_only:
        report_in_this_process(workdir, args.check)
        return
    if not shutil.which("restic"):
        print(json.dumps({"skipped": "restic is not installed (apt-get install restic)"}))
        return
    built = build(workdir, args.assets)
    shutil.rmtree(workdir / "reports", ignore_errors=True)
    figures = {"built": built, "cores": os.cpu_count(), "load1": round(os.getloadavg()[0], 2),
               "restic_version": subprocess.run(["restic", "version"], capture_output=True, text=True,
                                                check=False).stdout.strip()}
    figures["cold"] = measure(workdir, False)
    figures["warm"] = measure(workdir, False)
    figures["warm_check"] = measure(workdir, True)
    warm = figures["warm"]
    if "wall_s" in warm:
        figures["target_warm_under_60s_300mb"] = "met" if warm["wall_s"] < 60 and warm["peak_rss_mb"] < 300 \
            else "NOT met"
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
