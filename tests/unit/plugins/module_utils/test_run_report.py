"""The run report engine: the document, the HTML page, the Prometheus textfile, webhooks, storage."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import pytest

from ansible_collections.sovereign.cloud.plugins.module_utils.report import document, html, prometheus, store, webhook
from support import promtext

T0 = dt.datetime(2026, 12, 4, 2, 0, 0, tzinfo=dt.timezone.utc)
T1 = T0 + dt.timedelta(seconds=83)
SECRET = "hunter2-SECRET-value"
HIDDEN_RESULT = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified "
                             "for this result", "changed": False}


def sample(check_mode: bool = False) -> dict:
    rec = document.RunRecorder("/x/playbooks/site.yml", check_mode=check_mode, started=T0, controller="ctl")
    rec.ok("nas", "sovereign.cloud.base : Ensure the data root exists", {"changed": True})
    rec.ok("nas", "Ingest", {"changed": True, "summary": "12 photos ingested, 2 duplicates\nsecond line"})
    rec.ok("nas", "Probe", {"changed": False})
    rec.failed("nas", "Verify", {"msg": "2 originals are corrupt\nmore", "stderr": "a\nlast words\n"})
    rec.ok("pve", "Probe", {"changed": False, "summary": "3 guests backed up"})
    rec.skipped("pve")
    rec.unreachable("laptop", "Gathering Facts", {"msg": "ssh: connect to host laptop port 22: No route"})
    return rec.finish(finished=T1)


def test_document_counts_changes_failures_and_summaries():
    doc = sample()
    assert doc["schema"] == document.SCHEMA
    assert re.fullmatch(r"20261204T020000Z-site-[0-9a-f]{6}", doc["run_id"])
    assert doc["playbook"] == "site.yml" and doc["duration_seconds"] == 83.0
    assert doc["started_at"] == "2026-12-04T02:00:00Z" and doc["finished_at"] == "2026-12-04T02:01:23Z"
    assert doc["success"] is False and doc["status"] == "failed"
    nas = doc["hosts"]["nas"]
    assert (nas["ok"], nas["changed"], nas["failed"], nas["status"]) == (3, 2, 1, "failed")
    assert nas["changes"] == [{"task": "base: Ensure the data root exists"}, {"task": "Ingest"}]
    assert nas["failures"] == [{"task": "Verify", "message": "2 originals are corrupt", "detail": "last words",
                                "hidden": False}]
    assert nas["summaries"] == ["12 photos ingested, 2 duplicates"]
    assert doc["hosts"]["pve"]["status"] == "ok" and doc["hosts"]["pve"]["skipped"] == 1
    assert doc["hosts"]["laptop"]["status"] == "unreachable"
    assert doc["totals"] == {"ok": 4, "changed": 2, "failed": 1, "skipped": 1, "unreachable": 1,
                             "rescued": 0, "ignored": 0}
    json.dumps(doc)  # plain JSON data


def test_ansible_recap_wins_and_rescued_failures_are_marked():
    rec = document.RunRecorder("site.yml", started=T0)
    rec.failed("nas", "Try", {"msg": "first attempt failed"})
    rec.ok("nas", "Fallback", {"changed": True})
    rec.failed("nas", "Optional", {"msg": "ignored"}, ignore_errors=True)
    doc = rec.finish({"nas": {"ok": 2, "changed": 1, "failed": 0, "skipped": 0, "unreachable": 0,
                              "rescued": 1, "ignored": 1}}, finished=T1)
    nas = doc["hosts"]["nas"]
    assert doc["success"] is True and nas["status"] == "changed"
    assert nas["failures"] == [{"task": "Try", "message": "first attempt failed", "hidden": False, "rescued": True}]
    assert nas["ignored"] == 1


@pytest.mark.parametrize("result,task_no_log", [
    (HIDDEN_RESULT, False),
    ({"msg": SECRET, "summary": SECRET, "_ansible_no_log": True, "stderr": SECRET}, False),
    ({"msg": SECRET, "summary": SECRET, "stderr": SECRET}, True),
])
def test_no_log_results_are_never_looked_into(result, task_no_log):
    rec = document.RunRecorder("site.yml", started=T0)
    rec.ok("h", "Use the password", dict(result, changed=True), task_no_log)
    rec.failed("h", "Check the password", dict(result), task_no_log)
    rec.unreachable("h2", "Connect", dict(result), task_no_log)
    doc = rec.finish(finished=T1)
    text = json.dumps(doc)
    assert SECRET not in text
    assert doc["hosts"]["h"]["failures"] == [{"task": "Check the password", "message": document.HIDDEN,
                                              "hidden": True}]
    assert doc["hosts"]["h"]["changes"] == [{"task": "Use the password"}]
    assert doc["hosts"]["h"]["summaries"] == []


def test_loop_items_give_summaries_unless_hidden():
    rec = document.RunRecorder("site.yml", started=T0)
    rec.ok("h", "Loop", {"changed": False, "results": [
        {"summary": "repo a: 3 snapshots kept"},
        {"summary": SECRET, "_ansible_no_log": True},
        {"summary": "repo a: 3 snapshots kept"}]})
    rec.failed("h", "Loop fails", {"results": [{"failed": True, "msg": SECRET, "_ansible_no_log": True}]})
    doc = rec.finish(finished=T1)
    assert doc["hosts"]["h"]["summaries"] == ["repo a: 3 snapshots kept"]
    assert doc["hosts"]["h"]["failures"][0]["message"] == "one or more loop items failed"
    assert SECRET not in json.dumps(doc)


def test_long_texts_are_cut_and_long_change_lists_counted(monkeypatch):
    monkeypatch.setattr(document, "MAX_LISTED", 3)
    rec = document.RunRecorder("site.yml", started=T0)
    rec.failed("h", "Long", {"msg": "x" * 1000})
    for i in range(5):
        rec.ok("h", f"Task {i}", {"changed": True})
    doc = rec.finish(finished=T1)
    assert len(doc["hosts"]["h"]["failures"][0]["message"]) == document.MESSAGE_CHARS
    assert len(doc["hosts"]["h"]["changes"]) == 3 and doc["hosts"]["h"]["more_changes"] == 2


def test_headline():
    assert document.headline(sample()) == ("site.yml FAILED on laptop, nas (2 failed); 3 host(s), 2 changed, 83 s")
    rec = document.RunRecorder("verify.yml", check_mode=True, started=T0)
    rec.ok("h", "x", {"changed": True})
    assert document.headline(rec.finish(finished=T1)) == "verify.yml ok; 1 host(s), 1 would change, 83 s"


# HTML ------------------------------------------------------------------------------------------
def test_html_escapes_everything_from_the_document():
    rec = document.RunRecorder("site.yml", started=T0)
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    rec.ok(evil, evil, {"changed": True, "summary": evil})
    rec.failed(evil, evil, {"msg": evil, "stderr": evil + "\n" + evil + "2"})
    page = html.render(rec.finish(finished=T1))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page


def test_html_is_self_contained_and_says_what_happened():
    page = html.render(sample())
    assert page.startswith("<!DOCTYPE html>") and 'name="viewport"' in page
    for external in ("<script", "<link", "src=", "@import", "url(", "http://", "https://"):
        assert external not in page, external
    assert "2 of 3 hosts failed" in page and "Fri 4 Dec 2026, 02:01 UTC" in page
    assert "2 originals are corrupt" in page and "last words" in page
    assert "12 photos ingested, 2 duplicates" in page
    assert "base: Ensure the data root exists" in page
    # hosts needing attention first
    assert page.index("laptop") < page.index("nas") < page.index(">pve<")


def test_html_folds_long_change_lists_and_names_check_mode():
    rec = document.RunRecorder("site.yml", check_mode=True, started=T0)
    for i in range(10):
        rec.ok("h", f"Task {i}", {"changed": True})
    page = html.render(rec.finish(finished=T1))
    assert "Would change (10)" in page and "<details><summary>4 more</summary>" in page
    assert "check mode" in page and "All good \u2014 changes would be made" in page


def test_html_for_a_quiet_run():
    rec = document.RunRecorder("site.yml", started=T0)
    rec.ok("h", "Probe", {"changed": False})
    page = html.render(rec.finish(finished=T1))
    assert "All good \u2014 nothing to change" in page and "Nothing changed, nothing failed." in page


# Prometheus ------------------------------------------------------------------------------------
def test_prometheus_textfile_is_valid_and_complete():
    metrics = promtext.parse(prometheus.render(sample()))
    assert all(m["type"] == "gauge" and m["help"] for m in metrics.values())
    run = {name: m["samples"] for name, m in metrics.items()}
    assert run["sovereign_cloud_run_last_timestamp_seconds"] == [({"playbook": "site.yml"}, T1.timestamp())]
    assert run["sovereign_cloud_run_last_success"] == [({"playbook": "site.yml"}, 0.0)]
    assert run["sovereign_cloud_run_last_duration_seconds"] == [({"playbook": "site.yml"}, 83.0)]
    changed = {labels["host"]: value for labels, value in run["sovereign_cloud_run_host_changed"]}
    failed = {labels["host"]: value for labels, value in run["sovereign_cloud_run_host_failed"]}
    unreachable = {labels["host"]: value for labels, value in run["sovereign_cloud_run_host_unreachable"]}
    assert changed == {"laptop": 0, "nas": 2, "pve": 0} and failed == {"laptop": 0, "nas": 1, "pve": 0}
    assert unreachable["laptop"] == 1


def test_prometheus_label_values_are_escaped():
    rec = document.RunRecorder('we"ird\\play\nbook.yml', started=T0)
    rec.ok('host"with\\odd\nname', "x", {"changed": True})
    text = prometheus.render(rec.finish(finished=T1))
    metrics = promtext.parse(text)
    [(labels, value)] = metrics["sovereign_cloud_run_host_changed"]["samples"]
    assert labels == {"playbook": 'we"ird\\play\nbook.yml', "host": 'host"with\\odd\nname'} and value == 1


def test_the_strict_reader_rejects_broken_text():
    for bad in ('m{a="x} 1\n', "m 1", "m{a=\"\\x\"} 1\n", "# TYPE m gauge\nm 1\n# TYPE m gauge\n", "m one\n",
                "m 1\nm 2\n"):
        with pytest.raises(ValueError):
            promtext.parse(bad)


def test_prometheus_file_names():
    assert prometheus.file_name("/a/playbooks/site.yml") == "sovereign_cloud_run_site.prom"
    assert prometheus.file_name("dr/restore-vault.yml") == "sovereign_cloud_run_restore_vault.prom"


# webhooks --------------------------------------------------------------------------------------
def test_generic_webhook_carries_the_document():
    doc = sample()
    request = webhook.build(doc, "http://hook.example/x", "generic", report_link="http://nas/latest.html")
    body = json.loads(request["body"])
    assert request["headers"]["Content-Type"] == "application/json"
    assert body["event"] == "run_failed" and body["success"] is False and body["report"] == doc
    assert body["text"].startswith("site.yml FAILED") and body["link"] == "http://nas/latest.html"


def test_ntfy_shape():
    request = webhook.build(sample(), "https://ntfy.sh/family-runs", "ntfy", report_link="http://nas/r")
    assert request["url"] == "https://ntfy.sh/family-runs"
    assert request["headers"]["Title"] == "sovereign.cloud: site.yml FAILED"
    assert request["headers"]["Priority"] == "high" and request["headers"]["Click"] == "http://nas/r"
    text = request["body"].decode()
    assert "nas: Verify - 2 originals are corrupt" in text and "nas: 12 photos ingested" in text


def test_healthchecks_shape():
    failed = webhook.build(sample(), "https://hc-ping.com/uuid/", "healthchecks")
    assert failed["url"] == "https://hc-ping.com/uuid/fail"
    rec = document.RunRecorder("site.yml", started=T0)
    rec.ok("h", "x", {"changed": False})
    good = webhook.build(rec.finish(finished=T1), "https://hc-ping.com/uuid", "healthchecks")
    assert good["url"] == "https://hc-ping.com/uuid" and good["body"].startswith(b"site.yml ok")
    assert webhook.start_request("https://hc-ping.com/uuid")["url"] == "https://hc-ping.com/uuid/start"
    with pytest.raises(ValueError):
        webhook.build(sample(), "http://x", "slack")


def test_when_to_send():
    bad, good = sample(), dict(sample(), success=True)
    assert webhook.should_send(bad, "failure", "generic") and not webhook.should_send(good, "failure", "ntfy")
    assert webhook.should_send(good, "always", "generic")
    assert webhook.should_send(good, "failure", "healthchecks")


def test_send_never_raises_and_never_names_the_whole_url():
    request = webhook.build(sample(), "https://hc-ping.com/secret-uuid", "healthchecks")

    def broken(*args, **kwargs):
        raise OSError("connection refused")

    problem = webhook.send(request, broken, timeout=1)
    assert "connection refused" in problem and "secret-uuid" not in problem

    class Answer:
        status = 500

        def read(self):
            return b""

    assert "HTTP 500" in webhook.send(request, lambda *a, **k: Answer())
    calls = []

    def fine(url, **kwargs):
        calls.append((url, kwargs))
        answer = Answer()
        answer.status = 200
        return answer

    assert webhook.send(request, fine) is None
    assert calls[0][0] == "https://hc-ping.com/secret-uuid/fail" and calls[0][1]["method"] == "POST"
    assert calls[0][1]["timeout"] == 10.0


# storage ---------------------------------------------------------------------------------------
def test_store_writes_every_format_and_keeps_n_runs(tmp_path):
    written = [store.write(sample(), str(tmp_path / "r"), keep=2) for run_number in range(4)]
    names = sorted(os.listdir(tmp_path / "r"))
    runs = sorted({n.rsplit(".", 1)[0] for n in names if n.startswith("2026")})
    assert len(runs) == 2
    assert "latest.json" in names and "latest.html" in names
    assert not [n for n in names if ".partial-" in n]
    last = written[-1]
    assert last["prom"] == str(tmp_path / "r" / "textfile" / "sovereign_cloud_run_site.prom")
    promtext.parse(open(last["prom"], encoding="utf-8").read())
    assert json.loads((tmp_path / "r" / "latest.json").read_text())["run_id"] == json.loads(
        open(last["json"], encoding="utf-8").read())["run_id"]


def test_store_formats_and_prometheus_targets(tmp_path):
    doc = sample()
    only = store.write(doc, str(tmp_path / "r"), formats=["prom"], prometheus_path=str(tmp_path / "m.prom"))
    assert only == {"prom": str(tmp_path / "m.prom")} and not (tmp_path / "r").exists()
    (tmp_path / "textfile").mkdir()
    assert store.prometheus_target(str(tmp_path / "textfile"), "x", "site.yml") == str(
        tmp_path / "textfile" / "sovereign_cloud_run_site.prom")
    assert store.prometheus_target("/new/dir/", "x", "site.yml") == "/new/dir/sovereign_cloud_run_site.prom"
