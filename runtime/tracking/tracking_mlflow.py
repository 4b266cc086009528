"""MLflow as a second tracking backend: a run that executes steps is mirrored as one MLflow run.

The MLflow run gets the spec digest and the resolved model section as params, the evaluation metrics,
the fitted Pipeline as an MLflow model (skops format, trusting the types of the model this run fitted,
pip requirements pinned so logging never infers them), and each registered version as an MLflow model
version of `registry.model_name`, given the mlform alias when promoted (MLflow has one set of aliases per
model, so `staging` of environment `dev` is `dev-staging`; the base spec's keeps its name). The embedded
store records every run as well; a run in which every step is cached executes nothing and opens no MLflow
run. MLflow is imported only here, and only for `tracking.backend: mlflow`.

MLflow resolves logged models through its global tracking URI, so the spec's URI is made the global one
while the run is open and the previous one is put back when it closes.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from mlform.runtime.registry.models import MODEL_FILE
from mlform.runtime.secretref import read_secret
from mlform.specs.errors import MlformError, StateError
from mlform.specs.model.base import SecretUse
from mlform.specs.read.overlays import BASE

from .tracker import flat_params

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

    from mlform.runtime.run.outcome import StepRun
    from mlform.runtime.storage.store import Output
    from mlform.specs.loader import ResolvedSpec

__all__ = ["MlflowRun", "TrackingError", "mirrored_alias"]

_URI_ENV = "MLFLOW_TRACKING_URI"
_BATCH = 100  # most params or metrics MLflow takes in one call
_STATUS = {"failed": "FAILED", "interrupted": "KILLED"}
_T = TypeVar("_T")
# MLflow's default (7 retries, backoff factor 2) waits about 4 minutes before it reports a server that is down
_CONNECT_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
# MLflow prints links to the run with the tracking URI in them: never a URI that is a secret (it may hold a password)
_QUIET = {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


class TrackingError(StateError):
    """The MLflow tracking backend is missing, unreachable or refused a write; never holds a secret URI."""


def _artifact_location(uri: str, experiment: str) -> str | None:
    """`mlartifacts/<experiment>` beside a local SQLite database; None (the store's default) for other stores."""
    path = uri.removeprefix("sqlite:///").partition("?")[0] if uri.startswith("sqlite:///") else ""
    if not path or path == ":memory:":
        return None
    return str(Path(path).resolve().parent / "mlartifacts" / quote(experiment, safe=""))


def _batches(items: list[_T]) -> Iterator[list[_T]]:
    """`items` in slices of the size MLflow takes in one call."""
    return (items[start:start + _BATCH] for start in range(0, len(items), _BATCH))


def mirrored_alias(alias: str, env: str) -> str:
    """The MLflow alias mirroring `alias` of environment `env`: `env-alias`, or `alias` for the base spec."""
    return alias if env == BASE else f"{env}-{alias}"


@contextlib.contextmanager
def _settings(settings: Mapping[str, str]) -> Iterator[None]:
    """MLflow `settings` in the environment for the block, each unless already set there.

    While connecting, its HTTP retries are cut short: a server that does not answer fails the command in seconds
    instead of after the minutes of MLflow's default backoff; once connected, its defaults apply.
    """
    chosen = {name: value for name, value in settings.items() if name not in os.environ}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for name in chosen:
            os.environ.pop(name, None)


def _exists(exc: Exception) -> bool:
    """Whether MLflow refused to create something because it already exists (another run made it meanwhile)."""
    return getattr(exc, "error_code", None) == "RESOURCE_ALREADY_EXISTS"


class MlflowRun:
    """The MLflow mirror of one mlform run; each call raises TrackingError naming the backend when MLflow fails."""

    def __init__(self, spec: ResolvedSpec, run_id: str, outputs: Mapping[str, Output],
                 load_model: Callable[[Path], Any]) -> None:
        """Connect, then open an MLflow run named `run_id` with its params; `outputs` is read as steps complete."""
        self.outputs, self.load_model, self.env = outputs, load_model, spec.env
        self.logged: ModelInfo | None = None
        tracking = spec.pipeline.tracking
        given, self.where, self.redact = self._target(spec)
        self.secret = isinstance(tracking.uri, SecretUse)
        self.params = {"spec_digest": spec.digest, "env": spec.env, **flat_params(spec.config["model"], "model")}
        try:
            import mlflow
        except ImportError:
            raise TrackingError("`tracking.backend: mlflow` needs MLflow where mlform runs: "
                                "pip install 'mlform[mlflow]'") from None
        self.previous = os.environ.get(_URI_ENV)
        try:
            with self._calling("connect"), _settings(_CONNECT_SETTINGS):
                if given is not None:
                    mlflow.set_tracking_uri(given)
                uri = mlflow.get_tracking_uri()
                self.client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
                self.experiment_id = self._experiment(tracking.experiment or spec.name, uri)
                run = self.client.create_run(self.experiment_id, run_name=run_id, tags={
                    "mlform.run_id": run_id, "mlform.spec": spec.name, "mlform.env": spec.env})
                self.run_id: str = run.info.run_id
            with self._calling("log params"):
                from mlflow.entities import Param

                for batch in _batches([Param(key, value) for key, value in self.params.items()]):
                    self.client.log_batch(self.run_id, params=batch)
        except BaseException:
            self._restore()
            raise

    @staticmethod
    def _target(spec: ResolvedSpec) -> tuple[str | None, str, Callable[[str], str]]:
        """The URI (None: MLflow's default), how messages name it, and what hides it in text."""
        uri = spec.pipeline.tracking.uri
        if isinstance(uri, SecretUse):
            try:
                secret = read_secret(spec.pipeline, uri.secret)
            except MlformError as exc:
                raise TrackingError(f"MLflow tracking backend: {exc}") from None
            return secret.value, f"at the URI of secret `{secret.name}` (environment variable `{secret.variable}`)", \
                secret.redact
        if uri is None:
            return None, f"at its default URI (`{_URI_ENV}`)", lambda text: text
        return uri, f"at `{uri}`", lambda text: text

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Turn any MLflow failure into a TrackingError naming the backend, with secret values hidden."""
        try:
            yield
        except MlformError:
            raise
        except Exception as exc:  # MLflow, SQLAlchemy, HTTP and filesystem errors alike
            detail = self.redact(f"{type(exc).__name__}: {exc}".strip())
            raise TrackingError(f"MLflow tracking backend {self.where}: cannot {action}: {detail}") from None

    def _experiment(self, name: str, uri: str) -> str:
        """The ID of experiment `name`, created (artifacts beside a SQLite store) when missing."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name, artifact_location=_artifact_location(uri, name)))
        except Exception as exc:
            if not _exists(exc):
                raise
        return self._experiment(name, uri)  # another run created it meanwhile

    def log_step(self, outcome: StepRun) -> None:
        """Record what a step that ran produced: metrics and params; the model after `train`; the version after
        `register`; the alias after `promote`."""
        if outcome.status != "ran":
            return
        with self._calling(f"record step `{outcome.id}`"):
            metrics = outcome.values.get("metrics")
            if isinstance(metrics, dict) and metrics:
                from mlflow.entities import Metric

                now = int(time.time() * 1000)
                numbers = [Metric(key, float(value), now, 0) for key, value in metrics.items()
                           if isinstance(value, int | float) and not isinstance(value, bool)]
                for batch in _batches(numbers):
                    self.client.log_batch(self.run_id, metrics=batch)
            found = outcome.values.get("params")
            if isinstance(found, dict) and found:
                from mlflow.entities import Param

                for found_batch in _batches([Param(k, v) for k, v in flat_params(found).items()]):
                    self.client.log_batch(self.run_id, params=found_batch)
            if outcome.id == "train":
                self._model()
            elif outcome.id == "register":
                self._register(outcome.values)
            elif outcome.id == "promote":
                self._promote(outcome.values)

    def _model(self) -> ModelInfo:
        """The model logged in this run: the trained Pipeline, logged on first use (also when `train` was cached)."""
        if self.logged is None:
            import mlflow.sklearn
            import skops.io

            model = self.load_model(self.outputs["train"].dir / MODEL_FILE)
            logged = self.client.create_logged_model(self.experiment_id, name="model", source_run_id=self.run_id,
                                                     params=self.params)
            self.logged = mlflow.sklearn.log_model(
                model, name="model", model_id=logged.model_id, run_id=self.run_id, serialization_format="skops",
                skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
                pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_skops=True))
        return self.logged

    def _register(self, values: Mapping[str, Any]) -> None:
        """Register this run's model as a version of `values["model"]`, aliased when mlform promoted it."""
        if values.get("created") is False:  # mlform reused the version holding these bytes: so does MLflow
            if values["promoted"]:
                self._promote(values)
            return
        name = str(values["model"])
        logged = self._model()
        try:
            self.client.create_registered_model(name)
        except Exception as exc:
            if not _exists(exc):
                raise
        version = self.client.create_model_version(
            name, logged.model_uri, run_id=self.run_id, model_id=logged.model_id,
            tags={"mlform.version": str(values["version"]), "mlform.sha256": str(values["sha256"])})
        if values["promoted"]:
            self.client.set_registered_model_alias(name, mirrored_alias(str(values["alias"]), self.env),
                                                   version.version)

    def _promote(self, values: Mapping[str, Any]) -> None:
        """Point the MLflow alias at the MLflow version that mirrors the mlform version the spec pins."""
        name, wanted = str(values["model"]), str(values["version"])
        mirrored = [v for v in self.client.search_model_versions(f"name = '{name}'")
                    if v.tags.get("mlform.version") == wanted]
        if mirrored:  # a version registered before MLflow tracking was configured has no mirror
            self.client.set_registered_model_alias(name, mirrored_alias(str(values["alias"]), self.env),
                                                   mirrored[-1].version)

    def finish(self, status: str) -> None:
        """Close the MLflow run with the mlform run's status and restore the previous global tracking URI."""
        try:
            with self._calling("finish the run"), _settings(_QUIET if self.secret else {}):
                self.client.set_terminated(self.run_id, _STATUS.get(status, "FINISHED"))
        finally:
            self._restore()

    def _restore(self) -> None:
        """Put back the global tracking URI this run replaced (None unsets it)."""
        import mlflow

        mlflow.set_tracking_uri(self.previous)  # type: ignore[arg-type]  # MLflow accepts None: unset
