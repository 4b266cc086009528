"""Build the images the docker target renders, on a Docker engine found as the docker CLI finds it.

Each image is built from its spec folder with its own ignore file applied (`Dockerfile.<kind>.dockerignore`,
as BuildKit reads it), its Dockerfile rendered afresh from the spec, and the tag the workflows and
manifests use (`<image>:<kind>-<env>-<digest[:12]>`). Nothing enters by build argument: no `--build-arg`,
and the proxy settings of `~/.docker/config.json` (which may hold credentials) are not forwarded. With a shared
state backend, the serving image's context also gets the training library pins of the version it serves, read
from the shared registry here (as the apply workflow does before its build), never the backend's credentials.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlform.compiler.graph.stepgraph import build_graph
from mlform.compiler.targets import Context, Layout
from mlform.compiler.targets import docker as target
from mlform.specs.errors import RenderError

from .backend import shared
from .common import image
from .output import project_root, resolve_specs
from .render import Templates

if TYPE_CHECKING:
    from docker import DockerClient

__all__ = ["KINDS", "BuildError", "ImageBuild", "build", "connect", "ignore_patterns", "plan"]

KINDS = ("train", "serve")
_DOCKERFILE = ".dockerfile.mlform-{kind}"  # the Dockerfile's name inside the build context


class BuildError(RenderError):
    """The engine cannot be reached, an image cannot be planned, or the engine refused a build."""


@dataclass(frozen=True)
class ImageBuild:
    """One image to build: its kind, tag, context folder, Dockerfile text and ignore patterns."""

    pipeline: str
    env: str
    kind: str
    tag: str
    context: Path
    dockerfile: str
    ignore: tuple[str, ...]
    files: tuple[tuple[str, str], ...] = ()  # (name, text) added to the context


def ignore_patterns(text: str) -> list[str]:
    """The patterns of a `.dockerignore` file: comments and blank lines dropped, leading `/` removed."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.removeprefix("!").strip().lstrip("/")
        patterns.append(f"!{pattern}" if negated else pattern)
    return patterns


def _contexts(paths: Iterable[Path], env: str | None, templates: Path | None, cwd: Path) -> Iterator[Context]:
    root, renderer, version = project_root(cwd), Templates(templates), package_version("mlform")
    for path in paths:
        for spec in resolve_specs(path, env):
            relative = Path(os.path.relpath(spec.path.resolve(), root)).as_posix()
            layout = Layout(relative, Path(relative).parent.as_posix(), ".")
            yield Context(spec, build_graph(spec), layout, renderer, version)


def plan(paths: Iterable[Path], env: str | None, kinds: Sequence[str] = KINDS, templates: Path | None = None,
         cwd: Path | None = None) -> list[ImageBuild]:
    """The images of `kinds` for each spec and environment; BuildError when a spec has none of a kind asked for."""
    found = []
    for ctx in _contexts(paths, env, templates, cwd or Path.cwd()):
        name, env_name = ctx.spec.name, ctx.spec.env
        if ctx.spec.pipeline.targets.docker is None:
            raise BuildError(f"`{name}` ({env_name}) has no docker target: set `targets.docker`")
        files = target.render(ctx)
        for kind in kinds:
            text = files.get(f"Dockerfile.{kind}")
            if text is None:
                if len(kinds) == 1:
                    raise BuildError(f"`{name}` ({env_name}) has no {kind} image: it serves no online model")
                continue
            ignore = tuple(ignore_patterns(files[f"Dockerfile.{kind}.dockerignore"]))
            added = ((target.pins_file(env_name), _served_pins(ctx)),) if kind == "serve" and shared(ctx) else ()
            found.append(ImageBuild(name, env_name, kind, image(ctx, kind), ctx.spec.root, text, ignore, added))
    return found


def _served_pins(ctx: Context) -> str:
    """`distribution==version` lines of the libraries the version `ctx`'s spec serves was trained with."""
    from mlform.compiler.commands.serve import served_ref
    from mlform.runtime.registry.compat import pins
    from mlform.runtime.registry.models import registry_for

    name, ref = served_ref(ctx.spec)
    return "".join(f"{line}\n" for line in pins(registry_for(ctx.spec).resolve(name, ref, ctx.spec.env)))


def connect() -> DockerClient:
    """A client of the engine that `DOCKER_HOST` (else the docker CLI's context) names; BuildError if unreachable."""
    import docker as sdk

    where = os.environ.get("DOCKER_HOST") or "the docker CLI's current context"
    try:
        client = sdk.from_env()
        client.ping()
    except sdk.errors.DockerException as exc:
        msg = f"cannot reach the Docker engine ({where}): {exc}; start it, or point DOCKER_HOST at it"
        raise BuildError(msg) from None
    return client


def _archive(item: ImageBuild) -> IO[bytes]:
    """The build context: the spec folder less what the ignore file excludes, plus the Dockerfile.

    The SDK adds a `.dockerignore` of these patterns for the engine; listing it too keeps it out of the image.
    """
    from docker.utils.build import tar

    context = tempfile.TemporaryFile()  # noqa: SIM115 -- returned open: the caller streams it to the engine
    tar(item.context, exclude=[*item.ignore, ".dockerignore"],
        dockerfile=(_DOCKERFILE.format(kind=item.kind), item.dockerfile), fileobj=context)
    if item.files:
        with tarfile.open(fileobj=context, mode="a") as archive:
            for name, text in item.files:
                data = text.encode()
                member = tarfile.TarInfo(name)
                member.size, member.mode = len(data), 0o644
                archive.addfile(member, io.BytesIO(data))
        context.seek(0)
    return context


def _lines(chunks: Iterable[dict[str, Any]], tag: str) -> Iterator[tuple[str, str | None]]:
    """(complete output line, image ID when the engine reported it) for each line of a build's stream."""
    pending = ""
    for chunk in chunks:
        if "error" in chunk:
            message = str(chunk.get("errorDetail", {}).get("message") or chunk["error"]).strip()
            raise BuildError(f"building `{tag}` failed: {message}")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and "ID" in aux:
            yield "", str(aux["ID"])
        pending += str(chunk.get("stream", ""))
        *done, pending = pending.split("\n")
        for line in done:
            yield line.rstrip("\r"), None
    if pending:
        yield pending, None


def build(client: DockerClient, item: ImageBuild, *, tags: Sequence[str] = (), network: str | None = None,
          no_cache: bool = False, echo: Callable[[str], None] = print) -> str:
    """Build one image, pass each output line to `echo`, add `tags`; return the image ID."""
    import docker as sdk
    import requests
    from docker.utils import parse_repository_tag

    image_id = None
    try:
        with _archive(item) as context:
            stream = client.api.build(fileobj=context, custom_context=True, dockerfile=_DOCKERFILE.format(
                kind=item.kind), tag=item.tag, rm=True, forcerm=True, pull=False, nocache=no_cache,
                network_mode=network, decode=True, use_config_proxy=False, timeout=None)
            for line, reported in _lines(stream, item.tag):
                image_id = reported or image_id
                if line:
                    echo(line)
        if image_id is None:
            raise BuildError(f"building `{item.tag}`: the engine reported no image")
        for extra in tags:
            repository, tag = parse_repository_tag(extra)
            client.api.tag(image_id, repository, tag or "latest")
    except (sdk.errors.DockerException, requests.RequestException) as exc:
        raise BuildError(f"building `{item.tag}`: {exc}") from None
    return image_id
