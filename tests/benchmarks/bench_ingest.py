"""Whole-pipeline ingest and the no-op rescan, through the real module when it exists.

Both run in a separate measuring process, so that CPU time and peak RSS cover exactly the ingest
(the module process and its pool workers, whose usage the kernel folds into their parent's
children figures when they are reaped; the measuring process is a child subreaper, so workers
forked by a forkserver that nobody reaps are counted too):

- ``pipeline(kind, files, workers, workdir)``: a fresh vault, one ingest of the corpus (hash,
  EXIF, atomic copy with fsync, XMP sidecar, catalog, three thumbnails), and one of a
  one-photo-per-worker subset: the difference gives photos/s and CPU ms per photo once running
  (start-up excluded, as for a large library); the whole run's figures are kept too. Peak RSS
  is the largest process's.
- ``noop_rescan(library)``: ingest a many-file library once (cached with the corpus), then time
  further runs that find nothing to do, module start included (python start, imports, walk,
  catalog query, exit).

How the ingest is invoked (the interface this benchmark assumes, see tests/benchmarks/README.md):

1. the module ``plugins/modules/photo_ingest.py``, run as Ansible runs a module: ``python
   photo_ingest.py args.json`` with ``{"ANSIBLE_MODULE_ARGS": {"sources": [...], "vault": ...,
   "workers": N, "min_age": 0, "thumbnails": true}}``; it prints its JSON result;
2. else the engine ``plugins/module_utils/vault_ingest.py``: the first of ``ingest``,
   ``run_ingest``, ``ingest_sources`` that exists, called with the keyword arguments its signature
   accepts among ``sources, vault, catalog, thumbnails, thumbs_root, min_age, workers,
   check_mode``; its result is a dict or has ``as_dict()``;
3. else the figures are skipped with a note.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "plugins" / "modules" / "photo_ingest.py"
ENGINE = REPO / "plugins" / "module_utils" / "vault_ingest.py"
ENGINE_FUNCTIONS = ("ingest", "run_ingest", "ingest_sources")

# The measuring process: runs the ingest (module as a child, or engine in-process), then reports
# wall time, CPU (self + reaped children) and the largest process's peak RSS.
_RUNNER = textwrap.dedent('''
    import ctypes, inspect, json, os, resource, subprocess, sys, time
    spec = json.loads(sys.argv[1])
    # Become the child subreaper: a forkserver (and the pool workers it forked) outlives the module
    # unreaped; orphaned here instead of to init, their CPU and memory are counted below.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    started = time.perf_counter()
    if spec["mode"] == "module":
        with open(spec["args_file"], "w", encoding="utf-8") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": spec["args"]}, handle)
        done = subprocess.run([sys.executable, spec["module"], spec["args_file"]], capture_output=True, text=True)
        wall = time.perf_counter() - started
        try:
            result = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            result = {"failed": True, "msg": (done.stdout + done.stderr)[-2000:]}
    else:
        sys.path.insert(0, spec["collections"])
        from ansible_collections.sovereign.cloud.plugins.module_utils import vault_ingest
        function = next(getattr(vault_ingest, n) for n in spec["functions"] if hasattr(vault_ingest, n))
        accepted = inspect.signature(function).parameters
        kwargs = {k: v for k, v in spec["args"].items() if k in accepted}
        try:
            result = function(**kwargs)
            result = result.as_dict() if hasattr(result, "as_dict") else dict(result)
        except Exception as exc:  # reported, not raised: the benchmark goes on
            result = {"failed": True, "msg": f"{type(exc).__name__}: {exc}"}
        wall = time.perf_counter() - started
    deadline = time.time() + 30
    while time.time() < deadline:  # reap the orphans (forkserver, workers) as they finish
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.02)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    peak = max(me.ru_maxrss, kids.ru_maxrss) / 1024
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak, "result": result}, default=str))
''')


def how() -> tuple[str | None, str]:
    """('module' | 'engine' | None, a note saying which)."""
    if MODULE.exists():
        return "module", f"through the photo_ingest module ({MODULE.relative_to(REPO)})"
    if ENGINE.exists():
        text = ENGINE.read_text(encoding="utf-8", errors="replace")
        for name in ENGINE_FUNCTIONS:
            if f"def {name}(" in text:
                return "engine", f"through vault_ingest.{name}() (the photo_ingest module does not exist yet)"
        return None, (f"skipped: {ENGINE.relative_to(REPO)} exists but has none of "
                      f"{', '.join(ENGINE_FUNCTIONS)}()")
    return None, ("skipped: the ingest engine (plugins/module_utils/vault_ingest.py) and the photo_ingest module "
                  "do not exist yet")


def run_ingest(sources: list[str], vault: str, workers: int, thumbnails: bool = True, timeout: float = 7200) -> dict:
    mode, note = how()
    if mode is None:
        return {"skipped": note}
    args = {"sources": sources, "vault": vault, "workers": workers, "min_age": 0, "thumbnails": thumbnails}
    spec = {"mode": mode, "args": args, "module": str(MODULE), "args_file": os.path.join(vault + ".args.json"),
            "collections": str(REPO / ".collections"), "functions": ENGINE_FUNCTIONS}
    env = {**os.environ, "PYTHONPATH": str(REPO / ".collections")}
    done = subprocess.run([sys.executable, "-c", _RUNNER, json.dumps(spec)], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)
    try:
        measured = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"skipped": f"the measuring process failed: {(done.stderr or done.stdout)[-800:]}"}
    measured["how"] = note
    return measured


def _counts(result: dict) -> dict:
    keys = ("ingested", "duplicates", "unchanged", "skipped", "changed", "failed", "msg", "summary")
    out = {key: result.get(key) for key in keys if key in result}
    if isinstance(result.get("rejected"), list):
        out["rejected"] = len(result["rejected"])
    return out


def _ingest_fresh(kind: str, sources: list[str], workers: int, workdir: Path) -> dict:
    vault = workdir / f"vault-{kind}"
    shutil.rmtree(vault, ignore_errors=True)
    vault.mkdir(parents=True)
    measured = run_ingest(sources, str(vault), workers)
    shutil.rmtree(vault, ignore_errors=True)
    return measured


def pipeline(kind: str, files: list[str], workers: int, workdir: Path) -> dict:
    """Ingest ``files`` into a fresh vault. Also ingests a ``workers``-photo subset first: the
    difference between the two runs is the marginal cost of a photo (module and pool start-up
    excluded), which is what a 50,000-photo library sees."""
    starter = workdir / f"src-{kind}-start"
    shutil.rmtree(starter, ignore_errors=True)
    starter.mkdir(parents=True)
    for path in files[:workers]:
        shutil.copy2(path, starter / Path(path).name)
    load = os.getloadavg()[0]
    start_up = _ingest_fresh(f"{kind}-start", [str(starter)], workers, workdir)
    measured = _ingest_fresh(kind, [str(Path(files[0]).parent)], workers, workdir)
    for run in (start_up, measured):
        if "skipped" in run:
            return run
    result = measured.pop("result")
    photos, extra = len(files), len(files) - workers
    marginal_cpu = (measured["cpu_s"] - start_up["cpu_s"]) / extra
    marginal_wall = (measured["wall_s"] - start_up["wall_s"]) / extra
    figures = {
        "how": measured["how"], "photos": photos, "workers": workers, "load1": round(load, 2),
        "whole_run_s": round(measured["wall_s"], 2), "whole_run_cpu_s": round(measured["cpu_s"], 2),
        "start_up_run_s": round(start_up["wall_s"], 2), "start_up_run_cpu_s": round(start_up["cpu_s"], 2),
        "whole_run_photos_per_s": round(photos / measured["wall_s"], 2),
        # Marginal figures: what each further photo costs once the module and its pool run.
        "photos_per_s": round(1 / marginal_wall, 2) if marginal_wall > 0 else None,
        "cpu_ms_per_photo": round(marginal_cpu * 1000, 1),
        # fsync waits are not CPU time, so this is what idle cores could do at most.
        "cpu_bound_photos_per_s": round(workers / marginal_cpu, 2) if marginal_cpu > 0 else None,
        "peak_rss_mb": round(max(measured["peak_rss_mb"], start_up["peak_rss_mb"]), 1),
        "result": _counts(result),
    }
    if result.get("failed") or result.get("ingested") not in (None, photos):
        figures["problem"] = "the ingest did not ingest every photo: see result"
    shutil.rmtree(starter, ignore_errors=True)
    return figures


def noop_rescan(library: Path, files: int, workers: int, repeats: int = 3, log=print) -> dict:
    mode, note = how()
    if mode is None:
        return {"skipped": note}
    vault = library.parent / "vault"
    marker = library.parent / ".ingested"
    if not marker.exists():
        shutil.rmtree(vault, ignore_errors=True)
        vault.mkdir(parents=True)
        log(f"  first ingest of the {files}-file library (once; cached in {library.parent})...")
        first = run_ingest([str(library)], str(vault), workers)
        if "skipped" in first:
            return first
        counts = _counts(first["result"])
        if first["result"].get("failed"):
            return {"skipped": f"the first ingest failed: {counts}"}
        marker.write_text(json.dumps({"first_ingest_s": round(first["wall_s"], 1), **counts}), encoding="utf-8")
        log(f"  first ingest took {first['wall_s']:.0f} s: {counts}")
    runs = []
    for _run in range(repeats):
        load = os.getloadavg()[0]
        measured = run_ingest([str(library)], str(vault), workers)
        if "skipped" in measured:
            return measured
        runs.append((measured, load))
    best, load = min(runs, key=lambda item: item[0]["wall_s"])
    result = best["result"]
    figures = {
        "how": best["how"], "files": files, "load1": round(load, 2),
        "best_s": round(best["wall_s"], 3), "runs_s": [round(m["wall_s"], 3) for m, _l in runs],
        "cpu_s": round(best["cpu_s"], 3), "peak_rss_mb": round(best["peak_rss_mb"], 1),
        "result": _counts(result), "first_ingest": json.loads(marker.read_text(encoding="utf-8")),
    }
    if result.get("changed") or result.get("ingested"):
        figures["problem"] = "the rescan was not a no-op (changed or ingested something)"
    return figures


def module_start_only(workdir: Path) -> float | None:
    """Wall time of the module failing fast on an empty source list (python + imports), for context."""
    if not MODULE.exists():
        return None
    args = workdir / "start.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"sources": [], "vault": str(workdir / "none")}}),
                    encoding="utf-8")
    started = time.perf_counter()
    subprocess.run([sys.executable, str(MODULE), str(args)], capture_output=True, check=False,
                   env={**os.environ, "PYTHONPATH": str(REPO / ".collections")})
    return round(time.perf_counter() - started, 3)
