"""Render a step graph as text, Mermaid, Graphviz dot or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time this module stays light, so `mlform graph --help` imports no networkx
    from .stepgraph import StepGraph

__all__ = ["FORMATS", "graph_data", "render_graph"]

FORMATS = ("text", "mermaid", "dot", "json")


def _fingerprints(g: StepGraph) -> dict[str, str | None]:
    """Each step's fingerprint; None where it rests on a `sql` source that was not queried."""
    unknown = g.pipeline.unknown()
    return {step_id: None if step_id in unknown else fingerprint for step_id, fingerprint in g.fingerprints.items()}


def _text(g: StepGraph) -> str:
    lines = [f"{g.spec.name} ({g.spec.env}): {len(g.steps)} steps"]
    fingerprints = _fingerprints(g)
    for step_id in g.steps:
        needs = ", ".join(g.steps[step_id].needs) or "-"
        lines.append(f"  {step_id:<20} needs {needs:<40} {(fingerprints[step_id] or 'unknown')[:12]}")
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
    """The graph as JSON-ready data; a fingerprint resting on an unqueried `sql` source is null."""
    fingerprints = _fingerprints(g)
    return {
        "name": g.spec.name,
        "env": g.spec.env,
        "spec": g.spec.display,
        "spec_digest": g.spec.digest,
        "steps": [
            {"id": s, "kind": step.kind, "needs": list(step.needs), "fingerprint": fingerprints[s]}
            for s, step in g.steps.items()
        ],
        "edges": [list(edge) for edge in sorted(g.graph.edges)],
    }


def render_graph(g: StepGraph, fmt: str) -> str:
    """The graph in format `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(graph_data(g), indent=2, sort_keys=True)
    return {"text": _text, "mermaid": _mermaid, "dot": _dot}[fmt](g)
