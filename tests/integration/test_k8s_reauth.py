"""playbooks/icloud_reauth.yml for a Kubernetes cluster, and the role's countdowns, against a REAL
kube-apiserver v1.37 + etcd (tests/support/kube_apiserver.py).

Real: the API server storing the Secret icloudpd-session, the Namespace and the countdown CronJob; the
playbook and the role through ansible-runner; sovereign.cloud.icloud_session with pyicloud 2026 doing the
SRP sign-in, the two-factor check and the trust. Stand-in: Apple. pyicloud's HTTP requests are answered
in-process by tests/support/apple.py (AppleAnswers), mounted on pyicloud's own session in the module's
process by a `sitecustomize` on the PYTHONPATH of the Python given as k8s_photo_sync_reauth_python (a
wrapper script of this test). The countdown script is taken from the ConfigMap the API server stored
and run here with this machine's /bin/sh and date (the image's shell is not run: nothing runs pods).

The tests share one API server and namespace and run in file order.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
from support.apple import account_key, write_session  # noqa: E402  pylint: disable=wrong-import-position
from support.kube_apiserver import kube_apiserver  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

APPLE_ID = "family@example.com"
PASSWORD = "pw-5d1e8a2c-never-printed"
DEVICE_CODE = "604937"
NS = "photo-reauth"
HOST = "reauth-cluster"
KEY = account_key(APPLE_ID)

SITECUSTOMIZE = """
# The Apple stand-in for this process: pyicloud's requests are answered by tests/support/apple.py.
import atexit, json, os, sys
sys.path.insert(0, {tests!r})
import pyicloud
from support.apple import Account, AppleAnswers

_init = pyicloud.PyiCloudService.__init__
_answers = []


