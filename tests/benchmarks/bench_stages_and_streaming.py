"""What one ingest worker spends per photo, stage by stage, and its memory on a large movie.

- ``stages(paths, workdir)``: CPU and wall ms per photo of each step the ingest worker takes,
  called in this process one photo at a time on photos already in memory: sha256, sha1 (Immich's
  look-up key), sniff + EXIF + JPEG structure scan, the atomic publish (temp file, fsync, rename)
  without and with the read-back hash, the XMP sidecar (render + atomic write), the validation decode (thumbnails off) and
  the three thumbnails. ``engine_without_decode_cpu_ms`` sums what our own code costs around the
  decode. No pool, no catalog: the whole pipeline is bench_ingest.py's.
- ``streaming(workdir, size_mb)``: one QuickTime movie larger than the worker's in-memory limit
  (64 MiB) ingested through the module (``measure.run_module``); the largest process's peak RSS
  must not grow with the file (hash pass, copy pass, read-back, all streamed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from measure import counts, run_module


def stages(paths: list[str], workdir: Path) -> dict:
    # pylint: disable=import-outside-toplevel
    from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import publish as vault_publish, xmp
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.ingest import worker
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.analyse import analyse
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.dates import mtime_date
    from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault.media.formats import Reader
    datas = [Path(p).read_bytes() for p in paths]
    out = workdir / "stages"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    counter = iter(range(10 ** 9))
    engine = worker.thumbnail_engine()

    def publish(data, verify):
        vault_publish.publish_bytes(str(out / f"{next(counter)}.jpg"), data, hashlib.sha256(data).hexdigest(), verify=verify)

    # The sidecar step renders and writes the XMP of an asset record made beforehand: the analysis
    # and the hash it needs are the steps timed above, not to be counted twice.
    records = {}
    for data in datas:
        media = analyse(Reader(data=data), "IMG_0001.JPG")
        records[id(data)] = worker._asset_record(  # pylint: disable=protected-access
            media, media.date or mtime_date(0), hashlib.sha256(data).hexdigest(), "", len(data), None, None)

    def sidecar(data):
        atomic.replace_bytes(str(out / f"{next(counter)}.xmp"),
                             xmp.render_sidecar(worker.sidecar_for(records[id(data)], ["IMG_0001.JPG"])))

    steps = {
        "sha256": lambda d: hashlib.sha256(d).hexdigest(),
        "sha1": lambda d: hashlib.sha1(d).hexdigest(),  # nosec: Immich's look-up key
        "sniff_exif_structure": lambda d: analyse(Reader(data=d), "IMG.JPG"),
        "publish_fsync": lambda d: publish(d, False),
        "publish_fsync_verify": lambda d: publish(d, True),
        "sidecar": sidecar,
    }
    if engine is not None:
        steps["validate_decode"] = lambda d: engine.validate_image(d, "jpg")
        steps["thumbnails_3_sizes"] = lambda d: engine.make_thumbnails(d, None, "jpg", "0" * 64, str(out / "t"),
                                                                       write=True)
    figures: dict = {"photos": len(datas), "photo_mb": round(sum(len(d) for d in datas) / len(datas) / 1e6, 2),
                     "load1": round(os.getloadavg()[0], 2), "ms": {}}
    for name, step in steps.items():
        cpu, wall = time.process_time(), time.perf_counter()
        for data in datas:
            step(data)
        figures["ms"][name] = {"cpu": round((time.process_time() - cpu) / len(datas) * 1000, 1),
                               "wall": round((time.perf_counter() - wall) / len(datas) * 1000, 1)}
    ours = ("sha256", "sha1", "sniff_exif_structure", "publish_fsync_verify", "sidecar")
    figures["engine_without_decode_cpu_ms"] = round(sum(figures["ms"][k]["cpu"] for k in ours), 1)
    shutil.rmtree(out, ignore_errors=True)
    return figures


def streaming(workdir: Path, size_mb: int, workers: int) -> dict:
    from support import media_factory  # pylint: disable=import-outside-toplevel
    src = workdir / "streaming-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    head = media_factory.handmade_movie(creationdate="2024-01-02T03:04:05+0100", mdat_bytes=8)
    moov_at = head.find(b"moov") - 4
    mdat_at = head.find(b"mdat") - 4
    movie = src / "IMG_0001.MOV"
    with open(movie, "wb") as handle:
        handle.write(head[:mdat_at])
        handle.write((size_mb * 1024 * 1024 + 8).to_bytes(4, "big") + b"mdat")
        chunk = os.urandom(1024 * 1024)
        for _chunk in range(size_mb):
            handle.write(chunk)
        handle.write(head[moov_at:])
    os.utime(movie, (1.6e9, 1.6e9))
    size = movie.stat().st_size
    vault = workdir / "streaming-vault"
    shutil.rmtree(vault, ignore_errors=True)
    load = round(os.getloadavg()[0], 2)
    measured = run_module({"sources": [str(src)], "vault": str(vault), "workers": workers, "min_age": 0}, workdir)
    shutil.rmtree(src, ignore_errors=True)
    shutil.rmtree(vault, ignore_errors=True)
    figures = {"file_mb": round(size / 1e6), "load1": load, "peak_rss_mb": round(measured["peak_rss_mb"], 1),
               "wall_s": round(measured["wall_s"], 2), "cpu_s": round(measured["cpu_s"], 2),
               "mb_per_s": round(size / 1e6 / measured["wall_s"], 1), "result": counts(measured["result"])}
    if measured["result"].get("failed") or measured["result"].get("ingested") != 1:
        figures["problem"] = f"the movie was not ingested: {figures['result']}"
    return figures
