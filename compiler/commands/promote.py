"""`mlform promote`: pin the model version an environment serves, by editing its spec file in place."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import spec_files

if TYPE_CHECKING:
    from mlform.specs.loader import ResolvedSpec
    from mlform.specs.read.source import Document
    from mlform.specs.read.yamledit import Edit

__all__ = ["promote"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_PIN = ("registry", "production")


@click.command()
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.option("--env", "-e", "env", default=None, metavar="ENV",
              help="Environment whose pinned version to set (default: the base spec's `registry.production`).")
@click.option("--version", "version", type=int, required=True, metavar="N", help="Model version to serve.")
@click.option("--dry-run", is_flag=True, help="Print the change as a unified diff and write nothing.")
def promote(spec: Path, env: str | None, version: int, dry_run: bool) -> None:
    """Pin model version N for ENV in SPEC, editing the file in place; comments and formatting stay.

    Sets `environments.ENV.registry.production` (inserting the keys when missing); without --env, the base
    spec's `registry.production`, which every environment that pins no version of its own inherits. The
    edited spec must validate in every environment before it is written. Compile it (the generated files name its
    digest), commit it with them and open a pull request:
    `mlform plan` shows the promotion with its evidence and `mlform apply` performs it. Rolling back is the
    same: pin the previous version.
    """
    from mlform.specs.errors import SpecError
    from mlform.specs.fsutil import write_atomic
    from mlform.specs.loader import require_environment, validate_file
    from mlform.specs.read.overlays import BASE
    from mlform.specs.read.source import parse_document
    from mlform.specs.read.yamledit import lookup, set_value

    if version < 1:
        raise click.BadParameter(f"versions start at 1; got {version}", param_hint="'--version'")
    path = _one_spec(spec)
    display = str(path)
    raw = path.read_bytes()
    doc = parse_document(raw, display)
    env = BASE if env is None else env
    require_environment(doc, env)
    keys = _PIN if env == BASE else ("environments", env, *_PIN)
    dotted = ".".join(keys)
    current, present = lookup(doc.data, keys)
    if present and type(current) is int and current == version:
        mark = doc.values[keys]
        click.echo(f"{display}:{mark.line}:{mark.col}: {dotted} is already {version}; nothing to change")
        return
    edit = set_value(raw.decode("utf-8"), keys, version, display)
    edited = edit.text.encode("utf-8")
    specs, diagnostics = validate_file(path, raw=edited)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        click.echo(f"error: not promoted: {display} would not validate with `{dotted}: {version}`; "
                   "nothing was written", err=True)
        raise SpecError(errors)
    summary = f"{display}:{edit.line}:{edit.col}: {dotted}: {_shown(edit)} -> {version}{_rollback(edit, version)}"
    resolved = next(s for s in specs if s.env == env)
    if dry_run:
        click.echo(_diff(raw.decode("utf-8"), edit.text, display), nl=False)
        click.echo(f"{summary} (dry run: nothing written)")
    else:
        write_atomic(path.resolve(), edited)
        click.echo(summary)
        click.echo(f"next: {_next(display, '' if env == BASE else f' --env {env}', resolved)}")
    for note in _notes(doc, env, resolved, version):
        click.echo(f"note: {note}", err=True)


def _next(display: str, shown_env: str, resolved: ResolvedSpec) -> str:
    """What to do after the edit: regenerate the files naming the spec's digest (the pull request checks them)."""
    commit = (f"run `mlform compile {display}{shown_env}` and commit {display} with the files it regenerates"
              if any(target is not None for _, target in resolved.pipeline.targets) else f"commit {display}")
    return (f"{commit}, then open a pull request; `mlform plan {display}{shown_env}` shows the promotion with its "
            "evidence, and `mlform apply` performs it")


def _one_spec(spec: Path) -> Path:
    """The one spec file SPEC names; promote edits a single file."""
    files = spec_files((spec,))
    if len(files) > 1:
        shown = ", ".join(str(f) for f in files)
        raise click.UsageError(f"promote edits one spec file; {spec} holds {len(files)}: {shown}")
    return files[0]


def _shown(edit: Edit) -> str:
    return "unset" if edit.created else json.dumps(edit.old)


def _rollback(edit: Edit, version: int) -> str:
    old = edit.old
    return " (rollback)" if type(old) is int and version < old else ""


def _diff(before: str, after: str, display: str) -> str:
    """A unified diff of the file, git-style; a last line without a line break is marked as in git."""
    lines = difflib.unified_diff(_LINE.findall(before), _LINE.findall(after), f"a/{display}", f"b/{display}")
    return "".join(line if line.endswith(("\n", "\r")) else f"{line}\n\\ No newline at end of file\n"
                   for line in lines)


def _notes(doc: Document, env: str, spec: ResolvedSpec, version: int) -> list[str]:
    """Early feedback that changes nothing: environments that pin their own version, and the local registry."""
    from mlform.runtime.registry.models import registry_for
    from mlform.specs.errors import StateError
    from mlform.specs.read.overlays import BASE, environment_names
    from mlform.specs.read.yamledit import lookup

    notes = []
    if env == BASE:
        for name in environment_names(doc):
            pinned, present = lookup(doc.data, ("environments", name, *_PIN))
            if present and pinned is not None:
                notes.append(f"environment `{name}` pins its own version ({pinned}); this does not change it")
    registry = registry_for(spec)
    try:
        if registry.models():
            registry.resolve(spec.pipeline.registry.model_name, version)
    except StateError as exc:
        local = "local " if registry.root is not None else ""
        notes.append(f"{exc} in the {local}registry {registry.describe()}; `mlform plan` and `mlform apply` check "
                     "it for real")
    return notes
