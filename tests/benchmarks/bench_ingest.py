"""The whole ingest pipeline and the no-op rescan, through the photo_ingest module as Ansible runs it.

Every run goes through ``measure.run_module`` (``python plugins/modules/photo_ingest.py
args.json`` under a measuring process: wall, CPU of the module and all its descendants, peak RSS
of the largest process).

- ``Pipeline(kind, files, workers, workdir)``, one ``round()`` at a time, then ``figures()``: the
  whole pipeline (walk, hash, EXIF, atomic copy with fsync and read-back, XMP sidecar, catalog,
  three thumbnails) into a fresh vault, per round twice: once over a subset of one photo per
  worker, once over every photo (``thumbnails: true``, ``min_age: 0``). A whole run minus the
  start-up (the median subset run) is what the further photos cost once the module and its pool
  run, which is what a 50,000-photo library sees: photos/s (wall, best whole run), CPU ms per
  photo (medians) and the photos/s that CPU cost allows on these cores when they are idle (fsync
  waits are not CPU, so that is an upper bound). The whole run over every photo, start-up
  included, is reported too.
- ``noop_rescan(library, files, workers, repeats, workdir)``: a many-file library ingested once
  with thumbnails off (only the rescan is measured; cached beside the library), then runs that
  find nothing to do with the module's default options, module start included (interpreter,
  imports, walk, catalog comparison, exit). For context: the module start alone (failing on a
  vault whose parent does not exist), and one rescan with no bytecode cache at all (stdlib included; Ansible's
  AnsiballZ imports the collection's code from a zip, without cached bytecode).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from pathlib import Path

from measure import counts, run_module


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _inbox(paths: list[str], folder: Path) -> Path:
    """A folder holding exactly these files (hard links where the file system allows)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in paths:
        try:
            os.link(path, folder / Path(path).name)
        except OSError:
            shutil.copy2(path, folder / Path(path).name)
    return folder


def _ingest_fresh(inbox: Path, vault: Path, workers: int, workdir: Path) -> dict:
    shutil.rmtree(vault, ignore_errors=True)
    measured = run_module({"sources": [str(inbox)], "vault": str(vault), "workers": workers, "min_age": 0,
                           "thumbnails": True}, workdir)
    shutil.rmtree(vault, ignore_errors=True)
    return measured


class Pipeline:
    """The whole-pipeline benchmark of one corpus, one ``round()`` at a time (run.py runs a round
    right after each round of the thumbnails-alone contenders), then ``figures()``. A failure in a
    round is kept and raised by ``figures()``, so that it never stops the thumbnails benchmark."""

    def __init__(self, kind: str, files: list[str], workers: int, workdir: Path, log=print) -> None:
        if len(files) <= workers:
            raise ValueError(f"the {kind} pipeline needs more photos ({len(files)}) than workers ({workers})")
        self.kind, self.files, self.workers, self.workdir = kind, files, workers, workdir
        self.subset = _inbox(files[:workers], workdir / f"inbox-{kind}-subset")
        self.every = _inbox(files, workdir / f"inbox-{kind}")
        self.vault = workdir / f"vault-{kind}"
        self.runs: list[dict] = []
        self.problems: list[str] = []
        self.error: str | None = None
        self.log = log

    def round(self, _index: int = 0) -> None:
        if self.error:
            return
        try:
            load = _load()
            small = _ingest_fresh(self.subset, self.vault, self.workers, self.workdir)
            whole = _ingest_fresh(self.every, self.vault, self.workers, self.workdir)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # raised again by figures()
            self.error = f"{type(exc).__name__}: {exc}"
            self.log(f"  {self.kind} whole pipeline FAILED: {self.error}")
            return
        for run, expected in ((small, self.workers), (whole, len(self.files))):
            result = run["result"]
            if result.get("failed") or result.get("ingested") != expected:
                self.problems.append(f"expected {expected} ingested, got {counts(result)}")
        self.runs.append({"load1": load, "small": small, "whole": whole})
        self.log(f"  {self.kind} round {len(self.runs)} whole pipeline: {len(self.files)} photos in {whole['wall_s']:.2f} s "
                 f"({whole['cpu_s']:.2f} s CPU), {self.workers} in {small['wall_s']:.2f} s ({small['cpu_s']:.2f} s CPU)  "
                 f"load {load:.2f}")

    def figures(self) -> dict:
        """Start-up = the median subset run (its cost hardly varies); each further photo = (a whole
        run - start-up) / the further photos. Load only ever slows a run down, so the wall figure
        takes the best whole run; the CPU figure the medians."""
        shutil.rmtree(self.subset, ignore_errors=True)
        shutil.rmtree(self.every, ignore_errors=True)
        if self.error or not self.runs:
            raise RuntimeError(self.error or "no round ran")
        runs, photos, workers = self.runs, len(self.files), self.workers
        extra = photos - workers
        start_wall = statistics.median(r["small"]["wall_s"] for r in runs)
        start_cpu = statistics.median(r["small"]["cpu_s"] for r in runs)
        whole_cpu = statistics.median(r["whole"]["cpu_s"] for r in runs)
        per_round = [(r["whole"]["wall_s"] - start_wall) / extra for r in runs]
        best = min(range(len(runs)), key=lambda i: runs[i]["whole"]["wall_s"])
        wall, cpu = per_round[best], (whole_cpu - start_cpu) / extra
        figures = {
            "photos": photos, "photo_mb": round(sum(os.path.getsize(f) for f in self.files) / photos / 1e6, 2),
            "workers": workers, "rounds": len(runs), "load1": runs[best]["load1"],
            # Each further photo once the module and its pool run (start-up excluded).
            "photos_per_s": round(1 / wall, 2) if wall > 0 else None,
            "cpu_ms_per_photo": round(cpu * 1000, 1),
            "cpu_bound_photos_per_s": round(workers / cpu, 2) if cpu > 0 else None,
            # The whole run over every photo, module start and pool start included.
            "whole_run_s": round(runs[best]["whole"]["wall_s"], 2),
            "whole_run_photos_per_s": round(photos / runs[best]["whole"]["wall_s"], 2),
            "whole_run_cpu_ms_per_photo": round(whole_cpu / photos * 1000, 1),
            "whole_run_cpu_bound_photos_per_s": round(workers * photos / whole_cpu, 2),
            "start_up_s": round(start_wall, 2), "start_up_cpu_s": round(start_cpu, 2),
            "rounds_photos_per_s": [round(1 / w, 2) if w > 0 else None for w in per_round],
            "rounds_whole_run_s": [round(r["whole"]["wall_s"], 2) for r in runs],
            "rounds_subset_run_s": [round(r["small"]["wall_s"], 2) for r in runs],
            "rounds_load1": [r["load1"] for r in runs],
            "peak_rss_mb": round(max(max(r["small"]["peak_rss_mb"], r["whole"]["peak_rss_mb"]) for r in runs), 1),
            "result": counts(runs[best]["whole"]["result"]),
        }
        if self.problems:
            figures["problem"] = "; ".join(sorted(set(self.problems)))
        return figures


