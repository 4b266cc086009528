"""`mlform compile`: emit Docker, GitHub Actions, Airflow and Kubernetes files, or check they are current."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlform.compiler.collector import collection_paused

from .common import env_option, spec_files, specs_argument

if TYPE_CHECKING:
    from mlform.compiler.artifacts.output import Build


def _targets(value: str | None) -> list[str] | None:
    return [name.strip() for name in value.split(",") if name.strip()] if value else None


@click.command("compile")
@specs_argument
@env_option
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="Output root (default: the project root, the nearest folder holding `.git`).")
@click.option("--target", "-t", "targets", metavar="NAMES",
              help="Comma-separated targets to emit (default: all), e.g. `docker,kubernetes`.")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Folder of `<target>/<name>.j2` templates that replace built-in ones by name.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 listing each file missing, stale or hand-edited, and each broken "
                   "reference between the Kubernetes objects (selectors, ports, volumes, Secrets, probes).")
def compile_(specs: tuple[Path, ...], env: str | None, out: Path | None, targets: str | None,
             templates: Path | None, check: bool) -> None:
    """Compile SPECS for each environment they declare (or --env) into deployable files.

    \b
    Layout under --out (default: the project root):
      deploy/<name>/<env>/{docker,airflow,kubernetes}/...
      .github/workflows/mlform-<name>-<env>-{pr,apply,monitor}.yml
    Each file names its spec, environment and spec digest in a header; do not edit them by hand.
    """
    from mlform.compiler.artifacts import output

    with collection_paused():  # render, check and write: the build lives to the end
        build = output.compile_specs(spec_files(specs), env, out, _targets(targets), templates)
        (_check if check else _write)(build)


def _shown(build: Build) -> Callable[[str], str]:
    """How a file of `build` is printed: relative to the working directory."""
    shown_out = os.path.relpath(build.out)  # once: a relpath per file cost more than writing the file
    return lambda relative: os.path.normpath(os.path.join(shown_out, relative))


def _check(build: Build) -> None:
    """`--check`: list what is not current and each broken reference; exit 1 if any."""
    from mlform.compiler.artifacts import output
    from mlform.compiler.artifacts.wiring import check_build

    shown = _shown(build)
    findings = output.check(build, build.seen)
    for finding in findings:
        click.echo(f"{finding.kind}: {shown(finding.path)}", err=True)
    if findings:
        click.echo(f"{len(findings)} of {len(build.files)} generated files are not current; "
                   "run `mlform compile` and commit the result.", err=True)
    broken = check_build(build, build.seen)
    for wiring in broken:
        click.echo(f"wiring: {shown(wiring.path)}: {wiring.obj}: {wiring.message}", err=True)
    if broken:
        click.echo(f"{len(broken)} broken references between generated Kubernetes objects.", err=True)
    if findings or broken:
        raise SystemExit(1)
    click.echo(f"ok: {len(build.files)} generated files are current")


def _write(build: Build) -> None:
    """Write the changed files, delete the orphans, and say which."""
    from mlform.compiler.artifacts import output

    shown = _shown(build)
    written, deleted = output.write(build)
    for relative in written:
        click.echo(f"wrote {shown(relative)}")
    for relative in deleted:
        click.echo(f"deleted {shown(relative)}")
    unchanged = len(build.files) - len(written)
    click.echo(f"{len(written)} written, {len(deleted)} deleted, {unchanged} unchanged")
