"""`mlform run`, `mlform runs`, `mlform models` and `mlform predict`; heavy imports happen inside commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlform.runtime.registry.models import Registry
    from mlform.runtime.tracking.tracker import Tracker
    from mlform.specs.loader import ResolvedSpec

__all__ = ["load_resolved", "models", "open_registry", "predict", "run", "runs"]

_ENV_HELP = "Environment overlay to resolve (default: the base spec)."
_FORMATS = ("text", "json")


def _spec_file(path: Path) -> Path:
    if path.is_dir():
        for name in ("mlform.yaml", "mlform.yml"):
            if (path / name).is_file():
                return path / name
        raise click.UsageError(f"no `mlform.yaml` in {path}")
    return path


def load_resolved(path: Path, env: str | None) -> ResolvedSpec:
    """The spec at `path` (a file, or a folder holding `mlform.yaml`) resolved for `env`."""

    from mlform.specs.loader import load_spec

    return load_spec(_spec_file(path), env)


def _state_root(spec: Path | None) -> Path:
    from mlform.runtime.storage.statedir import state_dir_for

    folder = _spec_file(spec).resolve().parent if spec is not None else Path.cwd()
    return state_dir_for(folder)


def open_registry(spec: Path | None, env: str | None) -> Registry:
    """The model registry of `spec` (its `registry.path`, else its state folder's); the current folder's without one.

    The spec's folder goes first on `sys.path`, so a model pickled with the project's own classes (a
    `preprocessing_function`'s transformer, say) loads as it does in a run.
    """
    from mlform.runtime.registry.models import registry_at, registry_for
    from mlform.runtime.steps.usercode import use_project

    if spec is None:
        return registry_at(_state_root(None))
    resolved = load_resolved(spec, env)
    use_project(resolved.root)
    return registry_for(resolved)


def _when(seconds: float | None) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") if seconds else "-"


@click.command()
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, metavar="ENV", help=_ENV_HELP)
@click.option("--step", "steps", multiple=True, metavar="ID",
              help="Run only this step (repeatable); upstream outputs must already exist.")
@click.option("--force", is_flag=True, help="Re-run the selected steps even when their output is cached.")
def run(spec: Path, env: str | None, steps: tuple[str, ...], force: bool) -> None:
    """Run the steps of SPEC locally; unchanged steps are skipped and changed ones say why."""
    import hashlib

    from mlform.runtime.run.fastpath import read_receipt, replay, write_receipt
    from mlform.runtime.run.progress import ConsoleReporter, summary_line
    from mlform.runtime.storage.statedir import StateDir, state_dir_for

    spec_file = _spec_file(spec).resolve()
    spec_sha256 = hashlib.sha256(spec_file.read_bytes()).hexdigest()
    reporter = ConsoleReporter()
    full = not steps and not force
    store = StateDir(state_dir_for(spec_file.parent)).store
    receipt = read_receipt(spec_file, env or "", store) if full else None
    if receipt is not None:
        result = replay(spec_file, receipt)
        for outcome in result.steps.values():
            reporter.finish(outcome)
    else:
        from mlform.runtime.run.executor import run_pipeline

        result = run_pipeline(load_resolved(spec, env), list(steps) or None, force=force, reporter=reporter)
        if full:
            write_receipt(spec_file, env or "", spec_sha256, result)
    click.echo(summary_line(result))


@click.group()
def runs() -> None:
    """List and show tracked runs."""


def _format_option(func: Any) -> Any:
    """--format text|json, with --json kept as a hidden alias of `--format json`."""
    func = click.option("--json", "fmt", flag_value="json", hidden=True, help="Same as --format json.")(func)
    return click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True,
                        help="`text` for people, `json` for tools.")(func)


def _spec_and_id(args: tuple[str, ...]) -> tuple[Path | None, str]:
    """`[SPEC] ID`, as every command takes SPEC first; `ID SPEC` (the older order) is accepted too."""
    if len(args) == 1:
        if Path(args[0]).exists():
            raise click.UsageError(f"missing the run ID after `{args[0]}`: mlform runs show [SPEC] ID")
        return None, args[0]
    if len(args) != 2:
        raise click.UsageError("expected [SPEC] ID")
    first, second = args
    if Path(first).exists():
        return Path(first), second
    if Path(second).exists():
        return Path(second), first
    raise click.UsageError(f"neither `{first}` nor `{second}` is a spec file or folder")


def _trackers(spec: Path | None) -> list[Tracker] | str:
    """The run trackers of SPEC's backends (of this folder's state without SPEC), or why there are none yet."""
    from mlform.runtime.storage.backends.url import backend_at
    from mlform.runtime.tracking.tracker import TRACKING_DB, open_tracker

    from .common import spec_backends

    backends = spec_backends([_spec_file(spec)]) if spec is not None else [backend_at(_state_root(None))]
    trackers = [t for t in (open_tracker(backend, create=False) for backend in backends) if t is not None]
    missing = " or ".join(str(backend.local_path(TRACKING_DB)) for backend in backends)
    return trackers or f"no runs tracked yet ({missing} does not exist)"


def _close(trackers: list[Tracker]) -> None:
    for tracker in trackers:
        tracker.close()


@runs.command("list")
@click.argument("spec", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="Newest runs to show.")
@_format_option
def runs_list(spec: Path | None, limit: int, fmt: str) -> None:
    """List the newest runs of SPEC's backends (default: this folder's state; `$MLFORM_BACKEND` when set)."""
    trackers = _trackers(spec)
    if isinstance(trackers, str):
        click.echo("[]" if fmt == "json" else trackers)
        return
    try:
        found = [row for tracker in trackers for row in tracker.runs(limit)]
    finally:
        _close(trackers)
    rows = sorted(found, key=lambda row: row["started"], reverse=True)[:limit]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, sort_keys=True))
        return
    click.echo(f"{'ID':<24} {'SPEC':<20} {'ENV':<10} {'STATUS':<11} {'STARTED (UTC)':<20} SECONDS")
    for row in rows:
        took = f"{row['finished'] - row['started']:.2f}" if row["finished"] else "-"
        click.echo(f"{row['id']:<24} {row['spec_name']:<20} {row['env']:<10} {row['status']:<11} "
                   f"{_when(row['started']):<20} {took}")


@runs.command("show")
@click.argument("args", nargs=-1, required=True, metavar="[SPEC] ID")
@_format_option
def runs_show(args: tuple[str, ...], fmt: str) -> None:
    """Show run ID (a unique prefix is enough) of SPEC (default: this folder): steps, params, metrics and artifacts."""
    from mlform.specs.errors import StateError

    spec, run_id = _spec_and_id(args)
    as_json = fmt == "json"
    trackers = _trackers(spec)
    if isinstance(trackers, str):
        raise StateError(trackers)
    matches, refusals = [], []
    try:
        for tracker in trackers:
            try:
                matches.append(tracker.run(run_id))
            except StateError as exc:
                refusals.append(exc)
    finally:
        _close(trackers)
    if len(matches) != 1:
        raise StateError(f"run `{run_id}` matches several runs") if matches else refusals[0]
    found = matches[0]
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    _show_run(found)


def _show_run(found: dict[str, Any]) -> None:
    from mlform.runtime.gitinfo import describe_git

    click.echo(f"run {found['id']}  {found['spec_name']} ({found['env']})  {found['status']}")
    click.echo(f"  spec: {found['spec_path']}  digest: {found['spec_digest'][:12]}")
    click.echo(f"  started: {_when(found['started'])}  finished: {_when(found['finished'])}")
    click.echo(f"  git: {describe_git(found['git_commit'], found['git_dirty'], found['git_diff_sha256'])}")
    if found["error"]:
        click.echo(f"  error: {found['error']}")
    click.echo("steps:")
    for step in found["steps"]:
        click.echo(f"  {step['step']:<18} {step['status']:<7} {step['seconds']:7.2f}s  {'; '.join(step['reasons'])}")
    if found["metrics"]:
        click.echo("metrics:")
        for metric in found["metrics"]:
            click.echo(f"  {metric['step']}.{metric['key']} = {metric['value']}")
    if found["artifacts"]:
        click.echo("artifacts:")
        for artifact in found["artifacts"]:
            click.echo(f"  {artifact['step']}.{artifact['name']}: {artifact['uri']}")
    params = {k: v for k, v in found["params"].items() if k.startswith(("model.", "data.split.", "env"))}
    if params:
        click.echo("params:")
        for key, value in sorted(params.items()):
            click.echo(f"  {key} = {value}")


class _Models(click.Group):
    """`mlform models`: a subcommand name that is a top-level command (`promote`, `card`) points there."""

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        root = ctx.find_root()
        name = args[0] if args else ""
        if self.get_command(ctx, name) is None and isinstance(root.command, click.Group) \
                and root.command.get_command(root, name) is not None:
            raise click.UsageError(f"No such command '{name}'; `{name}` is a top-level command: `mlform {name}`.", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=_Models)
def models() -> None:
    """List registered models and their aliases; print the library pins of a version."""


def _listing(registry: Registry, env: str | None) -> dict[str, list[dict[str, Any]]]:
    """Each model's versions as JSON data: `aliases` as `env` (default: `default`) sees them, and `environments`,
    the aliases of each environment shown (only `env` when given, else every one) that point at the version."""
    from mlform.specs.read.overlays import BASE

    listing = {}
    for name in registry.models():
        table = registry.environment_aliases(name)
        shown = {env: table.get(env, {})} if env is not None else table
        listing[name] = [{**version.to_json(), "environments": {
            scope: sorted(a for a, number in aliases.items() if number == version.version)
            for scope, aliases in sorted(shown.items()) if version.version in aliases.values()}}
            for version in registry.versions(name, env or BASE)]
    return listing


def _alias_cell(versions: list[dict[str, Any]], env: str | None) -> str:
    """`alias=vN` for `env`; without one, every environment's, those of environments but `default` as `env:alias=vN`."""
    from mlform.specs.read.overlays import BASE

    cells = sorted((scope != BASE, scope, alias, version["version"]) for version in versions
                   for scope, aliases in version["environments"].items() for alias in aliases)
    return ", ".join(f"{scope + ':' if env is None and named else ''}{alias}=v{number}"
                     for named, scope, alias, number in cells) or "-"


