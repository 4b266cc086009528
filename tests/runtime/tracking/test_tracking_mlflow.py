"""`tracking: {backend: mlflow}`: runs mirrored into a real SQLite-backed MLflow store, read back with MlflowClient."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest

from mlform.runtime.registry.models import Registry
from mlform.runtime.tracking.sqlite import SqliteTracker
from mlform.specs.loader import load_spec

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = pytest.mark.integration  # imports and runs MLflow: seconds per run

MODEL = "iris-classifier"
SECRET_ENV = "MLFORM_TEST_MLFLOW_URI"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(autouse=True)
def _no_global_tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without a global MLflow tracking URI, so the test sees whether a run leaves one behind."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def client_for(uri: str) -> MlflowClient:
    """A client reading the tracking store and the model registry at `uri`."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def global_uri(uri: str) -> Iterator[None]:
    """Make `uri` MLflow's global tracking URI for a while: `models:/` URIs resolve through it."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)


def use_mlflow(tracking: dict[str, Any], secrets: dict[str, Any] | None = None) -> Callable[[dict[str, Any]], None]:
    """A spec edit setting the `tracking` section (and `secrets`, when given)."""
    def change(data: dict[str, Any]) -> None:
        data["tracking"] = tracking
        if secrets:
            data["secrets"] = secrets
    return change


def local_runs(project: Path) -> list[dict[str, Any]]:
    """The runs in the embedded tracking store of a spec, newest first."""
    tracker = SqliteTracker(project.parent / ".mlform" / "tracking.db")
    try:
        return tracker.runs()
    finally:
        tracker.close()


def test_run_logs_params_metrics_model_and_versions_to_mlflow(core_project: Path, mlform, edit_spec,
                                                              tmp_path: Path) -> None:
    import mlflow.sklearn
    from mlflow.models import Model

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": uri, "experiment": "iris-tests"}))
    first = mlform("run", core_project)
    assert first.code == 0, first.err
    assert "MLFLOW_TRACKING_URI" not in os.environ  # the run's URI was made global only while it was open

    client = client_for(uri)
    experiment = client.get_experiment_by_name("iris-tests")
    assert experiment is not None
    assert Path(experiment.artifact_location) == tmp_path / "mlflow" / "mlartifacts" / "iris-tests"
    (run,) = client.search_runs([experiment.experiment_id])
    (local,) = local_runs(core_project)  # the embedded store keeps recording
    assert (run.info.run_name, run.info.status, local["status"]) == (local["id"], "FINISHED", "ran")
    spec = load_spec(core_project)
    assert run.data.params == {
        "spec_digest": spec.digest, "env": spec.env, "model.estimator": "sklearn.ensemble.RandomForestClassifier",
        "model.params.n_estimators": "100", "model.params.max_depth": "5", "model.params.random_state": "42",
        "model.task": "null", "model.preprocessing": "[]"}
    staged = Registry(core_project.parent / ".mlform" / "registry").load(MODEL, "staging")
    assert run.data.metrics == pytest.approx(staged.version.metrics)
    assert set(run.data.metrics) == {"accuracy", "f1_macro"}

    version = client.get_model_version_by_alias(MODEL, "staging")
    assert (int(version.version), version.run_id, version.tags["mlform.version"]) == (1, run.info.run_id, "1")
    assert version.tags["mlform.sha256"] == staged.version.sha256
    with global_uri(uri):
        flavor = Model.load(f"models:/{MODEL}/1").flavors["sklearn"]
        loaded = mlflow.sklearn.load_model(f"models:/{MODEL}@staging")
    assert flavor["serialization_format"] == "skops"
    assert "sklearn.tree._tree.Tree" in flavor["skops_trusted_types"]
    rows = pd.read_csv(core_project.parent / "data" / "iris.csv")[FEATURES]
    assert list(loaded.predict(rows)) == list(staged.model.predict(rows))
    assert loaded.named_steps["model"].n_estimators == 100

    assert mlform("run", core_project).code == 0  # all cached: nothing new to record in MLflow
    assert len(client.search_runs([experiment.experiment_id])) == 1

    edit_spec(core_project, lambda d: d["evaluation"]["gates"].update(accuracy={"min": 1.0}))
    third = mlform("run", core_project)  # train is cached: the model is logged when register runs
    assert third.code == 0, third.err
    assert "version 2, NOT promoted to `staging`" in third.out
    latest = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])[0]
    second = client.get_model_version(MODEL, "2")
    assert (second.run_id, second.aliases, second.tags["mlform.version"]) == (latest.info.run_id, [], "2")
    assert [f"models:/{o.model_id}" for o in latest.outputs.model_outputs] == [second.source]
    assert int(client.get_model_version_by_alias(MODEL, "staging").version) == 1
    with global_uri(uri):
        assert list(mlflow.sklearn.load_model(f"models:/{MODEL}/2").predict(rows)) == list(staged.model.predict(rows))

    forced = mlform("run", core_project, "--force")  # the same bytes and lineage as version 2: no copy anywhere
    assert "model bytes identical to version 2" in forced.out
    assert sorted(int(v.version) for v in client.search_model_versions(f"name = '{MODEL}'")) == [1, 2]

    def pin_first(data: dict[str, Any]) -> None:
        data["evaluation"]["gates"]["accuracy"] = {"min": 0.9}
        data["registry"]["production"] = 1

    edit_spec(core_project, pin_first)
    pinned = mlform("run", core_project)  # the pin moves mlform's alias and MLflow's mirror of it
    assert pinned.code == 0, pinned.err
    assert "`iris-classifier@production`: none -> v1 (pinned by `registry.production`)" in pinned.out
    assert int(client.get_model_version_by_alias(MODEL, "production").version) == 1


def test_tracking_uri_from_a_secret_stays_out_of_output_state_and_the_run(
        core_project: Path, mlform, edit_spec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path / 'private' / 'store.db'}"
    monkeypatch.setenv(SECRET_ENV, uri)
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": {"secret": "mlflow_uri"}},
                                       {"mlflow_uri": {"env": SECRET_ENV}}))
    result = mlform("run", core_project)
    assert result.code == 0, result.err
    assert "MLFLOW_TRACKING_URI" not in os.environ

    client = client_for(uri)
    experiment = client.get_experiment_by_name("iris")  # no `experiment`: the pipeline's name
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == local_runs(core_project)[0]["id"]
    assert client.get_model_version_by_alias(MODEL, "staging").run_id == run.info.run_id
    recorded = [*run.data.params.values(), *run.data.tags.values()]
    assert not [value for value in recorded if uri in value]
    assert uri not in result.out + result.err
    state = [p for p in (core_project.parent / ".mlform").rglob("*") if p.is_file()]
    assert state
    assert not [p for p in state if uri.encode() in p.read_bytes()]


def test_unreachable_store_fails_before_any_step_naming_the_backend(core_project: Path, mlform, edit_spec,
                                                                     tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    uri = f"sqlite:///{blocker}/mlflow.db"  # its folder cannot be created
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": uri}))
    result = mlform("run", core_project)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"error: MLflow tracking backend at `{uri}`: cannot connect: ")
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert not (core_project.parent / ".mlform" / "tracking.db").exists()  # nothing was tracked


def test_a_tracking_server_that_does_not_answer_fails_in_seconds(core_project: Path, mlform, edit_spec) -> None:
    from tools.postgres_server import free_port

    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": uri}))
    began = time.monotonic()
    result = mlform("run", core_project)
    assert time.monotonic() - began < 60  # MLflow's own retries took about 4 minutes
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"error: MLflow tracking backend at `{uri}`: cannot connect: "), result.err
    assert "Connection refused" in result.err and "Traceback" not in result.err
    assert not [name for name in os.environ if name.startswith("MLFLOW_HTTP_REQUEST_")]  # put back


@pytest.mark.parametrize(("value", "message"), [
    ("bogus://mlform:hunter2-token@tracking.invalid/store",
     f"error: MLflow tracking backend at the URI of secret `mlflow_uri` (environment variable `{SECRET_ENV}`): "
     "cannot connect: "),
    (None, f"error: MLflow tracking backend: secret `mlflow_uri` is read from environment variable `{SECRET_ENV}`, "
           "which is not set"),
], ids=["wrong-uri", "unset"])
def test_a_bad_secret_uri_is_a_clear_error_without_its_value(
        core_project: Path, mlform, edit_spec, monkeypatch: pytest.MonkeyPatch, value: str | None,
        message: str) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, value)
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": {"secret": "mlflow_uri"}},
                                       {"mlflow_uri": {"env": SECRET_ENV}}))
    result = mlform("run", core_project)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(message), result.err
    if value is not None:
        assert "***" in result.err  # MLflow's own message quoted the URI; it is masked
        assert value not in result.err
        assert "hunter2-token" not in result.err


def test_the_local_backend_never_imports_mlflow(core_project: Path) -> None:
    code = (f"import sys; from mlform.compiler.cli import main\ntry:\n    main(['run', {str(core_project)!r}])\n"
            "finally:\n    print('mlflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"


def test_an_environment_s_alias_is_mirrored_under_its_own_name(core_project: Path, mlform, edit_spec,
                                                                 tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    edit_spec(core_project, use_mlflow({"backend": "mlflow", "uri": uri}))
    assert mlform("run", core_project, "--env", "dev").code == 0
    assert mlform("run", core_project).code == 0
    client = client_for(uri)
    dev = client.get_model_version_by_alias(MODEL, "dev-staging")
    base = client.get_model_version_by_alias(MODEL, "staging")
    assert (dev.tags["mlform.version"], base.tags["mlform.version"]) == ("1", "2")
