"""Kubernetes target: the resolved spec, training Job, monitoring CronJob, serving and a kustomization.

Every manifest is dumped from data. Serving is a Deployment with Service, HorizontalPodAutoscaler and
PodDisruptionBudget, or a KServe `InferenceService` with `targets.kubernetes.serving: kserve`; with
`targets.kubernetes.ui.enabled`, a read-only `mlform ui` Deployment and Service.
"""

from __future__ import annotations

from typing import Any

from mlform.compiler.artifacts.backend import backend_pin, backend_secret
from mlform.compiler.artifacts.canary import CANARY_SUFFIX, canary_annotations, canary_route, canary_server_args
from mlform.compiler.artifacts.common import (
    image,
    k8s_name,
    kubernetes_ref,
    labels,
    secret_env,
    serving_env,
    spec_file,
)
from mlform.compiler.artifacts.pods import aws_role, container, pod_metadata, pod_spec, service_account, state_claim
from mlform.compiler.artifacts.render import dump_yaml
from mlform.compiler.ui import PROBE_PATH
from mlform.runtime.storage.backends.url import BACKEND_ENV

from . import Context

__all__ = ["directory", "render"]

_CRONJOB_NAME_LIMIT = 52  # the controller appends an 11-character suffix to each Job it creates
_STATE_SIZE = "1Gi"


def directory(ctx: Context) -> str:
    """`deploy/<name>/<env>/kubernetes`."""
    return ctx.layout.deploy_dir(ctx.spec.name, ctx.spec.env, "kubernetes")


def _meta(ctx: Context, name: str, component: str) -> dict[str, Any]:
    target = ctx.spec.pipeline.targets.kubernetes
    assert target is not None  # render() returns early otherwise
    return {"name": name, "namespace": target.namespace, "labels": labels(ctx, component)}


def _selector(ctx: Context, component: str) -> dict[str, str]:
    keep = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
    return {key: value for key, value in labels(ctx, component).items() if key in keep}


def _service_account(ctx: Context, name: str = "", component: str = "pipeline",
                     role: str | None = None) -> dict[str, Any]:
    """The account the pods run as (`name`, else the pipeline's), bound to no Kubernetes role and mounting no
    token; with an IAM role (`role`, else `targets.kubernetes.aws_role`) for an `s3` backend."""
    metadata = _meta(ctx, name or service_account(ctx), component)
    role = role or aws_role(ctx)
    if role is not None:  # EKS (IRSA) gives the pods this role's credentials in the standard AWS variables
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata, "automountServiceAccountToken": False}


def _config_map(ctx: Context) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(ctx, k8s_name(ctx.spec.name, "spec"), "config"),
            "data": {"mlform.yaml": dump_yaml(ctx.spec.config)}}


def _state_claim(ctx: Context, claim: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": _meta(ctx, claim, "state"),
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": _STATE_SIZE}}}}


def _job(ctx: Context) -> dict[str, Any]:
    name = k8s_name(ctx.spec.name, f"train-{ctx.spec.digest[:8]}")
    args = ["run", spec_file(ctx), "--env", ctx.spec.env]
    box = container(ctx, "train", image(ctx, "train"), args, secret_env(ctx), state=True)
    template = {"metadata": pod_metadata(ctx, "training"), "spec": pod_spec(ctx, [box], restart="Never", state=True)}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(ctx, name, "training"),
            "spec": {"backoffLimit": 2, "template": template}}


def _serves_online(ctx: Context) -> bool:
    serving = ctx.spec.pipeline.serving
    return serving is not None and serving.mode == "online"


def _cron_job(ctx: Context) -> dict[str, Any]:
    monitoring = ctx.spec.pipeline.monitoring
    assert monitoring is not None
    name = k8s_name(ctx.spec.name, "monitor", _CRONJOB_NAME_LIMIT)
    args = ["monitor", spec_file(ctx), "--env", ctx.spec.env]
    box = container(ctx, "monitor", image(ctx, "train"), args, secret_env(ctx), state=True)
    pod = {"metadata": pod_metadata(ctx, "monitoring"), "spec": pod_spec(ctx, [box], restart="Never", state=True)}
    spec = {"schedule": monitoring.schedule, "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": pod}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(ctx, name, "monitoring"), "spec": spec}