@models.command("list")
@click.argument("spec", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, metavar="ENV",
              help="Resolve SPEC for ENV and show the aliases as ENV sees them (default: every environment's, "
                   "those of the base spec unprefixed).")
@_format_option
def models_list(spec: Path | None, env: str | None, fmt: str) -> None:
    """List the models in the registry of SPEC (default: the state folder here): versions, aliases, metrics.

    Versions are shared by the environments of a spec; aliases are each environment's own.
    """
    registry = open_registry(spec, env)
    listing = _listing(registry, env)
    if fmt == "json":
        click.echo(json.dumps(listing, indent=2, default=str))
        return
    if not listing:
        click.echo(f"no models registered in {registry.describe()}")
        return
    click.echo(f"{'MODEL':<24} {'VERSIONS':<9} {'ALIASES':<28} LATEST METRICS")
    for name, versions in listing.items():
        metrics = ", ".join(f"{k}={val:.4g}" for k, val in versions[-1]["metrics"].items())
        click.echo(f"{name:<24} {len(versions):<9} {_alias_cell(versions, env):<28} {metrics}")


@models.command("pins")
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", default=None, metavar="ENV", help=_ENV_HELP)
@click.option("--model", "model_ref", default=None, metavar="NAME@REF",
              help="NAME@ALIAS or NAME@VERSION (default: the version `mlform serve SPEC` serves).")
