"""Benchmark: a restore drill on real restic, against restic alone and against one restore per file.

Figures (one vault of ``FILES`` random originals of ``FILE_KB`` KiB, backed up once):
- ``restic_restore_all_s``: plain ``restic restore`` of the whole snapshot (the floor);
- ``drill_s`` / ``drill_mb_s``: ``run_drill`` over every original (snapshot lookup, ONE batched restore,
  sha256 of each file, catalog record, clean-up);
- ``per_file_restores_s``: what one ``restic restore --include`` per file would cost for a sample of
  ``PER_FILE_SAMPLE`` files, scaled to all files (why the drill batches its includes).

Asserts nothing. ``python tests/benchmarks/bench_restore_drill.py`` runs it alone; tests/benchmarks/run.py
calls ``run(workdir)`` (smaller sizes in ``--quick``). Without restic the figures are skipped with a note.
Sizes: ``BENCH_DRILL_FILES`` (100), ``BENCH_DRILL_FILE_KB`` (1024).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for entry in (str(REPO / ".collections"), str(REPO / "tests")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.restore_drill import run_drill  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.catalog import Catalog  # noqa: E402  pylint: disable=wrong-import-position

FILES = int(os.environ.get("BENCH_DRILL_FILES", "100"))
FILE_KB = int(os.environ.get("BENCH_DRILL_FILE_KB", "1024"))
PER_FILE_SAMPLE = 5


def build(workdir: Path, files: int, file_kb: int) -> tuple[Path, dict]:
    vault = workdir / "vault"
    vault.mkdir(parents=True)
    with Catalog.open(str(vault)) as cat:
        for i in range(files):
            data = os.urandom(file_kb * 1024)
            sha = hashlib.sha256(data).hexdigest()
            rel = f"originals/2024/{1 + i % 12:02d}/{1 + i % 28:02d}/{sha}.jpg"
            (vault / rel).parent.mkdir(parents=True, exist_ok=True)
            (vault / rel).write_bytes(data)
            cat.add_asset({"sha256": sha, "sha1": "0" * 40, "size": len(data), "format": "jpeg", "ext": "jpg",
                           "media_type": "image", "taken_at": "2024-01-01T00:00:00", "date_source": "exif",
                           "rel_path": rel, "ingested_at": "2026-01-01T00:00:00Z"})
    env = dict(os.environ, RESTIC_REPOSITORY=str(workdir / "repo"), RESTIC_PASSWORD="bench",
               RESTIC_CACHE_DIR=str(workdir / "cache"))
    for args in (["init"], ["backup", "-q", str(vault)]):
        subprocess.run(["restic", *args], env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return vault, env


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def run(workdir: Path, files: int = FILES, file_kb: int = FILE_KB, per_file_sample: int = PER_FILE_SAMPLE) -> dict:
    if not shutil.which("restic"):
        return {"skipped": "restic is not installed (apt-get install restic; scripts/test-deps.sh installs it)"}
    workdir = workdir / "restore-drill"
    workdir.mkdir(parents=True)
    vault, env = build(workdir, files, file_kb)
    scratch = workdir / "scratch"
    scratch.mkdir()

    def restore_all():
        subprocess.run(["restic", "restore", "latest", "--target", str(scratch / "all")], env=env, check=True,
                       capture_output=True)
        shutil.rmtree(scratch / "all")

    with Catalog.open(str(vault), create=False) as cat:
        sample = [row["rel_path"] for row in cat.query("SELECT rel_path FROM assets LIMIT ?", (per_file_sample,))]

    def per_file():
        for rel in sample:
            subprocess.run(["restic", "restore", "latest", "--target", str(scratch / "one"), "--include",
                            f"{vault}/{rel}"], env=env, check=True, capture_output=True)
        shutil.rmtree(scratch / "one")

    drill = {}

    def do_drill():
        drill.update(run_drill(str(vault), env, count=files, tmp_dir=str(scratch)))

    total_mb = files * file_kb / 1024
    figures = {
        "files": files, "file_kb": file_kb, "load1": round(os.getloadavg()[0], 2),
        "restic_version": subprocess.run(["restic", "version"], capture_output=True, text=True,
                                         check=False).stdout.strip(),
        "restic_restore_all_s": round(timed(restore_all), 2),
        "drill_s": round(timed(do_drill), 2),
        "per_file_sample": per_file_sample,
        "per_file_restores_s": round(timed(per_file) * files / per_file_sample, 2),
    }
    figures["drill_mb_s"] = round(total_mb / figures["drill_s"], 1)
    figures["drill_passed"] = drill.get("passed")
    figures["drill_vs_restic_alone"] = round(figures["drill_s"] / figures["restic_restore_all_s"], 2)
    if not drill.get("passed"):
        figures["problem"] = f"the drill did not pass: {drill.get('summary')}"
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sc-bench-drill-") as workdir:
        figures = run(Path(workdir))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
