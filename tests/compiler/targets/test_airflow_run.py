"""The generated DAGs run for real: `airflow dags test` trains iris with this mlform; monitoring finds the
live data healthy, then drifted, and a drifted run ends with a retrained model.

`mlform monitor` retrains in place under `on_breach: retrain` and exits 3 only for a breach it did not
handle, so the route to the training DAG is taken only then: a breach that retraining fixes routes to `healthy`;
one it cannot fix (the retrained version is not promoted) routes to `retrain`, which triggers the training DAG."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from tools import AIRFLOW, run

from mlform.compiler.artifacts.output import compile_specs, write

from .conftest import Project

pytestmark = pytest.mark.integration


@pytest.fixture
def airflow(project: Project, tmp_path: Path) -> tuple[Project, dict[str, str]]:
    """The iris project compiled for prod, and the environment of an Airflow whose tasks find this mlform."""
    return project, airflow_env(project, project.spec(), tmp_path)


def airflow_env(project: Project, spec: Path, tmp_path: Path) -> dict[str, str]:
    """Compile `spec` for prod; the environment of a migrated Airflow whose tasks find this mlform."""
    write(compile_specs([spec], "prod", None, ["airflow"], cwd=project.root))
    tools = tmp_path / "path"
    tools.mkdir()
    (tools / "mlform").symlink_to(Path(sys.executable).with_name("mlform"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(project.root / "deploy"),
           "PATH": os.pathsep.join([str(tools), str(AIRFLOW.bin("airflow").parent), os.environ["PATH"]])}
    migrated = run([AIRFLOW.bin("airflow"), "db", "migrate"], env=env)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    return env


def dags_test(env: dict[str, str], dag_id: str) -> str:
    """Run one DAG in-process as `airflow dags test` does; return its log."""
    done = run([AIRFLOW.bin("airflow"), "dags", "test", dag_id], env=env, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert f"DagRun Finished: dag_id={dag_id}" in done.stdout + done.stderr
    return done.stdout + done.stderr


def drift(path: Path) -> None:
    """Shift every measurement of the live data far from the training data."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in ("sepal_length", "sepal_width", "petal_length", "petal_width"):
            row[column] = str(round(float(row[column]) + 4.0, 1))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_pipeline_trains_then_monitoring_routes_breaches(airflow: tuple[Project, dict[str, str]]) -> None:
    project, env = airflow
    dags_test(env, "mlform-iris-prod")
    versions = project.root / "models/iris/.mlform/registry/iris-classifier/versions"
    assert sorted(p.name for p in versions.iterdir()) == ["1"]
    log = dags_test(env, "mlform-iris-prod-monitor")
    assert "monitor: no breach" in log and "Following branch {'healthy'}" in log
    drift(project.root / "models/iris/data/live.csv")
    log = dags_test(env, "mlform-iris-prod-monitor")
    assert "monitor: breach handled, the retrained version was promoted" in log
    assert sorted(p.name for p in versions.iterdir()) == ["1", "2"]


def test_a_dag_copied_into_a_dags_folder_runs_in_the_project_root_the_environment_names(
        airflow: tuple[Project, dict[str, str]], tmp_path: Path) -> None:
    project, env = airflow
    dags = tmp_path / "dags"
    dags.mkdir()
    generated = project.root / "deploy/iris/prod/airflow/mlform_iris_prod.py"
    (dags / "mlform_iris_prod.py").write_bytes(generated.read_bytes())
    env = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "MLFORM_PROJECT_ROOT": str(project.root)}
    dags_test(env, "mlform-iris-prod")
    versions = project.root / "models/iris/.mlform/registry/iris-classifier/versions"
    assert sorted(p.name for p in versions.iterdir()) == ["1"]


def test_a_breach_retraining_cannot_fix_takes_the_retrain_branch(project: Project, tmp_path: Path) -> None:
    def demanding(doc: dict[str, Any]) -> None:  # a retrained model must beat the champion by far to be promoted
        doc["evaluation"]["champion"].update(min_improvement=0.5, alias="staging")  # the version training promoted

    env = airflow_env(project, project.spec(edit=demanding), tmp_path)
    dags_test(env, "mlform-iris-prod")
    drift(project.root / "models/iris/data/live.csv")
    log = dags_test(env, "mlform-iris-prod-monitor")
    assert "monitor: breach persists, the retrained version was not promoted" in log
    assert "Following branch {'retrain'}" in log and "Skipping tasks [('healthy', -1)]" in log
    assert "Triggering Dag Run." in log and "trigger_dag_id=mlform-iris-prod" in log
