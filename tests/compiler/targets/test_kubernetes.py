"""Kubernetes manifests: strict schema validation (1.30 and the newest schema), KServe models, hardening."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools import KSERVE, LINT, run

from .conftest import Project

NEWEST = "1.37"
HERE = Path(__file__).resolve().parents[2] / "tools"


def manifests(project: Project, kind: str | None = None) -> list[Path]:
    """Generated Kubernetes resources (not kustomizations), optionally only those of `kind`."""
    found = []
    for path in sorted(project.root.glob("deploy/*/*/kubernetes/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] != "Kustomization" and (kind is None or doc["kind"] == kind):
            found.append(path)
    return found


def pod_specs(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every pod spec inside a workload."""
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        yield spec["jobTemplate"]["spec"]["template"]["spec"]
    elif doc["kind"] in ("Job", "Deployment"):
        yield spec["template"]["spec"]
    elif doc["kind"] == "InferenceService":
        yield spec["predictor"]


@pytest.mark.integration
@pytest.mark.parametrize("version", ["1.30", NEWEST])
def test_manifests_pass_strict_schema_validation(compiled: Project, version: str) -> None:
    files = [p for p in manifests(compiled) if yaml.safe_load(p.read_text())["kind"] != "InferenceService"]
    kinds = {yaml.safe_load(p.read_text())["kind"] for p in files}
    assert kinds == {"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Job", "CronJob", "Deployment",
                     "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    done = run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", version, *files])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERROR" not in done.stdout


@pytest.mark.integration
def test_strict_validation_rejects_an_unknown_field(compiled: Project, tmp_path: Path) -> None:
    doc = yaml.safe_load(manifests(compiled, "Deployment")[0].read_text())
    doc["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    done = run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", NEWEST, bad])
    assert done.returncode != 0
    assert "securityContxt" in done.stdout


@pytest.mark.integration
def test_inference_services_match_the_kserve_models(compiled: Project, tmp_path: Path) -> None:
    files = manifests(compiled, "InferenceService")
    assert len(files) >= 2  # full-featured iris in each env, and fraud-detection in prod
    check = [KSERVE.bin("python"), HERE / "kserve_check.py"]
    done = run([*check, *files])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    doc = yaml.safe_load(files[0].read_text())
    doc["spec"]["predictor"]["containers"][0]["readinesProbe"] = {}
    doc["spec"]["predictor"]["minReplicas"] = "two"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    errors = json.loads(run([*check, bad]).stdout)
    assert any("unknown field `readinesProbe`" in e for e in errors)
    assert any("minReplicas: expected int" in e for e in errors)


def test_every_pod_is_hardened(compiled: Project) -> None:
    pods = [pod for path in manifests(compiled) for pod in pod_specs(yaml.safe_load(path.read_text()))]
    assert len(pods) >= 10
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for box in pod["containers"]:
            assert box["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                              "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
            assert all(set(var) == {"name", "valueFrom"} or (var["name"], var["value"][:5]) == ("MLFORM_BACKEND", "s3://")
                       for var in box.get("env", []))  # a bucket's name is no secret


def test_servers_probe_health_and_readiness(compiled: Project) -> None:
    doc = yaml.safe_load((compiled.root / "deploy/iris/prod/kubernetes/deployment.yaml").read_text())
    box = doc["spec"]["template"]["spec"]["containers"][0]
    health, ready = {"path": "/health", "port": "http"}, {"path": "/ready", "port": "http"}
    # up to five minutes to load the model before liveness counts; then three missed checks restart the pod
    assert box["startupProbe"] == {"httpGet": health, "periodSeconds": 5, "failureThreshold": 60}
    assert box["livenessProbe"] == {"httpGet": health, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
    assert box["readinessProbe"] == {"httpGet": ready, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 3}
    assert box["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"}}
    assert "replicas" not in doc["spec"]  # the autoscaler owns the count in prod
    hpa = yaml.safe_load((compiled.root / "deploy/iris/prod/kubernetes/horizontalpodautoscaler.yaml").read_text())
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)


