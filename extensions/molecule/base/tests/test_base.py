"""What a user checks after the base role: the account, the directories, the time zone, packages,
and the failure notifier (a failing unit runs the command and POSTs to a webhook on loopback)."""

from __future__ import annotations

import json
import shlex

import pytest


def test_service_account_is_a_system_user_without_login(host):
    user = host.user("sovereign")
    assert user.exists
    assert user.uid == 2600
    assert user.group == "sovereign"
    assert user.home == "/srv/sovereign"
    assert user.shell == "/usr/sbin/nologin"


def test_data_root_is_private_to_the_service_user(host):
    root = host.file("/srv/sovereign")
    assert root.is_directory
    assert root.user == "sovereign"
    assert root.group == "sovereign"
    assert root.mode == 0o750


def test_state_directory_is_readable_by_reports(host):
    state = host.file("/var/lib/sovereign-cloud")
    assert state.is_directory
    assert state.user == "sovereign"
    assert state.mode == 0o755


def test_time_zone_is_set(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/America/Edmonton"
    assert host.check_output("date +%Z") in ("MST", "MDT")


def test_common_packages_are_installed(host):
    for name in ("acl", "ca-certificates", "python3-venv", "rsync", "sqlite3", "tzdata", "less"):
        assert host.package(name).is_installed, name


def test_service_user_can_be_become_target(host):
    # acl is what makes `become_user: sovereign` work for the scheduled-job roles.
    out = host.run("sudo -u sovereign -- /bin/sh -c 'id -un'")
    assert out.rc == 0
    assert out.stdout.strip() == "sovereign"


# ------------------------------------------------------------------------------ failure notices
NOTIFIED = "/var/lib/sovereign-cloud/notified.txt"
HOOK_LOG = "/run/sc-base-hook.jsonl"
# A webhook on the host's loopback that appends each POST (its Content-Type and JSON body) to HOOK_LOG.
HOOK_SERVER = f"""
import json, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        with open('{HOOK_LOG}', 'a') as f:
            f.write(json.dumps({{'type': self.headers['Content-Type'], 'body': body}}) + '\\n')
        self.send_response(204)
        self.end_headers()
http.server.HTTPServer(('127.0.0.1', 8765), H).serve_forever()
"""
FAILING_UNIT = """[Unit]
Description=a job that fails, the way a sovereign.cloud service names the notifier
OnFailure=sovereign-notify@%n.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo the disk is not mounted; exit 3'
"""


def wait_for(host, command: str, tries: int = 50) -> bool:
    return host.run(f"for i in $(seq {tries}); do {command} && exit 0; sleep 0.2; done; exit 1").rc == 0


def test_failure_notifier_and_its_unit_are_installed_root_only(host):
    notifier = host.file("/usr/local/lib/sovereign/sovereign_notify.py")
    assert (notifier.user, notifier.group, notifier.mode) == ("root", "root", 0o644)
    unit = host.file("/etc/systemd/system/sovereign-notify@.service")
    assert unit.contains("ExecStart=/usr/bin/python3 /usr/local/lib/sovereign/sovereign_notify.py %i")
    settings = host.file("/etc/sovereign/notify.json")
    assert (settings.user, settings.group, settings.mode) == ("root", "root", 0o600)
    config = json.loads(settings.content_string)
    assert config["url"] == "http://127.0.0.1:8765/hook"
    assert config["command"].startswith("printf") and "$SOVEREIGN_UNIT" in config["command"]
    # systemd knows the template (the role reloaded it), so OnFailure= can start an instance of it.
    assert host.check_output("systemctl show -P LoadState sovereign-notify@probe.service") == "loaded"
    # It does not run as root: the service account, hardened, the settings handed over as a credential.
    assert host.check_output("systemctl show -P User sovereign-notify@probe.service") == "sovereign"
    assert host.check_output("systemctl show -P NoNewPrivileges sovereign-notify@probe.service") == "yes"
    assert host.check_output("systemctl show -P ProtectSystem sovereign-notify@probe.service") == "strict"


@pytest.fixture
def webhook(host):
    host.run(f"rm -f {HOOK_LOG} {NOTIFIED}")
    started = host.run(f"systemd-run --unit sc-base-webhook --collect /usr/bin/python3 -c {shlex.quote(HOOK_SERVER)}")
    assert started.rc == 0, started.stderr
    assert wait_for(host, "python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8765), 1)\" 2>/dev/null")
    yield
    host.run("systemctl stop sc-base-webhook.service")


@pytest.fixture
def failing_unit(host):
    assert host.run(f"printf %s {shlex.quote(FAILING_UNIT)} > /etc/systemd/system/sc-failing.service"
                    " && systemctl daemon-reload").rc == 0
    yield "sc-failing.service"
    host.run("systemctl reset-failed sc-failing.service sovereign-notify@sc-failing.service.service;"
             " rm -f /etc/systemd/system/sc-failing.service; systemctl daemon-reload")


def test_a_failing_unit_logs_runs_the_command_and_posts_to_the_url(host, webhook, failing_unit):
    assert host.run(f"systemctl start {failing_unit}").rc != 0
    assert wait_for(host, f"grep -q '^{failing_unit}|' {NOTIFIED} 2>/dev/null"), "the notify command did not run"
    [line] = host.file(NOTIFIED).content_string.splitlines()
    hostname = host.check_output("hostname")
    assert line == f"{failing_unit}|{failing_unit} failed on {hostname}; see: journalctl -u {failing_unit}"
    assert wait_for(host, f"test -s {HOOK_LOG}"), "nothing was POSTed to the notify URL"
    [post] = [json.loads(raw) for raw in host.file(HOOK_LOG).content_string.splitlines()]
    assert post["type"] == "application/json"
    assert post["body"]["unit"] == failing_unit and post["body"]["host"] == hostname
    assert post["body"]["text"] == line.split("|", 1)[1]
    assert "the disk is not mounted" in post["body"]["log"]
    # The notice itself is in the journal with priority err, and its unit succeeded.
    notice = f"sovereign-notify@{failing_unit}.service"
    logged = f"journalctl -u {notice} -o cat --no-pager -p err | grep -qF '{failing_unit} failed on {hostname}'"
    assert wait_for(host, logged)
    assert wait_for(host, f"systemctl show -P ExecMainExitTimestampMonotonic {notice} | grep -qvx 0")
    assert host.check_output(f"systemctl show -P Result {notice}") == "success"
