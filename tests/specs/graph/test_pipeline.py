"""The one step graph: dependency and cycle checks, its stable order, and one derivation per graph."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlform.specs import GraphError, load_spec
from mlform.specs.graph.pipeline import PipelineGraph, check_steps, derive_graph
from mlform.specs.graph.steps import Step


def _step(step_id: str, *needs: str) -> Step:
    return Step(step_id, "test", needs, {})


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ({"a": _step("a", "b"), "b": _step("b", "a")}, "steps form a cycle: a --> b --> a"),
        ({"a": _step("a", "a")}, "steps form a cycle: a --> a"),
        ({"a": _step("a"), "b": _step("b", "a", "c"), "c": _step("c", "b")}, "steps form a cycle: b --> c --> b"),
        ({"train": _step("train", "split")}, "step `train` needs `split`, which does not exist"),
        ({"t": _step("t", "x", "y"), "u": _step("u")},
         "step `t` needs `x`, which does not exist; step `t` needs `y`, which does not exist"),
    ],
)
def test_cycles_and_missing_dependencies_are_named(steps: dict[str, Step], message: str) -> None:
    with pytest.raises(GraphError) as caught:
        check_steps(steps)
    assert str(caught.value) == message


def test_a_dag_has_an_edge_from_each_dependency() -> None:
    edges = check_steps({"a": _step("a"), "b": _step("b", "a"), "c": _step("c", "a", "b")})
    assert sorted(edges) == [("a", "b"), ("a", "c"), ("b", "c")]


@st.composite
def _dags(draw: st.DrawFn) -> dict[str, Step]:
    names = draw(st.lists(st.text("abcdefgh.", min_size=1, max_size=4), min_size=1, max_size=9, unique=True))
    return {name: _step(name, *draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else ())
            for index, name in enumerate(names)}


@given(_dags())
def test_the_stable_order_is_networkx_lexicographic_topological_order(steps: dict[str, Step]) -> None:
    edges = check_steps(steps)
    graph = PipelineGraph(steps, tuple(sorted(edges)), {}, {})
    reference = nx.DiGraph()
    reference.add_nodes_from(steps)
    reference.add_edges_from(edges)
    assert graph.stable_order() == list(nx.lexicographical_topological_sort(reference))


def test_each_file_is_digested_once_and_kept_with_the_graph(iris_project: Path) -> None:
    spec = load_spec(iris_project, "prod")
    asked: list[Path] = []

    def digest(path: Path) -> str:
        asked.append(path)
        return f"sha256:{path.name}"

    graph = derive_graph(spec, digest)
    reads = [path for step in graph.steps.values() for path in step.reads]
    assert sorted(asked) == sorted(set(reads))
    assert dict(graph.data) == {path: f"sha256:{path.name}" for path in reads}
    assert list(graph.fingerprints) == graph.ids
    with pytest.raises(TypeError):
        graph.steps["train"] = graph.steps["split"]  # type: ignore[index]
