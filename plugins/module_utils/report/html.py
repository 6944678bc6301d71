# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The run document as one self-contained HTML page.

Inline CSS, no script, no font, image or stylesheet from anywhere: the page works from a file,
an e-mail attachment or a phone. Hosts that need attention come first; each host card says what
failed and why, the modules' one-line summaries and what changed (long lists folded). Every text
from the document goes through :func:`html.escape`.
"""

from __future__ import annotations

import datetime as _dt
from html import escape

SHOWN_CHANGES = 6
STATUS_WORDS = {"ok": "no changes", "changed": "changed", "failed": "failed", "unreachable": "unreachable"}
ORDER = {"unreachable": 0, "failed": 1, "changed": 2, "ok": 3}

CSS = """
:root{--bg:#f4f5f7;--card:#fff;--ink:#1d2430;--muted:#5b6472;--line:#e2e5ea;
--ok:#1f8a4c;--ok-bg:#e6f4ec;--chg:#9a6700;--chg-bg:#fff4d6;--bad:#c62828;--bad-bg:#fdecec}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2128;--ink:#e6e8eb;--muted:#9aa3ae;
--line:#2c323b;--ok:#4cc38a;--ok-bg:#17301f;--chg:#e5b53e;--chg-bg:#33290f;--bad:#ff6b6b;--bad-bg:#3a1a1a}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1200px;margin:0 auto;padding:16px}
header.run{display:flex;flex-wrap:wrap;align-items:center;gap:10px 16px;padding:14px 16px;border-radius:10px;
background:var(--card);border-left:8px solid var(--ok);margin-bottom:14px}
header.run.failed{border-left-color:var(--bad)}
header.run.changed{border-left-color:var(--chg)}
header.run h1{font-size:1.25rem;margin:0;flex:1 1 260px}
.verdict{font-weight:700;font-size:1.05rem}
.meta{color:var(--muted);font-size:.9rem;flex-basis:100%}
.totals{display:flex;gap:6px;flex-wrap:wrap}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:.85rem;background:var(--line);white-space:nowrap}
.pill.ok{background:var(--ok-bg);color:var(--ok)}.pill.changed{background:var(--chg-bg);color:var(--chg)}
.pill.failed,.pill.unreachable{background:var(--bad-bg);color:var(--bad)}
.hosts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
section.host{background:var(--card);border-radius:10px;padding:12px 14px;border-top:5px solid var(--ok);min-width:0}
section.host.changed{border-top-color:var(--chg)}
section.host.failed,section.host.unreachable{border-top-color:var(--bad)}
section.host h2{font-size:1.05rem;margin:0 0 4px;display:flex;justify-content:space-between;gap:8px;align-items:baseline}
section.host h2 span.name{overflow-wrap:anywhere}
.counts{color:var(--muted);font-size:.85rem;margin-bottom:6px}
h3{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:10px 0 4px}
ul{margin:0;padding-left:18px}li{margin:2px 0;overflow-wrap:anywhere}
ul.failures{list-style:none;padding:0}
ul.failures li{background:var(--bad-bg);border-radius:6px;padding:6px 8px;margin:4px 0}
ul.failures li.rescued{background:var(--chg-bg)}
ul.failures .task{font-weight:600}
ul.failures .why{display:block;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
ul.failures .hidden{font-style:italic;color:var(--muted)}
ul.summaries li::marker{content:"\\2022  ";color:var(--ok)}
details summary{cursor:pointer;color:var(--muted);font-size:.9rem}
.none{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:.8rem;margin-top:14px;text-align:center}
@media (max-width:480px){main{padding:8px}.hosts{grid-template-columns:1fr}body{font-size:14px}}
"""


def _e(value) -> str:
    return escape(str(value if value is not None else ""), quote=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds or 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _when(text: str) -> str:
    """``2026-12-04T05:41:51Z`` as ``Fri 4 Dec 2026, 05:41 UTC``."""
    try:
        moment = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} UTC"


def _failures(host: dict) -> str:
    if not host["failures"]:
        return ""
    items = []
    for failure in host["failures"]:
        why_class = "why hidden" if failure.get("hidden") else "why"
        detail = f'<span class="why">{_e(failure["detail"])}</span>' if failure.get("detail") else ""
        css = ' class="rescued"' if failure.get("rescued") else ""
        rescued = " (rescued)" if failure.get("rescued") else ""
        items.append(f'<li{css}><span class="task">{_e(failure["task"])}{rescued}</span>'
                     f'<span class="{why_class}">{_e(failure["message"])}</span>{detail}</li>')
    return f'<h3>What failed</h3><ul class="failures">{"".join(items)}</ul>'


def _changes(host: dict, check_mode: bool) -> str:
    changes = [change["task"] for change in host["changes"]]
    title = "Would change" if check_mode else "What changed"
    if not changes:
        return ""
    shown = "".join(f"<li>{_e(task)}</li>" for task in changes[:SHOWN_CHANGES])
    rest = changes[SHOWN_CHANGES:]
    more = host.get("more_changes", 0)
    folded = ""
    if rest or more:
        extra = "".join(f"<li>{_e(task)}</li>" for task in rest)
        if more:
            extra += f'<li class="none">and {more} more not listed</li>'
        folded = f"<details><summary>{len(rest) + more} more</summary><ul>{extra}</ul></details>"
    return f"<h3>{title} ({host['changed']})</h3><ul>{shown}</ul>{folded}"


def _host(name: str, host: dict, check_mode: bool) -> str:
    status = host["status"]
    word = "would change" if (check_mode and status == "changed") else STATUS_WORDS.get(status, status)
    counts = (f"{host['ok']} ok \u00b7 {host['changed']} changed \u00b7 {host['failed']} failed \u00b7 "
              f"{host['skipped']} skipped")
    if host.get("unreachable"):
        counts += f" \u00b7 {host['unreachable']} unreachable"
    if host.get("rescued"):
        counts += f" \u00b7 {host['rescued']} rescued"
    summaries = ""
    if host["summaries"]:
        summaries = ('<h3>Summary</h3><ul class="summaries">'
                     + "".join(f"<li>{_e(note)}</li>" for note in host["summaries"]) + "</ul>")
    body = _failures(host) + summaries + _changes(host, check_mode)
    if not body:
        body = '<p class="none">Nothing changed, nothing failed.</p>'
    return (f'<section class="host {_e(status)}"><h2><span class="name">{_e(name)}</span>'
            f'<span class="pill {_e(status)}">{_e(word)}</span></h2>'
            f'<div class="counts">{counts}</div>{body}</section>')


def render(document: dict) -> str:
    """The HTML page of one run document."""
    check_mode = bool(document.get("check_mode"))
    totals = document["totals"]
    status = document["status"]
    bad = sum(1 for host in document["hosts"].values() if host["status"] in ("failed", "unreachable"))
    if not document["success"]:
        verdict = f"{bad} of {len(document['hosts'])} hosts failed" if bad else "Something failed"
    elif status == "changed":
        verdict = "All good \u2014 changes would be made" if check_mode else "All good \u2014 changes made"
    else:
        verdict = "All good \u2014 nothing to change"
    hosts = sorted(document["hosts"].items(), key=lambda item: (ORDER.get(item[1]["status"], 9), item[0]))
    cards = "".join(_host(name, host, check_mode) for name, host in hosts)
    if not cards:
        cards = '<p class="none">No hosts matched.</p>'
    pills = "".join(
        f'<span class="pill {cls if totals[key] else ""}">{totals[key]} {label}</span>'
        for key, label, cls in (("failed", "failed", "failed"), ("unreachable", "unreachable", "unreachable"),
                                ("changed", "would change" if check_mode else "changed", "changed"),
                                ("ok", "ok", "ok"), ("skipped", "skipped", ""))
        if totals[key] or key in ("failed", "changed", "ok"))
    mode = " \u00b7 check mode" if check_mode else ""
    when = f'<time datetime="{_e(document["finished_at"])}">{_e(_when(document["finished_at"]))}</time>'
    title = f"{document['playbook'] or 'run'}: {verdict}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{_e(title)}</title>
<style>{CSS}</style></head>
<body><main>
<header class="run {_e(status)}"><h1>{_e(document['playbook'] or 'run')}</h1>
<span class="verdict">{_e(verdict)}</span>
<div class="totals">{pills}</div>
<div class="meta">{when} \u00b7 took {_e(_duration(document['duration_seconds']))} \u00b7
{len(document['hosts'])} host(s){mode} \u00b7 run {_e(document['run_id'])}</div></header>
<div class="hosts">{cards}</div>
<footer>sovereign.cloud run report \u00b7 schema {_e(document['schema'])}</footer>
</main></body></html>
"""
