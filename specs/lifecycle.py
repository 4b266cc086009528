"""The lifecycle sections: model, evaluation, registry, tracking, serving and monitoring."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, model_validator

from .base import ALIAS, ENV_VAR, Cron, Identifier, ImportPath, Name, NonEmptyStr, Quantity, SecretUse, SpecModel
from .metrics import Task

__all__ = [
    "Autoscaling",
    "Champion",
    "Drift",
    "DriftMethod",
    "Evaluation",
    "FeatureDrift",
    "Gate",
    "ModelSpec",
    "Monitoring",
    "Registry",
    "Resources",
    "Serving",
    "Tracking",
    "Transformer",
]

DriftMethod = Literal["psi", "ks", "wasserstein", "jensenshannon"]
Number = StrictInt | StrictFloat
Alias = Annotated[str, Field(pattern=ALIAS, max_length=63)]


class Transformer(SpecModel):
    """One preprocessing step: a transformer by import path, applied to some columns."""

    transformer: ImportPath
    columns: Annotated[list[NonEmptyStr], Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(SpecModel):
    """The estimator by import path, its params and optional preprocessing; all become one sklearn Pipeline."""

    estimator: ImportPath
    params: dict[str, Any] = Field(default_factory=dict)
    task: Task | None = Field(default=None, description="Inferred from the estimator when omitted.")
    preprocessing: list[Transformer] = Field(default_factory=list)


class Gate(SpecModel):
    """Bounds a metric must meet: `min`, `max` or both."""

    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> Gate:
        if self.min is None and self.max is None:
            msg = "a gate needs `min`, `max` or both"
            raise ValueError(msg)
        if self.min is not None and self.max is not None and self.min > self.max:
            msg = f"`min` ({self.min}) is greater than `max` ({self.max})"
            raise ValueError(msg)
        return self


class Champion(SpecModel):
    """Champion/challenger: the new model must beat the model at `alias` on `metric` by `min_improvement`."""

    metric: NonEmptyStr
    alias: Alias = "production"
    min_improvement: Annotated[float, Field(ge=0)] = 0.0


class Evaluation(SpecModel):
    """Metrics to compute, gates they must pass, and the optional champion comparison."""

    metrics: Annotated[list[NonEmptyStr], Field(min_length=1)]
    gates: dict[NonEmptyStr, Gate] = Field(default_factory=dict)
    champion: Champion | None = None


class Registry(SpecModel):
    """Where versions are registered and which alias a passing version gets."""

    model_name: Name
    promote_to: Alias = "staging"
    path: NonEmptyStr | None = Field(default=None, description="Local registry folder, relative to the spec.")


class Tracking(SpecModel):
    """Run tracking backend: the embedded SQLite store, or MLflow."""

    backend: Literal["local", "mlflow"] = "local"
    uri: NonEmptyStr | SecretUse | None = None
    experiment: NonEmptyStr | None = None


class Resources(SpecModel):
    """Kubernetes resource requests and limits."""

    requests: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(default_factory=dict)


class Autoscaling(SpecModel):
    """Horizontal autoscaling bounds and the CPU target."""

    min_replicas: Annotated[int, Field(ge=1)] = 1
    max_replicas: Annotated[int, Field(ge=1)]
    target_cpu_utilization: Annotated[int, Field(ge=1, le=100)] = 80

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            msg = f"`min_replicas` ({self.min_replicas}) is greater than `max_replicas` ({self.max_replicas})"
            raise ValueError(msg)
        return self


class Serving(SpecModel):
    """How the registered model is served."""

    mode: Literal["online", "batch"] = "online"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    replicas: Annotated[int, Field(ge=0)] = 1
    resources: Resources = Field(default_factory=Resources)
    autoscaling: Autoscaling | None = None
    max_batch_size: Annotated[int, Field(ge=1)] = 1000
    env: dict[Annotated[str, Field(pattern=ENV_VAR)], SecretUse] = Field(
        default_factory=dict, description="Environment variables of the server, from declared secrets.")


class FeatureDrift(SpecModel):
    """Per-feature override of the drift method or threshold."""

    method: DriftMethod | None = None
    threshold: Annotated[float, Field(ge=0)] | None = None


class Drift(SpecModel):
    """Drift detection between the reference and current data."""

    method: DriftMethod = "psi"
    threshold: Annotated[float, Field(ge=0)] = 0.2
    features: dict[NonEmptyStr, FeatureDrift] = Field(default_factory=dict)
    max_drifted_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    bins: Annotated[int, Field(ge=2, le=1000)] = 10


class Monitoring(SpecModel):
    """Scheduled comparison of current data against the reference, and what a breach triggers."""

    schedule: Cron
    reference: Identifier | None = Field(default=None, description="Reference source; the training source if omitted.")
    current: Identifier = Field(description="Source holding the current (live) data.")
    drift: Drift = Field(default_factory=Drift)
    performance: dict[NonEmptyStr, Gate] = Field(default_factory=dict)
    on_breach: Literal["retrain", "alert", "none"] = "alert"

