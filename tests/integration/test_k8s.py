"""sovereign.cloud.k8s_photo_sync through playbooks/site.yml and the example inventory
inventory/examples/k8s_photo_sync, against a REAL kube-apiserver v1.37 + etcd v3.6 on 127.0.0.1
(tests/support/kube_apiserver.py, built once by scripts/kube-build.sh).

Nothing runs pods here (no scheduler, controller manager or kubelet): the tests assert what the API
server validates, admits (Pod Security), stores and serves. Immich's server Deployment, which ArgoCD
deploys in the seed, is created by the test as a plain Deployment object (a stand-in for the Immich
app: only its object is needed). The Apple session is a cookie directory written the way icloudpd
writes it (tests/support/apple.py).

The tests share one API server and run in file order: the lifecycle test converges the cluster the
later tests read.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
from support.apple import write_session  # noqa: E402  pylint: disable=wrong-import-position
from support.kube_apiserver import kube_apiserver  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

EXAMPLE = REPO / "inventory" / "examples" / "k8s_photo_sync"
APPLE_ID = "family@example.com"
PASSWORD = "pw-7f3c9e1d-never-printed"
TAGS = "k8s_photo_sync"

IMMICH = """
apiVersion: v1
kind: Namespace
metadata: {name: immich}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: immich-server, namespace: immich}
spec:
  replicas: 1
  selector: {matchLabels: {app: immich-server}}
  template:
    metadata: {labels: {app: immich-server}}
    spec:
      containers:
        - name: immich-server
          image: ghcr.io/immich-app/immich-server:v1.0.0
          ports: [{containerPort: 3001}]
          volumeMounts: [{name: library, mountPath: /usr/src/app/upload}]
      volumes:
        - {name: library, emptyDir: {}}
"""


@pytest.fixture(scope="module")
def cluster(kube_apiserver, tmp_path_factory):  # noqa: F811  pylint: disable=redefined-outer-name
    """The API server with Immich's Deployment in it, the example inventory pointed at it, and a
    trusted session in the controller's cookie directory."""
    tmp = tmp_path_factory.mktemp("k8s")
    kube_apiserver.kubectl("apply", "-f", "-", input=IMMICH)
    cookies = tmp / "cookies"
    files = write_session(cookies, APPLE_ID, 25)
    inv = tmp / "inventory"
    shutil.copytree(EXAMPLE, inv)
    (inv / "zz-test.yml").write_text(yaml.safe_dump({"all": {"children": {"k8s_clusters": {"hosts": {
        "homelab-cluster": {"k8s_photo_sync_kubeconfig": str(kube_apiserver.kubeconfig),
                            "k8s_photo_sync_cookie_directory": str(cookies),
                            "ansible_python_interpreter": sys.executable}}}}}}))
    return {"api": kube_apiserver, "inventory": inv, "cookies": cookies, "session_files": files, "tmp": tmp}


def get(api, *args) -> dict | None:
    out = api.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def secrets_in(text: str, cluster) -> list[str]:
    """Secret values that appear in ``text``: the password, and the session's tokens."""
    session = Path(cluster["session_files"]["session"]).read_text()
    found = [PASSWORD] if PASSWORD in text else []
    found += [t for t in ("old-session-token", "old-trust-token", "HSARMTKNSRVWFla") if t in text]
    found += [b for b in (base64.b64encode(PASSWORD.encode()).decode(), base64.b64encode(session.encode()).decode()[:40])
              if b in text]
    return found


