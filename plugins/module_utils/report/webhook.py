# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The webhook: one HTTP request per run, in one of three shapes.

* ``generic``: ``POST <url>`` with the JSON body ``{"event", "text", "success", "report"}``
  (``report`` is the whole run document);
* ``ntfy``: ``POST <topic url>`` with the headline as plain-text body and ntfy's ``Title``,
  ``Priority`` and ``Tags`` headers (https://docs.ntfy.sh/publish/);
* ``healthchecks``: ``POST <ping url>`` on success, ``POST <ping url>/fail`` on failure, the
  headline and the failures as plain-text body (healthchecks.io keeps it as the ping's log);
  :func:`start_request` gives the optional ``<ping url>/start`` sent when the run begins, so
  healthchecks.io shows the run's duration.

:func:`build` returns the request as data (url, headers, body bytes) so tests look at exactly
what is sent; :func:`send` sends it with the opener the caller passes (the callback passes
ansible's ``open_url``) and never raises: it returns an error text for the caller to warn with.
"""

from __future__ import annotations

import json

from .document import headline

KINDS = ("generic", "ntfy", "healthchecks")
USER_AGENT = "sovereign.cloud-report/1"
BODY_LINES = 40


def should_send(document: dict, when: str, kind: str) -> bool:
    """``when``: ``always`` or ``failure``. healthchecks.io is a dead man's switch: it is pinged
    on every run (success or /fail), or it would raise an alarm after every good night."""
    if kind == "healthchecks":
        return True
    return when == "always" or not document["success"]


def _text(document: dict) -> str:
    lines = [headline(document)]
    for name, host in document["hosts"].items():
        for failure in host["failures"]:
            if failure.get("rescued"):
                continue
            lines.append(f"{name}: {failure['task']} - {failure['message']}")
        for note in host["summaries"]:
            lines.append(f"{name}: {note}")
    if len(lines) > BODY_LINES:
        lines = lines[:BODY_LINES] + [f"... and {len(lines) - BODY_LINES} more lines"]
    return "\n".join(lines) + "\n"


def build(document: dict, url: str, kind: str = "generic", report_link: str | None = None) -> dict:
    """The request for ``document``: ``{"url", "headers", "body"}`` (body: bytes)."""
    if kind not in KINDS:
        raise ValueError(f"webhook kind {kind!r} is not one of {', '.join(KINDS)}")
    success = bool(document["success"])
    if kind == "generic":
        body = {"event": "run_succeeded" if success else "run_failed", "text": headline(document),
                "success": success, "report": document}
        if report_link:
            body["link"] = report_link
        return {"url": url, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(body, sort_keys=True, default=str).encode("utf-8")}
    if kind == "ntfy":
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": f"sovereign.cloud: {document['playbook'] or 'run'} {'ok' if success else 'FAILED'}",
            "Priority": "default" if success else "high",
            "Tags": "white_check_mark" if success else "rotating_light",
        }
        if report_link:
            headers["Click"] = report_link
        return {"url": url, "headers": headers, "body": _text(document).encode("utf-8")}
    target = url.rstrip("/") + ("" if success else "/fail")
    return {"url": target, "headers": {"Content-Type": "text/plain; charset=utf-8"},
            "body": _text(document).encode("utf-8")}


def start_request(url: str) -> dict:
    """healthchecks.io's ``/start`` ping, sent when the run begins."""
    return {"url": url.rstrip("/") + "/start", "headers": {"Content-Type": "text/plain; charset=utf-8"}, "body": b""}


def send(request: dict, opener, timeout: float = 10.0) -> str | None:
    """POST ``request`` with ``opener(url, data=, headers=, method=, timeout=, http_agent=)``
    (ansible's ``open_url`` signature). Returns None, or what went wrong (never the body)."""
    try:
        response = opener(request["url"], data=request["body"], headers=request["headers"], method="POST",
                          timeout=timeout, http_agent=USER_AGENT)
        code = getattr(response, "status", None) or getattr(response, "code", None)
        if hasattr(response, "read"):
            response.read()
        if code is not None and not 200 <= int(code) < 300:
            return f"webhook {redact(request['url'])} answered HTTP {code}"
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # Anything from the network (HTTPError, URLError, timeouts, TLS) only warns.
        code = getattr(exc, "code", None)
        if isinstance(code, int):
            return f"webhook {redact(request['url'])} answered HTTP {code}"
        return f"webhook {redact(request['url'])} failed: {type(exc).__name__}: {one_line_error(exc)}"
    return None


def redact(url: str) -> str:
    """The URL without its path and query: a ping URL or an ntfy topic is a secret of sorts."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}{sep}{host}/..." if sep else "(webhook url)"


def one_line_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no detail"
