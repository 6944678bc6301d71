"""The one way the benchmarks measure a run of the photo_ingest module.

``run_module(args, workdir)`` runs ``python plugins/modules/photo_ingest.py args.json`` (how Ansible
runs a module: the arguments as ``{"ANSIBLE_MODULE_ARGS": ...}`` in a file, the JSON result on
stdout) under a small measuring process, and returns:

- ``wall_s``: from just before the module's interpreter starts to its exit (start-up, imports, walk,
  catalog, pool, every file, exit);
- ``cpu_s``: user + system time of the module process and of every process below it (its pool
  workers, and a forkserver with the workers it forked). The measuring process is a child
  subreaper (``PR_SET_CHILD_SUBREAPER``), so a forkserver that outlives the module is reparented to
  it instead of to init, and reaped, and its CPU is counted. The measurer's own time is not;
- ``peak_rss_mb``: ``ru_maxrss`` of the children, which Linux reports as the largest single
  process among all the reaped descendants (the module, a worker, the forkserver): the figure the
  issue's "peak memory per worker" target is about. A separate small process, so that nothing of
  this large benchmark process is inherited into it;
- ``result``: the module's JSON result (or ``{"failed": True, "msg": ...}`` when it printed none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "plugins" / "modules" / "photo_ingest.py"

_MEASURER = textwrap.dedent('''
    import ctypes, json, os, resource, subprocess, sys, time
    try:  # PR_SET_CHILD_SUBREAPER: orphaned descendants (a forkserver) are reparented here
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    started = time.perf_counter()
    done = subprocess.run(sys.argv[1:], capture_output=True)
    wall = time.perf_counter() - started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # reap the orphans as they finish
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.01)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stdout.write(json.dumps({"wall_s": wall, "cpu_s": kids.ru_utime + kids.ru_stime,
                                 "peak_rss_mb": kids.ru_maxrss / 1024, "returncode": done.returncode,
                                 "out": done.stdout.decode(errors="replace"),
                                 "err": done.stderr.decode(errors="replace")[-2000:]}))
''')


def run_module(args: dict, workdir: Path, env: dict | None = None, timeout: float = 7200) -> dict:
    """Run photo_ingest with ``args`` under the measuring process; see the module docstring."""
    workdir.mkdir(parents=True, exist_ok=True)
    args_file = workdir / f"args-{time.monotonic_ns()}.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO / ".collections"), **(env or {})}
    try:
        done = subprocess.run([sys.executable, "-c", _MEASURER, sys.executable, str(MODULE), str(args_file)],
                              capture_output=True, text=True, env=environment, timeout=timeout, check=False)
    finally:
        args_file.unlink()
    try:
        measured = json.loads(done.stdout)
    except ValueError as exc:
        raise RuntimeError(f"the measuring process failed: {(done.stderr or done.stdout)[-1500:]}") from exc
    out, err = measured.pop("out"), measured.pop("err")
    try:
        measured["result"] = json.loads(out[out.index("{"):])
    except ValueError:
        measured["result"] = {"failed": True, "msg": f"no JSON result (exit {measured['returncode']}): "
                                                     f"{(out + err)[-1500:]}"}
    return measured


def counts(result: dict) -> dict:
    """The parts of an ingest result a benchmark reports (counts, not lists)."""
    keys = ("ingested", "duplicates", "unchanged", "skipped", "changed", "failed", "msg", "summary")
    out = {key: result[key] for key in keys if key in result}
    for key in ("rejected", "errors"):
        if isinstance(result.get(key), list):
            out[key] = len(result[key])
    return out
