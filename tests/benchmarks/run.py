"""The photo vault's speed and memory, measured side by side in one run (``make bench``).

Prints one table with the targets of issue 4 marked met / NOT met next to each figure, and writes
every figure as JSON to tests/benchmarks/results/ (gitignored). Asserts nothing. Sections (each
can be chosen with ``--only``):

- ``thumbnails``: the three thumbnails alone, plain Pillow vs vipsthumbnail vs our engine, 12 MP
  JPEG and HEIC (bench_thumbnails.py);
- ``pipeline``: the whole ingest pipeline through the photo_ingest module, JPEG and HEIC
  (bench_ingest.py), judged against the thumbnails-alone figures of the same run;
- ``rescan``: a no-op rescan of a 50,000-file library, module start included (bench_ingest.py);
- ``stages``: the ingest worker's CPU per step, and ``streaming``: its memory on a large movie
  (bench_stages_and_streaming.py);
- ``verify``: verification hashing vs plain hashlib on every core (bench_verify.py);
- ``drill``: a restore drill on real restic (bench_restore_drill.py; skipped without restic).

The machine may be shared: CPU time (user+sys of every process involved) is the robust figure;
wall-clock figures are printed next to the 1-minute load average at that moment. The corpus is
generated on the first run and cached in .cache/bench-corpus/. ``--quick`` is a smoke run on
small photos (figures not judged).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for entry in (str(HERE), str(REPO / ".collections"), str(REPO / "tests")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import bench_ingest  # noqa: E402  pylint: disable=wrong-import-position
import bench_restore_drill  # noqa: E402  pylint: disable=wrong-import-position
import bench_stages_and_streaming  # noqa: E402  pylint: disable=wrong-import-position
import bench_thumbnails  # noqa: E402  pylint: disable=wrong-import-position
import corpus  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.sovereign.cloud.plugins.module_utils.photo_vault import thumbnails as vault_thumbnails  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = HERE / "results"
SECTIONS = ("thumbnails", "pipeline", "rescan", "stages", "streaming", "verify", "drill")
TARGETS = {
    "jpeg_pipeline_photos_per_s": 15.0,     # 12 MP JPEG, whole pipeline, 2 cores
    "jpeg_pipeline_vs_vipsthumbnail": 2.5,  # whole pipeline vs vipsthumbnail making the thumbnails alone
    "jpeg_pipeline_vs_pillow_plain": 3.0,   # whole pipeline vs plain Pillow making the thumbnails alone
    "heic_pipeline_photos_per_s": 2.7,      # 12 MP iPhone HEIC, whole pipeline, 2 cores
    "noop_rescan_s": 1.5,                   # 50,000 files, module start included
    "verify_ratio": 0.9,                    # of plain hashlib sha256 on every core, files in the page cache
    "peak_rss_mb": 150.0,                   # largest process (module or worker)
}
# The full run and the --quick smoke run (small photos, few of everything; figures not judged).
FULL = {"photos": 80, "heic": 24, "rounds": 3, "rescan_files": 50000, "rescan_repeats": 5, "size": None,
        "stage_photos": 20, "movie_mb": 400, "verify": {}, "drill": {}}
QUICK = {"photos": 6, "heic": 4, "rounds": 1, "rescan_files": 100, "rescan_repeats": 2, "size": (1024, 768),
         "stage_photos": 2, "movie_mb": 80,  # just above the worker's 64 MiB in-memory limit
         "verify": {"files": 8, "file_mb": 1, "repeats": 1, "big_mb": 64},
         "drill": {"files": 4, "file_kb": 64, "per_file_sample": 1}}


def log(message: str) -> None:
    print(message, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def environment() -> dict:
    vips_cli = None
    if shutil.which("vips"):
        vips_cli = subprocess.run(["vips", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
        "cpu": _cpu_model(), "cores": os.cpu_count(), "load1_start": load1(),
        "loadavg_start": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(), "libraries": vault_thumbnails.available_engines(),
        "vipsthumbnail": vips_cli, "settings": vault_thumbnails.SETTINGS,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---------------------------------------------------------------------------------- the table
def _f(value, unit: str = "", digits: int | None = None) -> str:
    if value is None:
        return "-"
    if digits is not None:
        value = round(value, digits)
    return f"{value}{unit}"


def _ratio(numerator, denominator):
    return round(numerator / denominator, 2) if numerator and denominator else None


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def _round_ratio(pipe: dict, theirs: dict):
    """Our photos/s over theirs: the median of the per-round ratios when both ran in the same
    rounds (taking turns, so each pair met the same load), else best round over best round."""
    ours, other = pipe.get("rounds_photos_per_s", []), theirs.get("rounds_photos_per_s", [])
    pairs = [a / b for a, b in zip(ours, other) if a and b]
    if pairs and len(ours) == len(other):
        return round(statistics.median(pairs), 2)
    return _ratio(pipe["photos_per_s"], theirs["photos_per_s"])


class Table:
    """Rows of (figure, wall, CPU, CPU-bound, peak RSS, load1, target, verdict), section titles,
    notes; the verdicts are also kept as data for the JSON."""

    HEAD = ("figure", "wall", "CPU", "CPU-bound", "peak RSS", "load1", "target", "verdict")
    WIDTHS = (60, 10, 10, 9, 9, 5, 9)

    def __init__(self, judge: bool) -> None:
        self.judge = judge
        self.lines: list[tuple] = []
        self.verdicts: list[dict] = []

    def title(self, text: str) -> None:
        self.lines.append(("title", text))

    def note(self, text: str) -> None:
        self.lines.append(("note", text))

    def row(self, figure: str, wall="-", cpu="-", bound="-", rss="-", load=None, target="", verdict="") -> None:
        self.lines.append(("row", figure, wall, cpu, bound, rss, "" if load is None else load, target, verdict))

    def verdict(self, key: str, figure: str, checks: list[tuple[str, float | None]], lower_is_better: bool = False) -> str:
        """``checks``: (which measure, value) pairs, each judged against TARGETS[key]."""
        goal = TARGETS[key]
        parts, record = [], {"target": key, "goal": goal, "figure": figure}
        for name, value in checks:
            met = None if value is None else (value < goal if lower_is_better else value >= goal)
            record[name] = value
            record[f"{name}_met"] = met
            parts.append(f"{name} {'-' if met is None else 'met' if met else 'NOT met'}")
        self.verdicts.append(record)
        if not self.judge:
            return "not judged (--quick)"
        return ", ".join(parts)

    def render(self) -> str:
        out = []
        header = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(self.HEAD, self.WIDTHS)))
        out.append(header + "  " + self.HEAD[-1])
        out.append("-" * (len(header) + 24))
        for line in self.lines:
            if line[0] == "title":
                out.append(line[1])
            elif line[0] == "note":
                out.append(f"    {line[1]}")
            else:
                cells = line[1:]
                text = "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, self.WIDTHS)))
                out.append(f"{text}  {cells[-1]}".rstrip())
        return "\n".join(out)


LABELS = {"pillow_plain": "plain Pillow (open; copy+thumbnail+save x3)",
          "vipsthumbnail": "vipsthumbnail, one call per size per batch",
          "engine": "our engine (vault_thumbnails)",
          "engine_pillow": "our engine forced onto its Pillow fallback"}


def _problems(table: Table, section: dict) -> None:
    if section.get("problem"):
        table.note(f"PROBLEM: {section['problem']}")
    if section.get("error"):
        table.note(f"ERROR: {section['error']}")
    if section.get("skipped"):
        table.note(f"skipped: {section['skipped']}")


def build_table(figures: dict, judge: bool) -> Table:  # pylint: disable=too-many-locals,too-many-statements
    table = Table(judge)
    for kind in ("jpeg", "heic"):
        section = figures.get(f"thumbnails_{kind}")
        if not section:
            continue
        table.title(f"Thumbnails alone (3 sizes), {section['photos']} {kind.upper()} ({section.get('corpus', '')}), "
                    f"{section['workers']} workers, best of {section['rounds']} round(s), CPU median")
        _problems(table, section)
        for method, row in section.get("methods", {}).items():
            rss = row["child_peak_rss_mb"] if method == "vipsthumbnail" else row["peak_rss_mb"]
            table.row(f"  {LABELS[method]}", f"{row['photos_per_s']}/s", f"{row['cpu_ms_per_photo']} ms",
                      f"{row['cpu_bound_photos_per_s']}/s", f"{rss} MB", row["load1_at_best"])
        for note in section.get("notes", []):
            table.note(note)
    pipes = {kind: figures.get(f"pipeline_{kind}") for kind in ("jpeg", "heic")}
    if any(pipes.values()):
        rounds = next(p["rounds"] for p in pipes.values() if p and "rounds" in p) if any(
            p and "rounds" in p for p in pipes.values()) else "?"
        table.title(f"Whole pipeline through photo_ingest (walk, hash, EXIF, atomic copy + fsync + read-back, sidecar, "
                    f"catalog, 3 thumbnails), same corpus, a round after each thumbnails round, best of {rounds}, CPU "
                    "median; ratios: median of the per-round ratios")
    for kind, key in (("jpeg", "jpeg_pipeline_photos_per_s"), ("heic", "heic_pipeline_photos_per_s")):
        pipe = pipes[kind]
        if not pipe:
            continue
        _problems(table, pipe)
        if "photos_per_s" not in pipe:
            continue
        label = f"  {kind.upper()} x{pipe['photos']}: each further photo, start-up excluded"
        verdict = table.verdict(key, label.strip(), [("wall", pipe["photos_per_s"]),
                                                     ("CPU-bound", pipe["cpu_bound_photos_per_s"])])
        table.row(label, _f(pipe["photos_per_s"], "/s"), f"{pipe['cpu_ms_per_photo']} ms",
                  _f(pipe["cpu_bound_photos_per_s"], "/s"), f"{pipe['peak_rss_mb']} MB", pipe["load1"],
                  f">= {TARGETS[key]}/s", verdict)
        table.row(f"  {kind.upper()} x{pipe['photos']}: whole run, module + pool start incl. ({pipe['whole_run_s']} s)",
                  f"{pipe['whole_run_photos_per_s']}/s", f"{pipe['whole_run_cpu_ms_per_photo']} ms",
                  f"{pipe['whole_run_cpu_bound_photos_per_s']}/s", "", pipe["load1"], "(context)")
        table.note(f"{kind.upper()} per round: whole runs {pipe['rounds_whole_run_s']} s, subset runs "
                   f"{pipe['rounds_subset_run_s']} s, so each further photo {pipe['rounds_photos_per_s']} photos/s")
        methods = figures.get(f"thumbnails_{kind}", {}).get("methods", {})
        for other in ("vipsthumbnail", "pillow_plain"):
            theirs = methods.get(other)
            if not theirs:
                continue
            wall = _round_ratio(pipe, theirs)
            cpu = _ratio(theirs["cpu_ms_per_photo"], pipe["cpu_ms_per_photo"])
            label = f"  {kind.upper()} pipeline vs {other}, thumbnails alone"
            key = f"jpeg_pipeline_vs_{other}"
            if kind == "jpeg":
                verdict = table.verdict(key, label.strip(), [("wall", wall), ("CPU", cpu)])
                table.row(label, _f(wall, "x"), _f(cpu, "x"), "", "", None, f">= {TARGETS[key]}x", verdict)
            else:
                table.row(label, _f(wall, "x"), _f(cpu, "x"), "", "", None, "(context)")
    rescan = figures.get("noop_rescan")
    if rescan:
        table.title(f"No-op rescan through photo_ingest, {rescan.get('files', '?')} unchanged files, "
                    f"module start included")
        _problems(table, rescan)
        if "best_s" in rescan:
            label = f"  no-op rescan, best of {rescan['repeats']} (CPU median)"
            verdict = table.verdict("noop_rescan_s", label.strip(), [("wall", rescan["best_s"]), ("CPU", rescan["cpu_s"])],
                                    lower_is_better=True)
            table.row(label, f"{rescan['best_s']} s", f"{rescan['cpu_s']} s", "", f"{rescan['peak_rss_mb']} MB",
                      rescan["load1"], f"< {TARGETS['noop_rescan_s']} s", verdict)
            table.row("  module start alone (fails: vault without a parent)", f"{rescan['module_start_only_s']} s",
                      f"{rescan['module_start_only_cpu_s']} s", "", "", None, "(context)")
            table.row("  no-op rescan, no bytecode cache at all (stdlib too)", f"{rescan['no_bytecode_cache_s']} s",
                      f"{rescan['no_bytecode_cache_cpu_s']} s", "", "", None, "(context)")
            first = rescan["first_ingest"]
            table.note(f"the library was ingested once before, thumbnails off (cached): {first.get('first_ingest_s')} s, "
                       f"{first.get('cpu_s')} s CPU")
    verify = figures.get("verify")
    if verify:
        each = round(verify["total_mb"] / verify["files"], 1) if verify.get("files") else "?"
        table.title(f"Verification, sha256 of {verify.get('files', '?')} files x {each} MB in the page cache, "
                    f"{verify.get('cores', '?')} cores, best of {verify.get('repeats', '?')} (CPU median)")
        _problems(table, verify)
        if "ratio_vs_all_cores" in verify:
            label = "  engine vs plain hashlib on every core (speed; CPU per GB)"
            verdict = table.verdict("verify_ratio", label.strip(), [("wall", verify["ratio_vs_all_cores"]),
                                                                    ("CPU", verify["cpu_ratio_vs_all_cores"])])
            table.row(label, _pct(verify["ratio_vs_all_cores"]), _pct(verify["cpu_ratio_vs_all_cores"]),
                      "", f"{verify['worker_peak_rss_mb']} MB", verify["load1"], f">= {TARGETS['verify_ratio'] * 100:.0f} %",
                      verdict)
            table.row("  engine vs one-core hashlib x cores", f"{verify['ratio_vs_1core_x_cores'] * 100:.0f} %", "", "",
                      "", None, "(context)")
            table.row("  engine (hash_many)", f"{verify['engine_hash_mb_s']:.0f} MB/s",
                      _f(verify["engine_cpu_s_per_gb"], " s/GB"), "", "", None, "(context)")
            table.row("  plain hashlib, a pool on every core", f"{verify['hashlib_all_cores_mb_s']:.0f} MB/s",
                      _f(verify["hashlib_cpu_s_per_gb"], " s/GB"), "", "", None, "(context)")
            table.row("  plain hashlib, one core", f"{verify['hashlib_1core_mb_s']:.0f} MB/s", "", "", "", None,
                      "(context)")
            table.row("  whole verify_vault (catalog, walk, hash, record)", f"{verify['verify_full_mb_s']:.0f} MB/s",
                      "", "", "", None, "(context)")
            table.row("  verify_vault from disk (page cache dropped first)",
                      f"{verify['verify_from_disk_mb_s']:.0f} MB/s", "", "", "", None, "(context)")
            if verify.get("cpu_note"):
                table.note(verify["cpu_note"])
            table.note(f"worker peak RSS {verify['worker_peak_rss_mb']} MB hashing a {verify['big_file_mb']} MB file "
                       f"(idle worker {verify['worker_idle_rss_mb']} MB)")
    stages = figures.get("stages")
    if stages:
        table.title(f"Ingest worker stages, one {stages.get('photo_mb', '?')} MB JPEG at a time in one process "
                    f"({stages.get('photos', '?')} photos)")
        _problems(table, stages)
        for name, ms in stages.get("ms", {}).items():
            table.row(f"  {name}", f"{ms['wall']} ms", f"{ms['cpu']} ms", "", "", stages["load1"] if name == "sha256" else None)
        if "engine_without_decode_cpu_ms" in stages:
            table.row("  our code around the decode (all but the last two)", "",
                      f"{stages['engine_without_decode_cpu_ms']} ms", "", "", None, "(context)")
    stream = figures.get("streaming")
    if stream:
        table.title(f"Streaming a {stream.get('file_mb', '?')} MB movie through photo_ingest (hash, copy, read-back)")
        _problems(table, stream)
        if "peak_rss_mb" in stream:
            label = "  largest process's peak RSS"
            verdict = table.verdict("peak_rss_mb", label.strip() + " (streaming)", [("RSS", stream["peak_rss_mb"])],
                                    lower_is_better=True)
            table.row(label, f"{stream['mb_per_s']} MB/s", f"{stream['cpu_s']} s", "", f"{stream['peak_rss_mb']} MB",
                      stream["load1"], f"< {TARGETS['peak_rss_mb']:.0f} MB", verdict)
    drill = figures.get("restore_drill")
    if drill:
        table.title(f"Restore drill on real restic, {drill.get('files', '?')} originals x {drill.get('file_kb', '?')} KiB")
        _problems(table, drill)
        if "drill_s" in drill:
            table.row(f"  drill, passed={drill['drill_passed']} ({drill['drill_mb_s']} MB/s, "
                      f"{drill['drill_vs_restic_alone']}x restic alone)", f"{drill['drill_s']} s", "", "", "",
                      drill["load1"], "(context)")
            table.row("  plain restic restore of the snapshot", f"{drill['restic_restore_all_s']} s", "", "", "", None,
                      "(context)")
            table.row(f"  one restic restore per file (from {drill['per_file_sample']}, scaled)",
                      f"{drill['per_file_restores_s']} s", "", "", "", None, "(context)")
    peaks = _peaks(figures)
    if peaks:
        table.title("Memory")
        name, peak = max(peaks.items(), key=lambda item: item[1])
        label = f"  peak RSS of our largest process (in: {name})"
        verdict = table.verdict("peak_rss_mb", "peak RSS of our largest process", [("RSS", peak)], lower_is_better=True)
        table.row(label, "", "", "", f"{peak} MB", None, f"< {TARGETS['peak_rss_mb']:.0f} MB", verdict)
        table.note("per run: " + ", ".join(f"{k} {v} MB" for k, v in peaks.items()))
    return table


def _peaks(figures: dict) -> dict:
    """Peak RSS of our own code's largest process, per measurement (plain Pillow is not ours)."""
    peaks = {}
    for kind in ("jpeg", "heic"):
        engine = figures.get(f"thumbnails_{kind}", {}).get("methods", {}).get("engine")
        if engine:
            peaks[f"{kind} thumbnails"] = engine["peak_rss_mb"]
        pipe = figures.get(f"pipeline_{kind}", {})
        if "peak_rss_mb" in pipe:
            peaks[f"{kind} pipeline"] = pipe["peak_rss_mb"]
    for key, name in (("noop_rescan", "rescan"), ("streaming", "streaming")):
        if "peak_rss_mb" in figures.get(key, {}):
            peaks[name] = figures[key]["peak_rss_mb"]
    if "worker_peak_rss_mb" in figures.get("verify", {}):
        peaks["verify worker"] = figures["verify"]["worker_peak_rss_mb"]
    return peaks


