"""`mlform diff`: how the generated artifacts differ between two git refs, compared by meaning."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlform.compiler.diff.diffviews import FORMATS


def _repo_path(root: Path, path: Path) -> str:
    """`path` (relative to the working directory) as a POSIX path relative to the repository root."""
    relative = Path(os.path.relpath(path.resolve(), root))
    if relative.parts[:1] == ("..",):
        raise click.UsageError(f"`{path}` is outside the git repository")
    return relative.as_posix()


@click.command("diff")
@click.argument("specs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--base", metavar="REF", default=None,
              help="Git ref to compare from (default: `origin/main`, else `main`, else `HEAD`; "
                   "`origin/$GITHUB_BASE_REF` first when that is set).")
@click.option("--head", metavar="REF", default=None, help="Git ref to compare to (default: the working tree).")
@click.option("--env", "-e", "env", default=None, metavar="ENV",
              help="Compare only this environment (default: every environment of each spec).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="`text` for people, `markdown` for pull-request comments, `json` (with `format_version`) for "
                   "tools.")
@click.option("--exit-code", is_flag=True, help="Exit 2 when there are differences, like `git diff --exit-code`.")
def diff(specs: tuple[Path, ...], base: str | None, head: str | None, env: str | None, fmt: str,
         exit_code: bool) -> None:
    """Compile SPECS at two git refs and show how the generated artifacts differ, by meaning.

    \b
    SPECS: spec files or folders, as paths in the working tree
    (default: every spec at either ref). Specs are read from git
    objects, never checked out; the working tree is the default head.
    \b
    Kubernetes objects compare field by field, keyed by
    kind/namespace/name; workflows by trigger, permission, job and
    step; Airflow DAGs by task, edge, schedule and retries;
    Dockerfiles by instruction. A file that differs only in its
    provenance header or spec digest references is header-only.
    """
    from mlform.compiler.diff.compare import diff_sides
    from mlform.compiler.diff.diffviews import render_diff
    from mlform.compiler.diff.gitrefs import default_base, repo_root, side

    root = repo_root(Path.cwd())
    selection = [_repo_path(root, path) for path in specs]
    result = diff_sides(root, side(root, base) if base else default_base(root), side(root, head), selection, env)
    click.echo(render_diff(result, fmt))
    if exit_code and result.has_changes:
        raise SystemExit(2)
