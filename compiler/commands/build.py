"""`mlform build`: build the training and serving images of specs with a Docker engine."""

from __future__ import annotations

from pathlib import Path

import click

from .common import env_option, spec_files, specs_argument

__all__ = ["build"]


@click.command("build")
@specs_argument
@env_option
@click.option("--kind", type=click.Choice(["train", "serve", "all"]), default="all", show_default=True,
              help="Which image to build; `all` skips the serving image of specs that serve no online model.")
@click.option("--tag", "-t", "tags", multiple=True, metavar="NAME[:TAG]",
              help="Another tag for the image (repeatable); only when a single image is built.")
@click.option("--network", metavar="MODE", default=None,
              help="Network of the RUN steps, e.g. `host` (default: the engine's default).")
@click.option("--no-cache", is_flag=True, help="Build every step again instead of reusing cached layers.")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="The folder of replacement templates given to `mlform compile`, if any.")
@click.option("--quiet", "-q", is_flag=True, help="Show only the step lines of the engine's output.")
def build(specs: tuple[Path, ...], env: str | None, kind: str, tags: tuple[str, ...], network: str | None,
          no_cache: bool, templates: Path | None, quiet: bool) -> None:
    """Build the images of SPECS for each environment they declare (or --env) with a Docker engine.

    \b
    Each image is built from the spec's folder with the Dockerfile and ignore file that `mlform compile`
    writes under deploy/<name>/<env>/docker/, and tagged <image>:<train|serve>-<env>-<digest[:12]>.
    The engine is the one DOCKER_HOST names (else the docker CLI's current context). Its output goes to
    stderr; each built tag is printed on stdout.
    """
    from docker.utils.build import match_tag

    from mlform.compiler.artifacts import docker_build

    bad = next((t for t in tags if not match_tag(t)), None)
    if bad is not None:
        raise click.BadParameter(f"`{bad}` is not a valid image reference", param_hint="--tag")
    kinds = docker_build.KINDS if kind == "all" else (kind,)
    images = docker_build.plan(spec_files(specs), env, kinds, templates)
    if tags and len(images) != 1:
        raise click.UsageError(f"--tag needs exactly one image to build, not {len(images)}: "
                               "give --env and --kind train or serve")
    client = docker_build.connect()

    def echo(line: str) -> None:
        if not quiet or line.startswith("Step "):
            click.echo(line, err=True)

    for item in images:
        click.echo(f"building {item.tag} ({item.pipeline}, {item.env}, {item.kind}) from {item.context}", err=True)
        image_id = docker_build.build(client, item, tags=tags, network=network, no_cache=no_cache, echo=echo)
        for tag in (item.tag, *tags):
            click.echo(f"built {tag} {image_id.removeprefix('sha256:')[:12]}")
