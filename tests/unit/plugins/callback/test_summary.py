"""The summary callback: what a person reads at the end of a run."""

from __future__ import annotations

import json
from types import SimpleNamespace

from ansible.plugins.loader import callback_loader


class FakeDisplay:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def display(self, msg, *args, **kwargs) -> None:
        self.lines.append(msg)


def fake_result(host: str, task: str, **result):
    return SimpleNamespace(_host=SimpleNamespace(get_name=lambda: host),
                           _task=SimpleNamespace(get_name=lambda: task),
                           _result=result)


def make_callback(tmp_path, **options):
    callback = callback_loader.get("sovereign.cloud.summary")
    callback._display = FakeDisplay()
    callback.set_options(direct={"json_path": str(tmp_path / "summary.json"), "max_changed": 2, **options})
    return callback


def test_summary_lists_changes_notes_and_failures(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_ok(fake_result("nas", "sovereign.cloud.base : Ensure the data root exists", changed=True))
    callback.v2_runner_on_ok(fake_result("nas", "Ingest", changed=True,
                                         summary="12 photos ingested, 2 duplicates, 1 rejected"))
    callback.v2_runner_on_ok(fake_result("nas", "Probe", changed=False))
    callback.v2_runner_on_failed(fake_result("nas", "Verify", msg="2 originals are corrupt\nmore"))
    callback.v2_playbook_on_stats(None)

    text = callback._display.lines[-1]
    assert "nas: FAILED (3 ok, 2 changed, 1 failed)" in text
    assert "* 12 photos ingested, 2 duplicates, 1 rejected" in text
    assert "~ base: Ensure the data root exists" in text
    assert "! Verify - 2 originals are corrupt" in text
    assert "more" not in text

    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["hosts"]["nas"]["notes"] == ["12 photos ingested, 2 duplicates, 1 rejected"]


def test_long_change_lists_are_cut(tmp_path):
    callback = make_callback(tmp_path)
    for i in range(5):
        callback.v2_runner_on_ok(fake_result("h", f"Task {i}", changed=True))
    callback.v2_playbook_on_stats(None)
    text = callback._display.lines[-1]
    assert "~ Task 1" in text and "~ Task 2" not in text
    assert "and 3 more changes" in text


def test_ignored_failures_are_not_reported(tmp_path):
    callback = make_callback(tmp_path)
    callback.v2_runner_on_failed(fake_result("h", "Optional probe", msg="nope"), ignore_errors=True)
    callback.v2_playbook_on_stats(None)
    assert "no hosts matched" in callback._display.lines[-1]
