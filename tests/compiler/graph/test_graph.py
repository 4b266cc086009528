"""The compiler's step graph: stable order, fingerprints, renderings, and stability under key reordering."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlform.compiler.graph.graphviews import FORMATS, graph_data, render_graph
from mlform.compiler.graph.stepgraph import StepGraph, build_graph
from mlform.specs import load_spec
from mlform.specs.graph.fingerprint import StatCache

IRIS_ORDER = ["ingest.live", "ingest.train", "validate.train", "split", "train", "evaluate", "register", "monitor",
              "serve"]


def _graph(spec_path: Path, env: str | None = None) -> StepGraph:
    return build_graph(load_spec(spec_path, env), StatCache())


def test_iris_steps_come_in_a_stable_topological_order(iris_project: Path) -> None:
    graph = _graph(iris_project, "prod")
    assert graph.order() == IRIS_ORDER
    assert list(graph.steps) == IRIS_ORDER
    assert list(graph.fingerprints) == IRIS_ORDER
    assert graph.steps["monitor"].needs == ("register", "ingest.train", "ingest.live")
    assert graph.steps["evaluate"].needs == ("train", "split")


def test_optional_steps_follow_optional_sections(iris_project: Path) -> None:
    text = iris_project.read_text()
    text = text.split("\nserving:")[0] + "\ntargets:" + text.split("\ntargets:")[1]
    text = text.split("\nenvironments:")[0] + "\n"
    iris_project.write_text(text)
    assert _graph(iris_project).order() == ["ingest.live", "ingest.train", "validate.train", "split", "train",
                                            "evaluate", "register"]


def _changed(before: StepGraph, after: StepGraph) -> set[str]:
    return {s for s in before.fingerprints if before.fingerprints[s] != after.fingerprints[s]}


def test_a_config_change_reaches_the_step_and_everything_downstream(iris_project: Path) -> None:
    before = _graph(iris_project)
    iris_project.write_text(iris_project.read_text().replace("n_estimators: 100", "n_estimators: 101"))
    assert _changed(before, _graph(iris_project)) == {"train", "evaluate", "register", "serve", "monitor"}


def test_a_data_change_reaches_its_ingest_step_and_everything_downstream(iris_project: Path) -> None:
    before = _graph(iris_project)
    data = iris_project.parent / "data" / "iris.csv"
    data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")
    assert _changed(before, _graph(iris_project)) == set(IRIS_ORDER) - {"ingest.live"}


def test_environments_fingerprint_differently_where_they_differ(iris_project: Path) -> None:
    changed = _changed(_graph(iris_project), _graph(iris_project, "dev"))
    assert changed == {"train", "evaluate", "register", "serve", "monitor"}


def test_reformatting_the_yaml_changes_no_fingerprint(iris_project: Path) -> None:
    before = _graph(iris_project)
    data = yaml.safe_load(iris_project.read_text())
    iris_project.write_text("# rewritten in flow style\n" + yaml.safe_dump(data, default_flow_style=True, width=60))
    assert _graph(iris_project).fingerprints == before.fingerprints


def _shuffled(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        keys = list(node)
        rng.shuffle(keys)
        return {key: _shuffled(node[key], rng) for key in keys}
    if isinstance(node, list):
        return [_shuffled(item, rng) for item in node]
    return node


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), env=st.sampled_from([None, "dev", "prod"]))
def test_graph_is_acyclic_and_stable_under_key_reordering(iris_project: Path, seed: int, env: str | None) -> None:
    baseline = _graph(iris_project, env)
    data = yaml.safe_load(iris_project.read_text())
    reordered = iris_project.with_name("reordered.yaml")
    reordered.write_text(yaml.safe_dump(_shuffled(data, random.Random(seed)), sort_keys=False))

    graph = _graph(reordered, env)

    assert nx.is_directed_acyclic_graph(graph.graph)
    assert graph.order() == baseline.order()
    assert list(graph.steps) == list(baseline.steps)
    assert dict(graph.fingerprints) == dict(baseline.fingerprints)


MINIMAL = """\
apiVersion: mlform/v1
kind: Pipeline
metadata: {name: demo}
data:
  sources: {train: {type: csv, path: train.csv}}
  target: y
  features: [a]
model: {estimator: sklearn.linear_model.LogisticRegression}
evaluation: {metrics: [accuracy]}
registry: {model_name: demo}
"""


@pytest.fixture
def minimal_graph(tmp_path: Path) -> StepGraph:
    spec = tmp_path / "mlform.yaml"
    spec.write_text(MINIMAL)
    (tmp_path / "train.csv").write_text("a,y\n1,0\n")
    return _graph(spec)


def test_mermaid_rendering(minimal_graph: StepGraph) -> None:
    assert render_graph(minimal_graph, "mermaid") == "\n".join([
        "flowchart LR",
        '    n_ingest_train["ingest.train"]',
        '    n_validate_train["validate.train"]',
        '    n_split["split"]',
        '    n_train["train"]',
        '    n_evaluate["evaluate"]',
        '    n_register["register"]',
        "    n_evaluate --> n_register",
        "    n_ingest_train --> n_validate_train",
        "    n_split --> n_evaluate",
        "    n_split --> n_train",
        "    n_train --> n_evaluate",
        "    n_validate_train --> n_split",
    ])


def test_dot_rendering(minimal_graph: StepGraph) -> None:
    assert render_graph(minimal_graph, "dot") == "\n".join([
        'digraph "demo" {',
        "    rankdir=LR;",
        '    "ingest.train";', '    "validate.train";', '    "split";', '    "train";', '    "evaluate";',
        '    "register";',
        '    "evaluate" -> "register";',
        '    "ingest.train" -> "validate.train";',
        '    "split" -> "evaluate";',
        '    "split" -> "train";',
        '    "train" -> "evaluate";',
        '    "validate.train" -> "split";',
        "}",
    ])


def test_text_rendering_lists_steps_needs_and_short_fingerprints(minimal_graph: StepGraph) -> None:
    lines = render_graph(minimal_graph, "text").splitlines()
    assert lines[0] == "demo (default): 6 steps"
    assert [line.split()[0] for line in lines[1:]] == list(minimal_graph.steps)
    assert lines[5].split()[1:3] == ["needs", "train,"]
    assert lines[5].split()[-1] == minimal_graph.fingerprints["evaluate"][:12]


def test_json_rendering_carries_the_whole_graph(minimal_graph: StepGraph) -> None:
    data = json.loads(render_graph(minimal_graph, "json"))
    assert data == graph_data(minimal_graph)
    assert (data["name"], data["env"], data["spec_digest"]) == ("demo", "default", minimal_graph.spec.digest)
    assert data["steps"][0] == {"id": "ingest.train", "kind": "ingest", "needs": [],
                                "fingerprint": minimal_graph.fingerprints["ingest.train"]}
    assert data["edges"] == [list(edge) for edge in sorted(minimal_graph.graph.edges)]
    assert set(FORMATS) == {"text", "mermaid", "dot", "json"}
