"""`tracking: {backend: mlflow}` against a team's MLflow server: a real `mlflow server` on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tools import mlflow_server
from tools.postgres_server import Cluster

from mlform.runtime.registry.models import Registry
from mlform.specs.loader import load_spec

pytestmark = pytest.mark.integration

MODEL = "iris-classifier"


@pytest.fixture
def server(postgres_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The tracking URI of an MLflow server whose store is a PostgreSQL database."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    started = mlflow_server.start(postgres_cluster, tmp_path / "mlflow")
    yield started.uri
    started.stop()


def test_a_run_is_visible_through_the_mlflow_server(core_project: Path, mlform, edit_spec, server: str) -> None:
    import mlflow.sklearn
    from mlflow import MlflowClient

    edit_spec(core_project, lambda d: d.update(tracking={"backend": "mlflow", "uri": server, "experiment": "team"}))
    result = mlform("run", core_project)
    assert result.code == 0, result.err

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    experiment = client.get_experiment_by_name("team")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    spec = load_spec(core_project)
    assert run.info.status == "FINISHED"
    assert run.data.params["spec_digest"] == spec.digest
    assert run.data.params["model.estimator"] == "sklearn.ensemble.RandomForestClassifier"
    staged = Registry(core_project.parent / ".mlform" / "registry").load(MODEL, "staging")
    assert run.data.metrics == pytest.approx(staged.version.metrics)
    version = client.get_model_version_by_alias(MODEL, "staging")
    assert (version.run_id, version.tags["mlform.version"], version.tags["mlform.sha256"]) == (
        run.info.run_id, "1", staged.version.sha256)
    mlflow.set_tracking_uri(server)  # `models:/` URIs resolve through the global URI
    try:
        loaded = mlflow.sklearn.load_model(f"models:/{MODEL}@staging")  # its files come through the server
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # MLflow accepts None: unset
    rows = pd.read_csv(core_project.parent / "data" / "iris.csv").drop(columns="species")
    assert list(loaded.predict(rows)) == list(staged.model.predict(rows))


def test_a_secret_uri_with_a_password_is_never_printed(core_project: Path, mlform, edit_spec, server: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_MLFLOW_URI", server.replace("http://", "http://trainer:hunter2-pw@", 1))
    edit_spec(core_project, lambda d: d.update(secrets={"mlflow": {"env": "TEAM_MLFLOW_URI"}},
                                               tracking={"backend": "mlflow", "uri": {"secret": "mlflow"}}))
    result = mlform("run", core_project)
    assert result.code == 0, result.err
    assert "registered `iris-classifier` version 1" in result.out
    assert "hunter2-pw" not in result.out + result.err  # MLflow printed links to the run with the URI in them
