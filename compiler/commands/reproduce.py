"""`mlform reproduce`: retrain a registered version from its lineage and prove it predicts the same."""

from __future__ import annotations

from pathlib import Path

import click

from .common import env_option, spec_files

__all__ = ["reproduce"]


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="[SPEC] MODEL@VERSION")
@env_option
def reproduce(args: tuple[str, ...], env: str | None) -> None:
    """Retrain MODEL@VERSION (a number or an alias of ENV) of the project SPEC (default: the current folder).

    The spec and code are read at the version's git commit into a throwaway folder, the data files must have
    the digests of its lineage, and nothing is registered or stored. Exit status 0 when the retrained model's
    predictions on the version's test rows are identical; 1 with the number that differ and the largest score
    difference otherwise, or when the version cannot be reproduced (uncommitted changes, changed data).
    """
    from mlform.compiler.governance.reproduce import reproduce as run
    from mlform.specs import load_spec

    if len(args) > 2:
        raise click.UsageError(f"expected [SPEC] MODEL@VERSION; got {len(args)} arguments")
    spec, ref = (Path(args[0]), args[1]) if len(args) == 2 else (Path("."), args[0])
    if not spec.exists():
        raise click.BadParameter(f"`{spec}` does not exist", param_hint="'SPEC'")
    model, at, version = ref.rpartition("@")
    if not at or not model or not version:
        raise click.BadParameter(f"expected MODEL@VERSION, e.g. `fraud-detector@3`; got `{ref}`",
                                 param_hint="'MODEL@VERSION'")
    files = spec_files((spec,))
    if len(files) != 1:
        raise click.UsageError(f"reproduce needs one spec file; {spec} holds {len(files)}")
    done = run(load_spec(files[0], env, require_data=True), model, version)
    head = f"{done.model} version {done.version} (commit {done.commit[:12]})"
    if done.identical:
        click.echo(f"reproduced {head}: identical predictions on {done.rows} test rows")
        return
    click.echo(f"NOT reproduced {head}: {done.differing} of {done.rows} test predictions differ, largest score "
               f"difference {done.max_difference:.6g}", err=True)
    raise SystemExit(1)