def _http_get(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, **timing}


def _server(ctx: Context, name: str, more: list[str] | None = None) -> dict[str, Any]:
    serving = ctx.spec.pipeline.serving
    assert serving is not None
    args = ["serve", spec_file(ctx), "--env", ctx.spec.env, "--host", "0.0.0.0", "--port", str(serving.port),
            *(more or [])]
    extra = {
        "ports": [{"name": "http", "containerPort": serving.port, "protocol": "TCP"}],
        "startupProbe": _http_get("/health", periodSeconds=5, failureThreshold=60),
        "livenessProbe": _http_get("/health", periodSeconds=10, timeoutSeconds=5, failureThreshold=3),
        "readinessProbe": _http_get("/ready", periodSeconds=5, timeoutSeconds=5, failureThreshold=3),
    }
    return container(ctx, name, image(ctx, "serve"), args, serving_env(ctx), state=False, extra=extra)


def _canary_set(ctx: Context) -> dict[str, dict[str, Any]]:
    """The canary's Deployment (one replica of the candidate version) and Service, and the weighted route."""
    serving = ctx.spec.pipeline.serving
    assert serving is not None
    component, name = f"serving-{CANARY_SUFFIX}", k8s_name(ctx.spec.name, CANARY_SUFFIX)
    docs = _deployment_set(ctx, component, name, canary_server_args(ctx))
    route = canary_route(ctx, ctx.spec.name, name, serving.port, _meta(ctx, ctx.spec.name, "serving"))
    return {"canary-deployment": docs["deployment"], "canary-service": docs["service"], "httproute": route}


def _deployment_set(ctx: Context, component: str = "serving", name: str = "",
                    more: list[str] | None = None) -> dict[str, dict[str, Any]]:
    serving = ctx.spec.pipeline.serving
    assert serving is not None
    name, selector = name or ctx.spec.name, _selector(ctx, component)
    pod = {"metadata": pod_metadata(ctx, component),
           "spec": pod_spec(ctx, [_server(ctx, "server", more)], restart=None, state=False)}
    spec: dict[str, Any] = {"selector": {"matchLabels": selector}, "template": pod}
    if more:  # the canary: one replica, whatever the stable set scales to
        spec = {"replicas": 1, **spec}
    elif serving.autoscaling is None:  # with an autoscaler, a replica count here would fight it on every apply
        spec = {"replicas": serving.replicas, **spec}
    docs = {
        "deployment": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(ctx, name, component),
                       "spec": spec},
        "service": {"apiVersion": "v1", "kind": "Service", "metadata": _meta(ctx, name, component),
                    "spec": {"type": "ClusterIP", "selector": selector,
                             "ports": [{"name": "http", "port": serving.port, "targetPort": "http",
                                        "protocol": "TCP"}]}},
        "poddisruptionbudget": {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                "metadata": _meta(ctx, name, "serving"),
                                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}},
    }
    scaling = serving.autoscaling
    if scaling is not None:
        metric = {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": scaling.target_cpu_utilization}}}
        docs["horizontalpodautoscaler"] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": _meta(ctx, name, "serving"),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": scaling.min_replicas, "maxReplicas": scaling.max_replicas, "metrics": [metric]}}
    return docs


def _inference_service(ctx: Context) -> dict[str, Any]:
    serving = ctx.spec.pipeline.serving
    assert serving is not None
    scaling = serving.autoscaling
    pod = pod_spec(ctx, [_server(ctx, "kserve-container")], restart=None, state=False)
    predictor: dict[str, Any] = {
        "minReplicas": scaling.min_replicas if scaling else serving.replicas,
        "maxReplicas": scaling.max_replicas if scaling else max(serving.replicas, 1),
    }
    if scaling is not None:
        predictor.update(scaleMetric="cpu", scaleTarget=scaling.target_cpu_utilization)
    predictor.update(pod)
    annotations = {"mlform.dev/spec-digest": f"sha256:{ctx.spec.digest}"}
    if serving.canary is not None:  # KServe sends this share to the new revision, the rest to the last ready one
        predictor["canaryTrafficPercent"] = serving.canary.traffic_percent
        annotations.update(canary_annotations(ctx))
    metadata = {**_meta(ctx, ctx.spec.name, "serving"), "annotations": annotations}
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": metadata,
            "spec": {"predictor": predictor}}