def noop_rescan(library: Path, files: int, workers: int, repeats: int, workdir: Path, log=print) -> dict:
    vault = library.parent / "vault-no-thumbnails"
    marker = library.parent / ".ingested-no-thumbnails"
    if not marker.exists():
        shutil.rmtree(vault, ignore_errors=True)
        log(f"  first ingest of the {files}-file library, thumbnails off (once; cached in {vault})...")
        first = run_module({"sources": [str(library)], "vault": str(vault), "workers": workers, "min_age": 0,
                            "thumbnails": False}, workdir)
        if first["result"].get("failed") or first["result"].get("ingested") != files:
            raise RuntimeError(f"the first ingest of the rescan library failed: {counts(first['result'])}")
        marker.write_text(json.dumps({"first_ingest_s": round(first["wall_s"], 1), "cpu_s": round(first["cpu_s"], 1)}),
                          encoding="utf-8")
        log(f"  first ingest took {first['wall_s']:.0f} s")
    # What a scheduled run does: the module's defaults (thumbnails on; nothing is new, so none are made).
    args = {"sources": [str(library)], "vault": str(vault), "workers": workers}
    runs = []
    for _run in range(repeats):
        load = _load()
        runs.append((run_module(args, workdir), load))
    best, load = min(runs, key=lambda item: item[0]["wall_s"])
    start_only = run_module({"sources": [str(library)], "vault": str(workdir / "no-such-vault" / "x")}, workdir)
    no_bytecode = run_module(args, workdir, env={"PYTHONDONTWRITEBYTECODE": "1",
                                                 "PYTHONPYCACHEPREFIX": str(workdir / f"pyc-{time.monotonic_ns()}")})
    figures = {
        "files": files, "repeats": repeats, "load1": load,
        "best_s": round(best["wall_s"], 3), "runs_s": [round(m["wall_s"], 3) for m, _l in runs],
        "cpu_s": round(statistics.median(m["cpu_s"] for m, _l in runs), 3),
        "peak_rss_mb": round(max(m["peak_rss_mb"] for m, _l in runs), 1),
        "module_start_only_s": round(start_only["wall_s"], 3), "module_start_only_cpu_s": round(start_only["cpu_s"], 3),
        "no_bytecode_cache_s": round(no_bytecode["wall_s"], 3), "no_bytecode_cache_cpu_s": round(no_bytecode["cpu_s"], 3),
        "result": counts(best["result"]), "first_ingest": json.loads(marker.read_text(encoding="utf-8")),
    }
    not_noop = [counts(m["result"]) for m, _l in runs + [(no_bytecode, 0)]
                if m["result"].get("failed") or m["result"].get("changed") or m["result"].get("unchanged") != files]
    if not_noop:
        figures["problem"] = f"a rescan was not a no-op over {files} unchanged files: {not_noop[0]}"
    return figures
