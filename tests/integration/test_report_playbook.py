"""The sovereign.cloud.report callback through a real ansible-playbook run.

Four hosts (all local connection): ``quiet`` changes nothing, ``busy`` changes things, ``broken``
fails with a message, ``secretive`` fails in a no_log task whose message holds a vaulted password.
The password (ansible-vault encrypt_string with a test password) is also used by no_log tasks
that succeed and return it as their summary. None of the four outputs (JSON, HTML, Prometheus
textfile, the webhook body and headers received by a server on 127.0.0.1) may contain it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from support import promtext  # noqa: E402  pylint: disable=wrong-import-position
from support.webhook_server import Capture  # noqa: E402  pylint: disable=wrong-import-position

SECRET = "correct-horse-7d1f3a-battery"
VAULT_PASSWORD = "report-test-vault-password"
OUTPUT = REPO / "tests" / "output" / "report"

PLAYBOOK = """---
- name: Exercise the report callback
  hosts: all
  gather_facts: false
  tasks:
    - name: Probe without changing anything
      ansible.builtin.command: "true"
      changed_when: false

    - name: Change something on the busy hosts
      ansible.builtin.command: "true"
      changed_when: true
      when: inventory_hostname != 'quiet'

    - name: Say what the module did
      report_echo:
        text: "3 photos ingested, 1 duplicate <b>kept</b>"

    - name: Use the vaulted password
      report_echo:
        text: "logged in with {{ report_password }}"
        changed: true
      no_log: true
      when: inventory_hostname == 'busy'

    - name: Use the vaulted password in a loop
      report_echo:
        text: "{{ item }}"
      loop:
        - "{{ report_password }}"
      no_log: true

    - name: Fail where it is meant to fail
      ansible.builtin.fail:
        msg: "the disk <sdb> & its mirror are gone"
      when: inventory_hostname == 'broken'

    - name: Fail with the vaulted password in the message
      ansible.builtin.fail:
        msg: "wrong password {{ report_password }}"
      no_log: true
      when: inventory_hostname == 'secretive'
"""

MODULE = '''
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"text": {"type": "str", "required": True},
                                          "changed": {"type": "bool", "default": False}},
                           supports_check_mode=True)
    module.exit_json(changed=module.params["changed"], summary=module.params["text"], echoed=module.params["text"])


if __name__ == "__main__":
    main()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The playbook, its test module, an inventory and the vaulted password."""
    root = tmp_path_factory.mktemp("report-project")
    (root / "library").mkdir()
    (root / "library" / "report_echo.py").write_text(MODULE)
    (root / "report.yml").write_text(PLAYBOOK)
    python = sys.executable
    (root / "hosts").write_text("".join(f"{h} ansible_connection=local ansible_python_interpreter={python}\n"
                                        for h in ("quiet", "busy", "broken", "secretive")))
    (root / "vault-pass").write_text(VAULT_PASSWORD + "\n")
    vaulted = subprocess.run(
        [shutil.which("ansible-vault") or "ansible-vault", "encrypt_string", "--vault-password-file",
         str(root / "vault-pass"), "--name", "report_password", SECRET],
        capture_output=True, text=True, check=True, timeout=120, env=_env({})).stdout
    assert "$ANSIBLE_VAULT" in vaulted and SECRET not in vaulted
    (root / "group_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text("---\n" + vaulted)
    return root


def _env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVEREIGN_REPORT_")}
    env.update({"ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_INVENTORY": "", "ANSIBLE_NOCOLOR": "1"})
    env.update(extra)
    return env


def run(project: Path, out: Path, *, limit: str | None = None, **settings) -> subprocess.CompletedProcess:
    extra = {"SOVEREIGN_REPORT_DIR": str(out)}
    extra.update({f"SOVEREIGN_REPORT_{k.upper()}": str(v) for k, v in settings.items()})
    cmd = [shutil.which("ansible-playbook") or "ansible-playbook", "-i", str(project / "hosts"),
           "--vault-password-file", str(project / "vault-pass"), str(project / "report.yml")]
    if limit:
        cmd += ["--limit", limit]
    return subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300, env=_env(extra),
                          check=False)


