"""The benchmark driver still runs end to end (``tests/benchmarks/run.py --quick``).

A smoke test, so that the benchmark code cannot rot unnoticed between full runs: a few small
photos generated in a temp dir, every section, JSON written with the expected figures. It asserts
no timing (benchmarks are never judged by tests), only that every measurement completed and that
the ingests it measured did what they were asked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "benchmarks" / "run.py"


@pytest.mark.slow
def test_quick_benchmark_run_completes_and_writes_every_figure(tmp_path):
    results = tmp_path / "results"
    done = subprocess.run([sys.executable, str(RUN), "--quick", "--corpus-dir", str(tmp_path / "corpus"),
                           "--results-dir", str(results)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "figure" in done.stdout and "not judged (--quick)" in done.stdout

    written = sorted(p.name for p in results.iterdir())
    assert "latest-quick.json" in written and any(n.startswith("bench-quick-") for n in written), written
    figures = json.loads((results / "latest-quick.json").read_text(encoding="utf-8"))
    assert figures["errors"] == []
    for key in ("environment", "targets", "thumbnails_jpeg", "thumbnails_heic", "pipeline_jpeg", "pipeline_heic",
                "noop_rescan", "stages", "streaming", "verify", "restore_drill", "verdicts"):
        assert key in figures, key

    photos, heics = figures["args"]["photos"], figures["args"]["heic"]
    for kind, count in (("jpeg", photos), ("heic", heics)):
        pipe = figures[f"pipeline_{kind}"]
        assert "problem" not in pipe, pipe
        assert pipe["result"]["ingested"] == count and pipe["result"]["rejected"] == 0
        # The whole run's figures are positive; the per-further-photo difference of a few small
        # photos is noise (it may even come out negative), so it is only checked to be present.
        for figure in ("whole_run_cpu_ms_per_photo", "whole_run_photos_per_s", "peak_rss_mb"):
            assert pipe[figure] > 0, (kind, figure, pipe)
        assert isinstance(pipe["cpu_ms_per_photo"], float)
        assert {"pillow_plain", "engine"} <= set(figures[f"thumbnails_{kind}"]["methods"])

    rescan = figures["noop_rescan"]
    assert "problem" not in rescan, rescan
    assert rescan["result"]["unchanged"] == figures["args"]["rescan_files"] and rescan["result"]["changed"] is False
    assert figures["streaming"]["result"]["ingested"] == 1 and figures["streaming"]["peak_rss_mb"] > 0
    assert figures["verify"]["engine_hash_mb_s"] > 0
    drill = figures["restore_drill"]
    assert drill.get("drill_passed") is True or "restic is not installed" in drill.get("skipped", ""), drill
    assert "thumbnails_3_sizes" in figures["stages"]["ms"]

    judged = {v["target"] for v in figures["verdicts"]}
    assert judged == set(figures["targets"]), judged
