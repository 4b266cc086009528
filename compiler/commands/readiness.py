"""`mlform readiness`: the ML Test Score's 28 tests, which the spec enforces, and the score."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import env_option, spec_files, specs_argument

if TYPE_CHECKING:
    from mlform.specs.check.readiness import Readiness

__all__ = ["readiness"]


def _assessed(paths: list[Path], env: str | None, shown_as: str | None = None) -> list[Readiness]:
    """Every environment of every spec file (only `env` when given), assessed; SpecError on invalid specs."""
    from dataclasses import replace

    from mlform.specs import SpecError, validate_file
    from mlform.specs.check.readiness import assess

    found = []
    for path in paths:
        resolved, diagnostics = validate_file(path, [env] if env else None)
        if any(d.severity == "error" for d in diagnostics):
            raise SpecError(diagnostics)
        found += [replace(assess(spec), spec=shown_as or spec.display) for spec in resolved]
    return found


def _at_base(paths: list[Path], env: str | None, ref: str) -> dict[tuple[str, str], Readiness]:
    """The readiness of the same spec files at git `ref`, by spec and environment (absent ones skipped)."""
    from mlform.compiler.diff.gitrefs import materialize, repo_root, side
    from mlform.specs import SpecError

    root = repo_root(paths[0].resolve().parent)
    with tempfile.TemporaryDirectory(prefix="mlform-readiness-") as tmp:
        dest = Path(tmp)
        materialize(root, side(root, ref), (), dest)
        found: dict[tuple[str, str], Readiness] = {}
        for path in paths:
            copy = dest / path.resolve().relative_to(root)
            if not copy.is_file():
                continue
            try:
                items = _assessed([copy], env, str(path))
            except SpecError:  # the base's spec was invalid or lacks the environment: nothing to compare with
                continue
            found.update({(item.spec, item.env): item for item in items})
    return found


@click.command()
@specs_argument
@env_option
@click.option("--format", "fmt", type=click.Choice(("text", "json", "markdown")), default="text", show_default=True,
              help="`text` for people, `json` (with `format_version`) for tools, `markdown` for pull-request "
                   "comments.")
@click.option("--base", "base", default=None, metavar="REF",
              help="Also say what changed since the specs at git REF (e.g. `origin/main`).")
def readiness(specs: tuple[Path, ...], env: str | None, fmt: str, base: str | None) -> None:
    """Score SPECS against the ML Test Score (Breck et al. 2017): its 28 tests in the paper's order, each
    `enforced` (the spec turns it on and mlform checks it), `partial` (what is missing) or `off` (the spec
    line that would turn it on). Without --env, every environment of each spec.
    """
    from mlform.compiler.governance.readinessviews import render_readiness

    paths = spec_files(specs)
    items = _assessed(paths, env)
    before = _at_base(paths, env, base) if base else None
    click.echo(render_readiness(items, fmt, before))
