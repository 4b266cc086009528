"""Airflow target: Airflow 3's DagBag imports every DAG; tasks mirror the step graph; pod tasks give valid pods."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tools import AIRFLOW, LINT, run

from mlform.compiler.graph.stepgraph import build_graph
from mlform.specs import load_spec

from .conftest import Project

TOOLS = Path(__file__).resolve().parents[2] / "tools"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: default}}]
current-context: none
users: [{name: none, user: {token: none}}]
"""
pytestmark = pytest.mark.integration


def declared_dags(project: Project) -> set[str]:
    """The DAG ids the specs ask for: a training DAG per environment of a spec with an `airflow` target, and a
    monitoring DAG beside it when the spec has `monitoring`."""
    return {dag for name, env, doc in project.declared("airflow")
            for dag in (f"mlform-{name}-{env}", *([f"mlform-{name}-{env}-monitor"] if "monitoring" in doc else []))}


@pytest.fixture(scope="module")
def dagbag(compiled: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Airflow's DagBag makes of every generated DAG file, and the pods of pod tasks."""
    scratch = tmp_path_factory.mktemp("airflow")
    (scratch / "kubeconfig").write_text(KUBECONFIG)
    env = {**os.environ, "AIRFLOW_HOME": str(scratch / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "KUBECONFIG": str(scratch / "kubeconfig")}
    done = run([AIRFLOW.bin("python"), TOOLS / "airflow_check.py", compiled.root / "deploy", scratch], env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads((scratch / "report.json").read_text())
    return report


def test_every_dag_file_imports(compiled: Project, dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == declared_dags(compiled)
    operators = {task["type"] for dag in dagbag["dags"].values() for task in dag["tasks"].values()}
    assert {"BashOperator", "KubernetesPodOperator"} <= operators


def test_tasks_mirror_the_step_graph(compiled: Project, dagbag: dict[str, Any]) -> None:
    for name, operator in (("iris", "BashOperator"), ("full", "KubernetesPodOperator")):
        graph = build_graph(load_spec(compiled.root / f"models/{name}/mlform.yaml", "prod"))
        tasks = dagbag["dags"][f"mlform-{name}-prod"]["tasks"]
        steps = [s for s in graph.order() if s != "monitor"]
        assert sorted(tasks) == sorted(steps)
        for step in steps:
            assert tasks[step]["type"] == operator
            assert tasks[step]["downstream"] == sorted(s for s in graph.graph.successors(step) if s != "monitor")


def test_training_settings_come_from_the_spec(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dags"]["mlform-iris-prod"]
    assert dag["schedule"] == "@weekly"
    assert dag["owner"] == "ml-platform@example.com"
    train = dag["tasks"]["train"]
    assert train["env"] == {"MLFORM_SPEC": "models/iris/mlform.yaml", "MLFORM_ENV": "prod", "MLFORM_STEP": "train"}
    assert train["bash_command"] == 'mlform run "$MLFORM_SPEC" --env "$MLFORM_ENV" --step "$MLFORM_STEP"'
    assert Path(train["cwd"]).name == "repo"  # the project root, found from the DAG file's place


def test_monitoring_branches_to_retraining(dagbag: dict[str, Any]) -> None:
    monitor = dagbag["dags"]["mlform-iris-prod-monitor"]
    assert monitor["schedule"] == "0 6 * * *"
    tasks = monitor["tasks"]
    assert tasks["monitor"]["downstream"] == ["route"]
    assert tasks["route"] == {"type": "BranchPythonOperator", "downstream": ["healthy", "retrain"]}
    assert tasks["retrain"]["trigger_dag_id"] == "mlform-iris-prod"
    alerting = dagbag["dags"]["mlform-iris-dev-monitor"]["tasks"]
    assert set(alerting) == {"monitor"}  # `on_breach: alert`: a breach fails the task


def test_pod_tasks_build_valid_hardened_pods(dagbag: dict[str, Any]) -> None:
    tasks = [t for dag in dagbag["dags"].values() for t in dag["tasks"].values() if "pod" in t]
    assert len(tasks) >= 10
    pods = [Path(t["pod"]) for t in tasks]
    done = run([LINT.bin("kubernetes-validate"), "--strict", "--quiet", "-k", "1.30", *pods])
    assert done.returncode == 0, done.stdout + done.stderr
    train = next(t for t in tasks if t["pod"].endswith("mlform-full-prod.train.yaml"))
    assert train["arguments"] == ["run", "mlform.yaml", "--env", "prod", "--step", "train"]
    import yaml

    pod = yaml.safe_load(Path(train["pod"]).read_text())
    box = pod["spec"]["containers"][0]
    assert box["image"].startswith("ghcr.io/example/iris:train-prod-")
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in box["env"] if "valueFrom" in e}
    assert secret_refs == {"MLFLOW_TRACKING_URI": {"name": "mlflow", "key": "uri"}}  # not the server's token
