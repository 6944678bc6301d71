"""The report callback: options, events into the document, outputs and the webhook."""

from __future__ import annotations

import json
from types import SimpleNamespace

from ansible.plugins.loader import callback_loader


class FakeDisplay:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.warnings: list[str] = []

    def display(self, msg, *args, **kwargs) -> None:
        self.lines.append(msg)

    def warning(self, msg, *args, **kwargs) -> None:
        self.warnings.append(msg)


class FakeStats:
    def __init__(self, recap: dict) -> None:
        self.recap = recap
        self.processed = dict.fromkeys(recap, 1)

    def summarize(self, host):
        return self.recap[host]


def fake_result(host: str, task: str, no_log: bool = False, **result):
    return SimpleNamespace(_host=SimpleNamespace(get_name=lambda: host),
                           _task=SimpleNamespace(get_name=lambda: task, no_log=no_log),
                           result=result, _result=result)


def make_callback(tmp_path, **options):
    callback = callback_loader.get("sovereign.cloud.report")
    callback._display = FakeDisplay()
    callback.set_options(direct={"output_dir": str(tmp_path / "reports"), **options})
    callback.v2_playbook_on_start(SimpleNamespace(_file_name="/x/playbooks/verify.yml"))
    return callback


def recap(**counts):
    base = {"ok": 0, "changed": 0, "failures": 0, "skipped": 0, "unreachable": 0, "rescued": 0, "ignored": 0}
    return dict(base, **counts)


def test_defaults_and_outputs(tmp_path):
    callback = make_callback(tmp_path)
    assert callback.get_option("formats") == ["json", "html", "prom"]
    assert callback.get_option("webhook_when") == "failure" and callback.get_option("keep") == 30
    callback.v2_runner_on_ok(fake_result("nas", "Verify", changed=False, summary="9,001 originals verified"))
    callback.v2_runner_on_ok(fake_result("nas", "Login", no_log=True, changed=True, summary="pw=sekrit"))
    callback.v2_runner_on_skipped(fake_result("nas", "Skip"))
    callback.v2_playbook_on_stats(FakeStats({"nas": recap(ok=2, changed=1, skipped=1)}))
    reports = tmp_path / "reports"
    doc = json.loads((reports / "latest.json").read_text())
    assert doc["playbook"] == "verify.yml" and doc["success"] is True
    assert doc["hosts"]["nas"]["summaries"] == ["9,001 originals verified"]
    assert "sekrit" not in (reports / "latest.json").read_text() + (reports / "latest.html").read_text()
    assert (reports / "textfile" / "sovereign_cloud_run_verify.prom").is_file()
    assert callback._display.lines[-1] == f"Run report: {reports / (doc['run_id'] + '.html')}"
    assert not callback._display.warnings


def test_webhook_on_failure_with_the_given_opener(tmp_path):
    callback = make_callback(tmp_path, webhook_url="https://ntfy.example/runs", webhook_kind="ntfy", formats=["json"])
    sent = []
    callback.opener = lambda url, **kwargs: sent.append((url, kwargs)) or SimpleNamespace(status=200)
    callback.v2_runner_on_failed(fake_result("nas", "Verify", msg="2 originals are corrupt"))
    callback.v2_playbook_on_stats(FakeStats({"nas": recap(failures=1)}))
    [(url, kwargs)] = sent
    assert url == "https://ntfy.example/runs" and kwargs["headers"]["Priority"] == "high"
    assert kwargs["timeout"] == 10 and b"nas: Verify - 2 originals are corrupt" in kwargs["data"]
    assert not (tmp_path / "reports" / "latest.html").exists()


def test_no_webhook_for_a_good_run_unless_always(tmp_path):
    for when, expected in (("failure", 0), ("always", 1)):
        callback = make_callback(tmp_path, webhook_url="http://127.0.0.1:9/x", webhook_when=when)
        sent = []
        callback.opener = lambda url, **kwargs: sent.append(url) or SimpleNamespace(status=204)
        callback.v2_playbook_on_stats(FakeStats({"nas": recap(ok=1)}))
        assert len(sent) == expected


def test_problems_only_warn(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    callback = make_callback(tmp_path, output_dir=str(blocker / "reports"), webhook_url="http://127.0.0.1:9/x",
                             formats=["json", "pdf"])

    def refuse(url, **kwargs):
        raise ConnectionRefusedError("refused")

    callback.opener = refuse
    callback.v2_runner_on_failed(fake_result("nas", "Verify", msg="bad"))
    callback.v2_playbook_on_stats(FakeStats({"nas": recap(failures=1)}))
    warnings = "\n".join(callback._display.warnings)
    assert "unknown report format(s) pdf" in warnings
    assert "could not write the run report" in warnings and "SOVEREIGN_REPORT_DIR" in warnings
    assert "webhook http://127.0.0.1:9/... failed: ConnectionRefusedError: refused" in warnings