def test_check_first_then_converge_then_nothing_changes(run_playbook, cluster):
    api, inv = cluster["api"], cluster["inventory"]
    extra = {"vault_icloud_password": PASSWORD}

    plan = run_playbook("site.yml", inv, extra, tags=TAGS, check=True)
    assert plan.rc == 0, plan.stdout[-3000:]
    assert plan.count("changed", "homelab-cluster") >= 3, plan.stats
    assert "would create namespace photo-sync" in plan.stdout
    assert get(api, "namespace", "photo-sync") is None, "check mode created the namespace"
    assert get(api, "pv", "photo-sync-icloud-photos") is None, "check mode created a PersistentVolume"
    assert get(api, "ingress", "-n", "immich", "immich-ingress") is None, "check mode created the ingress"
    immich = get(api, "deployment", "-n", "immich", "immich-server")
    assert [v["name"] for v in immich["spec"]["template"]["spec"]["volumes"]] == ["library"], "check mode patched Immich"

    first = run_playbook("site.yml", inv, extra, tags=TAGS)
    assert first.rc == 0, first.stdout[-3000:]
    assert first.count("changed", "homelab-cluster") >= 3
    assert "trusted; the trust ends" in first.stdout and "24 days left" in first.stdout

    second = run_playbook("site.yml", inv, extra, tags=TAGS)
    assert second.rc == 0, second.stdout[-3000:]
    assert second.changed == 0, second.stdout[-3000:]
    assert "0 of 14 objects changed" in second.stdout

    again = run_playbook("site.yml", inv, extra, tags=TAGS, check=True)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert "0 of 14 objects would change" in again.stdout

    for recap in (plan, first, second, again):
        assert secrets_in(recap.stdout, cluster) == []

    # The stored objects are the seed's.
    ns = get(api, "namespace", "photo-sync")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    photos = get(api, "pvc", "-n", "photo-sync", "icloud-photos")
    assert photos["spec"]["accessModes"] == ["ReadWriteMany"]
    assert photos["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert photos["spec"]["volumeName"] == "photo-sync-icloud-photos" and photos["spec"]["storageClassName"] == ""
    config = get(api, "pvc", "-n", "photo-sync", "icloudpd-config")
    assert config["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert config["spec"]["resources"]["requests"]["storage"] == "1Gi"
    pv = get(api, "pv", "photo-sync-icloud-photos")
    assert pv["spec"]["hostPath"]["path"] == "/var/mnt/icloud-photos"
    assert pv["spec"]["claimRef"]["name"] == "icloud-photos" and pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["talos-node-1"]

    cron = get(api, "cronjob", "-n", "photo-sync", "icloudpd-sync")["spec"]
    assert cron["schedule"] == "0 3 1 * *" and cron["timeZone"] == "America/Edmonton"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] == 3600
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1
    pod = job["template"]["spec"]
    assert pod["serviceAccountName"] == "icloudpd" and pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    main = pod["containers"][0]
    args = main["args"]
    assert args[0] == "icloudpd"
    flags = dict(zip(args[1::], args[2::]))
    assert flags["--until-found"] == "50" and flags["--directory"] == "/photos/icloud-import"
    assert flags["--cookie-directory"] == "/config" and flags["--username"] == APPLE_ID
    assert flags["--folder-structure"] == "{:%Y/%m}" and flags["--size"] == "original"
    assert not {"--auto-delete", "--delete-after-download", "--keep-icloud-recent-days"} & set(args)
    assert main["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {v["name"]: v for v in pod["volumes"]}["session"]["secret"]["secretName"] == "icloudpd-session"

    creds = get(api, "secret", "-n", "photo-sync", "icloud-credentials")["data"]
    assert base64.b64decode(creds["password"]).decode() == PASSWORD
    assert base64.b64decode(creds["username"]).decode() == APPLE_ID
    session = get(api, "secret", "-n", "photo-sync", "icloudpd-session")
    for kind, path in cluster["session_files"].items():
        key = Path(path).name
        assert base64.b64decode(session["data"][key]) == Path(path).read_bytes(), kind
    assert session["metadata"]["annotations"]["sovereign.cloud/session-trust-ends"].endswith("Z")

    # Immich: its own read-only claim on the same directory, the mount, the ingress.
    immich = get(api, "deployment", "-n", "immich", "immich-server")["spec"]["template"]["spec"]
    assert {v["name"] for v in immich["volumes"]} == {"library", "icloud-photos"}
    mount = [m for m in immich["containers"][0]["volumeMounts"] if m["name"] == "icloud-photos"][0]
    assert mount == {"name": "icloud-photos", "mountPath": "/external/icloud", "readOnly": True}
    assert get(api, "pv", "immich-icloud-photos")["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert get(api, "pv", "immich-icloud-photos")["spec"]["hostPath"]["path"] == "/var/mnt/icloud-photos"
    ingress = get(api, "ingress", "-n", "immich", "immich-ingress")
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/proxy-body-size": "0",
                                                  "nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
                                                  "nginx.ingress.kubernetes.io/proxy-send-timeout": "600"}
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "immich.example.com" and ingress["spec"]["ingressClassName"] == "nginx"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "immich-server", "port": {"number": 3001}}


def test_the_pod_passes_pod_security_admission(cluster):
    """A Pod made from the stored CronJob's template, created as a server-side dry run: admitted under the
    namespace's enforced `baseline`, with the `restricted` warning only for the root init container."""
    api = cluster["api"]
    template = get(api, "cronjob", "-n", "photo-sync", "icloudpd-sync")["spec"]["jobTemplate"]["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-probe", "namespace": "photo-sync"},
           "spec": template["spec"]}
    out = api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert out.returncode == 0, out.stderr
    assert 'would violate PodSecurity "restricted:latest"' in out.stderr
    assert 'container "prepare"' in out.stderr and 'container "icloudpd"' not in out.stderr
    # The seed's way (a hostPath volume in the pod itself) is what baseline refuses.
    seed_way = json.loads(json.dumps(pod))
    seed_way["spec"]["volumes"].append({"name": "node", "hostPath": {"path": "/var/mnt/icloud-photos"}})
    refused = api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(seed_way), check=False)
    assert refused.returncode != 0 and 'violates PodSecurity "baseline:latest": hostPath volumes' in refused.stderr


