"""The lifecycle sections: model, evaluation, registry, tracking, serving and monitoring."""

from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator

from .base import (
    ALIAS,
    ENV_VAR,
    Cron,
    FunctionRef,
    GrownSpecModel,
    Identifier,
    ImportPath,
    Name,
    NonEmptyStr,
    Quantity,
    SecretUse,
    SpecModel,
    empty_list,
)
from .drift_methods import DEFAULT_DRIFT_METHOD, DriftMethod, drift_method_help
from .examples import TransformerExample
from .gate import Gate
from .metrics import Task
from .monitoring_checks import Duration, Notify, OfflineGap, ServingHealth, ServingLogRead
from .review import Baseline, Fairness, FeatureReview, Slice, Staleness
from .serving_watch import VALIDATE_INPUTS, VALIDATE_INPUTS_HELP, Canary, ServingLog, ValidateInputs
from .tuning import Tuning

__all__ = [
    "Autoscaling",
    "Champion",
    "CustomMetric",
    "Drift",
    "DriftMethod",
    "Evaluation",
    "FeatureDrift",
    "Gate",
    "ModelSpec",
    "PRODUCTION",
    "Monitoring",
    "Registry",
    "Resources",
    "Serving",
    "Tracking",
    "Transformer",
]

PRODUCTION = "production"
Number = StrictInt | StrictFloat
Alias = Annotated[str, Field(pattern=ALIAS, max_length=63)]


class Transformer(GrownSpecModel):
    """One preprocessing step: a transformer by import path, applied to some columns."""

    omit_when_default = frozenset({"examples"})
    transformer: ImportPath = Field(
        description="Import path of a scikit-learn transformer class, e.g. `sklearn.preprocessing.StandardScaler`.")
    columns: Annotated[list[NonEmptyStr], Field(min_length=1)] = Field(
        description="Feature columns the transformer applies to; the other features pass through unchanged.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Constructor arguments, e.g. `{handle_unknown: ignore}`; checked by name.")
    examples: list[TransformerExample] = Field(
        default_factory=empty_list, description="Input rows and the output `mlform validate` expects the step to give.")


class ModelSpec(GrownSpecModel):
    """The estimator by import path, its params and optional preprocessing; all become one sklearn Pipeline."""

    omit_when_default = frozenset({"estimator", "estimator_function", "preprocessing_function", "tuning",
                                   "reproducible"})
    estimator: ImportPath | None = Field(
        default=None,
        description="Import path of a scikit-learn estimator class, e.g. `sklearn.ensemble.RandomForestClassifier`; "
                    "set this or `estimator_function`.")
    estimator_function: FunctionRef | None = Field(
        default=None,
        description="A user function returning an unfitted estimator, called with `params` as keyword arguments, "
                    "e.g. `steps.train:estimator_fn`; needs `task`.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Constructor arguments of the estimator, e.g. `{n_estimators: 100}`; unknown names are errors.")
    task: Task | None = Field(
        default=None, description="`classification` or `regression`; inferred from the estimator when omitted.")
    preprocessing: list[Transformer] = Field(
        default_factory=empty_list,
        description="Transformers applied to feature columns before the estimator, in order.")
    preprocessing_function: FunctionRef | None = Field(
        default=None,
        description="A user function returning an unfitted transformer (or None, no transformation) applied to all "
                    "features before the estimator, e.g. `steps.transform:transformer_fn`; instead of `preprocessing`.")
    tuning: Tuning | None = Field(
        default=None, description="Search `params` by cross-validation on the training rows before training; the "
                                  "best candidate's params train the model.")
    reproducible: StrictBool = Field(
        False, description="`true` requires `random_state` in `params` wherever the estimator or a transformer has "
                           "one, so `mlform reproduce` gives the same predictions.")

    @model_validator(mode="after")
    def _one_estimator(self) -> Self:
        if self.estimator is None and self.estimator_function is None:
            msg = "missing required key `estimator` (or `estimator_function`)"
            raise ValueError(msg)
        if self.estimator is not None and self.estimator_function is not None:
            msg = "set exactly one of `estimator` or `estimator_function`"
            raise ValueError(msg)
        if self.estimator_function is not None and self.task is None:
            msg = "`estimator_function` needs `task` (`classification` or `regression`)"
            raise ValueError(msg)
        if self.preprocessing_function is not None and self.preprocessing:
            msg = "set `preprocessing` or `preprocessing_function`, not both"
            raise ValueError(msg)
        return self


