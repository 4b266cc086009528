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
                                "fingerprint": minimal_graph.fingerprints["ingest.train"], "unqueried": []}
    assert data["edges"] == [list(edge) for edge in sorted(minimal_graph.graph.edges)]
    assert set(FORMATS) == {"text", "mermaid", "dot", "json"}



def _query_project(root: Path, live: str, current: str = "live", log: str = "") -> Path:
    """The minimal spec with a `live` source given as flow YAML, monitoring `current`, its files in `root`."""
    (root / "train.csv").write_text("a,y\n1,0\n2,1\n")
    spec = root / "mlform.yaml"
    sources = f"{{train: {{type: csv, path: train.csv}}, live: {live}}}\n  train_source: train"
    spec.write_text(MINIMAL.replace("{train: {type: csv, path: train.csv}}", sources)
                    + "secrets: {wh: {env: WAREHOUSE_URL}}\n"
                    + f"serving: {{mode: online{log}}}\n"
                    + f"monitoring: {{schedule: '@daily', reference: train, current: {current}, "
                      "drift: {method: psi}}\n")
    return spec


def _shown(run_mlform: Any, spec: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """`mlform graph`'s last text column and JSON step per step ID."""
    text = run_mlform("graph", spec)
    assert text.code == 0, text.err
    rows = {line.split()[0]: line[70:] for line in text.out.splitlines()[1:]}
    steps = {s["id"]: s for s in json.loads(run_mlform("graph", spec, "--format", "json").out)["steps"]}
    return rows, steps


SQL = "{type: sql, url: {secret: wh}, table: recent"


@pytest.mark.parametrize(("live", "mode"), [
    (SQL + "}", "statistic"),
    (SQL + ", statistic: 'SELECT count(*) FROM recent'}", "statistic"),
    (SQL + ", fingerprint: result}", "result"),
])
def test_graph_names_the_sql_source_a_step_rests_on_and_how_plan_measures_it(
        tmp_path: Path, run_mlform: Any, live: str, mode: str) -> None:
    spec = _query_project(tmp_path, live)
    rows, steps = _shown(run_mlform, spec)
    resting = ("ingest.live", "monitor")
    assert {s: rows[s] for s in resting} == dict.fromkeys(resting, f"sql:live (fingerprint: {mode}), queried by plan")
    assert {s: (steps[s]["fingerprint"], steps[s]["unqueried"]) for s in resting} == dict.fromkeys(
        resting, (None, [{"data": "sql:live", "by": mode}]))
    known = build_graph(load_spec(spec), StatCache()).fingerprints
    assert {s: (rows[s], steps[s]["fingerprint"], steps[s]["unqueried"]) for s in steps if s not in resting} == {
        s: (known[s][:12], known[s], []) for s in known if s not in resting}


def test_graph_names_the_serving_log_in_the_backend_the_monitor_rests_on(tmp_path: Path, run_mlform: Any) -> None:
    log = ", log: {sample: 1.0, sink: backend}"
    spec = _query_project(tmp_path, "{type: csv, path: train.csv}", "serving_log", log)
    rows, steps = _shown(run_mlform, spec)
    assert rows["monitor"] == "serving_log:backend (fingerprint: listing), queried by plan"
    assert (steps["monitor"]["fingerprint"], steps["monitor"]["unqueried"]) == (
        None, [{"data": "serving_log:backend", "by": "listing"}])
    assert [s for s in steps if steps[s]["fingerprint"] is None] == ["monitor"]
