"""Benchmark: the ingest engine's own costs, the whole pipeline, the no-op rescan, streaming memory.

Figures (asserts nothing; the targets of issue 4 are printed next to them):

- ``stages``: CPU ms per 12 MP JPEG for each step the worker does (sha256, sha1, sniff + EXIF +
  JPEG structure scan, verified atomic publish with fsync, XMP sidecar, thumbnails / validation
  decode), in this process, one photo at a time;
- ``pipeline_jpeg`` (and ``pipeline_jpeg_no_thumbnails``): the whole ingest through the module
  entry point (``python photo_ingest.py args.json``: start-up, walk, pool, hash, EXIF, atomic copy
  with fsync and read-back, sidecar, catalog, three thumbnails): photos/s (wall clock, depends on
  the machine's load), CPU ms per photo and the CPU-bound photos/s it implies on these cores,
  peak RSS of the largest process;
- ``noop_rescan``: a 50,000-file library ingested once (thumbnails off, cached), then the wall
  and CPU time of runs that find nothing to do, module start included;
- ``streaming``: a movie larger than the in-memory limit, ingested; the worker's peak RSS must
  not grow with the file.

``run(results, workdir)`` fills ``results["ingest_engine"]`` (tests/benchmarks/run.py may call it);
``python tests/benchmarks/bench_ingest_engine.py [--photos N] [--rescan-files N]`` runs it alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODULE = REPO / "plugins" / "modules" / "photo_ingest.py"
for entry in (str(HERE), str(REPO / ".collections"), str(REPO / "tests")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

TARGETS = {"jpeg_pipeline_photos_per_s": 15.0, "noop_rescan_s": 1.5, "peak_rss_mb": 150.0}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "wall = time.perf_counter() - started\n"
    "kids = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stdout.write(json.dumps({'wall_s': wall, 'cpu_s': kids.ru_utime + kids.ru_stime,\n"
    "                             'peak_rss_mb': kids.ru_maxrss / 1024,\n"
    "                             'out': done.stdout.decode(errors='replace'),\n"
    "                             'err': done.stderr.decode(errors='replace')[-1500:]}))\n")


def run_module(args: dict, workdir: Path, env: dict | None = None) -> dict:
    """``python photo_ingest.py args.json`` as Ansible runs a module, started by a small measuring
    process (so that the peak RSS is the module's or its workers', not inherited from this big
    benchmark process): wall, CPU of the module and its workers, peak RSS of the largest."""
    args_file = workdir / f"args-{time.monotonic_ns()}.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO / ".collections"), **(env or {})}
    done = subprocess.run([sys.executable, "-c", _MEASURE, sys.executable, str(MODULE), str(args_file)],
                          capture_output=True, text=True, env=environment, check=False)
    args_file.unlink()
    measured = json.loads(done.stdout)
    out = measured.pop("out")
    try:
        measured["result"] = json.loads(out[out.index("{"):])
    except ValueError:
        measured["result"] = {"failed": True, "msg": (out + measured["err"])[-1500:]}
    return measured


# ------------------------------------------------------------------------------------------ stages

def stages(paths: list[str], workdir: Path) -> dict:
    from ansible_collections.sovereign.cloud.plugins.module_utils import (  # pylint: disable=import-outside-toplevel
        vault_fs, vault_ingest, vault_media, vault_xmp)
    datas = [Path(p).read_bytes() for p in paths]
    out = workdir / "stages"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    counter = iter(range(10 ** 9))
    engine = vault_ingest.thumbnail_engine()

    def publish(data, verify):
        vault_fs.publish_bytes(str(out / f"{next(counter)}.jpg"), data, hashlib.sha256(data).hexdigest(), verify=verify)

    def sidecar(data):
        media = vault_media.analyse(vault_media.Reader(data=data), "IMG_0001.JPG")
        record = vault_ingest._asset_record(media, media.date or vault_media.mtime_date(0),  # pylint: disable=protected-access
                                            hashlib.sha256(data).hexdigest(), "", len(data), None, None)
        vault_fs.replace_bytes(str(out / f"{next(counter)}.xmp"),
                               vault_xmp.render_sidecar(vault_ingest.sidecar_for(record, ["IMG_0001.JPG"])))

    steps = {
        "sha256": lambda d: hashlib.sha256(d).hexdigest(),
        "sha1": lambda d: hashlib.sha1(d).hexdigest(),  # nosec: Immich's look-up key
        "sniff_exif_structure": lambda d: vault_media.analyse(vault_media.Reader(data=d), "IMG.JPG"),
        "publish_fsync": lambda d: publish(d, False),
        "publish_fsync_verify": lambda d: publish(d, True),
        "sidecar": sidecar,
    }
    if engine is not None:
        steps["validate_decode"] = lambda d: engine.validate_image(d, "jpg")
        steps["thumbnails_3_sizes"] = lambda d: engine.make_thumbnails(d, None, "jpg", "0" * 64, str(out / "t"),
                                                                       write=True)
    figures = {}
    for name, step in steps.items():
        cpu = time.process_time()
        wall = time.perf_counter()
        for data in datas:
            step(data)
        figures[name] = {"cpu_ms": round((time.process_time() - cpu) / len(datas) * 1000, 1),
                         "wall_ms": round((time.perf_counter() - wall) / len(datas) * 1000, 1)}
    ours = ("sha256", "sha1", "sniff_exif_structure", "publish_fsync_verify", "sidecar")
    figures["engine_without_decode_cpu_ms"] = round(sum(figures[k]["cpu_ms"] for k in ours), 1)
    figures["photo_mb"] = round(sum(len(d) for d in datas) / len(datas) / 1e6, 2)
    shutil.rmtree(out, ignore_errors=True)
    return figures


# ------------------------------------------------------------------------------------------ pipeline

def _inbox(paths: list[str], workdir: Path) -> Path:
    """A folder holding exactly these photos (hard links where possible)."""
    inbox = workdir / "pipeline-inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for path in paths:
        try:
            os.link(path, inbox / Path(path).name)
        except OSError:
            shutil.copy2(path, inbox / Path(path).name)
    return inbox


def pipeline(paths: list[str], workers: int, workdir: Path, thumbnails: bool = True) -> dict:
    vault = workdir / "pipeline-vault"
    shutil.rmtree(vault, ignore_errors=True)
    inbox = _inbox(paths, workdir)
    load = _load()
    measured = run_module({"sources": [str(inbox)], "vault": str(vault), "workers": workers,
                           "min_age": 0, "thumbnails": thumbnails}, workdir)
    result = measured["result"]
    photos = len(paths)
    shutil.rmtree(vault, ignore_errors=True)
    shutil.rmtree(inbox, ignore_errors=True)
    return {"photos": photos, "workers": workers, "thumbnails": thumbnails, "load1": load,
            "photos_per_s": round(photos / measured["wall_s"], 2),
            "cpu_ms_per_photo": round(measured["cpu_s"] / photos * 1000, 1),
            "cpu_bound_photos_per_s": round(workers * photos / measured["cpu_s"], 2),
            "peak_rss_mb": round(measured["peak_rss_mb"], 1),
            "result": {k: result.get(k) for k in ("ingested", "changed", "failed", "msg", "summary")}}


# ------------------------------------------------------------------------------------------ rescan

def _tiny_library(root: Path, files: int) -> Path:
    """``files`` unique tiny JPEG-like files (a valid JPEG header is enough for a rescan) in
    folders of 1,000, when corpus.py is not available."""
    inbox = root / "inbox"
    marker = root / ".complete"
    if marker.exists():
        return inbox
    from support import media_factory  # pylint: disable=import-outside-toplevel
    base = media_factory.jpeg(size=(16, 16), datetime_original="2020:01:01 00:00:00")
    for index in range(files):
        folder = inbox / f"{index // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{index:05d}.JPG").write_bytes(base[:-2] + index.to_bytes(4, "big") + b"\xff\xd9")
        os.utime(folder / f"IMG_{index:05d}.JPG", (1.6e9, 1.6e9))
    marker.write_text(str(files), encoding="utf-8")
    return inbox


def noop_rescan(files: int, workers: int, workdir: Path, repeats: int = 5, log=print) -> dict:
    try:
        import corpus  # pylint: disable=import-outside-toplevel
        inbox = corpus.small_library(files, workers, log)
    except ImportError:
        inbox = _tiny_library(REPO / ".cache" / f"bench-engine-library-{files}", files)
    vault = inbox.parent / "vault-no-thumbnails"
    marker = inbox.parent / ".ingested-no-thumbnails"
    args = {"sources": [str(inbox)], "vault": str(vault), "workers": workers, "min_age": 0, "thumbnails": False}
    if not marker.exists():
        shutil.rmtree(vault, ignore_errors=True)
        log(f"  first ingest of the {files}-file library, thumbnails off (once; cached in {vault})...")
        first = run_module(args, workdir)
        if first["result"].get("failed") or first["result"].get("ingested") != files:
            return {"skipped": f"the first ingest failed: {first['result']}"}
        marker.write_text(json.dumps({"first_ingest_s": round(first["wall_s"], 1),
                                      "cpu_s": round(first["cpu_s"], 1)}), encoding="utf-8")
    runs = []
    for _run in range(repeats):
        load = _load()
        measured = run_module(args, workdir)
        runs.append((measured, load))
    best, load = min(runs, key=lambda item: item[0]["wall_s"])
    start_only = run_module({"sources": [], "vault": str(workdir / "none")}, workdir)
    uncached = run_module(args, workdir, env={"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(
        workdir / f"pyc-{time.monotonic_ns()}")})
    return {"files": files, "load1": load, "best_wall_s": round(best["wall_s"], 3),
            "runs_wall_s": [round(m["wall_s"], 3) for m, _l in runs],
            "best_cpu_s": round(min(m["cpu_s"] for m, _l in runs), 3),
            "module_start_only_cpu_s": round(start_only["cpu_s"], 3),
            "without_bytecode_cache_cpu_s": round(uncached["cpu_s"], 3),
            "peak_rss_mb": round(best["peak_rss_mb"], 1),
            "changed": best["result"].get("changed"), "unchanged": best["result"].get("unchanged"),
            "first_ingest": json.loads(marker.read_text(encoding="utf-8"))}


# ------------------------------------------------------------------------------------------ streaming

def streaming(workdir: Path, size_mb: int = 400) -> dict:
    """A movie bigger than the in-memory limit: the worker streams it (peak RSS stays small)."""
    from support import media_factory  # pylint: disable=import-outside-toplevel
    src = workdir / "streaming-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    head = media_factory.handmade_movie(creationdate="2024-01-02T03:04:05+0100", mdat_bytes=8)
    moov_at = head.find(b"moov") - 4
    mdat_at = head.find(b"mdat") - 4
    payload = size_mb * 1024 * 1024
    with open(src / "IMG_0001.MOV", "wb") as handle:
        handle.write(head[:mdat_at])
        handle.write((payload + 8).to_bytes(4, "big") + b"mdat")
        chunk = os.urandom(1024 * 1024)
        for _chunk in range(size_mb):
            handle.write(chunk)
        handle.write(head[moov_at:])
    os.utime(src / "IMG_0001.MOV", (1.6e9, 1.6e9))
    vault = workdir / "streaming-vault"
    shutil.rmtree(vault, ignore_errors=True)
    measured = run_module({"sources": [str(src)], "vault": str(vault), "workers": 2, "min_age": 0}, workdir)
    size = (src / "IMG_0001.MOV").stat().st_size
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(vault, ignore_errors=True)
    return {"file_mb": round(size / 1e6), "peak_rss_mb": round(measured["peak_rss_mb"], 1),
            "wall_s": round(measured["wall_s"], 2), "mb_per_s": round(size / 1e6 / measured["wall_s"], 1),
            "ingested": measured["result"].get("ingested"), "failed": measured["result"].get("failed")}


# ------------------------------------------------------------------------------------------ entry

def _jpegs(count: int, workers: int, log) -> list[str]:
    try:
        import corpus  # pylint: disable=import-outside-toplevel
        return corpus.jpeg_corpus(count, workers, log)[:count]
    except ImportError:
        from support import media_factory  # pylint: disable=import-outside-toplevel
        folder = REPO / ".cache" / "bench-engine-jpeg"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index in range(count):
            path = folder / f"IMG_{index:04d}.JPG"
            if not path.exists():
                path.write_bytes(media_factory.jpeg(size=(4032, 3024), seed=index, quality=92, make="Apple",
                                                    model="iPhone 13", datetime_original="2023:05:01 12:00:00"))
            paths.append(str(path))
        return paths


def run(results: dict, workdir: Path, photos: int = 40, rescan_files: int = 50000, workers: int | None = None,
        log=print) -> dict:
    workers = workers or os.cpu_count() or 1
    figures: dict = {"cores": os.cpu_count(), "load1_start": _load(), "targets": TARGETS}
    paths = _jpegs(photos, workers, log)
    log("ingest engine: per-stage CPU (12 MP JPEG)...")
    figures["stages"] = stages(paths[:min(len(paths), 20)], workdir)
    log("ingest engine: whole pipeline through the module...")
    figures["pipeline_jpeg"] = pipeline(paths, workers, workdir)
    figures["pipeline_jpeg_no_thumbnails"] = pipeline(paths, workers, workdir, thumbnails=False)
    if rescan_files:
        log(f"ingest engine: no-op rescan of {rescan_files} files...")
        figures["noop_rescan"] = noop_rescan(rescan_files, workers, workdir, log=log)
    log("ingest engine: streaming a large movie...")
    figures["streaming"] = streaming(workdir)
    figures["load1_end"] = _load()
    results["ingest_engine"] = figures
    return figures


def report(figures: dict, log=print) -> None:
    stages_ = figures.get("stages", {})
    log(f"\nIngest engine (cores {figures['cores']}, load {figures['load1_start']} -> {figures.get('load1_end')})")
    if stages_:
        log(f"  per 12 MP JPEG ({stages_['photo_mb']} MB), CPU ms: " + ", ".join(
            f"{k} {v['cpu_ms']}" for k, v in stages_.items() if isinstance(v, dict)))
        log(f"  engine without the decode: {stages_['engine_without_decode_cpu_ms']} ms CPU per photo")
    for key in ("pipeline_jpeg", "pipeline_jpeg_no_thumbnails"):
        p = figures.get(key)
        if p:
            log(f"  {key}: {p['photos_per_s']} photos/s wall (load {p['load1']}), {p['cpu_ms_per_photo']} ms CPU/photo "
                f"= {p['cpu_bound_photos_per_s']} photos/s CPU-bound on {p['workers']} workers, peak RSS "
                f"{p['peak_rss_mb']} MB; {p['result'].get('summary')}")
    rescan = figures.get("noop_rescan")
    if rescan and "skipped" not in rescan:
        log(f"  no-op rescan of {rescan['files']} files through the module: best {rescan['best_wall_s']} s wall "
            f"(runs {rescan['runs_wall_s']}, load {rescan['load1']}), {rescan['best_cpu_s']} s CPU "
            f"(module start alone {rescan['module_start_only_cpu_s']} s; without a bytecode cache "
            f"{rescan['without_bytecode_cache_cpu_s']} s), changed={rescan['changed']}, peak RSS {rescan['peak_rss_mb']} MB"
            f" [target < {TARGETS['noop_rescan_s']} s]")
    elif rescan:
        log(f"  no-op rescan: {rescan['skipped']}")
    stream = figures.get("streaming")
    if stream:
        log(f"  streaming a {stream['file_mb']} MB movie: peak RSS {stream['peak_rss_mb']} MB, {stream['mb_per_s']} MB/s "
            f"(hash pass, copy pass, read-back) [target RSS < {TARGETS['peak_rss_mb']} MB]")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--rescan-files", type=int, default=50000, help="0 skips the rescan")
    parser.add_argument("--workers", type=int, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sovereign-bench-ingest-") as temp:
        measured = run({}, Path(temp), options.photos, options.rescan_files, options.workers)
    report(measured)
    print(json.dumps(measured, indent=1, default=str))