def test_storage_class_mode_enforces_restricted(run_playbook, cluster):
    api, inv = cluster["api"], cluster["inventory"]
    extra = {"vault_icloud_password": PASSWORD, "k8s_photo_sync_namespace": "photo-sync-sc",
             "k8s_photo_sync_storage": "storage_class", "k8s_photo_sync_storage_class": "nfs-rwx",
             "k8s_photo_sync_immich_enabled": False, "k8s_photo_sync_ingress_enabled": False}
    recap = run_playbook("site.yml", inv, extra, tags=TAGS)
    assert recap.rc == 0, recap.stdout[-3000:]
    ns = get(api, "namespace", "photo-sync-sc")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert get(api, "pvc", "-n", "photo-sync-sc", "icloud-photos")["spec"]["storageClassName"] == "nfs-rwx"
    template = get(api, "cronjob", "-n", "photo-sync-sc", "icloudpd-sync")["spec"]["jobTemplate"]["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-probe", "namespace": "photo-sync-sc"},
           "spec": template["spec"]}
    out = api.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert out.returncode == 0 and "PodSecurity" not in out.stderr, out.stderr
    api.kubectl("delete", "namespace", "photo-sync-sc", "--wait=false")


def test_an_immutable_change_is_refused_with_a_clear_message(run_playbook, cluster):
    api, inv = cluster["api"], cluster["inventory"]
    recap = run_playbook("site.yml", inv, {"vault_icloud_password": PASSWORD, "k8s_photo_sync_config_pvc_size": "512Mi"},
                         tags=TAGS)
    assert recap.rc != 0
    assert "PersistentVolumeClaim photo-sync/icloudpd-config: the API server refused the change" in recap.stdout
    assert "kubectl delete persistentvolumeclaim -n photo-sync icloudpd-config" in recap.stdout
    assert "Traceback" not in recap.stdout
    assert get(api, "pvc", "-n", "photo-sync", "icloudpd-config")["spec"]["resources"]["requests"]["storage"] == "1Gi"
    back = run_playbook("site.yml", inv, {"vault_icloud_password": PASSWORD}, tags=TAGS)
    assert back.rc == 0, back.stdout[-3000:]


