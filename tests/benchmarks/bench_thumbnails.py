"""Thumbnails side by side: plain Pillow vs vipsthumbnail vs our engine, on the same photos, same run.

Every contender makes the three sizes (1920x1080, 500x500, 150x150 boxes, JPEG quality 85) of
every photo and writes them to disk, in a process pool with one worker per core, one decoding
thread per worker. Contenders take turns within each round (so load from other users of a shared
machine hits all of them alike); the figures are the best round's wall clock and the median
round's CPU time.

- ``pillow_plain``: open, then ``copy()`` + ``thumbnail()`` + ``save()`` per size (what most
  scripts do, the seed's sample fixed to copy);
- ``vipsthumbnail``: the libvips command, one invocation per size over each worker's batch of
  files (process start amortised over the batch; three full-size decodes per photo);
- ``engine``: ``vault_thumbnails.make_thumbnails`` as the ingest worker calls it (bytes in hand;
  pyvips when installed);
- ``engine_pillow``: the same engine forced onto its Pillow fallback.

CPU per photo is user+sys of the workers and their children (vipsthumbnail runs as a child), the
robust figure on a shared machine; photos/s is wall clock with every core busy, shown next to the
load average. Peak RSS is the largest worker's (vipsthumbnail: the largest child's).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / ".collections") not in sys.path:
    sys.path.insert(0, str(REPO / ".collections"))

BOXES = (("medium", (1920, 1080)), ("small", (500, 500)), ("tiny", (150, 150)))
CHUNK = 2  # photos per pool task


# ---------------------------------------------------------------------------------- workers
def _init_worker() -> None:
    os.environ["VIPS_CONCURRENCY"] = "1"
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails as vault_thumbnails  # pylint: disable=import-outside-toplevel
    vault_thumbnails.configure_worker(1)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _pillow_plain(paths: list[str], out: str) -> None:
    from PIL import Image  # pylint: disable=import-outside-toplevel
    try:
        import pillow_heif  # pylint: disable=import-outside-toplevel
        pillow_heif.register_heif_opener()
    except ImportError:
        pass
    for path in paths:
        with Image.open(path) as image:
            image.load()
            for name, box in BOXES:
                copy = image.copy()
                copy.thumbnail(box)
                copy.convert("RGB").save(os.path.join(out, f"{Path(path).stem}-{name}.jpg"), quality=85)


def _vipsthumbnail(paths: list[str], out: str) -> None:
    env = {**os.environ, "VIPS_CONCURRENCY": "1"}
    for name, (width, height) in BOXES:
        subprocess.run(["vipsthumbnail", "--size", f"{width}x{height}", "-o",
                        os.path.join(out, f"%s-{name}.jpg[Q=85]"), *paths], check=True, env=env,
                       stdin=subprocess.DEVNULL)


def _engine(paths: list[str], out: str, engine: str = "auto") -> None:
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails as vault_thumbnails  # pylint: disable=import-outside-toplevel
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()  # the ingest worker already holds the bytes (it hashed them)
        sha = hashlib.sha256(path.encode()).hexdigest()  # a stand-in key: hashing is not measured here
        fmt = "heic" if path.lower().endswith(".heic") else "jpg"
        result = vault_thumbnails.make_thumbnails(data, None, fmt, sha, out, engine=engine)
        if result.status != "ok":
            raise RuntimeError(f"{path}: {result.status}: {result.reason}")


def _engine_pillow(paths: list[str], out: str) -> None:
    _engine(paths, out, engine="pillow")


METHODS = {"pillow_plain": _pillow_plain, "vipsthumbnail": _vipsthumbnail, "engine": _engine,
           "engine_pillow": _engine_pillow}


def _task(method: str, paths: list[str], out: str) -> tuple[float, int, int]:
    start = _cpu()
    METHODS[method](paths, out)
    usage_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return _cpu() - start, usage_self, usage_children


# ---------------------------------------------------------------------------------- driver
def _vips_can(kind: str) -> bool:
    if not shutil.which("vipsthumbnail"):
        return False
    if kind != "heic":
        return True
    listing = subprocess.run(["vips", "-l"], capture_output=True, text=True, check=False).stdout
    return "heifload" in listing


def _run_once(method: str, paths: list[str], workers: int, workdir: Path) -> dict:
    out = tempfile.mkdtemp(prefix=f"{method}-", dir=workdir)
    chunks = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
        # Warm the workers up (imports, libraries) outside the timed part.
        list(pool.map(_warm, range(workers * 2)))
        load = os.getloadavg()[0]
        started = time.perf_counter()
        results = list(pool.map(_task, [method] * len(chunks), chunks, [out] * len(chunks)))
        wall = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    cpu = sum(r[0] for r in results)
    return {"wall_s": wall, "cpu_s": cpu, "load1": load,
            "peak_rss_mb": max(r[1] for r in results) / 1024, "child_peak_rss_mb": max(r[2] for r in results) / 1024}


def _warm(_index: int) -> None:
    time.sleep(0.05)


def compare(kind: str, paths: list[str], workers: int, rounds: int, workdir: Path, log=print,
            methods: tuple[str, ...] = ("pillow_plain", "vipsthumbnail", "engine", "engine_pillow"),
            after_round=None) -> dict:
    """Run every method ``rounds`` times in turn; figures per method plus notes for skipped ones.
    ``after_round(index)`` runs one more contender at the end of each round (run.py: one round
    of the whole pipeline, so that it meets the same load as the thumbnails alone)."""
    notes, active = [], []
    for method in methods:
        if method == "vipsthumbnail" and not _vips_can(kind):
            notes.append(f"vipsthumbnail skipped for {kind}: "
                         + ("it is not installed (apt-get install libvips-tools)" if not shutil.which("vipsthumbnail")
                            else "this libvips has no HEIF loader"))
            continue
        if method == "engine_pillow" and kind == "heic":
            continue  # HEIC always goes through pillow-heif: the same code as "engine"
        active.append(method)
    runs: dict[str, list[dict]] = {method: [] for method in active}
    for index in range(rounds):
        for method in active:
            figures = _run_once(method, paths, workers, workdir)
            runs[method].append(figures)
            log(f"  {kind} round {index + 1}/{rounds} {method:14s} {len(paths) / figures['wall_s']:6.2f} photos/s "
                f"{figures['cpu_s'] / len(paths) * 1000:7.1f} ms CPU/photo  load {figures['load1']:.2f}")
        if after_round is not None:
            after_round(index)
    out = {"photos": len(paths), "workers": workers, "rounds": rounds, "notes": notes, "methods": {}}
    for method, items in runs.items():
        best = min(items, key=lambda f: f["wall_s"])
        out["methods"][method] = {
            "photos_per_s": round(len(paths) / best["wall_s"], 2),
            "cpu_ms_per_photo": round(statistics.median(f["cpu_s"] for f in items) / len(paths) * 1000, 1),
            # What every core would do if it did nothing else: the figure to compare on a busy machine.
            "cpu_bound_photos_per_s": round(workers * len(paths) / statistics.median(f["cpu_s"] for f in items), 2),
            "load1_at_best": round(best["load1"], 2),
            "peak_rss_mb": round(max(f["peak_rss_mb"] for f in items), 1),
            "child_peak_rss_mb": round(max(f["child_peak_rss_mb"] for f in items), 1),
            "rounds_photos_per_s": [round(len(paths) / f["wall_s"], 2) for f in items],
            "rounds_cpu_ms_per_photo": [round(f["cpu_s"] / len(paths) * 1000, 1) for f in items],
        }
    engine = out["methods"].get("engine")
    if engine:
        for other in ("pillow_plain", "vipsthumbnail"):
            if other in out["methods"]:
                theirs = out["methods"][other]
                out[f"engine_vs_{other}_cpu"] = round(theirs["cpu_ms_per_photo"] / engine["cpu_ms_per_photo"], 2)
                out[f"engine_vs_{other}_wall"] = round(engine["photos_per_s"] / theirs["photos_per_s"], 2)
    return out