class Champion(SpecModel):
    """Champion/challenger: the new model must beat the model at `alias` on `metric` by `min_improvement`."""

    metric: NonEmptyStr = Field(description="Metric to compare on; one of `evaluation.metrics`.")
    alias: Alias = Field(
        "production", description="Registry alias of the current champion; without a champion the new model passes.")
    min_improvement: Annotated[float, Field(ge=0)] = Field(
        0.0, description="How much the metric must improve on the champion's; `0` means any improvement "
                         "(a tie keeps the champion).")


class CustomMetric(SpecModel):
    """A metric computed by a user function `(y_true, y_pred) -> float`."""

    name: Identifier = Field(description="Name used in `metrics`, `gates`, `champion` and `monitoring.performance`.")
    function: FunctionRef = Field(
        description="The function, `module:function` relative to the spec's folder (or an importable one, such as "
                    "`sklearn.metrics:max_error`), called with the true and the predicted values.")
    greater_is_better: bool = Field(description="Whether a higher value is better; decides gates and champions.")


class Evaluation(GrownSpecModel):
    """Metrics to compute, gates they must pass, and the optional champion comparison."""

    omit_when_default = frozenset({"custom_metrics", "positive_class", "baseline", "slices", "fairness", "staleness",
                                   "features"})

    metrics: Annotated[list[NonEmptyStr], Field(min_length=1)] = Field(
        description="Metrics computed on the test set, e.g. `[accuracy, f1_macro]`; they must fit the model's task.")
    gates: dict[NonEmptyStr, Gate] = Field(
        default_factory=dict,
        description="Bounds per metric, e.g. `{accuracy: {min: 0.9}}`; a version that misses one is not promoted.")
    champion: Champion | None = Field(
        None, description="Compare with the registered champion; the new version is promoted only if it wins.")
    custom_metrics: list[CustomMetric] = Field(
        default_factory=empty_list,
        description="User metrics by function; list their names in `metrics` to compute them.")
    positive_class: StrictBool | StrictInt | str | None = Field(
        None, description="The class `f1`, `precision`, `recall`, `roc_auc` and `average_precision` score on two "
                          "classes (classification); the second class in sorted order if omitted.")
    baseline: Baseline | StrictBool | None = Field(
        None, description="A simpler model the model must beat, trained on the same split; `true` for the task's "
                          "dummy (`DummyClassifier(strategy=prior)` or `DummyRegressor(strategy=mean)`).")
    slices: dict[NonEmptyStr, Slice] = Field(
        default_factory=dict, description="Named slices of the test rows scored and gated on their own, e.g. "
                                          "`{by_country: {column: country, metrics: {recall: {min: 0.5}}}}`.")
    fairness: Fairness | None = Field(
        None, description="A metric compared between the groups of a column, e.g. `{group: gender, metric: recall, "
                          "max_gap: 0.1}`; a larger gap fails evaluation.")
    staleness: Staleness | None = Field(
        None, description="Train on the earliest rows by time, score later windows and gate how much worse it gets.")
    features: FeatureReview | None = Field(
        None, description="Permutation importance of each feature on the test rows; a feature below "
                          "`min_importance` or `min_gain_per_cost` fails evaluation, named.")

    @field_validator("custom_metrics")
    @classmethod
    def _unique_names(cls, metrics: list[CustomMetric]) -> list[CustomMetric]:
        from .metrics import METRICS

        names = [m.name for m in metrics]
        for index, name in enumerate(names):
            if name in names[:index]:
                msg = f"custom metric `{name}` is declared twice"
                raise ValueError(msg)
            if name in METRICS:
                msg = f"custom metric `{name}` has the name of a built-in metric; choose another name"
                raise ValueError(msg)
        return metrics


