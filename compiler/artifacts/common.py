"""What several targets share: image names, labels, Kubernetes names, secrets and the in-image layout."""

from __future__ import annotations

import enum
import functools
import hashlib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel

from mlform.compiler.targets import Context
from mlform.specs.errors import RenderError
from mlform.specs.model.base import SecretUse
from mlform.specs.model.install import parse_source

__all__ = [
    "APP_DIR",
    "INSTALL_DIR",
    "STATE_DIR",
    "UID",
    "Install",
    "SecretEnv",
    "image",
    "image_repository",
    "install_extras",
    "k8s_name",
    "kubernetes_ref",
    "labels",
    "mlform_install",
    "registry_host",
    "secret_env",
    "serving_env",
    "spec_file",
    "step_secrets",
]

APP_DIR = "/app"
STATE_DIR = f"{APP_DIR}/.mlform"
UID = 10001
SecretEnv = tuple[str, str, str]  # (environment variable, Kubernetes Secret, key)
INSTALL_DIR = "/opt/mlform-install"  # where an image build copies a wheel or source folder of mlform


@dataclass(frozen=True)
class Install:
    """What pip installs as mlform (`requirement`, with its extras), and for a path source, that path relative to
    the spec folder and where an image build copies it (`copy_to`)."""

    requirement: str
    path: str | None = None
    custom: bool = False
    copy_to: str | None = None


def install_extras(ctx: Context) -> str:
    """`[extra,...]` the runtime needs (MLflow for `tracking: mlflow`, a shared state backend's client), or `""`."""
    pipeline = ctx.spec.pipeline
    found = ["mlflow"] if pipeline.tracking.backend == "mlflow" else []
    if pipeline.state.backend.kind != "local":
        found.append(pipeline.state.backend.kind)
    return f"[{','.join(sorted(found))}]" if found else ""


def mlform_install(ctx: Context, where: str) -> Install:
    """How the artifacts install mlform (`runtime.mlform`, else this mlform's version); `where` an image build
    (`image`, which copies a path source to INSTALL_DIR) or a checkout of the project (`checkout`)."""
    text, extras = ctx.spec.pipeline.runtime.mlform, install_extras(ctx)
    if text is None:
        return Install(f"mlform{extras}=={ctx.version}")
    source = parse_source(text)
    if source.kind == "version":
        return Install(f"mlform{extras}=={source.value}", custom=True)
    if source.kind == "url":
        return Install(f"mlform{extras} @ {source.value}", custom=True)
    if where == "image":
        name = PurePosixPath(source.value).name if source.value != "." else "source"
        return Install(f"{INSTALL_DIR}/{name}{extras}", source.value, custom=True, copy_to=f"{INSTALL_DIR}/{name}")
    path = "./" + posixpath.normpath(posixpath.join(ctx.layout.spec_dir, source.value))
    return Install(path + extras, source.value, custom=True)


def spec_file(ctx: Context) -> str:
    """The spec's file name; images hold the spec folder at APP_DIR, so this is its path there."""
    return PurePosixPath(ctx.layout.spec_path).name


def image_repository(ctx: Context) -> str:
    """`targets.docker.image` without tag or digest; RenderError when the spec has no docker target."""
    docker = ctx.spec.pipeline.targets.docker
    if docker is None:
        msg = "this target runs the pipeline's images: set `targets.docker.image`"
        raise RenderError(msg)
    repository = docker.image.split("@", 1)[0]
    head, _, last = repository.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def image(ctx: Context, kind: str) -> str:
    """The `train` or `serve` image: tagged with kind, environment and spec digest, so a change rolls it."""
    return f"{image_repository(ctx)}:{kind}-{ctx.spec.env}-{ctx.spec.digest[:12]}"


def registry_host(ctx: Context) -> str | None:
    """The registry host of the image, or None for Docker Hub."""
    first, slash, _ = image_repository(ctx).partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else None


def k8s_name(base: str, suffix: str, limit: int = 63) -> str:
    """`base-suffix`, shortened to `limit` characters with a hash of `base` when it would not fit."""
    name = f"{base}-{suffix}"
    if len(name) <= limit:
        return name
    tag = hashlib.sha256(base.encode()).hexdigest()[:6]
    keep = limit - len(suffix) - len(tag) - 2
    return f"{base[:keep].rstrip('-')}-{tag}-{suffix}"


