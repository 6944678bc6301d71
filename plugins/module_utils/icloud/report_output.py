# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The safe-to-delete report's three files: ``<name>.json`` (for programs), ``<name>.csv`` (one row
per asset, for a spreadsheet) and ``<name>.html`` (one self-contained page for a person: no
script, no font, no image and no link that leaves the file).

The page starts with the totals (assets and bytes safe and to keep) and the evidence behind them
(each backup repository, the restore drill, the decode check), then the assets to keep, grouped by
their first reason, then the safe ones. Each file is written to a temporary name and renamed into
place, so a reader never sees half a report. The :meth:`Report.fingerprint` of the content (every
verdict and piece of evidence, not the time of the run) decides whether anything is written at all.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import hashlib
import html
import io
import json
import os

from ansible_collections.sovereign.cloud.plugins.module_utils.common import atomic
from ansible_collections.sovereign.cloud.plugins.module_utils.common.text import human_bytes

SCHEMA = 1
CSV_FIELDS = ("status", "reason", "reasons", "asset_id", "master_id", "filename", "created", "item_type",
              "icloud_bytes", "files", "sha256", "copies")
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def iso(moment) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, (int, float)):
        moment = _dt.datetime.fromtimestamp(moment, _dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def compact_json(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode("utf-8")


def paths(output_dir: str, name: str) -> dict[str, str]:
    base = os.path.join(output_dir, name)
    return {"json": base + ".json", "csv": base + ".csv", "html": base + ".html"}


@contextlib.contextmanager
def atomic_text(path: str, mode: int):
    """A text handle whose content replaces ``path`` atomically when the block ends without error."""
    temp = atomic.temp_name(path)
    fd = atomic.open_temp(temp, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        atomic.unlink_quietly(temp)
        raise
    atomic.fsync_dir(os.path.dirname(path))


class Scrubber:
    """Replaces any secret value that reached a text (an error message quoting an env file) by ***."""

    def __init__(self, secrets) -> None:
        self.secrets = sorted((s for s in secrets or () if s and len(s) > 3), key=len, reverse=True)

    def __call__(self, text):
        if not self.secrets or not isinstance(text, str):
            return text
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class Report:
    """The report of one account: ``summary`` and ``evidence`` at once, the rows when written."""

    def __init__(self, params: dict, name: str, assessments: list, context: dict, reasons: dict, *,
                 min_copies: int, count_by: str) -> None:
        self.params, self.name, self.reasons = params, name, reasons
        self.context = context
        order = {code: position for position, code in enumerate(reasons)}
        keyed = []
        for position, item in enumerate(assessments):
            primary = item.primary()
            keyed.append(((order[primary] if primary else len(order)), item.asset.created, position, primary, item))
        keyed.sort(key=lambda row: row[:3])
        self.rows = [(primary, item) for _o, _c, _p, primary, item in keyed]
        self.summary = self._summary(min_copies, count_by)
        self.evidence = self._evidence(min_copies, count_by)

    # -------------------------------------------------------------- content
    def _summary(self, min_copies: int, count_by: str) -> dict:
        by_reason: dict[str, dict] = {}
        safe = keep = safe_bytes = keep_bytes = 0
        for primary, item in self.rows:
            size = item.asset.size
            if primary is None:
                safe += 1
                safe_bytes += size
                continue
            keep += 1
            keep_bytes += size
            group = by_reason.setdefault(primary, {"label": self.reasons[primary], "assets": 0, "bytes": 0})
            group["assets"] += 1
            group["bytes"] += size
        return {"assets": safe + keep, "safe": safe, "keep": keep, "safe_bytes": safe_bytes, "keep_bytes": keep_bytes,
                "by_reason": by_reason, "min_copies": min_copies, "count_copies_by": count_by}

    def _evidence(self, min_copies: int, count_by: str) -> dict:
        drill = self.context.get("drill_record")
        verdict = self.context.get("drill")
        return {
            "backups": [provider.describe() for provider in self.context.get("providers") or []],
            "restore_drill": None if drill is None else {
                "performed_at": drill.get("performed_at"), "passed": bool(drill.get("passed")),
                "repository": drill.get("repository"), "snapshot_id": drill.get("snapshot_id"),
                "sample_count": drill.get("sample_count"), "failed_count": drill.get("failed_count"),
                "counts": verdict is None, "problem": verdict[1] if verdict else None},
            "restore_drill_problem": verdict[1] if verdict else None,
            "decode": {k: v for k, v in (self.context.get("decode") or {}).items() if k == "level"},
            "min_copies": min_copies,
            "count_copies_by": count_by,
            "required_files": sorted(self.params.get("require") or []),
            "catalog_sources": self.context.get("sources"),
        }

    def asset_row(self, primary, item, scrub=None) -> dict:
        asset = item.asset
        scrub = scrub or (lambda text: text)
        return {
            "asset_id": asset.asset_id, "master_id": asset.master_id, "filename": asset.filename,
            "created": iso(asset.created), "item_type": asset.item_type, "icloud_bytes": asset.size,
            "status": "safe" if primary is None else "keep", "reason": primary,
            "reasons": [{"code": code, "text": scrub(text)} for code, text in item.reasons],
            "files": [f.as_dict() if hasattr(f, "as_dict") else f for f in item.files],
        }

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        digest.update(compact_json({"summary": self.summary, "evidence": self.evidence,
                                    "account": self.params["username"], "library": self.params.get("library")}))
        for primary, item in self.rows:
            digest.update(compact_json(self.asset_row(primary, item)))
        return digest.hexdigest()

    # -------------------------------------------------------------- files
    def write(self, where: dict, generated_at: str, mode: int, secrets) -> None:
        scrub = Scrubber(secrets)
        self._write_json(where["json"], generated_at, mode, scrub)
        self._write_csv(where["csv"], mode, scrub)
        self._write_html(where["html"], generated_at, mode, scrub, where)

    def _header(self, generated_at: str) -> dict:
        return {"schema": SCHEMA, "account": self.params["username"], "library": self.params.get("library"),
                "generated_at": generated_at, "never_deletes": True, "summary": self.summary,
                "evidence": self.evidence}

    def _write_json(self, path: str, generated_at: str, mode: int, scrub) -> None:
        header = json.dumps(self._header(generated_at), sort_keys=True, default=str)
        with atomic_text(path, mode) as handle:
            handle.write(scrub(header[:-1]) + ',"assets":[\n')
            first = True
            for primary, item in self.rows:
                if not first:
                    handle.write(",\n")
                handle.write(json.dumps(self.asset_row(primary, item, scrub), sort_keys=True,
                                        separators=(",", ":"), default=str))
                first = False
            handle.write("\n]}\n")

    def _write_csv(self, path: str, mode: int, scrub) -> None:
        def cell(value):
            text = "" if value is None else str(value)
            return "'" + text if text.startswith(_CSV_FORMULA) else text

        with atomic_text(path, mode) as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_FIELDS)
            for primary, item in self.rows:
                asset = item.asset
                copies = [f["copies"] for f in item.files if "copies" in f]
                writer.writerow([cell(v) for v in (
                    "safe" if primary is None else "keep", primary or "",
                    " | ".join(scrub(text) for _code, text in item.reasons), asset.asset_id, asset.master_id,
                    asset.filename, iso(asset.created), asset.item_type, asset.size,
                    ";".join(f"{f['kind']}:{f['filename']}" for f in item.files),
                    ";".join(f["sha256"] or "" for f in item.files), min(copies) if copies else "")])

    def _write_html(self, path: str, generated_at: str, mode: int, scrub, where: dict) -> None:
        with atomic_text(path, mode) as handle:
            handle.write(render_html(self, generated_at, scrub, os.path.basename(where["csv"])))


# ------------------------------------------------------------------------------------------------
# The page

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f5f5f7}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:28px 0 8px}
.sub{color:#6e6e73;margin:0 0 18px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0}
.card{background:#fff;border-radius:12px;padding:14px 18px;min-width:200px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card b{display:block;font-size:30px}.card.safe b{color:#1a7f37}.card.keep b{color:#b35900}
.note{background:#fff8e6;border-left:4px solid #f0a500;padding:10px 14px;border-radius:6px;margin:12px 0}
.bad{background:#fdecec;border-left-color:#d1242f}
table{border-collapse:collapse;width:100%;background:#fff;border-radius:10px;overflow:hidden;margin:6px 0 10px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #ececf0;vertical-align:top;font-size:13.5px}
th{background:#fafafc;font-weight:600}
td.n{text-align:right;white-space:nowrap}code{font-size:12.5px;word-break:break-all}
details{background:#fff;border-radius:10px;margin:10px 0;padding:4px 12px;box-shadow:0 1px 3px rgba(0,0,0,.06)}
summary{cursor:pointer;font-weight:600;padding:8px 0}
ul{margin:0;padding-left:18px}.ok{color:#1a7f37}.no{color:#d1242f}
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _files_cell(files: list) -> str:
    parts = []
    for entry in files:
        line = f"{_e(entry['kind'].replace('_', ' '))}: {_e(entry['filename'])}"
        if entry.get("sha256"):
            line += f" <code>{_e(entry['sha256'][:12])}</code>"
        parts.append(line)
    return "<br>".join(parts)


def render_html(report: Report, generated_at: str, scrub, csv_name: str) -> str:  # pylint: disable=too-many-locals
    params, summary, evidence = report.params, report.summary, report.evidence
    limit = int(params.get("html_rows_per_group") or 2000)
    out = io.StringIO()
    w = out.write
    account = _e(params["username"])
    w(f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      f"<title>Safe to delete from iCloud: {account}</title><style>{_CSS}</style></head><body><main>\n")
    w(f"<h1>What can be deleted from iCloud: {account}</h1>\n")
    w(f"<p class=\"sub\">Library {_e(params.get('library') or 'PrimarySync')} &middot; report of {_e(generated_at)} "
      f"&middot; this report never deletes anything</p>\n")
    w("<div class=\"cards\">")
    w(f"<div class=\"card safe\"><b>{summary['safe']:,}</b>safe to delete &middot; "
      f"{_e(human_bytes(summary['safe_bytes']))}</div>")
    w(f"<div class=\"card keep\"><b>{summary['keep']:,}</b>keep &middot; {_e(human_bytes(summary['keep_bytes']))}</div>")
    w(f"<div class=\"card\"><b>{summary['assets']:,}</b>assets in iCloud &middot; "
      f"{_e(human_bytes(summary['safe_bytes'] + summary['keep_bytes']))}</div></div>\n")
    w("<p>An asset is <b>safe</b> only when every file it has in iCloud (the original, a RAW or alternative "
      "original, a Live Photo's video, an edit) was downloaded with iCloud's size, is in the vault's catalog under "
      "its sha256, decodes, is in at least "
      f"{evidence['min_copies']} verified backup {'repositories' if evidence['count_copies_by'] == 'repository' else 'snapshots'}, "
      "and the vault's last restore drill passed. Delete in iCloud only what this page lists as safe; iCloud keeps "
      "deleted photos in Recently Deleted for 30 days.</p>\n")
    if evidence.get("restore_drill_problem"):
        w(f"<p class=\"note bad\">Nothing is safe until the restore drill passes: {_e(scrub(evidence['restore_drill_problem']))}</p>\n")
    w("<h2>Evidence</h2>\n<table><tr><th>Backup</th><th>Where</th><th>Snapshots (verified)</th><th>Counts</th>"
      "<th>Why not / next step</th></tr>\n")
    for backup in evidence["backups"]:
        counts = "<span class=\"ok\">yes</span>" if backup["counts"] else "<span class=\"no\">no</span>"
        why = scrub(backup.get("problem") or "; ".join(backup.get("notes") or []) or "")
        fix = f"<br><code>{_e(scrub(backup['fix']))}</code>" if backup.get("fix") else ""
        w(f"<tr><td>{_e(backup['kind'])} {_e(backup['name'])}</td><td><code>{_e(scrub(backup['location']))}</code></td>"
          f"<td class=\"n\">{backup['snapshots']} ({backup['verified_snapshots']})</td><td>{counts}</td>"
          f"<td>{_e(why)}{fix}</td></tr>\n")
    if not evidence["backups"]:
        w("<tr><td colspan=\"5\">No backup repository was given: nothing can be safe.</td></tr>\n")
    w("</table>\n")
    drill = evidence.get("restore_drill")
    if drill:
        state = "<span class=\"ok\">passed</span>" if drill["passed"] else "<span class=\"no\">failed</span>"
        w(f"<p>Last restore drill: {state} on {_e(drill['performed_at'])}, {_e(drill['sample_count'])} file(s) "
          f"restored from {_e(scrub(drill['repository']))} snapshot <code>{_e(str(drill['snapshot_id'])[:12])}</code>.</p>\n")
    else:
        w("<p>Last restore drill: <span class=\"no\">none has run</span>.</p>\n")
    w(f"<p>Decode check: {_e(evidence['decode'].get('level', 'standard'))}; files required: "
      f"{_e(', '.join(k.replace('_', ' ') for k in evidence['required_files']))}.</p>\n")

    w("<h2>Keep, because &hellip;</h2>\n")
    if not summary["keep"]:
        w("<p>Nothing to keep: every asset is safe to delete.</p>\n")
    groups: dict = {}
    for primary, item in report.rows:
        groups.setdefault(primary, []).append(item)
    for code, label in report.reasons.items():
        items = groups.get(code)
        if not items:
            continue
        info = summary["by_reason"][code]
        w(f"<details open><summary>{_e(label)} &middot; {info['assets']:,} asset(s), {_e(human_bytes(info['bytes']))}"
          "</summary>\n<table><tr><th>File in iCloud</th><th>Taken</th><th>Files</th><th>Keep, because</th>"
          "<th>Size</th></tr>\n")
        for item in items[:limit]:
            reasons = "".join(f"<li>{_e(scrub(text))}</li>" for _c, text in item.reasons)
            w(f"<tr><td>{_e(item.asset.filename)}</td><td>{_e((iso(item.asset.created) or '')[:10])}</td>"
              f"<td>{_files_cell(item.files)}</td><td><ul>{reasons}</ul></td>"
              f"<td class=\"n\">{_e(human_bytes(item.asset.size))}</td></tr>\n")
        w("</table>")
        if len(items) > limit:
            w(f"<p>&hellip; and {len(items) - limit:,} more: every asset is in {_e(csv_name)}.</p>")
        w("</details>\n")

    safe = groups.get(None) or []
    w(f"<h2>Safe to delete</h2>\n<details><summary>{len(safe):,} asset(s), {_e(human_bytes(summary['safe_bytes']))}"
      "</summary>\n<table><tr><th>File in iCloud</th><th>Taken</th><th>Files</th><th>Verified copies</th>"
      "<th>Size</th></tr>\n")
    for item in safe[:limit]:
        copies = min((f.get("copies", 0) for f in item.files), default=0)
        w(f"<tr><td>{_e(item.asset.filename)}</td><td>{_e((iso(item.asset.created) or '')[:10])}</td>"
          f"<td>{_files_cell(item.files)}</td><td class=\"n\">{copies}</td>"
          f"<td class=\"n\">{_e(human_bytes(item.asset.size))}</td></tr>\n")
    w("</table>")
    if len(safe) > limit:
        w(f"<p>&hellip; and {len(safe) - limit:,} more: every asset is in {_e(csv_name)}.</p>")
    w("</details>\n</main></body></html>\n")
    return out.getvalue()
