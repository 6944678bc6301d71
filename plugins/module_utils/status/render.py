# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The status page as HTML (one self-contained file), JSON and a few lines of text.

The HTML has no external assets and no script: inline CSS only, light and dark through
``prefers-color-scheme``, one laptop screen (what needs a look first, in full; what is fine as one
compact line each), a single column on a phone. State is never colour alone: every item says
"Not safe", "Late" or "OK" in words, and the headline says what to do.
"""

from __future__ import annotations

import html
import json

LABELS = {"red": "Not safe", "amber": "Late", "green": "OK"}
ICONS = {"red": "\u2715", "amber": "!", "green": "\u2713"}
HEADLINES = {
    "red": "Something is not safe",
    "amber": "Mostly safe: something is late",
    "green": "Everything is safe",
}
REGENERATE = "ansible-playbook playbooks/status.yml"
# An amber item that is not late (receive-only local changes, a paused folder) is "To check", not "Late".
AMBER_NOT_LATE = "To check"


def late(item: dict) -> bool:
    return item["state"] == "amber" and str(item.get("reason") or "").startswith("Late")


def label(item: dict) -> str:
    if item["state"] == "amber" and not late(item):
        return AMBER_NOT_LATE
    return LABELS[item["state"]]


CSS = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#57606a;--line:#d8dee4;
--red:#b3261e;--red-bg:#fdecea;--amber:#8a5a00;--amber-bg:#fff4d6;--green:#1a7f37;--green-bg:#e6f4ea;
--code-bg:#eef1f4}
@media (prefers-color-scheme:dark){:root{--bg:#0f1216;--card:#171b21;--text:#e6e9ed;--muted:#9aa4ae;
--line:#2c333b;--red:#ff8a80;--red-bg:#3a1513;--amber:#f2c45a;--amber-bg:#33280d;--green:#6fd08c;
--green-bg:#12301c;--code-bg:#0b0e12}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:16px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Noto Sans",sans-serif}
main{max-width:72rem;margin:0 auto;padding:1rem 1.25rem 1.5rem}
.verdict{display:flex;gap:1rem;align-items:center;padding:1rem 1.25rem;border-radius:14px;
border:2px solid var(--c);background:var(--cbg)}
.verdict .icon{flex:none;width:3rem;height:3rem;border-radius:50%;display:grid;place-items:center;
background:var(--c);color:var(--bg);font-size:1.6rem;font-weight:700}
.verdict h1{margin:0;font-size:1.6rem;line-height:1.2}
.verdict p{margin:.2rem 0 0;color:var(--text)}
.red{--c:var(--red);--cbg:var(--red-bg)}.amber{--c:var(--amber);--cbg:var(--amber-bg)}
.green{--c:var(--green);--cbg:var(--green-bg)}
h2{font-size:1rem;margin:1.1rem 0 .5rem;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
ul{list-style:none;margin:0;padding:0}
.attention{display:grid;gap:.75rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,22rem),1fr))}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:10px;
padding:.75rem 1rem}
.card h3{margin:.35rem 0 0;font-size:1.1rem;line-height:1.3}
.pill{display:inline-block;font-size:.8rem;font-weight:700;padding:.05rem .5rem;border-radius:999px;
background:var(--cbg);color:var(--c);border:1px solid var(--c);white-space:nowrap}
.meta{margin:.25rem 0 0;color:var(--muted);font-size:.9rem}
.why{margin:.4rem 0 0;overflow-wrap:anywhere}
.summary{margin:.2rem 0 0;color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
.fix{margin:.6rem 0 0}
.fix span{display:block;font-size:.8rem;font-weight:700;color:var(--muted)}
code{display:block;font:.9rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--code-bg);
border:1px solid var(--line);border-radius:6px;padding:.35rem .55rem;overflow-wrap:anywhere;user-select:all}
.fine{display:grid;gap:.4rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,20rem),1fr))}
.fine li{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.4rem .7rem;
display:flex;gap:.6rem;align-items:center}
.dot{flex:none;width:1.4rem;height:1.4rem;border-radius:50%;display:grid;place-items:center;background:var(--c);
color:var(--bg);font-size:.8rem;font-weight:700}
.fine .t{flex:1;min-width:0}
.fine .t b{display:block;font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.fine .t small{color:var(--muted)}
footer{margin-top:1.1rem;color:var(--muted);font-size:.85rem}
footer code{display:inline;padding:.05rem .3rem}
@media (max-width:40rem){main{padding:.75rem}.verdict{padding:.8rem}.verdict h1{font-size:1.3rem}
.verdict .icon{width:2.4rem;height:2.4rem;font-size:1.3rem}}
""".strip()


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _when(item: dict) -> str:
    if item.get("age") is None:
        if item.get("age_text") == "unknown":
            return "last success unknown"
        return "never ran" if not item.get("file") else "never succeeded"
    return f"last success {item['age_text']}"


