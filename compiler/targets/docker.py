"""Docker target: `Dockerfile.train`, `Dockerfile.serve` and their ignore files; the spec folder is the context.

Build from the project root with the spec folder as context, e.g.
`docker build -f deploy/<name>/<env>/docker/Dockerfile.train <spec folder>`. BuildKit reads the ignore
file named after the Dockerfile (`Dockerfile.train.dockerignore`), so each image keeps out what it must.
With a shared state backend the serving image installs the training library pins from `pins_file(env)` in the
spec folder, which `mlform models pins` writes before the build where the backend's credentials are.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from mlform.compiler.artifacts.backend import shared
from mlform.compiler.artifacts.common import APP_DIR, STATE_DIR, UID, mlform_install, spec_file

from . import Context

__all__ = ["directory", "pins_file", "render"]


def directory(ctx: Context) -> str:
    """`deploy/<name>/<env>/docker`."""
    return ctx.layout.deploy_dir(ctx.spec.name, ctx.spec.env, "docker")


def pins_file(env: str) -> str:
    """The file, in the spec folder, a shared backend's serving image reads its training library pins from."""
    return f"mlform-pins-{env}.txt"


def _probe(port: int) -> list[str]:
    """The health check: base images have Python but seldom curl."""
    script = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/health', timeout=4)"
    return ["python3", "-c", script]


def render(ctx: Context) -> dict[str, str]:
    """The training image always; the serving image when the spec serves online."""
    docker = ctx.spec.pipeline.targets.docker
    if docker is None:
        return {}
    spec, env = spec_file(ctx), ctx.spec.env
    common = {
        "base_image": docker.base_image, "version": ctx.version, "name": ctx.spec.name, "env": env,
        "digest": ctx.spec.digest, "app_dir": APP_DIR, "state_dir": STATE_DIR, "uid": UID,
        "state_dir_name": PurePosixPath(STATE_DIR).name, "install": mlform_install(ctx, "image"), "spec": spec,
        "shared": shared(ctx),
    }
    render_one = ctx.templates.render
    files = {
        "Dockerfile.train": render_one("docker", "Dockerfile.train", kind="train",
                                       command=["run", spec, "--env", env], **common),
        "Dockerfile.train.dockerignore": render_one("docker", "dockerignore", keep_state=False, **common),
    }
    serving = ctx.spec.pipeline.serving
    if serving is not None and serving.mode == "online":
        command = ["serve", spec, "--env", env, "--host", "0.0.0.0", "--port", str(serving.port)]
        files["Dockerfile.serve"] = render_one("docker", "Dockerfile.serve", kind="serve", command=command,
                                               port=serving.port, probe=_probe(serving.port), pins=pins_file(env),
                                               **common)
        files["Dockerfile.serve.dockerignore"] = render_one("docker", "dockerignore",
                                                           keep_state=not common["shared"], **common)
    return files
