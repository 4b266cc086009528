"""`mlform card`: the model card of a registered version, as Markdown, self-contained HTML or JSON."""

from __future__ import annotations

from pathlib import Path

import click

from .common import env_option

__all__ = ["FORMATS", "card"]

FORMATS = ("markdown", "html", "json")


@click.command()
@click.argument("target", metavar="MODEL@VERSION|MODEL@ALIAS|SPEC")
@env_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="`markdown` for the repository and pull-request comments, `html` for one self-contained page "
                   "with SVG plots, `json` (with `format_version`) for tools.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE",
              help="Write the card to FILE (atomically) instead of printing it.")
@click.option("--registry", "registry_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Registry folder (default: SPEC's; for MODEL@REF, the state folder here).")
@click.option("--templates", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              metavar="DIR", help="Folder of templates that replace built-in ones by name (`card/card.md.j2`).")
@click.option("--promotion", is_flag=True,
              help="With SPEC: only the card of the version `registry.production` pins, when the registry's "
                   "`production` alias holds another; nothing otherwise, and a note when it is not in the registry.")
def card(target: str, env: str | None, fmt: str, output: Path | None, registry_dir: Path | None,
         templates: Path | None, promotion: bool) -> None:
    """Render the model card of a registered version: owners, intended use, data, validation, params, metrics
    against gates, champion, drift since deployment, lineage and the environments that serve it.

    TARGET is MODEL@VERSION or MODEL@ALIAS, whose spec is found through the version's lineage (`--env` then picks
    its environment; default: the one it was trained in), or a spec file or folder: the version its environment
    pins (`registry.production`), else the one at `registry.promote_to`, else the latest.
    """
    from mlform.compiler.governance import card as cards
    from mlform.compiler.governance.cardviews import render_card, render_note
    from mlform.specs import load_spec

    from .common import spec_files

    path = Path(target)
    spec = load_spec(spec_files((path,))[0], env) if path.exists() else None
    if not promotion:
        subject = cards.for_spec(spec, registry_dir) if spec else cards.for_model(target, env, registry_dir)
    elif spec is None:
        raise click.UsageError(f"`--promotion` needs a SPEC; `{target}` is not a spec file or folder")
    else:
        try:
            found = cards.promotion(spec, registry_dir)
        except cards.VersionUnreachableError as exc:
            _emit(render_note(str(exc), fmt), output)
            return
        if found is None:
            return
        subject = found
    _emit(render_card(cards.gather(subject), fmt, templates), output)


def _emit(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` atomically."""
    if output is None:
        click.echo(text, nl=False)
        return
    from mlform.specs.fsutil import write_atomic

    write_atomic(output, text)
    click.echo(f"Wrote the model card to {output}.", err=True)
