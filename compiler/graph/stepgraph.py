"""The compiler's view of a `PipelineGraph`: steps in the stable topological order, a networkx DiGraph on demand."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from mlform.specs import ResolvedSpec
from mlform.specs.graph.fingerprint import StatCache
from mlform.specs.graph.pipeline import PipelineGraph, derive_graph
from mlform.specs.graph.steps import Step

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["StepGraph", "build_graph", "view"]


@dataclass(frozen=True)
class StepGraph:
    """What targets and drawings read: `steps` the payloads, `fingerprints` their hashes, `graph` the IDs and
    edges, all of them taken from `pipeline`, the one derived graph."""

    spec: ResolvedSpec
    steps: Mapping[str, Step]
    fingerprints: Mapping[str, str]
    pipeline: PipelineGraph

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The steps and edges as a networkx DiGraph, built (and networkx imported) on first use."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.pipeline.steps)
        graph.add_edges_from(self.pipeline.edges)
        return graph

    def order(self) -> list[str]:
        """Step IDs in a topological order that is stable across runs (ties broken by ID)."""
        return list(self.steps)


def view(spec: ResolvedSpec, pipeline: PipelineGraph) -> StepGraph:
    """The compiler's view of `pipeline`, the graph derived from `spec`."""
    order = pipeline.stable_order()
    return StepGraph(spec, {s: pipeline.steps[s] for s in order},
                     {s: pipeline.fingerprints[s] for s in order}, pipeline)


def build_graph(spec: ResolvedSpec, cache: StatCache | None = None) -> StepGraph:
    """The graph of `spec` with data files digested through `cache`, for a compile that runs nothing."""
    return view(spec, derive_graph(spec, (cache or StatCache()).digest))
