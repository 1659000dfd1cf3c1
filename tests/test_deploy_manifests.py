"""deploy/kubernetes/ (issue 17): every manifest validates against the Kubernetes schemas (kubernetes-validate,
offline schemas in the package, strict: unknown fields are errors), and the manifests agree with each
other and with the app: settings that exist, CPU matched to the BLAS threads, probes on the app's
separate endpoints, a grace period that covers the drain and the shutdown bound, the hardening asked for."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.33.0"  # a Kubernetes release clusters run now; its schema ships with kubernetes-validate


def docs() -> dict[str, dict]:
    out = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            out[doc["kind"]] = doc
    return out


def cpu_cores(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_the_kubernetes_schema(path):
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest():
    deployment = docs()["Deployment"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = [8000]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_every_kind_the_issue_asks_for_is_there():
    assert {"Deployment", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "ConfigMap"} <= set(docs())


def test_configmap_keys_are_real_settings():
    fields = {f.name for f in dataclasses.fields(Settings)}
    for key in docs()["ConfigMap"]["data"]:
        if key.startswith("CONVLENS_"):
            assert key.removeprefix("CONVLENS_").lower() in fields, key
        else:
            assert key == "PROMETHEUS_MULTIPROC_DIR", key


def test_cpu_is_matched_to_workers_times_blas_threads():
    settings = docs()["ConfigMap"]["data"]
    threads = int(settings["CONVLENS_WORKERS"]) * int(settings["CONVLENS_BLAS_THREADS"])
    resources = docs()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert cpu_cores(resources["requests"]["cpu"]) == threads
    assert cpu_cores(resources["limits"]["cpu"]) == threads
    assert resources["requests"]["memory"] == resources["limits"]["memory"]  # Guaranteed QoS: never evicted first


def test_probes_are_separate_and_answered_by_the_app(client):
    pod = docs()["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready["path"] != live["path"]
    settings = docs()["ConfigMap"]["data"]
    allowed = settings["CONVLENS_ALLOWED_HOSTS"].split(",")
    for probe in (ready, live):  # the kubelet's Host header would be the pod IP, which the allow-list refuses
        host = [h["value"] for h in probe["httpHeaders"] if h["name"] == "Host"][0]
        assert host in allowed
        assert client.get(probe["path"], headers={"host": host}).status_code == 200
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[ready["port"]] == named[live["port"]] == int(settings["CONVLENS_PORT"])


def test_the_grace_period_covers_the_drain_and_the_shutdown_bound():
    settings = docs()["ConfigMap"]["data"]
    pod = docs()["Deployment"]["spec"]["template"]["spec"]
    need = int(settings["CONVLENS_DRAIN_S"]) + int(settings["CONVLENS_SHUTDOWN_TIMEOUT_S"])
    assert pod["terminationGracePeriodSeconds"] > need
    ready = pod["containers"][0]["readinessProbe"]
    # the drain lasts longer than it takes the readiness probe to see the SIGTERM
    assert int(settings["CONVLENS_DRAIN_S"]) > ready["periodSeconds"] * ready["failureThreshold"]


def test_non_root_read_only_no_privilege_escalation_and_writable_paths_mounted():
    pod = docs()["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    settings = docs()["ConfigMap"]["data"]
    store = volumes[mounts[settings["CONVLENS_DATA_DIR"]]]
    assert store["persistentVolumeClaim"]["claimName"] == docs()["PersistentVolumeClaim"]["metadata"]["name"]
    assert "emptyDir" in volumes[mounts["/tmp"]]  # temp files and the metrics directory
    assert settings["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")


def test_the_store_volume_is_shared_and_holds_the_quota():
    pvc = docs()["PersistentVolumeClaim"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    size = pvc["spec"]["resources"]["requests"]["storage"]
    assert size.endswith("Gi") and int(size[:-2]) * 2**30 > int(docs()["ConfigMap"]["data"]["CONVLENS_STORE_QUOTA_BYTES"])


def test_service_and_autoscaler_point_at_the_deployment():
    d, svc, hpa = docs()["Deployment"], docs()["Service"], docs()["HorizontalPodAutoscaler"]
    labels = d["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert d["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] in {p["name"] for p in d["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment" and hpa["spec"]["scaleTargetRef"]["name"] == d["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] <= d["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    assert d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