class Registry(SpecModel):
    """Where versions are registered and which alias a passing version gets."""

    model_name: Name = Field(description="Registered model name (a DNS-1123 label), e.g. `iris-classifier`.")
    promote_to: Alias = Field(
        "staging", description="Alias a version that passes every gate is given automatically, e.g. `staging`; "
                               "never `production`, which is pinned with `production`.")
    production: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description="Version this environment serves, pinned in the spec and moved by pull request "
                    "(`mlform promote`); apply points the alias `production` at it after checking its gates and "
                    "checksum. Usually set in an environment overlay.")
    path: NonEmptyStr | None = Field(
        default=None,
        description="Local registry folder, relative to the spec; the state folder's (`.mlform/registry`) if omitted.")

    @field_validator("promote_to")
    @classmethod
    def _production_is_pinned(cls, alias: str) -> str:
        if alias == PRODUCTION:
            msg = ("`production` is not set automatically: pin the version with `registry.production` "
                   "(`mlform promote`), and promote passing versions to another alias such as `staging`")
            raise ValueError(msg)
        return alias


class Tracking(SpecModel):
    """Run tracking backend: the embedded SQLite store, or MLflow."""

    backend: Literal["local", "mlflow"] = Field(
        "local", description="`local`: the embedded SQLite store beside the spec; `mlflow`: an MLflow server at `uri`.")
    uri: NonEmptyStr | SecretUse | None = Field(
        None, description="Tracking server URI, as text or `{secret: NAME}` when it holds credentials.")
    experiment: NonEmptyStr | None = Field(None, description="Experiment to record runs under.")


class Resources(SpecModel):
    """Kubernetes resource requests and limits."""

    requests: dict[Literal["cpu", "memory"], Quantity] = Field(
        default_factory=dict,
        description="Guaranteed `cpu` (cores, e.g. `250m` or `1`) and `memory` (bytes, e.g. `512Mi`).")
    limits: dict[Literal["cpu", "memory"], Quantity] = Field(
        default_factory=dict, description="Upper bounds on `cpu` and `memory`, e.g. `{cpu: \"1\", memory: 1Gi}`.")


class Autoscaling(SpecModel):
    """Horizontal autoscaling bounds and the CPU target."""

    min_replicas: Annotated[int, Field(ge=1)] = Field(1, description="Fewest server replicas.")
    max_replicas: Annotated[int, Field(ge=1)] = Field(description="Most server replicas.")
    target_cpu_utilization: Annotated[int, Field(ge=1, le=100)] = Field(
        80, description="Average CPU use, in percent of the CPU request, that scaling aims for.")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Self:
        if self.min_replicas > self.max_replicas:
            msg = f"`min_replicas` ({self.min_replicas}) is greater than `max_replicas` ({self.max_replicas})"
            raise ValueError(msg)
        return self


