# Copyright (c) sovereign.cloud developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: report
type: notification
short_description: Per-run reports for people and monitoring - JSON, HTML, Prometheus textfile, webhook
description:
  - At the end of every playbook run, writes what the run did - per host the ok, changed, failed,
    skipped and unreachable counts, what changed, what failed and why, and the one-line C(summary)
    that sovereign.cloud modules return - as a JSON document, a self-contained HTML page and a
    Prometheus textfile for node_exporter's textfile collector, and optionally sends a webhook
    (generic JSON, ntfy or healthchecks.io) on failure or always.
  - Results of C(no_log) tasks are never looked into - a failure shows its task name and that its
    output is hidden - so secrets cannot reach any of the outputs.
  - Enable it with C(callbacks_enabled = sovereign.cloud.report); the project's C(ansible.cfg) does.
    The JSON schema and how to wire ntfy, healthchecks.io and node_exporter are in docs/reports.md.
author: sovereign.cloud developers (@sovereign-cloud)
version_added: 0.1.0
options:
  output_dir:
    description:
      - Directory for C(<run id>.json), C(<run id>.html), C(latest.json) and C(latest.html); created
        when missing. A relative path in C(ansible.cfg) is relative to that file's directory.
    type: path
    default: ~/.local/state/sovereign-cloud/reports
    ini:
      - section: callback_sovereign_report
        key: output_dir
    env:
      - name: SOVEREIGN_REPORT_DIR
  formats:
    description: Which files to write. C(prom) is the Prometheus textfile.
    type: list
    elements: str
    default: [json, html, prom]
    ini:
      - section: callback_sovereign_report
        key: formats
    env:
      - name: SOVEREIGN_REPORT_FORMATS
  keep:
    description: Keep the reports of this many runs in O(output_dir); older ones are removed. C(0) keeps all.
    type: int
    default: 30
    ini:
      - section: callback_sovereign_report
        key: keep
    env:
      - name: SOVEREIGN_REPORT_KEEP
  prometheus_path:
    description:
      - Where the Prometheus textfile goes - a file, or a directory (such as node_exporter's
        C(--collector.textfile.directory)) that gets C(sovereign_cloud_run_<playbook>.prom).
      - Unset, it is C(<output_dir>/textfile/sovereign_cloud_run_<playbook>.prom).
    type: path
    ini:
      - section: callback_sovereign_report
        key: prometheus_path
    env:
      - name: SOVEREIGN_REPORT_PROMETHEUS_PATH
  webhook_url:
    description:
      - Send a webhook to this URL at the end of the run (see O(webhook_kind) and O(webhook_when)).
        Unset, no webhook is sent. For healthchecks.io this is the ping URL.
    type: str
    ini:
      - section: callback_sovereign_report
        key: webhook_url
    env:
      - name: SOVEREIGN_REPORT_WEBHOOK_URL
  webhook_kind:
    description:
      - C(generic) POSTs the run document as JSON; C(ntfy) POSTs a text message with ntfy's
        Title/Priority/Tags headers to a topic URL; C(healthchecks) pings the URL at the start and
        at the end of the run, C(/fail) when the run failed.
    type: str
    choices: [generic, ntfy, healthchecks]
    default: generic
    ini:
      - section: callback_sovereign_report
        key: webhook_kind
    env:
      - name: SOVEREIGN_REPORT_WEBHOOK_KIND
  webhook_when:
    description:
      - C(failure) sends only when a host failed or was unreachable; C(always) after every run.
        C(healthchecks) is pinged on every run whatever this says (it alarms on missing pings).
    type: str
    choices: [always, failure]
    default: failure
    ini:
      - section: callback_sovereign_report
        key: webhook_when
    env:
      - name: SOVEREIGN_REPORT_WEBHOOK_WHEN
  webhook_timeout:
    description: Seconds to wait for the webhook; a webhook that fails or times out only warns.
    type: float
    default: 10
    ini:
      - section: callback_sovereign_report
        key: webhook_timeout
    env:
      - name: SOVEREIGN_REPORT_WEBHOOK_TIMEOUT
  report_link:
    description:
      - A URL where people can read the HTML report (say a web server serving O(output_dir)); sent
        as ntfy's C(Click) header and the generic webhook's C(link).
    type: str
    ini:
      - section: callback_sovereign_report
        key: report_link
    env:
      - name: SOVEREIGN_REPORT_LINK
