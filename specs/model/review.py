"""The reviewer's checks under `evaluation`: a baseline to beat, slices, fairness, staleness and feature worth."""

from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictFloat, StrictInt, model_validator

from .base import ImportPath, NonEmptyStr, SpecModel
from .gate import Gate

__all__ = ["DEFAULT_BASELINES", "Baseline", "Fairness", "FeatureReview", "Slice", "Staleness"]

Margin = Annotated[StrictInt | StrictFloat, Field(ge=0)]
# the baseline `baseline: true` trains, per task
DEFAULT_BASELINES = {"classification": ("sklearn.dummy.DummyClassifier", {"strategy": "prior"}),
                     "regression": ("sklearn.dummy.DummyRegressor", {"strategy": "mean"})}


class Baseline(SpecModel):
    """A simpler model trained on the same split; the model must beat it on each metric of `min_improvement`."""

    estimator: ImportPath | None = Field(
        None, description="Import path of the baseline estimator, e.g. `sklearn.dummy.DummyClassifier`; "
                          "`DummyClassifier(strategy=prior)` or `DummyRegressor(strategy=mean)` by task if omitted. "
                          "It gets the model's preprocessing.")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Constructor arguments of the baseline estimator, e.g. "
                                          "`{strategy: most_frequent}`; checked by name.")
    min_improvement: dict[NonEmptyStr, Margin] = Field(
        default_factory=dict,
        description="Per metric of `evaluation.metrics`, how much better than the baseline the model must be, e.g. "
                    "`{f1_macro: 0.05}`; the first metric with any improvement (`0`) if empty. A tie fails.")


class Slice(SpecModel):
    """Rows to score apart: each value of `column`, or the rows where `filter` holds; gated like the whole test set."""

    column: NonEmptyStr | None = Field(
        None, description="A column of the training data (a feature or not); each of its values in the test rows "
                          "is one slice, e.g. `country`.")
    filter: NonEmptyStr | None = Field(
        None, description="A condition over columns making one slice, e.g. `amount > 1000 and country in ['US', "
                          "'CA']`: comparisons (`== != < <= > >=`, `in`, `not in`), `and`, `or`, `not`, "
                          "parentheses, numbers, strings, `True`, `False` and `None`; nothing else runs.")
    metrics: dict[NonEmptyStr, Gate] = Field(
        default_factory=dict,
        description="Bounds per metric on each slice, e.g. `{recall: {min: 0.5}}`; a slice that misses one fails "
                    "evaluation. Every metric of `evaluation.metrics` is reported per slice.")
    min_rows: Annotated[int, Field(ge=1)] = Field(
        50, description="Test rows a slice needs to be scored; a smaller slice is reported as too small.")
    too_small: Literal["warn", "fail"] = Field(
        "warn", description="What a slice under `min_rows` does: `warn` (reported, not scored) or `fail`.")

    @model_validator(mode="after")
    def _one_selector(self) -> Self:
        if (self.column is None) == (self.filter is None):
            msg = "set exactly one of `column` or `filter`"
            raise ValueError(msg)
        return self


class Fairness(SpecModel):
    """A metric per group of rows must not differ between groups by more than `max_gap`."""

    group: NonEmptyStr = Field(
        description="The column holding the group, e.g. `gender`; read from the source and never given to the model "
                    "when it is not a feature.")
    metric: NonEmptyStr = Field("recall", description="The metric compared between groups, e.g. `recall`.")
    max_gap: Annotated[StrictInt | StrictFloat, Field(ge=0)] = Field(
        description="Largest allowed difference of the metric between the best and the worst group, e.g. `0.1`.")
    min_rows: Annotated[int, Field(ge=1)] = Field(
        30, description="Test rows a group needs to be compared; smaller groups are reported and left out.")


class Staleness(SpecModel):
    """How a model ages: trained on the earliest window of rows by time, scored on each later one."""

    time_column: NonEmptyStr = Field(
        description="The column ordering rows in time (a date, a timestamp or any sortable value), e.g. `ts`.")
    windows: Annotated[int, Field(ge=3, le=50)] = Field(
        4, description="Windows of equal row count, oldest first: the model trains on the first and is scored on "
                       "each later one.")
    max_decay: Annotated[dict[NonEmptyStr, Margin], Field(min_length=1)] = Field(
        description="Per metric, how much worse than on the first scored window the latest window may be, e.g. "
                    "`{accuracy: 0.05}`.")


class FeatureReview(SpecModel):
    """Permutation importance of each feature on the test rows: every feature must earn its place and its cost."""

    metric: NonEmptyStr | None = Field(
        None, description="The metric importance is measured with; the first of `evaluation.metrics` if omitted.")
    repeats: Annotated[int, Field(ge=1, le=100)] = Field(5, description="Shuffles per feature; their mean counts.")
    seed: int = Field(0, description="Seed of the shuffles.")
    min_importance: Annotated[StrictInt | StrictFloat, Field(ge=0)] | None = Field(
        None, description="Least importance (the metric's loss when the feature is shuffled) a feature needs, "
                          "e.g. `0.001`.")
    costs: dict[NonEmptyStr, Annotated[StrictInt | StrictFloat, Field(gt=0)]] = Field(
        default_factory=dict, description="Cost of each costly feature in your own unit, e.g. `{country: 0.3}`.")
    min_gain_per_cost: Annotated[StrictInt | StrictFloat, Field(ge=0)] | None = Field(
        None, description="Least importance per unit of cost a feature listed in `costs` needs, e.g. `0.01`.")

    @model_validator(mode="after")
    def _has_a_bound(self) -> Self:
        if self.min_gain_per_cost is not None and not self.costs:
            msg = "`min_gain_per_cost` needs `costs`"
            raise ValueError(msg)
        return self