def _mounted(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    with open(os.environ["SOVEREIGN_TEST_APPLE"], encoding="utf-8") as handle:
        answers = AppleAnswers(Account(**json.load(handle)))
    _answers.append(answers)
    self.session.mount("https://", answers)


@atexit.register
def _record():
    with open(os.environ["SOVEREIGN_TEST_APPLE"] + ".calls", "a", encoding="utf-8") as log:
        for answers in _answers:
            log.write(json.dumps({{"calls": answers.calls, "codes_checked": answers.codes_checked}}) + "\\n")


pyicloud.PyiCloudService.__init__ = _mounted
"""


@pytest.fixture(scope="module")
def cluster(kube_apiserver, tmp_path_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    """An inventory with one cluster (no Immich, no ingress) in namespace photo-reauth, no session anywhere,
    and a Python whose pyicloud talks to the Apple stand-in."""
    tmp = tmp_path_factory.mktemp("k8s-reauth")
    site = tmp / "apple-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(tests=str(REPO / "tests")))
    apple = tmp / "apple.json"
    apple.write_text(json.dumps({"apple_id": APPLE_ID, "password": PASSWORD, "two_factor": "sms",
                                 "device_code": DEVICE_CODE, "trust_days": 30}))
    python = tmp / "python-with-apple"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={site} SOVEREIGN_TEST_APPLE={apple} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    inv = tmp / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump({
        "k8s_photo_sync_apple_id": APPLE_ID, "k8s_photo_sync_namespace": NS,
        "k8s_photo_sync_host_path": "/var/mnt/reauth-photos", "k8s_photo_sync_config_host_path": "/var/mnt/reauth-config",
        "k8s_photo_sync_immich_enabled": False, "k8s_photo_sync_ingress_enabled": False}))
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"k8s_clusters": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "k8s_photo_sync_kubeconfig": str(kube_apiserver.kubeconfig),
        "k8s_photo_sync_cookie_directory": str(tmp / "controller-cookies"),
        "k8s_photo_sync_reauth_python": str(python)}}}}}}))
    return {"api": kube_apiserver, "inventory": inv, "tmp": tmp, "apple": apple,
            "reauth": f"ansible-playbook playbooks/icloud_reauth.yml -i {inv} --limit {HOST}"}


def get(api, *args) -> dict | None:
    out = api.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def session_secret(api) -> dict | None:
    secret = get(api, "secret", "-n", NS, "icloudpd-session")
    return None if secret is None else {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def apple_calls(cluster) -> list[dict]:
    path = Path(str(cluster["apple"]) + ".calls")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def cookie_values(jar_text: str) -> list[str]:
    """The values of the cookies in an LWP jar (what must never be printed)."""
    values = []
    for line in jar_text.splitlines():
        if line.startswith("Set-Cookie3:"):
            value = line.split("=", 1)[1].split(";", 1)[0].strip('"').replace('\\"', "")
            if len(value) >= 8:
                values.append(value)
    return values


def leaks(text: str, files: dict | None) -> list[str]:
    found = [s for s in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(), DEVICE_CODE) if s in text]
    for content in (files or {}).values():
        found += [v for v in cookie_values(content) if v in text]
        found += [b for b in (base64.b64encode(content.encode()).decode()[:40],) if b in text]
    try:
        session = json.loads((files or {}).get(f"{KEY}.session", "{}"))
    except ValueError:
        session = {}
    found += [str(session[k]) for k in ("session_token", "trust_token") if session.get(k) and str(session[k]) in text]
    return found


def temp_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "sovereign-icloud-session-*")))


def put_session(api, tmp: Path, trust_days: float) -> dict:
    """Store a session whose trust ends in ``trust_days`` in the Secret (as an earlier sign-in left it)."""
    files = write_session(tmp / f"seed-{trust_days}", APPLE_ID, trust_days)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "icloudpd-session", "namespace": NS},
              "type": "Opaque", "data": {Path(p).name: base64.b64encode(Path(p).read_bytes()).decode()
                                         for p in files.values()}}
    api.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=sovereign-cloud", "-f", "-",
                input=json.dumps(secret))
    return session_secret(api)


def test_the_role_stops_on_a_new_cluster_without_a_session_naming_the_playbook(run_playbook, cluster):
    recap = run_playbook("site.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD}, tags="k8s_photo_sync",
                         limit=HOST)
    assert recap.rc != 0
    assert f"no session yet in the Secret {NS}/icloudpd-session" in recap.stdout, recap.stdout[-3000:]
    assert f"re-authenticate with {cluster['reauth']}" in recap.stdout
    assert get(cluster["api"], "namespace", NS) is None


def test_reauth_signs_in_on_the_controller_and_writes_the_secret(run_playbook, cluster):
    api, before = cluster["api"], temp_dirs()
    check = run_playbook("icloud_reauth.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD}, check=True,
                         limit=HOST)
    assert check.rc == 0 and check.changed >= 1, check.stdout[-3000:]
    assert "would re-authenticate" in check.stdout and "Ask for the code" not in check.stdout
    assert apple_calls(cluster) == [] and get(api, "namespace", NS) is None

    recap = run_playbook("icloud_reauth.yml", cluster["inventory"],
                         {"vault_icloud_password": PASSWORD, "icloud_code": DEVICE_CODE}, limit=HOST)
    assert recap.rc == 0, recap.stdout[-4000:]
    assert recap.changed >= 1
    assert "re-authenticated" in recap.stdout and "(29 days left)" in recap.stdout
    assert f"written to the Secret {NS}/icloudpd-session" in recap.stdout
    [signin] = apple_calls(cluster)
    assert signin["codes_checked"] == 1
    assert any(path.endswith("/2sv/trust") for _method, path in signin["calls"])

    files = session_secret(api)
    assert sorted(files) == sorted([KEY, f"{KEY}.session"])
    assert files[KEY].startswith("#LWP-Cookies-2.0") and "X-APPLE-WEBAUTH-HSA-TRUST" in files[KEY]
    assert "HSARMTKNSRVWFla" not in files[KEY]  # a new trust, not a written one
    assert json.loads(files[f"{KEY}.session"])["trust_token"]
    secret = get(api, "secret", "-n", NS, "icloudpd-session")
    assert secret["metadata"]["annotations"]["sovereign.cloud/session-trust-ends"].endswith("Z")
    ns = get(api, "namespace", NS)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert leaks(recap.stdout, files) == [] and leaks(check.stdout, files) == []
    assert temp_dirs() - before == set(), "the private session directory was left behind"
    cluster["signed_in"] = files


def test_a_second_reauth_asks_nothing_and_changes_nothing(run_playbook, cluster):
    recap = run_playbook("icloud_reauth.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD}, limit=HOST)
    assert recap.rc == 0 and recap.changed == 0, recap.stdout[-3000:]
    assert "(29 days left) (nothing to do)" in recap.stdout
    assert "Ask for the code" not in recap.stdout and len(apple_calls(cluster)) == 1
    assert session_secret(cluster["api"]) == cluster["signed_in"]
    assert leaks(recap.stdout, cluster["signed_in"]) == []


def test_the_role_converges_on_the_secret_and_keeps_it(run_playbook, cluster):
    api = cluster["api"]
    extra = {"vault_icloud_password": PASSWORD}
    first = run_playbook("site.yml", cluster["inventory"], extra, tags="k8s_photo_sync", limit=HOST)
    assert first.rc == 0, first.stdout[-4000:]
    assert f"(29 days left) (from the Secret {NS}/icloudpd-session)" in first.stdout
    again = run_playbook("site.yml", cluster["inventory"], extra, tags="k8s_photo_sync", limit=HOST)
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
    assert session_secret(api) == cluster["signed_in"], "the role replaced the signed-in session"
    for recap in (first, again):
        assert leaks(recap.stdout, cluster["signed_in"]) == []

    # The countdown in the cluster: a daily CronJob on the icloudpd image, the Secret only, restricted-clean.
    cron = get(api, "cronjob", "-n", NS, "icloud-session-countdown")["spec"]
    assert cron["schedule"] == "0 9 * * *" and cron["timeZone"] == "America/Edmonton"
    assert cron["concurrencyPolicy"] == "Forbid" and cron["jobTemplate"]["spec"]["backoffLimit"] == 0
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == get(api, "cronjob", "-n", NS, "icloudpd-sync")["spec"]["jobTemplate"][
        "spec"]["template"]["spec"]["containers"][0]["image"]
    assert {v["name"]: v for v in pod["volumes"]}["session"]["secret"]["secretName"] == "icloudpd-session"
    assert sorted(v["name"] for v in pod["volumes"]) == ["scripts", "session"]
    probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "countdown-probe", "namespace": NS}, "spec": pod}
    out = api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(probe), check=False)
    assert out.returncode == 0 and "PodSecurity" not in out.stderr, out.stderr
    config = get(api, "configmap", "-n", NS, "icloudpd-config")["data"]
    assert config["REAUTH_COMMAND"] == cluster["reauth"] and config["WARN_DAYS"] == "7"
    cluster["countdown"] = config


def run_countdown(cluster, files: dict | None, shell: str = "sh") -> subprocess.CompletedProcess:
    """countdown.sh as the ConfigMap holds it, with this machine's /bin/sh and coreutils, or with busybox alone
    (PATH = busybox's applets only: the shell and tools of an Alpine-based image)."""
    session_dir = cluster["tmp"] / "countdown-session"
    shutil.rmtree(session_dir, ignore_errors=True)
    session_dir.mkdir()
    for name, content in (files or {}).items():
        (session_dir / name).write_text(content)
    config = cluster["countdown"]
    path = os.environ["PATH"]
    if shell == "busybox":
        applets = cluster["tmp"] / "busybox-bin"
        applets.mkdir(exist_ok=True)
        for tool in ("sh", "date", "sed", "sort", "tail", "cat"):
            if not (applets / tool).exists():
                (applets / tool).symlink_to(shutil.which("busybox"))
        path = str(applets)
    env = {"PATH": path, "SESSION_DIR": str(session_dir), "SESSION_KEY": config["SESSION_KEY"],
           "APPLE_ID": config["APPLE_ID"], "WARN_DAYS": config["WARN_DAYS"], "REAUTH_COMMAND": config["REAUTH_COMMAND"]}
    script = cluster["tmp"] / "countdown.sh"
    script.write_text(config["countdown.sh"])
    sh = str(cluster["tmp"] / "busybox-bin" / "sh") if shell == "busybox" else "/bin/sh"
    return subprocess.run([sh, str(script)], env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("shell", ["sh", pytest.param("busybox", marks=pytest.mark.skipif(
    not shutil.which("busybox"), reason="busybox is not installed (apt-get install busybox)"))])
def test_the_in_cluster_countdown_script(cluster, shell):
    fresh = run_countdown(cluster, cluster["signed_in"], shell)
    assert fresh.returncode == 0, fresh
    assert fresh.stdout.startswith(f"{APPLE_ID}: trusted; the trust ends ") and "(29 days left)" in fresh.stdout
    seeds = cluster["tmp"] / "countdown-seeds"
    for days, expected in ((3.5, "(3 days left); re-authenticate: "), (-2, "trust ended"), (None, "no trusted")):
        files = write_session(seeds / str(days), APPLE_ID, days) if days is not None else {}
        due = run_countdown(cluster, {Path(p).name: Path(p).read_text() for p in files.values()}, shell)
        assert due.returncode == 1, due
        assert expected in due.stdout and due.stdout.rstrip().endswith(cluster["reauth"]), due.stdout
        assert due.stderr == "", due.stderr


def test_a_due_session_warns_then_reauth_replaces_it(run_playbook, cluster):
    api = cluster["api"]
    near = put_session(api, cluster["tmp"], 3.5)
    role = run_playbook("site.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD}, tags="k8s_photo_sync",
                        limit=HOST)
    assert role.rc == 0, role.stdout[-3000:]
    assert "WARNING: re-authenticate soon." in role.stdout and "(3 days left)" in role.stdout
    assert f"re-authenticate: {cluster['reauth']}" in role.stdout
    assert session_secret(api) == near

    # no password: stops before Apple is asked
    bare = run_playbook("icloud_reauth.yml", cluster["inventory"], {"icloud_code": DEVICE_CODE}, limit=HOST)
    assert bare.rc != 0 and "the password is not set" in bare.stdout, bare.stdout[-3000:]
    assert len(apple_calls(cluster)) == 1 and session_secret(api) == near

    # another Apple ID: refused; this cluster's own Apple ID, asked for by name: signed in
    other = run_playbook("icloud_reauth.yml", cluster["inventory"], {"icloud_username": "nobody@example.com"}, limit=HOST)
    assert other.rc != 0 and "is not the Apple ID of any cluster of this run" in other.stdout
    recap = run_playbook("icloud_reauth.yml", cluster["inventory"],
                         {"vault_icloud_password": PASSWORD, "icloud_code": DEVICE_CODE, "icloud_username": APPLE_ID},
                         limit=HOST)
    assert recap.rc == 0 and recap.changed >= 1, recap.stdout[-4000:]
    assert "(29 days left)" in recap.stdout and len(apple_calls(cluster)) == 2
    renewed = session_secret(api)
    assert renewed != near and "HSARMTKNSRVWFla" not in renewed[KEY]
    # the old session's client id is carried over (Apple sees the same "browser" again)
    assert json.loads(renewed[f"{KEY}.session"])["client_id"] == json.loads(near[f"{KEY}.session"])["client_id"]
    assert leaks(recap.stdout, renewed) == [] and leaks(recap.stdout, near) == []
    role = run_playbook("site.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD}, tags="k8s_photo_sync",
                        limit=HOST)
    assert role.rc == 0 and role.changed == 0 and "re-authenticate soon" not in role.stdout, role.stdout[-3000:]


def test_a_newer_controller_session_is_carried_into_the_secret(run_playbook, cluster):
    """A session signed in on the controller earlier (the old way) replaces the Secret's only when its trust
    ends later; a stale one is left alone."""
    api, inv = cluster["api"], cluster["inventory"]
    stale = cluster["tmp"] / "stale"
    write_session(stale, APPLE_ID, -2)
    kept = session_secret(api)
    recap = run_playbook("site.yml", inv, {"vault_icloud_password": PASSWORD, "k8s_photo_sync_cookie_directory": str(stale)},
                         tags="k8s_photo_sync", limit=HOST)
    assert recap.rc == 0 and recap.changed == 0, recap.stdout[-3000:]
    assert session_secret(api) == kept
    newer = cluster["tmp"] / "newer"
    paths = write_session(newer, APPLE_ID, 45)
    recap = run_playbook("site.yml", inv, {"vault_icloud_password": PASSWORD, "k8s_photo_sync_cookie_directory": str(newer)},
                         tags="k8s_photo_sync", limit=HOST)
    assert recap.rc == 0 and recap.changed >= 1, recap.stdout[-3000:]
    assert "(44 days left) (from the controller's" in recap.stdout
    assert session_secret(api)[KEY] == Path(paths["jar"]).read_text()
    assert leaks(recap.stdout, session_secret(api)) == []


def test_render_mode_signs_in_on_the_controller(run_playbook, cluster):
    """With k8s_photo_sync_mode=render the Secret belongs to the GitOps repository: the sign-in goes to the
    controller's k8s_photo_sync_cookie_directory, which the next render writes the Secret files from."""
    cookies = cluster["tmp"] / "render-cookies"
    extra = {"vault_icloud_password": PASSWORD, "k8s_photo_sync_mode": "render",
             "k8s_photo_sync_cookie_directory": str(cookies)}
    kept, calls = session_secret(cluster["api"]), len(apple_calls(cluster))
    recap = run_playbook("icloud_reauth.yml", cluster["inventory"], dict(extra, icloud_code=DEVICE_CODE), limit=HOST)
    assert recap.rc == 0 and recap.changed >= 1, recap.stdout[-4000:]
    assert f"in {cookies} (run the role again to render it)" in recap.stdout
    assert len(apple_calls(cluster)) == calls + 1 and session_secret(cluster["api"]) == kept
    assert oct((cookies / KEY).stat().st_mode & 0o777) == "0o600" and oct(cookies.stat().st_mode & 0o777) == "0o700"
    again = run_playbook("icloud_reauth.yml", cluster["inventory"], extra, limit=HOST)
    assert again.rc == 0 and again.changed == 0 and "(nothing to do)" in again.stdout, again.stdout[-3000:]
    assert leaks(recap.stdout, {KEY: (cookies / KEY).read_text()}) == []
