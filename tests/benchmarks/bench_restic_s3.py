"""Benchmark: restic 0.14 backing up to a real S3 server (SeaweedFS ``weed server -s3`` on loopback,
tests/support/s3_server.py) against the same backup to a local-disk repository.

Figures (``BENCH_S3_MB`` MiB of random, incompressible files of ``BENCH_S3_FILE_MB`` MiB each):
- ``s3_backup_s`` / ``s3_backup_mb_s``: the first backup to the S3 repository;
- ``s3_rebackup_s``: the same backup again (nothing changed: restic reads and hashes, uploads nothing);
- ``s3_restore_s`` / ``s3_restore_mb_s``: restoring the snapshot from S3;
- ``local_backup_s`` / ``local_backup_mb_s``: the first backup to a local repository (the floor).

Asserts nothing; standalone: ``python tests/benchmarks/bench_restic_s3.py [--mb N]`` (not part of run.py).
Needs restic and the weed binary (scripts/weed-build.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from support.s3_server import S3Server, weed_path  # noqa: E402  pylint: disable=wrong-import-position

PASSWORD = "bench-password"


def restic(env: dict, *args: str) -> float:
    t0 = time.monotonic()
    done = subprocess.run(["restic", *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"restic {args[0]} failed: {done.stderr[-2000:]}")
    return time.monotonic() - t0


def run(workdir: Path, total_mb: int, file_mb: int) -> dict:
    src = workdir / "src"
    src.mkdir()
    for i in range(max(1, total_mb // file_mb)):
        (src / f"file{i:04d}.bin").write_bytes(os.urandom(file_mb * 1024 * 1024))
    size_mb = sum(p.stat().st_size for p in src.iterdir()) / 2**20
    figures: dict = {"mb": round(size_mb), "files": len(list(src.iterdir()))}
    server = S3Server(root=workdir / "weed", weed=weed_path()).start()
    figures["weed_startup_s"] = round(server.startup_seconds, 2)
    try:
        env = dict(os.environ, RESTIC_REPOSITORY=server.repository("bench", "repo"), RESTIC_PASSWORD=PASSWORD,
                   RESTIC_CACHE_DIR=str(workdir / "cache-s3"), **server.env)
        restic(env, "init")
        figures["s3_backup_s"] = round(restic(env, "backup", "--quiet", str(src)), 2)
        figures["s3_rebackup_s"] = round(restic(env, "backup", "--quiet", str(src)), 2)
        figures["s3_restore_s"] = round(restic(env, "restore", "latest", "--target", str(workdir / "r")), 2)
    finally:
        server.stop()
    local = dict(os.environ, RESTIC_REPOSITORY=str(workdir / "local-repo"), RESTIC_PASSWORD=PASSWORD,
                 RESTIC_CACHE_DIR=str(workdir / "cache-local"))
    restic(local, "init")
    figures["local_backup_s"] = round(restic(local, "backup", "--quiet", str(src)), 2)
    for key in ("s3_backup", "s3_restore", "local_backup"):
        figures[f"{key}_mb_s"] = round(size_mb / figures[f"{key}_s"], 1)
    figures["cpus"] = os.cpu_count()
    figures["load_1m"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=int(os.environ.get("BENCH_S3_MB", "200")))
    parser.add_argument("--file-mb", type=int, default=int(os.environ.get("BENCH_S3_FILE_MB", "4")))
    args = parser.parse_args()
    if not shutil.which("restic") or not weed_path().exists():
        print("skipped: needs restic and weed (scripts/weed-build.sh)")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-restic-s3-"))
    try:
        print(json.dumps(run(workdir, args.mb, args.file_mb), indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