class Serving(GrownSpecModel):
    """How the registered model is served."""

    omit_when_default = frozenset({"validate_inputs", "log", "canary"})

    mode: Literal["online", "batch"] = Field(
        "online", description="`online`: an HTTP prediction server is built and deployed; `batch`: no server.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8080, description="TCP port the prediction server listens on.")
    replicas: Annotated[int, Field(ge=0)] = Field(
        1, description="Number of server replicas without autoscaling; `0` keeps the deployment scaled down.")
    resources: Resources = Field(
        default_factory=Resources, description="Kubernetes resource requests and limits of each server.")
    autoscaling: Autoscaling | None = Field(
        None, description="Scale the servers on CPU use between the given bounds; needs `resources.requests.cpu`.")
    max_batch_size: Annotated[int, Field(ge=1)] = Field(
        1000, description="Most rows scored in one model call; queued requests are batched up to this.")
    env: dict[Annotated[str, Field(pattern=ENV_VAR)], SecretUse] = Field(
        default_factory=dict, description="Environment variables of the server, from declared secrets.")
    validate_inputs: ValidateInputs = Field(VALIDATE_INPUTS, description=VALIDATE_INPUTS_HELP)
    log: ServingLog | None = Field(
        None, description="Write the features and predictions of sampled requests as JSON Lines.")
    canary: Canary | None = Field(None, description="Roll new versions out to a share of the traffic first.")


class FeatureDrift(SpecModel):
    """Per-feature override of the drift method or threshold."""

    method: DriftMethod | None = Field(None, description="Drift method for this feature; `drift.method` if omitted.")
    threshold: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Score above which this feature has drifted; `drift.threshold` if omitted.")


class Drift(SpecModel):
    """Drift detection between the reference and current data."""

    method: DriftMethod = Field(DEFAULT_DRIFT_METHOD, description=f"Per-feature score: {drift_method_help()}.")
    threshold: Annotated[float, Field(ge=0)] = Field(
        0.2, description="A feature has drifted when its score is above this; `0.2` is a common PSI threshold.")
    features: dict[NonEmptyStr, FeatureDrift] = Field(
        default_factory=dict, description="Per-feature overrides, e.g. `{amount: {method: ks, threshold: 0.1}}`.")
    max_drifted_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="Drift is a breach when more than this share (0 to 1) of the features drifted.")
    bins: Annotated[int, Field(ge=2, le=1000)] = Field(
        10, description="Quantile bins of the reference for `psi` and `jensenshannon` on numeric features.")


class Monitoring(SpecModel):
    """Scheduled comparison of current data against the reference, and what a breach triggers."""

    schedule: Cron = Field(
        description="When monitoring runs: a five-field cron expression in UTC, e.g. `0 6 * * *`, or `@daily`.")
    reference: Identifier | None = Field(default=None, description="Reference source; the training source if omitted.")
    current: Identifier = Field(
        description="Source holding the current (live) data, or `serving_log`: the rows the server sampled "
                    "(see `serving_log`).")
    drift: Drift = Field(
        default_factory=Drift, description="Drift detection; PSI over 10 bins, threshold 0.2, by default.")
    performance: dict[NonEmptyStr, Gate] = Field(
        default_factory=dict,
        description="Bounds per metric on the current data (it needs the target), e.g. `{accuracy: {min: 0.85}}`.")
    on_breach: Literal["retrain", "alert", "none", "pull_request"] = Field(
        "alert", description="On drift or a missed bound: `retrain` and promote, `alert` (exit non-zero), "
                             "`pull_request` (prepare a pull request that retrains this environment; "
                             "`mlform monitor --open-pr`), or `none` (report only).")
    validate_current: StrictBool = Field(
        True, description="Check the current data with the `validation` column rules (columns it has); a broken "
                          "rule is a breach. Table rules (row count, duplicates) describe training data and are "
                          "not applied.")
    serving_log: ServingLogRead | None = Field(
        None, description="Which rows of the serving log are the current data when `current` is `serving_log`.")
    max_model_age: Duration | None = Field(
        None, description="A breach when the served version was registered longer ago than this, e.g. `30d`.")
    max_nonfinite_share: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="A breach when more than this share (0 to 1) of the served model's predictions on the "
                          "current data is NaN or infinite, e.g. `0.0`.")
    serving: ServingHealth | None = Field(
        None, description="Bounds on the running server's latency and error rate, read from its `/metrics`.")
    offline_gap: OfflineGap | None = Field(
        None, description="A breach when the live metric trails the served version's registered test metric by "
                          "more than `max_drop`.")
    notify: Notify | None = Field(None, description="Post a JSON summary of each breach, e.g. to a chat webhook.")
    retrain_marker: NonEmptyStr | None = Field(
        None, description="Changing it retrains the model at the next apply (it is part of the training "
                          "fingerprint); the pull request of `on_breach: pull_request` sets it in the environment's "
                          "overlay to the breach's date.")

