"""`mlform validate`: check specs, every environment, and the organisation policy, all errors at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mlform.compiler.collector import collection_paused
from mlform.specs.errors import Diagnostic

from .common import env_option, policy_option, spec_files, specs_argument
from .report import FORMATS, render_diagnostics

if TYPE_CHECKING:
    from mlform.specs.check.policy import LoadedPolicy


def _policy(explicit: Path | None) -> tuple[LoadedPolicy | None, list[Diagnostic]]:
    """The policy in force, or the errors of its file."""
    from mlform.compiler.workspace import policy_file
    from mlform.specs import SpecError

    path = policy_file(explicit, Path.cwd())
    if path is None:
        return None, []
    from mlform.specs.check.policy import load_policy  # its models build only when there is a policy

    try:
        return load_policy(path), []
    except SpecError as exc:
        return None, list(exc.diagnostics)


def _smoke(results: Iterable[tuple[Path, list[Any], list[Any]]], passed: list[str]) -> list[Diagnostic]:
    """Smoke-test each resolved spec: a line in `passed` for each that trains; a diagnostic for each that does not
    (at the user function that failed, else at `model`), so every format (JSON and annotations too) counts it."""
    from mlform.runtime.run.smoke import smoke_test
    from mlform.specs.errors import MlformError
    from mlform.specs.read.source import key_path

    failed = []
    for path, resolved, _ in results:
        for spec in resolved:
            try:
                passed.append(f"smoke: {path} ({spec.env}): {smoke_test(spec)}")
            except MlformError as exc:
                key = getattr(exc, "key", None)  # the user function that failed, at its value; else the model
                mark = spec.document.mark(key_path(key)) if key else (
                    spec.document.keys.get(("model",)) or spec.document.mark(("model",)))
                failed.append(Diagnostic(str(path), mark.line, mark.col, key or "model",
                                         f"smoke ({spec.env}): {exc}"))
    return failed


@click.command()
@specs_argument
@env_option
@policy_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="`text` for people, `json` (with `format_version`) for tools, `github` for workflow "
                   "annotations on the spec's lines in a pull request.")
@click.option("--smoke", is_flag=True,
              help="Also fit each valid spec's whole pipeline on a 200-row sample and predict once (writes nothing).")
def validate(specs: tuple[Path, ...], env: str | None, policy: Path | None, fmt: str, smoke: bool) -> None:
    """Validate SPECS (files or directories) and, without --env, every environment they declare.

    Each resolved spec is also checked against the organisation policy, if there is one, and no two spec
    files may name their pipeline alike (`metadata.name`): their generated files would overwrite each other.
    Columns the spec names are checked against the header of file sources that exist.

    Exit status: 0 when every spec is valid and breaks no policy rule of severity `error` (warnings are
    printed, not counted); 1 otherwise, after reporting every error at once. With --smoke, a spec that
    cannot train on a sample of its data also fails.
    """
    from mlform.compiler.cli import Session

    session = click.get_current_context().find_object(Session)
    # importing and building the spec models makes no garbage worth a collection
    with collection_paused(freeze=session is not None and session.console):
        from mlform.specs import validate_file
        from mlform.specs.check.names import duplicate_names
        from mlform.specs.loader import read_spec_document

        loaded, diagnostics = _policy(policy)
        results = []
        for path in spec_files(specs):
            resolved, found = validate_file(path, [env] if env else None)
            if loaded is not None:
                from mlform.specs.check.policy_check import check_policy  # its rules load only with a policy

                found = sorted({*found, *check_policy(loaded, resolved)})
            results.append((path, resolved, found))
        # a file with other errors still claims its name
        documents = [resolved[0].document if resolved else read_spec_document(path) for path, resolved, _ in results]
        clashes = duplicate_names(doc for doc in documents if doc is not None)
        summaries = []
        for path, resolved, found in results:
            found = sorted({*found, *(d for d in clashes if d.file == str(path))})
            diagnostics.extend(found)
            if not any(d.severity == "error" for d in found):
                envs = ", ".join(s.env for s in resolved)
                summaries.append(f"ok: {path} ({envs})")
    valid = [r for r in results if not any(d.severity == "error" for d in r[2])]
    if smoke:
        failed = _smoke(valid, summaries)
        summaries = [line for line in summaries if not any(line.startswith(f"ok: {d.file} (") for d in failed)]
        diagnostics.extend(failed)
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