@pytest.mark.parametrize(("extra", "expected"), [
    ({"k8s_photo_sync_schedule": "every month"}, "k8s_photo_sync_schedule a cron expression"),
    ({"k8s_photo_sync_schedule": "61 3 1 * *"}, 'CronJob photo-sync/icloudpd-sync: CronJob.batch "icloudpd-sync" is invalid'),
    ({"vault_icloud_password": ""}, "k8s_photo_sync_apple_password is empty"),
    ({"k8s_photo_sync_extra_args": ["--auto-delete"]}, "never by icloudpd"),
], ids=["schedule-words", "schedule-minute-61", "missing-vault-secret", "deleting-flag"])
def test_bad_input_fails_clearly_and_changes_nothing(run_playbook, cluster, extra, expected):
    api = cluster["api"]
    recap = run_playbook("site.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD, **extra}, tags=TAGS)
    assert recap.rc != 0
    assert expected in recap.stdout, recap.stdout[-3000:]
    assert "Traceback" not in recap.stdout and secrets_in(recap.stdout, cluster) == []
    assert get(api, "cronjob", "-n", "photo-sync", "icloudpd-sync")["spec"]["schedule"] == "0 3 1 * *"


def test_a_gone_controller_session_leaves_the_clusters_alone(run_playbook, cluster):
    """The cluster's Secret holds a trusted session: an ended one on the controller is not written over it
    (the later trust wins; playbooks/icloud_reauth.yml signs in, tests/integration/test_k8s_reauth.py)."""
    cookies = cluster["tmp"] / "gone"
    write_session(cookies, APPLE_ID, -2)
    recap = run_playbook("site.yml", cluster["inventory"], {"vault_icloud_password": PASSWORD,
                                                            "k8s_photo_sync_cookie_directory": str(cookies)}, tags=TAGS)
    assert recap.rc == 0 and recap.changed == 0, recap.stdout[-3000:]
    assert "(from the Secret photo-sync/icloudpd-session)" in recap.stdout
    session = get(cluster["api"], "secret", "-n", "photo-sync", "icloudpd-session")
    key = Path(cluster["session_files"]["jar"]).name
    assert base64.b64decode(session["data"][key]) == Path(cluster["session_files"]["jar"]).read_bytes()


def test_sync_now_creates_a_job_from_the_cronjob(run_playbook, cluster):
    """The Job is created from the CronJob's template; without a kubelet no pod runs, so the wait ends at its
    timeout with the reason named."""
    api = cluster["api"]
    dry = run_playbook("k8s_sync_now.yml", cluster["inventory"], {"k8s_sync_now_timeout": 10}, check=True)
    assert dry.rc == 0 and dry.changed == 1, dry.stdout[-3000:]
    assert get(api, "jobs", "-n", "photo-sync")["items"] == [], "check mode created the Job"
    recap = run_playbook("k8s_sync_now.yml", cluster["inventory"], {"k8s_sync_now_timeout": 10})
    assert recap.rc != 0
    assert "still running after 10 s (no pod ran? the cluster needs a scheduler and a kubelet)" in recap.stdout
    jobs = get(api, "jobs", "-n", "photo-sync")["items"]
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("manual-sync-")
    assert jobs[0]["metadata"]["ownerReferences"][0]["name"] == "icloudpd-sync"
    cron = get(api, "cronjob", "-n", "photo-sync", "icloudpd-sync")
    stored = jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert stored == cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_render_mode_builds_with_kustomize_and_validates_against_1_37(run_playbook, cluster):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    api, out = cluster["api"], cluster["tmp"] / "rendered"
    extra = {"vault_icloud_password": PASSWORD, "k8s_photo_sync_mode": "render", "k8s_photo_sync_render_dir": str(out)}
    recap = run_playbook("site.yml", cluster["inventory"], extra, tags=TAGS)
    assert recap.rc == 0, recap.stdout[-3000:]
    again = run_playbook("site.yml", cluster["inventory"], extra, tags=TAGS)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert not list(out.glob("secret-*")), "render mode wrote Secrets without being asked to"

    built = subprocess.run([str(api.kubectl_path), "kustomize", str(out)], check=True, capture_output=True, text=True)
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    assert sorted(d["kind"] for d in docs) == sorted(["Namespace", "PersistentVolume", "PersistentVolume",
                                                      "PersistentVolumeClaim", "PersistentVolumeClaim",
                                                      "ServiceAccount", "ConfigMap", "CronJob", "CronJob"])

    # The Immich app's kustomization (a stand-in: its Deployment) with the rendered component.
    app = cluster["tmp"] / "immich-app"
    app.mkdir()
    (app / "deployment.yaml").write_text(IMMICH.split("---", 1)[1])
    (app / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": ["deployment.yaml"], "components": [str(Path("..") / "rendered" / "immich-icloud")]}))
    immich = subprocess.run([str(api.kubectl_path), "kustomize", str(app)], check=True, capture_output=True, text=True)
    immich_docs = [d for d in yaml.safe_load_all(immich.stdout) if d]
    deployment = [d for d in immich_docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]
    assert {"name": "icloud-photos", "mountPath": "/external/icloud", "readOnly": True} in \
        deployment["containers"][0]["volumeMounts"]
    assert {v["name"] for v in deployment["volumes"]} == {"library", "icloud-photos"}
    assert {d["kind"] for d in immich_docs} == {"Deployment", "PersistentVolume", "PersistentVolumeClaim", "Ingress"}

    for doc in docs + immich_docs:
        kubernetes_validate.validate(doc, "1.37.0", strict=True)

    # The same manifests are accepted by the real 1.37 API server (server-side dry run).
    dry = api.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=render-check", "-f", "-",
                      input=built.stdout, check=False)
    assert dry.returncode == 0, dry.stderr
