"""What the generated artifacts need for a spec's state backend and tracking: pip extras and credentials.

A `local` backend (the default) needs nothing: the artifacts keep today's state folder. A shared backend
(`postgres`, `s3`) needs its client installed, its credentials where mlform runs, and no local state
claim: the durable state lives in the backend, and the pods keep only a scratch folder for caches.
Credentials are references only: the postgres URL comes from the secret `state.backend.url` names; s3 uses
the standard AWS variables, which GitHub takes from secrets or an OIDC role, and pods from a Kubernetes
Secret of AWS keys or a role on the service account.
"""

from __future__ import annotations

from typing import Any

from mlform.compiler.targets import Context
from mlform.runtime.storage.backends.url import BACKEND_ENV
from mlform.specs.errors import RenderError

from .common import SecretEnv, k8s_name, kubernetes_ref

__all__ = ["AWS_KEYS", "LOCK_TIMEOUT", "aws_secret", "backend_pin", "backend_secret", "backend_secret_env",
           "shared", "uses_s3"]

# GitHub secrets, or keys of a Kubernetes Secret; the endpoint only for an S3 API other than AWS (boto3 ignores
# an empty value, which is what an unset GitHub secret gives)
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")
LOCK_TIMEOUT = "10m"  # how long a CI apply waits for another holder of the shared lock: merges queue, not fail


def shared(ctx: Context) -> bool:
    """True when the spec's `state.backend` is a shared kind (`postgres`, `s3`), not files beside the spec."""
    return ctx.spec.pipeline.state.backend.kind != "local"


def uses_s3(ctx: Context) -> bool:
    """True when the spec's `state.backend` is `s3`."""
    return ctx.spec.pipeline.state.backend.kind == "s3"


def backend_secret(ctx: Context) -> tuple[str, str] | None:
    """(variable, secret) the postgres URL is read from; None for other kinds."""
    backend = ctx.spec.pipeline.state.backend
    if backend.kind != "postgres":
        return None
    name = backend.url.secret
    var = ctx.spec.pipeline.secrets[name].env
    if var is None:
        msg = f"secret `{name}` (used by `state.backend.url`) is read from the environment: set `secrets.{name}.env`"
        raise RenderError(msg)
    return var, name


def backend_secret_env(ctx: Context) -> list[SecretEnv]:
    """The postgres URL's variable from its Kubernetes Secret; empty for other kinds."""
    found = backend_secret(ctx)
    if found is None:
        return []
    var, name = found
    return [(var, *kubernetes_ref(ctx, name, "state.backend.url"))]


def aws_secret(ctx: Context) -> str:
    """The Kubernetes Secret whose keys (`AWS_ACCESS_KEY_ID`, ...) pods read as variables for an s3 backend."""
    return k8s_name(ctx.spec.name, "aws")


def backend_pin(ctx: Context) -> list[dict[str, Any]]:
    """`MLFORM_BACKEND` set to this environment's shared backend, so a process reading every environment of the
    spec (the web UI) reads them all there, not from backends it has no credentials for; empty for `local`."""
    backend = ctx.spec.pipeline.state.backend
    if backend.kind == "postgres":
        secret, key = kubernetes_ref(ctx, backend.url.secret, "state.backend.url")
        return [{"name": BACKEND_ENV, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}]
    if backend.kind == "s3":  # bucket and prefix are names, not secrets (their patterns allow no credentials)
        return [{"name": BACKEND_ENV, "value": f"s3://{backend.bucket}/{backend.prefix}".rstrip("/")}]
    return []
