"""`mlform validate`: check specs, every environment, all errors at once."""

from __future__ import annotations

from pathlib import Path

import click

from ..report import FORMATS, render_diagnostics
from .common import env_option, spec_files, specs_argument


@click.command()
@specs_argument
@env_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format; `github` prints workflow annotations.")
def validate(specs: tuple[Path, ...], env: str | None, fmt: str) -> None:
    """Validate SPECS (files or directories) and, without --env, every environment they declare."""
    from mlform.specs import validate_file

    diagnostics = []
    summaries = []
    for path in spec_files(specs):
        resolved, found = validate_file(path, [env] if env else None)
        diagnostics.extend(found)
        if not any(d.severity == "error" for d in found):
            envs = ", ".join(s.env for s in resolved)
            summaries.append(f"ok: {path} ({envs})")
    errors = sum(d.severity == "error" for d in diagnostics)
    if fmt == "text":
        if diagnostics:
            click.echo(render_diagnostics(diagnostics, fmt), err=True)
        for line in summaries:
            click.echo(line)
        if errors:
            click.echo(f"{errors} error{'s' if errors != 1 else ''} found.", err=True)
    elif diagnostics or fmt == "json":
        click.echo(render_diagnostics(diagnostics, fmt))
    if errors:
        raise SystemExit(1)
