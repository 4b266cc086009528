"""`mlform state list|show` and `mlform force-unlock`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import env_option, spec_files, specs_argument

__all__ = ["force_unlock", "state"]


@click.group()
def state() -> None:
    """Inspect the state that `mlform apply` records per spec and environment."""


@state.command("list")
@specs_argument
def state_list(specs: tuple[Path, ...]) -> None:
    """List the states of SPECS: environment, serial, lineage and steps recorded."""
    from mlform.compiler.plan.planner import state_store
    from mlform.specs import validate_file

    for path in spec_files(specs):
        resolved, _ = validate_file(path)
        for spec in resolved:
            current = state_store(spec).read()
            if current is not None:
                click.echo(f"{spec.display}  {spec.env:<10} serial {current.serial:<4} lineage {current.lineage}  "
                           f"{len(current.steps)} steps, {len(current.artifacts)} artifacts")


@state.command("show")
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@env_option
def state_show(spec: Path, env: str | None) -> None:
    """Print the state of SPEC in one environment as JSON."""
    from mlform.compiler.plan.planner import state_store
    from mlform.specs import load_spec
    from mlform.specs.errors import StateError

    resolved = load_spec(spec_files((spec,))[0], env)
    current = state_store(resolved).read()
    if current is None:
        raise StateError(f"no state for {resolved.display} ({resolved.env}) yet; `mlform apply` creates it")
    click.echo(current.to_json(), nl=False)


@click.command("force-unlock")
@click.argument("lock_id")
@click.argument("spec", required=False, default=".", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", "env", default=None, metavar="ENV",
              help="Environment whose state holds the lock (default: the one holding LOCK_ID).")
def force_unlock(lock_id: str, spec: Path, env: str | None) -> None:
    """Remove the lock LOCK_ID, when its holder is gone, from the state of SPEC (default: the specs here) that
    holds it, as the error naming the lock says: `mlform force-unlock LOCK_ID`."""
    from mlform.compiler.plan.planner import state_store
    from mlform.specs import load_spec
    from mlform.specs.errors import SpecError, StateError
    from mlform.specs.loader import validate_file

    files = spec_files((spec,))
    if env is not None and len(files) == 1:
        info = state_store(load_spec(files[0], env)).force_unlock(lock_id)
        click.echo(f"Removed the lock held by {info.describe()}.")
        return
    for path in files:
        resolved, diagnostics = validate_file(path)
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError([d for d in diagnostics if d.severity == "error"])
        for store in (state_store(r) for r in resolved if env in (None, r.env)):
            holder = store.holder()
            if holder is not None and holder.id == lock_id:
                click.echo(f"Removed the lock held by {store.force_unlock(lock_id).describe()}.")
                return
    shown = ", ".join(str(path) for path in files)
    raise StateError(f"no state of {shown}{f' ({env})' if env else ''} is locked with ID {lock_id}")


@state.command("migrate")
@click.argument("specs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--to", "to_url", required=True, metavar="BACKEND",
              help="Where to copy: a folder, postgresql://USER@HOST:PORT/DB or s3://BUCKET/PREFIX.")
@click.option("--from", "from_url", default=None, metavar="BACKEND",
              help="Where to copy from (default: $MLFORM_BACKEND, else the state folder of SPECS).")
def state_migrate(specs: tuple[Path, ...], to_url: str, from_url: str | None) -> None:
    """Copy the state, records, registry, runs and audit log of SPECS (default: here) to another backend.

    Every document is read back and every model file checked by sha256; the source is left as it is.
    Running it again copies nothing. A key the target already holds with other content is reported as a
    conflict (exit 1) and never overwritten.
    """
    import os

    from mlform.compiler.plan.migrate import migrate
    from mlform.runtime.storage.backends.local import LocalBackend
    from mlform.runtime.storage.backends.url import BACKEND_ENV, opened
    from mlform.runtime.storage.statedir import state_dir_for
    from mlform.specs.errors import StateError

    if from_url or os.environ.get(BACKEND_ENV):
        sources = [opened(from_url or os.environ[BACKEND_ENV])]
    else:
        folders = dict.fromkeys(state_dir_for(file.resolve().parent) for file in spec_files(specs or (Path(),)))
        sources = [LocalBackend(folder) for folder in folders]
    target = opened(to_url)
    conflicts, found = [], 0
    for source in sources:
        done = migrate(source, target)
        click.echo(f"{source.describe()} -> {target.describe()}: {done.summary()}")
        conflicts += done.conflicts
        found += sum(done.copied.values()) + sum(done.present.values()) + len(done.conflicts)
    if not found:  # e.g. a clone whose specs keep their state in a backend: their state folder is empty
        named = ", ".join(source.describe() for source in sources)
        raise StateError(f"nothing to copy: {named} holds no state; name the backend that does with `--from BACKEND`")
    if conflicts:
        listed = "; ".join(conflicts[:5]) + (f" (and {len(conflicts) - 5} more)" if len(conflicts) > 5 else "")
        raise StateError(f"{len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}, left as they are: {listed}")
