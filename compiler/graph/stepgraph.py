"""The step graph: a networkx DiGraph of step IDs; payloads stay in one mapping beside it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from mlform.specs import GraphError, ResolvedSpec
from mlform.specs.graph.fingerprint import StatCache, step_fingerprints
from mlform.specs.graph.steps import Step, spec_steps

__all__ = ["StepGraph", "build_graph", "check_dag"]


@dataclass(frozen=True)
class StepGraph:
    """The DAG of one resolved spec: `graph` holds IDs, `steps` the payloads, `fingerprints` their hashes."""

    spec: ResolvedSpec
    graph: nx.DiGraph
    steps: Mapping[str, Step]
    fingerprints: Mapping[str, str]

    def order(self) -> list[str]:
        """Step IDs in a topological order that is stable across runs (ties broken by ID)."""
        return list(nx.lexicographical_topological_sort(self.graph))


def check_dag(steps: Mapping[str, Step]) -> nx.DiGraph:
    """Build the DiGraph of `steps`; raise GraphError naming a missing dependency or the cycle's path."""
    graph = nx.DiGraph()
    graph.add_nodes_from(steps)
    missing = []
    for step_id, step in steps.items():
        for need in step.needs:
            if need not in steps:
                missing.append(f"step `{step_id}` needs `{need}`, which does not exist")
            graph.add_edge(need, step_id)
    if missing:
        raise GraphError("; ".join(missing))
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    path = " --> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
    raise GraphError(f"steps form a cycle: {path}")


def build_graph(spec: ResolvedSpec, cache: StatCache | None = None) -> StepGraph:
    """The step graph of `spec` with each step's fingerprint."""
    steps = spec_steps(spec)
    graph = check_dag(steps)
    stat = cache or StatCache()
    ordered = {step_id: steps[step_id] for step_id in nx.lexicographical_topological_sort(graph)}
    return StepGraph(spec, graph, ordered, step_fingerprints(ordered, stat.digest))
