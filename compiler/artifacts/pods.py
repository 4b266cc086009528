"""Hardened pod and container specs as plain data, shared by the Kubernetes manifests and Airflow's pod tasks."""

from __future__ import annotations

from typing import Any

from mlform.compiler.targets import Context

from .backend import aws_secret, backend_secret_env, shared, uses_s3
from .common import APP_DIR, STATE_DIR, UID, SecretEnv, k8s_name, labels

__all__ = [
    "CONTAINER_SECURITY",
    "POD_SECURITY",
    "aws_role",
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


def _writes_state(ctx: Context, state: bool) -> bool:
    """Whether a pod mounts the state folder: for state, or with a shared backend as scratch for its caches
    (a server downloads the model it serves there)."""
    return state or shared(ctx)


def container(ctx: Context, name: str, image: str, args: list[str], env: list[SecretEnv], *, state: bool,
              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One container: read-only root, no privileges, a writable /tmp (and state folder when `state`), and the
    credentials of a shared state backend."""
    spec: dict[str, Any] = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "args": args,
                            "workingDir": APP_DIR, **(extra or {})}
    env = list({item[0]: item for item in [*env, *backend_secret_env(ctx)]}.values())
    if env:
        spec["env"] = env_vars(env)
    if uses_s3(ctx) and aws_role(ctx) is None:
        spec["envFrom"] = [{"secretRef": {"name": aws_secret(ctx)}}]
    resources = _resources(ctx)
    if resources:
        spec["resources"] = resources
    spec["securityContext"] = CONTAINER_SECURITY
    spec["volumeMounts"] = _mounts(_writes_state(ctx, state))
    return spec


def aws_role(ctx: Context) -> str | None:
    """`targets.kubernetes.aws_role`: the IAM role the created service account carries, if any."""
    target = ctx.spec.pipeline.targets.kubernetes
    return None if target is None else target.aws_role


def service_account(ctx: Context) -> str:
    """`targets.kubernetes.service_account`, else the account the manifests create (`default` without them)."""
    target = ctx.spec.pipeline.targets.kubernetes
    if target is None:
        return "default"
    return target.service_account or k8s_name(ctx.spec.name, "mlform")


def state_claim(ctx: Context) -> str | None:
    """The PersistentVolumeClaim holding the pipeline's state (tracking, registry) across pods; None with a shared
    backend, which holds that state itself."""
    return None if shared(ctx) else k8s_name(ctx.spec.name, "state")


def pod_spec(ctx: Context, containers: list[dict[str, Any]], *, restart: str | None, state: bool,
             account: str | None = None) -> dict[str, Any]:
    """A pod spec around `containers`: service account (the pipeline's unless `account`; no token mounted),
    hardening, /tmp and the state claim."""
    target = ctx.spec.pipeline.targets.kubernetes
    spec: dict[str, Any] = {"serviceAccountName": account or service_account(ctx),
                            "automountServiceAccountToken": False}
    if restart is not None:
        spec["restartPolicy"] = restart
    if target is not None and target.image_pull_secret is not None:
        spec["imagePullSecrets"] = [{"name": target.image_pull_secret}]
    spec["securityContext"] = POD_SECURITY
    spec["containers"] = containers
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    claim = state_claim(ctx)
    if claim is None:
        volumes.append({"name": "state", "emptyDir": {}})
    elif state:
        volumes.append({"name": "state", "persistentVolumeClaim": {"claimName": claim}})
    spec["volumes"] = volumes
    return spec


def pod_metadata(ctx: Context, component: str) -> dict[str, Any]:
    """Pod labels, and the spec digest as an annotation so a spec change rolls the pods."""
    return {"labels": labels(ctx, component), "annotations": {"mlform.dev/spec-digest": f"sha256:{ctx.spec.digest}"}}