def models_pins(spec: Path, env: str | None, model_ref: str | None) -> None:
    """Print pip pins (`scikit-learn==X`, numpy, scipy, pandas) of the versions a model was trained with.

    Read from the version's lineage in the registry of SPEC. The generated serving Dockerfile runs this
    while building, so the image has the libraries the model it serves was trained with.
    """
    from mlform.runtime.registry.compat import pins
    from mlform.runtime.serving.predict import parse_model_ref

    from .serve import served_ref

    resolved = load_resolved(spec, env)
    name, ref = parse_model_ref(model_ref) if model_ref is not None else served_ref(resolved)
    for line in pins(open_registry(spec, env).resolve(name, ref, resolved.env)):
        click.echo(line)


@click.command()
@click.option("--model", "model_ref", required=True, metavar="NAME@REF", help="NAME@ALIAS or NAME@VERSION.")
@click.option("--input", "source", required=True, type=click.Path(path_type=Path), help="CSV or Parquet to score.")
@click.option("--output", "-o", "target", required=True, type=click.Path(path_type=Path),
              help="CSV or Parquet to write.")
@click.option("--chunk-rows", default=100_000, show_default=True, type=click.IntRange(min=1),
              help="Rows scored per chunk.")
@click.option("--env", "-e", default=None, metavar="ENV", help=_ENV_HELP)
@click.option("--explain", is_flag=True, help="Add a JSON column `explanation` per row: transformed feature values "
                                              "and, for linear and tree models, per-feature contributions.")
@click.argument("spec", required=False, type=click.Path(exists=True, path_type=Path))
def predict(model_ref: str, source: Path, target: Path, chunk_rows: int, env: str | None, explain: bool,
            spec: Path | None) -> None:
    """Score a file in batch with a registered model; SPEC (optional) locates the registry."""
    from mlform.runtime.serving.predict import parse_model_ref, predict_file
    from mlform.specs.read.overlays import BASE

    name, ref = parse_model_ref(model_ref)
    root = (spec if spec.is_dir() else spec.parent) if spec is not None else None
    version, rows = predict_file(open_registry(spec, env), name, ref, source, target, chunk_rows, env or BASE,
                                 explain=explain, root=root)
    click.echo(f"scored {rows} rows with `{name}` version {version.version} -> {target}")