def _time(item: dict) -> str:
    stamp = item.get("last_success_at")
    if not stamp:
        return _e(_when(item))
    return f'<time datetime="{_e(stamp)}" title="{_e(stamp)}">{_e(_when(item))}</time>'


def _card(item: dict) -> str:
    state = item["state"]
    return (
        f'<li class="card {state}"><span class="pill">{_e(ICONS[state])} {_e(label(item))}</span>'
        f'<h3>{_e(item["title"])}</h3>'
        f'<p class="meta">{_e(item["host"])} · {_time(item)}</p>'
        f'<p class="why">{_e(item["reason"])}</p>'
        + (f'<p class="summary">{_e(item["summary"])}</p>' if item.get("summary") and item.get("file") else "")
        + f'<p class="fix"><span>To fix, run on {_e(item["host"])}:</span><code>{_e(item["fix"])}</code></p></li>'
    )


def _fine(item: dict) -> str:
    return (
        f'<li class="green" title="{_e(item.get("summary") or item["title"])}">'
        f'<span class="dot" aria-hidden="true">{ICONS["green"]}</span>'
        f'<span class="t"><b>{_e(item["title"])}</b>'
        f'<small><span class="visually-hidden">{LABELS["green"]}: </span>{_e(item["host"])} · {_time(item)}</small>'
        f'</span></li>'
    )


def headline(report: dict) -> str:
    counts = report["counts"]
    total = sum(counts.values())
    if not total:
        return "Nothing is recorded or expected yet: run the playbooks that install the jobs."
    if not counts["red"] and not counts["amber"]:
        return f"All {total} checks are fine."
    parts = []
    if counts["red"]:
        parts.append(f"{counts['red']} of {total} checks {'is' if counts['red'] == 1 else 'are'} not safe")
    if counts["amber"]:
        one = counts["amber"] == 1
        if all(late(item) for item in report["items"] if item["state"] == "amber"):
            words = f"{'is' if one else 'are'} late"
        else:
            words = f"{'needs' if one else 'need'} a look"
        parts.append(f"{counts['amber']} {words}" if parts else f"{counts['amber']} of {total} checks {words}")
    return f"{' and '.join(parts)}. Each one below says the command that fixes it."


def render_html(report: dict, title: str = "Is everything safe?", again: str = REGENERATE) -> str:
    state = report["overall"]
    items = report["items"]
    attention = [i for i in items if i["state"] != "green"]
    fine = [i for i in items if i["state"] == "green"]
    hosts = report.get("hosts") or []
    when = report["generated_at"].replace("T", " ").replace("Z", " UTC")
    verdict = HEADLINES[state] if items else "Nothing to show yet"
    if state == "amber" and not all(late(item) for item in items if item["state"] == "amber"):
        verdict = "Mostly safe: something needs a look"
    body = [
        f'<header class="verdict {state}" role="status" aria-live="polite">'
        f'<span class="icon" aria-hidden="true">{ICONS[state]}</span>'
        f'<div><h1>{_e(verdict)}</h1><p>{_e(headline(report))}</p></div></header>',
    ]
    if attention:
        body.append('<section aria-labelledby="attention"><h2 id="attention">Needs a look</h2>'
                    f'<ul class="attention">{"".join(_card(i) for i in attention)}</ul></section>')
    if fine:
        body.append(f'<section aria-labelledby="fine"><h2 id="fine">Fine ({len(fine)})</h2>'
                    f'<ul class="fine">{"".join(_fine(i) for i in fine)}</ul></section>')
    body.append(f'<footer><p>Checked {_e(when)} on {len(hosts)} host{"s" if len(hosts) != 1 else ""}'
                f' ({_e(", ".join(hosts))}). Check again: <code>{_e(again)}</code></p></footer>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        # Nothing may load: a stray external asset shows up as a blocked request, not as a leak.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
        f'<title>{_e(title)}: {_e(LABELS[state] if items else "unknown")}</title>'
        f'<style>{CSS}\n.visually-hidden{{position:absolute;width:1px;height:1px;overflow:hidden;'
        f'clip:rect(0 0 0 0);white-space:nowrap}}</style></head>'
        f'<body><main>{"".join(body)}</main></body></html>\n'
    )


def render_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _hosts(report: dict) -> str:
    count = len(report.get("hosts") or [])
    return f"{count} host" if count == 1 else f"{count} hosts"


def render_text(report: dict, page: str | None = None) -> str:
    counts = report["counts"]
    lines = [f"sovereign.cloud status: {report['overall'].upper()} ({counts['red']} red, {counts['amber']} amber, "
             f"{counts['green']} green on {_hosts(report)})"]
    for item in report["items"]:
        if item["state"] == "green":
            continue
        when = f" ({_when(item)})" if item.get("age") is not None else ""
        lines.append(f"  {item['state'].upper():5} {item['host']}: {item['title']}: {item['reason']}{when}")
        lines.append(f"        fix: {item['fix']}")
    if not report["items"]:
        lines.append("  nothing recorded or expected yet")
    if page:
        lines.append(f"page: {page}")
    return "\n".join(lines)