def print_report(figures: dict, judge: bool) -> Table:
    env = figures["environment"]
    table = build_table(figures, judge)
    log("")
    log(f"== sovereign.cloud photo vault benchmark{' (--quick: small photos, figures NOT judged)' if not judge else ''}"
        f", {env['when']}, {env['cpu']}, {env['cores']} cores, load average {env['loadavg_start']} at start, "
        f"{env.get('load1_end')} at end")
    log(f"   libraries: {', '.join(f'{k} {v}' for k, v in env['libraries'].items() if v)}; "
        f"CLI {env['vipsthumbnail'] or 'no vips'}")
    log("   wall: clock time with every core busy (depends on other load: see load1); CPU: user+sys of every "
        "process involved; CPU-bound: photos/s those CPU costs allow on idle cores")
    log("")
    log(table.render())
    return table


# ---------------------------------------------------------------------------------- sections
def thumbnails_and_pipeline(figures: dict, sections: list[str], corpora: dict, described: dict, plan: dict,
                            workers: int, workdir: Path) -> None:
    """Thumbnails alone and the whole pipeline, taking turns within each round (same load)."""
    for kind in ("jpeg", "heic"):
        pipe = None
        if "pipeline" in sections:
            try:
                pipe = bench_ingest.Pipeline(kind, corpora[kind], workers, workdir / "pipeline", log)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                figures[f"pipeline_{kind}"] = {"error": f"{type(exc).__name__}: {exc}"}
        if "thumbnails" in sections:
            methods = ("pillow_plain", "vipsthumbnail", "engine", "engine_pillow") if kind == "jpeg" else (
                "pillow_plain", "vipsthumbnail", "engine")  # HEIC: the Pillow fallback is the same code
            log(f"{kind.upper()}: thumbnails alone{' and the whole pipeline' if pipe else ''}, taking turns, "
                f"{plan['rounds']} round(s):")
            _run_section(figures, f"thumbnails_{kind}", lambda kind=kind, methods=methods, pipe=pipe: {
                **bench_thumbnails.compare(kind, corpora[kind], workers, plan["rounds"], workdir, log, methods=methods,
                                           after_round=pipe.round if pipe else None),
                "corpus": described[kind]})
        elif pipe:
            log(f"{kind.upper()}: the whole pipeline, {plan['rounds']} round(s):")
            for index in range(plan["rounds"]):
                pipe.round(index)
        if pipe:
            _run_section(figures, f"pipeline_{kind}", pipe.figures)