def test_secrets_are_references_by_workload(compiled: Project) -> None:
    folder = compiled.root / "deploy/full/prod/kubernetes"
    isvc = yaml.safe_load((folder / "inferenceservice.yaml").read_text())
    assert isvc["spec"]["predictor"]["containers"][0]["env"] == [
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "serving-token", "key": "token"}}}]
    job = yaml.safe_load((folder / "job.yaml").read_text())
    assert job["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "MLFLOW_TRACKING_URI", "valueFrom": {"secretKeyRef": {"name": "mlflow", "key": "uri"}}}]
    assert isvc["spec"]["predictor"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_kustomization_lists_every_manifest_once(compiled: Project) -> None:
    for name, env, _ in compiled.declared("kubernetes"):  # every environment the specs ask for has one
        kustomization = compiled.root / f"deploy/{name}/{env}/kubernetes/kustomization.yaml"
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        present = sorted(p.name for p in kustomization.parent.glob("*.yaml") if p != kustomization)
        assert sorted(listed) == present


def test_the_config_map_holds_the_resolved_spec(compiled: Project) -> None:
    from mlform.specs import load_spec

    doc = yaml.safe_load((compiled.root / "deploy/iris/prod/kubernetes/configmap.yaml").read_text())
    spec = load_spec(compiled.root / "models/iris/mlform.yaml", "prod")
    assert yaml.safe_load(doc["data"]["mlform.yaml"]) == spec.config


def test_the_monitoring_cronjob_reads_the_secrets_of_its_checks(compiled: Project) -> None:
    [cronjob] = [p for p in manifests(compiled, "CronJob") if p.parts[-4:-2] == ("watch", "prod")]
    [pod] = pod_specs(yaml.safe_load(cronjob.read_text()))
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["MONITOR_WEBHOOK"]["valueFrom"] == {"secretKeyRef": {"name": "monitor-hook", "key": "url"}}


@pytest.mark.parametrize(("name", "cronjob"), [
    # 52 characters fit: the controller's 11-character Job suffix keeps the Job name within 63
    ("card-payment-fraud-scoring-model-for-eu-shop", "card-payment-fraud-scoring-model-for-eu-shop-monitor"),
    ("card-payment-fraud-scoring-model-for-eu-shops", "card-payment-fraud-scoring-model-for-2bf35d-monitor"),
])
def test_a_cronjob_name_leaves_room_for_the_job_suffix(project: Project, name: str, cronjob: str) -> None:
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.specs import discover

    project.spec(name)
    build = compile_specs(discover([project.root / "models"]), "prod", None, ["kubernetes"], cwd=project.root)
    doc = yaml.safe_load(build.files[f"deploy/{name}/prod/kubernetes/cronjob.yaml"])
    assert doc["metadata"]["name"] == cronjob


def _kserve(doc: dict[str, Any]) -> None:
    doc["targets"]["kubernetes"]["serving"] = "kserve"


@pytest.mark.parametrize(("env", "scaling"), [
    ("dev", {"minReplicas": 1, "maxReplicas": 1}),
    ("prod", {"minReplicas": 2, "maxReplicas": 6, "scaleMetric": "cpu", "scaleTarget": 70}),
])
def test_the_kserve_predictor_scales_as_the_spec_says_and_runs_the_server(project: Project, env: str,
                                                                          scaling: dict[str, Any]) -> None:
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.specs import discover

    project.spec("iris", edit=_kserve)
    build = compile_specs(discover([project.root / "models"]), env, None, ["kubernetes"], cwd=project.root)
    manifest = yaml.safe_load(build.files[f"deploy/iris/{env}/kubernetes/inferenceservice.yaml"])
    predictor = manifest["spec"]["predictor"]
    scale_keys = ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget")
    assert {k: v for k, v in predictor.items() if k in scale_keys} == scaling
    [server] = predictor["containers"]
    assert server["name"] == "kserve-container"
    assert server["args"][:4] == ["serve", "mlform.yaml", "--env", env]  # the image holds the spec folder
    assert predictor["securityContext"]["runAsNonRoot"] is True
    # the ReadWriteOnce state claim is the training pods'; the image carries what the server reads
    assert predictor["volumes"] == [{"name": "tmp", "emptyDir": {}}]


def test_a_spec_without_the_kubernetes_target_renders_no_manifests(project: Project) -> None:
    from mlform.compiler.artifacts.output import compile_specs
    from mlform.specs import discover

    def without(doc: dict[str, Any]) -> None:
        del doc["targets"]["kubernetes"]
        for overlay in doc["environments"].values():
            overlay.get("targets", {}).pop("kubernetes", None)

    project.spec("iris", edit=without)
    build = compile_specs(discover([project.root / "models"]), "prod", None, ["kubernetes", "docker"],
                          cwd=project.root)
    assert sorted(build.files) == ["deploy/iris/prod/docker/Dockerfile.serve",
                                   "deploy/iris/prod/docker/Dockerfile.serve.dockerignore",
                                   "deploy/iris/prod/docker/Dockerfile.train",
                                   "deploy/iris/prod/docker/Dockerfile.train.dockerignore"]