def every_output(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def assert_no_secret(out: Path, requests: list[dict]) -> None:
    files = every_output(out)
    assert {"latest.json", "latest.html"} <= set(files) and any(n.endswith(".prom") for n in files)
    for name, data in files.items():
        assert SECRET.encode() not in data, name
    for request in requests:
        assert SECRET.encode() not in request["body"]
        assert SECRET not in json.dumps(request["headers"]) and SECRET not in request["path"]


@pytest.fixture(scope="module")
def generic(project, tmp_path_factory):
    """One run with a generic webhook sent always."""
    out = tmp_path_factory.mktemp("report-generic")
    with Capture() as hook:
        result = run(project, out, webhook_url=hook.url + "/hook", webhook_kind="generic", webhook_when="always",
                     link="http://nas.lan/reports/latest.html")
    return SimpleNamespace(result=result, out=out, requests=hook.requests)


def test_the_document_tells_each_host_s_story(generic):
    result, out = generic.result, generic.out
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    doc = json.loads((out / "latest.json").read_text())
    assert doc["schema"] == "sovereign.cloud/run-report/1" and doc["playbook"] == "report.yml"
    assert doc["success"] is False and doc["check_mode"] is False
    hosts = doc["hosts"]
    assert {name: h["status"] for name, h in hosts.items()} == {
        "quiet": "ok", "busy": "changed", "broken": "failed", "secretive": "failed"}
    assert hosts["busy"]["changed"] == 2 and hosts["quiet"]["changed"] == 0
    assert [c["task"] for c in hosts["busy"]["changes"]] == ["Change something on the busy hosts",
                                                             "Use the vaulted password"]
    assert hosts["broken"]["failures"] == [{"task": "Fail where it is meant to fail",
                                            "message": "the disk <sdb> & its mirror are gone", "hidden": False}]
    assert hosts["secretive"]["failures"] == [{"task": "Fail with the vaulted password in the message",
                                               "message": "output hidden (no_log)", "hidden": True}]
    assert hosts["quiet"]["summaries"] == ["3 photos ingested, 1 duplicate <b>kept</b>"]
    assert hosts["busy"]["summaries"] == ["3 photos ingested, 1 duplicate <b>kept</b>"]
    assert (out / f"{doc['run_id']}.json").is_file() and (out / f"{doc['run_id']}.html").is_file()
    assert f"Run report: {out / (doc['run_id'] + '.html')}" in result.stdout


def test_html_and_textfile(generic):
    out = generic.out
    page = (out / "latest.html").read_text()
    assert "the disk &lt;sdb&gt; &amp; its mirror are gone" in page
    assert "1 duplicate &lt;b&gt;kept&lt;/b&gt;" in page and "<b>" not in page
    [prom] = (out / "textfile").glob("*.prom")
    assert prom.name == "sovereign_cloud_run_report.prom"
    metrics = promtext.parse(prom.read_text())
    assert metrics["sovereign_cloud_run_last_success"]["samples"] == [({"playbook": "report.yml"}, 0.0)]
    failed = {labels["host"]: v for labels, v in metrics["sovereign_cloud_run_host_failed"]["samples"]}
    assert failed == {"quiet": 0, "busy": 0, "broken": 1, "secretive": 1}
    assert not [p for p in out.rglob("*") if ".partial-" in p.name]


def test_generic_webhook_is_received(generic):
    out, requests = generic.out, generic.requests
    [request] = requests
    assert request["path"] == "/hook" and request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["event"] == "run_failed" and body["link"] == "http://nas.lan/reports/latest.html"
    assert body["report"] == json.loads((out / "latest.json").read_text())


def test_a_vaulted_secret_never_leaks(generic):
    result, out, requests = generic.result, generic.out, generic.requests
    assert_no_secret(out, requests)
    # The password did reach the tasks (the vault was decrypted): the no_log tasks ran and one failed.
    assert "secretive" in result.stdout and "censored" in result.stdout


def test_ntfy_on_failure_only(project, tmp_path):
    with Capture() as hook:
        failed = run(project, tmp_path / "a", webhook_url=hook.url + "/family-runs", webhook_kind="ntfy")
        quiet = run(project, tmp_path / "b", limit="quiet", webhook_url=hook.url + "/family-runs",
                    webhook_kind="ntfy")
    assert failed.returncode == 2 and quiet.returncode == 0, quiet.stdout[-2000:]
    [request] = hook.requests  # the good run sent nothing (webhook_when defaults to failure)
    assert request["path"] == "/family-runs"
    assert request["headers"]["Title"] == "sovereign.cloud: report.yml FAILED"
    assert request["headers"]["Priority"] == "high" and request["headers"]["Tags"] == "rotating_light"
    text = request["body"].decode()
    assert text.startswith("report.yml FAILED on broken, secretive (2 failed)")
    assert "broken: Fail where it is meant to fail - the disk <sdb> & its mirror are gone" in text
    assert "secretive: Fail with the vaulted password in the message - output hidden (no_log)" in text
    assert_no_secret(tmp_path / "a", hook.requests)


def test_healthchecks_pings_start_and_end(project, tmp_path):
    with Capture() as hook:
        run(project, tmp_path / "a", webhook_url=hook.url + "/ping/uuid", webhook_kind="healthchecks")
        good = run(project, tmp_path / "b", limit="quiet,busy", webhook_url=hook.url + "/ping/uuid",
                   webhook_kind="healthchecks")
    assert good.returncode == 0
    assert [r["path"] for r in hook.requests] == ["/ping/uuid/start", "/ping/uuid/fail",
                                                  "/ping/uuid/start", "/ping/uuid"]
    assert hook.requests[3]["body"].startswith(b"report.yml ok; 2 host(s), 2 changed")
    assert_no_secret(tmp_path / "a", hook.requests)


def test_a_webhook_that_fails_only_warns(project, tmp_path):
    with Capture(status=500) as hook:
        result = run(project, tmp_path, limit="quiet", webhook_url=hook.url + "/x", webhook_when="always",
                     webhook_timeout=5)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "sovereign.cloud.report: webhook http://127.0.0.1" in result.stderr + result.stdout
    assert "answered HTTP 500" in result.stderr + result.stdout
    assert (tmp_path / "latest.json").is_file()


def test_html_in_headless_chromium(generic):
    """Render the page as a laptop and as a phone; no console errors; screenshots are artefacts."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed (Debian package chromium; scripts/test-deps.sh chromium:chromium)")
    out = generic.out
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for label, size in (("laptop", "1366,768"), ("phone", "390,844")):
        shot = OUTPUT / f"report-{label}.png"
        shot.unlink(missing_ok=True)
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", f"--window-size={size}",
             f"--screenshot={shot}", (out / "latest.html").as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
            env=dict(os.environ, HOME=str(OUTPUT / ".chromium-home")))
        assert result.returncode == 0, result.stderr[-3000:]
        assert shot.is_file() and shot.stat().st_size > 5000
        console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "net::ERR" in line]
        assert not console, console
    shutil.copy(out / "latest.html", OUTPUT / "report.html")
