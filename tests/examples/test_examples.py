"""Every bundled example validates in every environment and resolves to an acyclic graph with monitoring."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from click.testing import CliRunner

from mlform.compiler.cli import cli
from mlform.specs import validate_file
from mlform.specs.read.overlays import BASE
from mlform.specs.read.source import read_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPECS = sorted(EXAMPLES.glob("*/mlform.yaml"))
CASES = [(spec, env) for spec in SPECS
         for env in [BASE, *(read_document(spec).data.get("environments") or {})]]


def _id(value: object) -> str:
    return value.parent.name if isinstance(value, Path) else str(value)


def test_both_examples_are_found() -> None:
    assert [spec.parent.name for spec in SPECS] == ["fraud-detection", "iris"]


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_example_validates_in_every_environment_without_diagnostics(spec: Path) -> None:
    declared = list(read_document(spec).data["environments"])
    specs, diagnostics = validate_file(spec)
    assert diagnostics == []
    assert [resolved.env for resolved in specs] == [BASE, *declared]


def test_validate_command_passes_on_the_examples_folder() -> None:
    result = CliRunner().invoke(cli, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert sorted(line.split(" ")[1] for line in result.stdout.splitlines()) == [str(spec) for spec in SPECS]


@pytest.mark.parametrize(("spec", "env"), CASES, ids=_id)
def test_graph_is_acyclic_and_monitors(spec: Path, env: str) -> None:
    result = CliRunner().invoke(cli, ["graph", str(spec), "--env", env, "--format", "json"])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.stdout)
    assert graph["env"] == env
    steps = {step["id"]: step for step in graph["steps"]}
    dag = nx.DiGraph()
    dag.add_nodes_from(steps)
    dag.add_edges_from(graph["edges"])
    assert nx.is_directed_acyclic_graph(dag)
    assert sorted(dag.edges) == sorted((need, step_id) for step_id, step in steps.items() for need in step["needs"])
    position = {step_id: index for index, step_id in enumerate(steps)}
    assert all(position[a] < position[b] for a, b in dag.edges), "steps are listed in dependency order"
    assert steps["monitor"]["kind"] == "monitor"
    assert {"register", "ingest.live"} <= set(steps["monitor"]["needs"])


@pytest.mark.parametrize("spec", SPECS, ids=_id)
def test_example_data_stays_small(spec: Path) -> None:
    size = sum(path.stat().st_size for path in (spec.parent / "data").rglob("*") if path.is_file())
    assert 0 < size < 1_000_000


def test_the_readme_shows_the_fraud_prod_readiness_the_command_prints() -> None:
    result = CliRunner().invoke(cli, ["readiness", str(EXAMPLES / "fraud-detection"), "--env", "prod",
                                      "--format", "markdown"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.replace(str(EXAMPLES / "fraud-detection" / "mlform.yaml"),
                                    "examples/fraud-detection/mlform.yaml").strip()
    assert printed in (EXAMPLES.parent / "README.md").read_text()