"""

import socket

from ansible import context
from ansible.module_utils.urls import open_url
from ansible.plugins.callback import CallbackBase

from ansible_collections.sovereign.cloud.plugins.module_utils.report import document, store, webhook


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "sovereign.cloud.report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        check = bool((context.CLIARGS or {}).get("check", False))
        self.recorder = document.RunRecorder(check_mode=check, controller=socket.gethostname())
        self.opener = open_url

    # what a result is ------------------------------------------------------------------------
    @staticmethod
    def _parts(result):
        host = result._host.get_name()
        task = result._task
        name = task.get_name() if task is not None else ""
        no_log = bool(getattr(task, "no_log", False))
        payload = getattr(result, "result", None)
        if payload is None:
            payload = result._result
        return host, name, payload, no_log

    def _warn(self, message: str) -> None:
        self._display.warning(f"sovereign.cloud.report: {message}")

    # events ------------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook) -> None:
        self.recorder.set_playbook(getattr(playbook, "_file_name", "") or "")
        url = self.get_option("webhook_url")
        if url and self.get_option("webhook_kind") == "healthchecks":
            problem = webhook.send(webhook.start_request(url), self.opener, self.get_option("webhook_timeout"))
            if problem:
                self._warn(problem)

    def v2_runner_on_ok(self, result) -> None:
        host, name, payload, no_log = self._parts(result)
        self.recorder.ok(host, name, payload, no_log)

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        host, name, payload, no_log = self._parts(result)
        self.recorder.failed(host, name, payload, no_log, ignore_errors=ignore_errors)

    def v2_runner_on_unreachable(self, result) -> None:
        host, name, payload, no_log = self._parts(result)
        self.recorder.unreachable(host, name, payload, no_log)

    def v2_runner_on_skipped(self, result) -> None:
        self.recorder.skipped(result._host.get_name())

    def v2_playbook_on_stats(self, stats) -> None:
        recap = {}
        for host in sorted(stats.processed.keys()):
            summary = stats.summarize(host)
            recap[host] = {"ok": summary.get("ok", 0), "changed": summary.get("changed", 0),
                           "failed": summary.get("failures", 0), "skipped": summary.get("skipped", 0),
                           "unreachable": summary.get("unreachable", 0), "rescued": summary.get("rescued", 0),
                           "ignored": summary.get("ignored", 0)}
        doc = self.recorder.finish(recap)
        formats = [str(f).strip().lower() for f in (self.get_option("formats") or []) if str(f).strip()]
        unknown = sorted(set(formats) - set(store.FORMATS))
        if unknown:
            self._warn(f"unknown report format(s) {', '.join(unknown)}; known: {', '.join(store.FORMATS)}")
        try:
            written = store.write(doc, self.get_option("output_dir"), formats, self.get_option("keep"),
                                  self.get_option("prometheus_path"))
        except OSError as exc:
            self._warn(f"could not write the run report into {self.get_option('output_dir')}: {exc}; "
                       "set SOVEREIGN_REPORT_DIR to a writable directory")
            written = {}
        if written.get("html"):
            self._display.display(f"Run report: {written['html']}")
        url = self.get_option("webhook_url")
        kind = self.get_option("webhook_kind")
        if url and webhook.should_send(doc, self.get_option("webhook_when"), kind):
            request = webhook.build(doc, url, kind, self.get_option("report_link"))
            problem = webhook.send(request, self.opener, self.get_option("webhook_timeout"))
            if problem:
                self._warn(problem)
