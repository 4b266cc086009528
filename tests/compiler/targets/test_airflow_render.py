"""The Airflow DAG file as written, without Airflow: module values, tasks, edges and the monitoring DAG."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlform.compiler.artifacts.output import compile_specs
from mlform.compiler.graph.stepgraph import build_graph
from mlform.compiler.targets.airflow import airflow_literal
from mlform.specs import load_spec
from mlform.specs.errors import RenderError

from .conftest import Project, full_featured

MONITOR = 'mlform monitor "$MLFORM_SPEC" --env "$MLFORM_ENV"'


def _dag(project: Project, env: str, edit: Callable[[dict[str, Any]], None] | None = None, name: str = "iris",
         out: str | None = None) -> tuple[str, ast.Module]:
    spec = project.spec(name, edit=edit)
    build = compile_specs([spec], env, None if out is None else project.root / out, ["airflow"], cwd=project.root)
    [(path, text)] = build.files.items()
    return path, ast.parse(text)


def _values(tree: ast.Module) -> dict[str, ast.expr]:
    return {node.targets[0].id: node.value for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}


def _dags(tree: ast.Module) -> list[ast.With]:
    return [node for node in tree.body if isinstance(node, ast.With)]


def _keywords(dag: ast.With) -> dict[str, ast.expr]:
    call = dag.items[0].context_expr
    assert isinstance(call, ast.Call)
    return {k.arg: k.value for k in call.keywords if k.arg is not None}


def _call(node: ast.expr) -> tuple[list[Any], dict[str, Any]]:
    assert isinstance(node, ast.Call)
    return [ast.literal_eval(a) for a in node.args], {k.arg: ast.literal_eval(k.value) for k in node.keywords}


def _steps_order(project: Project, env: str) -> list[str]:
    graph = build_graph(load_spec(project.root / "models" / "iris" / "mlform.yaml", env))
    return [step for step in graph.order() if step != "monitor"]


@pytest.mark.parametrize(("out", "root"), [(None, "../../../.."), ("gen", "../../../../.."),
                                           ("gen/dags", "../../../../../..")])
def test_bash_tasks_run_mlform_from_the_project_root(project: Project, out: str | None, root: str) -> None:
    path, tree = _dag(project, "dev", out=out)
    assert path == "deploy/iris/dev/airflow/mlform_iris_dev.py"
    values = _values(tree)
    assert ast.literal_eval(values["DAG_ID"]) == "mlform-iris-dev"
    assert ast.literal_eval(values["STEP_ENV"]) == {"MLFORM_SPEC": "models/iris/mlform.yaml", "MLFORM_ENV": "dev"}
    assert ast.literal_eval(values["RUN_STEP"]) == 'mlform run "$MLFORM_SPEC" --env "$MLFORM_ENV" --step "$MLFORM_STEP"'
    fallback = values["PROJECT_ROOT"]
    assert isinstance(fallback, ast.BoolOp)
    assert ast.unparse(fallback.values[1]) == (
        f"str((pathlib.Path(__file__).resolve().parent / {root!r}).resolve())")
    default_args = values["DEFAULT_ARGS"]
    assert isinstance(default_args, ast.Dict)
    assert [ast.literal_eval(v) for v in default_args.values[:2]] == ["ml-platform@example.com", 1]
    assert ast.unparse(default_args.values[2]) == "datetime.timedelta(minutes=5)"


def test_every_step_but_monitor_is_a_task_wired_as_the_graph(project: Project) -> None:
    _, tree = _dag(project, "prod")
    training = _dags(tree)[0]
    [steps] = [n.value for n in training.body if isinstance(n, ast.Assign)]
    assert isinstance(steps, ast.Dict)
    order = _steps_order(project, "prod")
    assert [ast.literal_eval(k) for k in steps.keys if k is not None] == order
    assert [_call(v) for v in steps.values] == [([step, {"MLFORM_STEP": step}], {}) for step in order]
    graph = build_graph(load_spec(project.root / "models" / "iris" / "mlform.yaml", "prod"))
    edges = sorted({(a, b) for a, b in graph.pipeline.edges if a in order and b in order})
    wired = [(ast.literal_eval(n.value.left.slice), ast.literal_eval(n.value.right.slice))  # type: ignore[attr-defined]
             for n in training.body if isinstance(n, ast.Expr)]
    assert wired == edges and len(edges) >= len(order) - 1
    keywords = _keywords(training)
    assert ast.literal_eval(keywords["schedule"]) == "@weekly"
    assert ast.literal_eval(keywords["tags"]) == ["mlform", "iris", "prod"]
    assert ast.literal_eval(keywords["description"]) == (
        "Classifies iris flowers into three species from four measurements.")


@pytest.mark.parametrize(("env", "policy", "command", "branch"), [
    ("dev", "alert", MONITOR, False),
    ("prod", "retrain",
     f'{MONITOR} && echo ok || {{ status=$?; [ "$status" -eq 3 ] && echo breach || exit "$status"; }}', True),
])
def test_the_monitoring_dag_routes_a_breach_by_policy(project: Project, env: str, policy: str, command: str,
                                                      branch: bool) -> None:
    _, tree = _dag(project, env)
    training, monitoring = _dags(tree)
    keywords = _keywords(monitoring)
    assert ast.literal_eval(keywords["dag_id"]) == f"mlform-iris-{env}-monitor"
    assert ast.literal_eval(keywords["schedule"]) == "0 6 * * *"
    assert ast.literal_eval(keywords["description"]) == (
        f"Drift and performance monitoring of iris ({env}); on breach: {policy}")
    monitor = monitoring.body[0]
    assert isinstance(monitor, ast.Assign)
    assert _call(monitor.value) == (["monitor", {}], {"bash_command": command})
    assert (len(monitoring.body) > 1) is branch
    assert any(isinstance(n, ast.FunctionDef) and n.name == "_route" for n in tree.body) is branch


def test_without_monitoring_there_is_one_dag(project: Project) -> None:
    _, tree = _dag(project, "dev", edit=lambda d: d.pop("monitoring"))
    assert len(_dags(tree)) == 1


@pytest.mark.parametrize(("owners", "owner", "description"), [
    ([], "mlform", "mlform pipeline my-iris (dev)"),
    (["ana@example.com", "bo@example.com"], "ana@example.com, bo@example.com", "Iris, for the team"),
])
def test_the_spec_names_the_dag_its_owner_and_its_file(project: Project, owners: list[str], owner: str,
                                                       description: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["metadata"]["owners"] = owners
        doc["metadata"].pop("description", None)
        if owners:
            doc["metadata"]["description"] = description
        doc["targets"]["airflow"].update(retries=3, retry_delay_minutes=7)

    path, tree = _dag(project, "dev", edit=edit, name="my-iris")
    assert path == "deploy/my-iris/dev/airflow/mlform_my_iris_dev.py"
    default_args = _values(tree)["DEFAULT_ARGS"]
    assert isinstance(default_args, ast.Dict)
    assert [ast.literal_eval(v) for v in default_args.values[:2]] == [owner, 3]
    assert ast.unparse(default_args.values[2]) == "datetime.timedelta(minutes=7)"
    assert ast.literal_eval(_keywords(_dags(tree)[0])["description"]) == description


def test_pod_tasks_run_the_training_image_in_the_namespace(project: Project) -> None:
    _, tree = _dag(project, "prod", edit=full_featured, name="full")
    values = _values(tree)
    # the image holds the spec's folder as its working directory
    assert ast.literal_eval(values["STEP_ENV"]) == {"MLFORM_SPEC": "mlform.yaml", "MLFORM_ENV": "prod"}
    [step_function] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_step"]
    assert "namespace='ml-prod'" in ast.unparse(step_function)
    training, monitoring = _dags(tree)
    [steps] = [n.value for n in training.body if isinstance(n, ast.Assign)]
    assert isinstance(steps, ast.Dict)
    first = _call(steps.values[0])
    image = first[1]["image"]
    assert re.fullmatch(r"ghcr\.io/example/iris:train-prod-[0-9a-f]{12}", image)
    step = first[0][0]
    assert first == ([step, {}], {"image": image, "arguments": ["run", "mlform.yaml", "--env", "prod",
                                                               "--step", step]})
    monitor = monitoring.body[0]
    assert isinstance(monitor, ast.Assign)
    args, kwargs = _call(monitor.value)
    assert (args, kwargs["image"], kwargs["do_xcom_push"], kwargs["cmds"][:2]) == (
        ["monitor", {}], image, True, ["/bin/sh", "-c"])
    assert kwargs["cmds"][2].endswith("> /airflow/xcom/return.json")


def test_bash_tasks_outside_the_project_need_its_root(project: Project, tmp_path: Path) -> None:
    spec = project.spec()
    with pytest.raises(RenderError) as raised:
        compile_specs([spec], "dev", tmp_path / "elsewhere", ["airflow"], cwd=project.root)
    assert str(raised.value) == (
        "`targets.airflow.operator: bash` runs from the project root: `--out` must lie inside the project, "
        "or set `targets.airflow.project_root`")


def test_no_dag_without_the_target(project: Project) -> None:
    spec = project.spec(edit=lambda d: d["targets"].pop("airflow"))
    assert compile_specs([spec], "dev", None, ["airflow"], cwd=project.root).files == {}


@pytest.mark.parametrize(("value", "literal"), [
    ("models/iris/mlform.yaml", "models/iris/mlform.yaml"),
    ("a{{b", "{{ 'a{{b' }}"),
    ("a{%b", "{{ 'a{%b' }}"),
    ("a{#b", "{{ 'a{#b' }}"),
    ("it's\r", "{{ 'it\\'s\\r' }}"),
    ("line\n", "{{ 'line\\n' }}"),
    ("inner\nbreak", "inner\nbreak"),
])
def test_airflow_literal_quotes_only_what_jinja_would_change(value: str, literal: str) -> None:
    assert airflow_literal(value) == literal