def verify_in_fresh_process(workdir: Path, **sizes) -> dict:
    """bench_verify.py in a process of its own: the engine then forks its pool from a single-threaded
    process, as the photo_verify module does (this one has libvips threads by now)."""
    command = [sys.executable, str(HERE / "bench_verify.py"), "--json", "--workdir", str(workdir)]
    for name, value in sizes.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"bench_verify.py failed: {(done.stderr or done.stdout)[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------- main
def _run_section(figures: dict, key: str, fn) -> None:
    started = time.perf_counter()
    try:
        figures[key] = fn()
    except Exception as exc:  # pylint: disable=broad-exception-caught  # the other sections still run
        figures[key] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        log(f"  {key} FAILED: {type(exc).__name__}: {exc}")
    figures.setdefault("section_seconds", {})[key] = round(time.perf_counter() - started, 1)


def main(argv: list[str] | None = None) -> int:  # pylint: disable=too-many-locals
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: a few small photos, a 100-file rescan, small verify and drill (figures not judged)")
    parser.add_argument("--photos", type=int, default=os.environ.get("BENCH_PHOTOS"),
                        help=f"JPEGs in the corpus (default {FULL['photos']}, --quick {QUICK['photos']})")
    parser.add_argument("--heic", type=int, default=os.environ.get("BENCH_HEIC"),
                        help=f"HEICs in the corpus (default {FULL['heic']}, --quick {QUICK['heic']})")
    parser.add_argument("--rounds", type=int, default=os.environ.get("BENCH_ROUNDS"),
                        help=f"rounds of thumbnails and pipeline (default {FULL['rounds']})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: every core)")
    parser.add_argument("--rescan-files", type=int, default=os.environ.get("BENCH_RESCAN_FILES"),
                        help=f"files in the no-op rescan library (default {FULL['rescan_files']}; 0 skips it)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    parser.add_argument("--corpus-dir", type=Path, default=None,
                        help=f"where the generated corpus is cached (default {corpus.CACHE}; BENCH_CORPUS_DIR)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help=f"where the JSON goes (default {RESULTS})")
    args = parser.parse_args(argv)
    plan = dict(QUICK if args.quick else FULL)
    for name in ("photos", "heic", "rounds", "rescan_files"):
        if getattr(args, name) is not None:
            plan[name] = int(getattr(args, name))
    sections = [s for s in SECTIONS if s in (args.only or SECTIONS)]
    if args.corpus_dir:
        corpus.CACHE = args.corpus_dir.resolve()
    size = plan["size"] or (corpus.WIDTH, corpus.HEIGHT)
    workers = args.workers

    figures: dict = {"environment": environment(), "targets": TARGETS, "quick": args.quick,
                     "args": {"workers": workers, "sections": sections, "corpus_dir": str(corpus.CACHE),
                              **{k: v for k, v in plan.items() if k != "size"}, "photo_size": list(size)}}
    log(f"load average at start: {figures['environment']['loadavg_start']} on {figures['environment']['cores']} cores; "
        f"sections: {', '.join(sections)}")
    needs_photos = {"thumbnails", "pipeline", "stages"} & set(sections)
    jpegs = corpus.jpeg_corpus(plan["photos"], workers, log, size) if needs_photos else []
    heics = corpus.heic_corpus(plan["heic"], workers, log, size) if {"thumbnails", "pipeline"} & set(sections) else []
    described = {"jpeg": _describe(jpegs, size), "heic": _describe(heics, size)}
    figures["corpus"] = described
    with tempfile.TemporaryDirectory(prefix="sovereign-bench-") as temp:
        workdir = Path(temp)
        thumbnails_and_pipeline(figures, sections, {"jpeg": jpegs, "heic": heics}, described, plan, workers, workdir)
        if "rescan" in sections and plan["rescan_files"]:
            log(f"no-op rescan of {plan['rescan_files']} files...")
            _run_section(figures, "noop_rescan", lambda: bench_ingest.noop_rescan(
                corpus.small_library(plan["rescan_files"], workers, log), plan["rescan_files"], workers,
                plan["rescan_repeats"], workdir / "rescan", log))
        if "stages" in sections:
            log("ingest worker stages...")
            _run_section(figures, "stages", lambda: bench_stages_and_streaming.stages(
                jpegs[:plan["stage_photos"]], workdir))
        if "streaming" in sections:
            log(f"streaming a {plan['movie_mb']} MB movie...")
            _run_section(figures, "streaming", lambda: bench_stages_and_streaming.streaming(
                workdir / "streaming", plan["movie_mb"], workers))
        if "verify" in sections:
            log("verification hashing...")
            _run_section(figures, "verify", lambda: verify_in_fresh_process(workdir / "verify", **plan["verify"]))
        if "drill" in sections:
            log("restore drill...")
            _run_section(figures, "restore_drill", lambda: bench_restore_drill.run(workdir, **plan["drill"]))
    figures["environment"]["load1_end"] = load1()
    errors = sorted(key for key, value in figures.items() if isinstance(value, dict) and value.get("error"))
    try:
        figures["verdicts"] = print_report(figures, judge=not args.quick).verdicts
    except Exception:  # pylint: disable=broad-exception-caught  # the figures are saved all the same
        figures["report_error"] = traceback.format_exc()
        log(f"the report failed:\n{figures['report_error']}")
        errors.append("report")
    figures["errors"] = errors
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    prefix = "bench-quick" if args.quick else "bench"
    for name in (f"{prefix}-{stamp}.json", f"{'latest-quick' if args.quick else 'latest'}.json"):
        (args.results_dir / name).write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n",
                                             encoding="utf-8")
    log(f"\nfigures written to {args.results_dir / f'{prefix}-{stamp}.json'}")
    if errors:
        log(f"failed: {', '.join(errors)} (see 'traceback' / 'report_error' in the JSON)")
        return 1
    return 0


def _describe(paths: list[str], size: tuple[int, int]) -> str:
    if not paths:
        return ""
    average = sum(os.path.getsize(p) for p in paths) / len(paths) / 1e6
    megapixels = size[0] * size[1] / 1e6
    return f"{megapixels:.0f} MP {size[0]}x{size[1]}, {average:.1f} MB average" if megapixels >= 1 else \
        f"{size[0]}x{size[1]}, {average:.2f} MB average"


if __name__ == "__main__":
    sys.exit(main())
