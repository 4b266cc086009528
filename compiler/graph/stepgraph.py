"""The compiler's view of a `PipelineGraph`: a networkx DiGraph of its edges, steps in the stable topological order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx

from mlform.specs import ResolvedSpec
from mlform.specs.graph.fingerprint import StatCache
from mlform.specs.graph.pipeline import PipelineGraph, derive_graph
from mlform.specs.graph.steps import Step

__all__ = ["StepGraph", "build_graph", "view"]


@dataclass(frozen=True)
class StepGraph:
    """What targets and drawings read: `graph` holds the IDs and edges, `steps` the payloads, `fingerprints`
    their hashes, all of them taken from `pipeline`, the one derived graph."""

    spec: ResolvedSpec
    graph: nx.DiGraph
    steps: Mapping[str, Step]
    fingerprints: Mapping[str, str]
    pipeline: PipelineGraph

    def order(self) -> list[str]:
        """Step IDs in a topological order that is stable across runs (ties broken by ID)."""
        return list(self.steps)


def view(spec: ResolvedSpec, pipeline: PipelineGraph) -> StepGraph:
    """The compiler's view of `pipeline`, the graph derived from `spec`."""
    graph = nx.DiGraph()
    graph.add_nodes_from(pipeline.steps)
    graph.add_edges_from(pipeline.edges)
    order = pipeline.stable_order()
    return StepGraph(spec, graph, {s: pipeline.steps[s] for s in order},
                     {s: pipeline.fingerprints[s] for s in order}, pipeline)


def build_graph(spec: ResolvedSpec, cache: StatCache | None = None) -> StepGraph:
    """The graph of `spec` with data files digested through `cache`, for a compile that runs nothing."""
    return view(spec, derive_graph(spec, (cache or StatCache()).digest))
