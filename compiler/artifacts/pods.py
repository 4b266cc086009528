"""Hardened pod and container specs as plain data, shared by the Kubernetes manifests and Airflow's pod tasks."""

from __future__ import annotations

from typing import Any

from mlform.compiler.targets import Context

from .common import APP_DIR, STATE_DIR, UID, SecretEnv, k8s_name, labels

__all__ = [
    "CONTAINER_SECURITY",
    "POD_SECURITY",
    "container",
    "env_vars",
    "pod_metadata",
    "pod_spec",
    "service_account",
    "state_claim",
]

POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": UID,
    "runAsGroup": UID,
    "fsGroup": UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def env_vars(items: list[SecretEnv]) -> list[dict[str, Any]]:
    """Environment variables read from Kubernetes Secrets; values never appear."""
    return [{"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} for var, secret, key in items]


def _resources(ctx: Context) -> dict[str, dict[str, str]]:
    serving = ctx.spec.pipeline.serving
    if serving is None:
        return {}
    found: dict[str, dict[str, str]] = {"requests": dict(sorted(serving.resources.requests.items())),
             "limits": dict(sorted(serving.resources.limits.items()))}
    return {key: value for key, value in found.items() if value}


def _mounts(state: bool) -> list[dict[str, str]]:
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if state:
        mounts.append({"name": "state", "mountPath": STATE_DIR})
    return mounts


def container(ctx: Context, name: str, image: str, args: list[str], env: list[SecretEnv], *, state: bool,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One container: read-only root, no privileges, a writable /tmp (and state folder when `state`)."""
    spec: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
                            "workingDir": APP_DIR, **(extra or {})}
    if env:
        spec["env"] = env_vars(env)
    resources = _resources(ctx)
    if resources:
        spec["resources"] = resources
    spec["securityContext"] = CONTAINER_SECURITY
    spec["volumeMounts"] = _mounts(state)
    return spec


def service_account(ctx: Context) -> str:
    """`targets.kubernetes.service_account`, else the account the manifests create (`default` without them)."""
    target = ctx.spec.pipeline.targets.kubernetes
    if target is None:
        return "default"
    return target.service_account or k8s_name(ctx.spec.name, "mlform")


def state_claim(ctx: Context) -> str:
    """The PersistentVolumeClaim holding the pipeline's state (tracking, registry) across pods."""
    return k8s_name(ctx.spec.name, "state")


def pod_spec(ctx: Context, containers: list[dict[str, Any]], *, restart: str | None, state: bool) -> dict[str, Any]:
    """A pod spec around `containers`: service account (no token mounted), hardening, /tmp and the state claim."""
    target = ctx.spec.pipeline.targets.kubernetes
    spec: dict[str, Any] = {"serviceAccountName": service_account(ctx), "automountServiceAccountToken": False}
    if restart is not None:
        spec["restartPolicy"] = restart
    if target is not None and target.image_pull_secret is not None:
        spec["imagePullSecrets"] = [{"name": target.image_pull_secret}]
    spec["securityContext"] = POD_SECURITY
    spec["containers"] = containers
    volumes = [{"name": "tmp", "emptyDir": {}}]
    if state:
        volumes.append({"name": "state", "persistentVolumeClaim": {"claimName": state_claim(ctx)}})
    spec["volumes"] = volumes
    return spec


def pod_metadata(ctx: Context, component: str) -> dict[str, Any]:
    """Pod labels, and the spec digest as an annotation so a spec change rolls the pods."""
    return {"labels": labels(ctx, component), "annotations": {"mlform.dev/spec-digest": f"sha256:{ctx.spec.digest}"}}
