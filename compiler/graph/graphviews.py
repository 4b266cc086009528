"""Render a step graph as text, Mermaid, Graphviz dot or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time this module stays light, so `mlform graph --help` imports no networkx
    from .stepgraph import StepGraph

__all__ = ["FORMATS", "graph_data", "render_graph"]

FORMATS = ("text", "mermaid", "dot", "json")


def _measured_by(g: StepGraph, pseudo: str) -> str:
    """How a plan measures the pseudo-file `pseudo`: a `sql` source by its `fingerprint` mode, a `python` source
    that reads no file by its result, the serving log in the state backend by listing its batches."""
    from mlform.specs.graph.steps import SINK_LOG, pseudo_source

    if pseudo == SINK_LOG:
        return "listing"
    source = g.spec.pipeline.data.sources[pseudo_source(pseudo) or ""]
    return getattr(source, "fingerprint", "result")


def _unqueried(g: StepGraph) -> dict[str, list[dict[str, str]]]:
    """Per step, the data its fingerprint rests on that `graph` does not query (`plan` does), and how it is measured."""
    rests = g.pipeline.unqueried()
    return {step_id: [{"data": path.name, "by": _measured_by(g, path.name)} for path in rests.get(step_id, ())]
            for step_id in g.steps}


def _text(g: StepGraph) -> str:
    lines = [f"{g.spec.name} ({g.spec.env}): {len(g.steps)} steps"]
    unqueried = _unqueried(g)
    for step_id in g.steps:
        needs = ", ".join(g.steps[step_id].needs) or "-"
        shown = "; ".join(f"{u['data']} (fingerprint: {u['by']})" for u in unqueried[step_id])
        shown = f"{shown}, queried by plan" if shown else g.fingerprints[step_id][:12]
        lines.append(f"  {step_id:<20} needs {needs:<40} {shown}")
    return "\n".join(lines)


def _node(step_id: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in step_id)


def _mermaid(g: StepGraph) -> str:
    lines = ["flowchart LR"]
    lines += [f'    {_node(s)}["{s}"]' for s in g.steps]
    lines += [f"    {_node(a)} --> {_node(b)}" for a, b in sorted(g.graph.edges)]
    return "\n".join(lines)


def _dot(g: StepGraph) -> str:
    lines = [f"digraph {json.dumps(g.spec.name)} {{", "    rankdir=LR;"]
    lines += [f"    {json.dumps(s)};" for s in g.steps]
    lines += [f"    {json.dumps(a)} -> {json.dumps(b)};" for a, b in sorted(g.graph.edges)]
    return "\n".join([*lines, "}"])


def graph_data(g: StepGraph) -> dict[str, object]:
    """The graph as JSON-ready data; a fingerprint resting on data `graph` does not query is null, and `unqueried`
    names that data and how `plan` measures it."""
    unqueried = _unqueried(g)
    return {
        "name": g.spec.name,
        "env": g.spec.env,
        "spec": g.spec.display,
        "spec_digest": g.spec.digest,
        "steps": [
            {"id": s, "kind": step.kind, "needs": list(step.needs),
             "fingerprint": None if unqueried[s] else g.fingerprints[s], "unqueried": unqueried[s]}
            for s, step in g.steps.items()
        ],
        "edges": [list(edge) for edge in sorted(g.graph.edges)],
    }


def render_graph(g: StepGraph, fmt: str) -> str:
    """The graph in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(graph_data(g), indent=2, sort_keys=True)
    return {"text": _text, "mermaid": _mermaid, "dot": _dot}[fmt](g)