def _ui_set(ctx: Context) -> dict[str, dict[str, Any]]:
    """`mlform ui` over the shared backend: a Deployment and a ClusterIP Service, no Ingress (the cluster's own
    auth, e.g. `kubectl port-forward` or an authenticating proxy, decides who reaches it)."""
    target = ctx.spec.pipeline.targets.kubernetes
    assert target is not None
    port, name, selector = target.ui.port, k8s_name(ctx.spec.name, "ui"), _selector(ctx, "ui")
    extra = {"ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
             "readinessProbe": _http_get(PROBE_PATH, periodSeconds=10, timeoutSeconds=5, failureThreshold=3),
             "livenessProbe": _http_get(PROBE_PATH, periodSeconds=20, timeoutSeconds=5, failureThreshold=3)}
    args = ["ui", ".", "--host", "0.0.0.0", "--port", str(port)]
    box = container(ctx, "ui", image(ctx, "train"), args, [], state=False, extra=extra)
    box.pop("resources", None)  # the serving's requests and limits size the model server, not this page server
    box["env"] = _read_only_url(ctx, [*box.get("env", []), *backend_pin(ctx)])
    # its own account, not the pipeline's: whatever the pipeline's may do (write the state), the UI may not
    account = target.ui.service_account or k8s_name(ctx.spec.name, "ui")
    pod = {"metadata": pod_metadata(ctx, "ui"),
           "spec": pod_spec(ctx, [box], restart=None, state=False, account=account)}
    docs = {} if target.ui.service_account else {
        "ui-serviceaccount": _service_account(ctx, account, "ui", target.ui.aws_role)}
    return {
        **docs,
        "ui-deployment": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(ctx, name, "ui"),
                          "spec": {"replicas": 1, "selector": {"matchLabels": selector}, "template": pod}},
        "ui-service": {"apiVersion": "v1", "kind": "Service", "metadata": _meta(ctx, name, "ui"),
                       "spec": {"type": "ClusterIP", "selector": selector,
                                "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]}},
    }


def _read_only_url(ctx: Context, env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`env` with the postgres URL's variables read from `targets.kubernetes.ui.state_url` when it is set."""
    target, found = ctx.spec.pipeline.targets.kubernetes, backend_secret(ctx)
    assert target is not None
    if target.ui.state_url is None or found is None:
        return env
    secret, key = kubernetes_ref(ctx, target.ui.state_url.secret, "targets.kubernetes.ui.state_url")
    url = {"secretKeyRef": {"name": secret, "key": key}}
    return [{"name": item["name"], "valueFrom": url} if item["name"] in (found[0], BACKEND_ENV) else item
            for item in env]


def render(ctx: Context) -> dict[str, str]:
    """One file per resource, and a `kustomization.yaml` listing them."""
    target = ctx.spec.pipeline.targets.kubernetes
    if target is None:
        return {}
    docs: dict[str, dict[str, Any]] = {}
    if target.service_account is None:
        docs["serviceaccount"] = _service_account(ctx)
    docs["configmap"] = _config_map(ctx)
    claim = state_claim(ctx)
    if claim is not None:  # a shared state backend holds state, registry and runs itself
        docs["persistentvolumeclaim"] = _state_claim(ctx, claim)
    docs["job"] = _job(ctx)
    if ctx.spec.pipeline.monitoring is not None:
        docs["cronjob"] = _cron_job(ctx)
    if _serves_online(ctx):
        if target.serving == "kserve":
            docs["inferenceservice"] = _inference_service(ctx)
        else:
            docs.update(_deployment_set(ctx))
            if (serving := ctx.spec.pipeline.serving) is not None and serving.canary is not None:
                docs.update(_canary_set(ctx))
    if target.ui.enabled:
        docs.update(_ui_set(ctx))
    named = {f"{stem}.yaml": doc for stem, doc in docs.items()}
    named["kustomization.yaml"] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                   "namespace": target.namespace, "resources": list(named)}
    folder = directory(ctx)
    ctx.dumped.update((f"{folder}/{name}", doc) for name, doc in named.items())
    return {name: dump_yaml(doc) for name, doc in named.items()}
