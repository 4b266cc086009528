"""`mlform graph`: the step graph with fingerprints, as text, Mermaid, dot or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlform.compiler.graph.graphviews import FORMATS

from .common import env_option, spec_files, specs_argument


@click.command()
@specs_argument
@env_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="`text` for people, `mermaid` for Markdown (GitHub draws it), `dot` for Graphviz, `json` for "
                   "tools.")
def graph(specs: tuple[Path, ...], env: str | None, fmt: str) -> None:
    """Show the step graph of SPECS with the fingerprints a run would use now (Mermaid renders in GitHub Markdown).

    `graph` runs no query: a step resting on a `sql` source shows that source and how `plan` measures it instead.
    """
    from mlform.compiler.graph.graphviews import graph_data, render_graph
    from mlform.compiler.graph.stepgraph import view
    from mlform.runtime.run.preview import current_graph
    from mlform.specs import load_spec

    resolved = [load_spec(path, env) for path in spec_files(specs)]
    graphs = [view(spec, current_graph(spec)) for spec in resolved]
    if fmt == "json":
        payload = [graph_data(g) for g in graphs]
        click.echo(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2, sort_keys=True))
        return
    click.echo("\n\n".join(render_graph(g, fmt) for g in graphs))