def labels(ctx: Context, component: str) -> dict[str, str]:
    """The spec's own labels, then the `app.kubernetes.io/*` labels (which win on a clash)."""
    name = ctx.spec.name
    return {
        **ctx.spec.pipeline.metadata.labels,
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": k8s_name(name, ctx.spec.env),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "mlform",
        "app.kubernetes.io/managed-by": "mlform",
    }


def kubernetes_ref(ctx: Context, secret: str, used_at: str) -> tuple[str, str]:
    """(Kubernetes Secret, key) of spec secret `secret`; RenderError naming `used_at` when it has none."""
    ref = ctx.spec.pipeline.secrets[secret].kubernetes
    if ref is None:
        msg = (f"secret `{secret}` (used by `{used_at}`) has no `kubernetes` reference: "
               f"set `secrets.{secret}.kubernetes`")
        raise RenderError(msg)
    return ref.secret, ref.key


def _secret_uses(value: object, path: str) -> dict[str, str]:
    """Secret name -> the first key path using it, for every `SecretUse` inside `value` (a spec model)."""
    if isinstance(value, SecretUse):
        return {value.secret: path}
    if isinstance(value, BaseModel):
        items: Iterable[tuple[object, object]] = ((name, getattr(value, name)) for name in _secret_fields(type(value)))
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return {}
    found: dict[str, str] = {}
    for key, item in items:
        for name, where in _secret_uses(item, f"{path}.{key}" if path else str(key)).items():
            found.setdefault(name, where)
    return found


_NO_SECRETS = (str, int, float, bool, bytes, type(None), enum.Enum, PurePath)


@functools.cache
def _secret_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of `model` whose annotations let them hold a `SecretUse`: the walk skips the others."""
    return tuple(name for name, info in model.model_fields.items() if _may_hold_secret(info.annotation, {model}))


def _may_hold_secret(annotation: Any, seen: set[type]) -> bool:
    """Whether a value of `annotation` may hold a `SecretUse`; True for whatever it cannot tell (`Any`, aliases)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _may_hold_secret(get_args(annotation)[0], seen)
    if origin is Literal:
        return False
    if origin is not None:
        return any(_may_hold_secret(arg, seen) for arg in get_args(annotation)) or not get_args(annotation)
    if not isinstance(annotation, type):
        return True
    if issubclass(annotation, SecretUse):
        return True
    if issubclass(annotation, BaseModel):  # a model met again on this path adds nothing the first meeting missed
        return annotation not in seen and any(_may_hold_secret(info.annotation, seen | {annotation})
                                              for info in annotation.model_fields.values())
    return not issubclass(annotation, _NO_SECRETS)


def step_secrets(ctx: Context) -> dict[str, tuple[str, str]]:
    """Variable -> (secret, first key path using it), for each secret the steps read (the server's aside)."""
    pipeline = ctx.spec.pipeline
    last = _LAST_STEP_SECRETS.get("pipeline")
    if last is not None and last[0] is pipeline:
        return dict(last[1])  # every target of one spec and environment asks in turn: walk its sections once
    found = _step_secrets(pipeline)
    _LAST_STEP_SECRETS["pipeline"] = (pipeline, found)
    return dict(found)


_LAST_STEP_SECRETS: dict[str, tuple[Any, dict[str, tuple[str, str]]]] = {}


def _step_secrets(pipeline: Any) -> dict[str, tuple[str, str]]:
    sections = {name: getattr(pipeline, name) for name in type(pipeline).model_fields
                # `targets` holds one secret use, the web UI's read-only URL, which no step reads
                if name not in ("serving", "environments", "secrets", "targets")}
    found = {}
    for name, where in sorted(_secret_uses(sections, "").items()):
        var = pipeline.secrets[name].env
        if var is None:
            msg = f"secret `{name}` (used by `{where}`) is read from the environment: set `secrets.{name}.env`"
            raise RenderError(msg)
        found[var] = (name, where)
    return dict(sorted(found.items()))


def secret_env(ctx: Context) -> list[SecretEnv]:
    """The secrets the pipeline's steps read, as variables set from Kubernetes Secrets."""
    return [(var, *kubernetes_ref(ctx, name, where)) for var, (name, where) in step_secrets(ctx).items()]


def serving_env(ctx: Context) -> list[SecretEnv]:
    """The server's `serving.env` variables, each from its secret's Kubernetes Secret."""
    serving = ctx.spec.pipeline.serving
    if serving is None:
        return []
    found = []
    for var, use in sorted(serving.env.items()):
        found.append((var, *kubernetes_ref(ctx, use.secret, f"serving.env.{var}")))
    return found
