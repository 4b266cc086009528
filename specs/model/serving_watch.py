"""What the prediction server watches: request validation, the sampled request log and the canary rollout."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from .base import NonEmptyStr, SpecModel, empty_list
from .data import ColumnRule

__all__ = ["VALIDATE_INPUTS", "VALIDATE_INPUTS_HELP", "Canary", "ServingLog", "ValidateInputs", "has_row_rule"]

ValidateInputs = Literal["reject", "flag", "off"]
VALIDATE_INPUTS_HELP = (
    "Apply the `validation.columns` rules (nulls, `min`/`max`, `allowed`, `regex`) to every request: `reject` "
    "answers 422 naming the column, rule and row; `flag` scores the request and counts the violation in "
    "`/metrics` (`mlform_input_violations_total`); `off` checks only the signature.")
VALIDATE_INPUTS: ValidateInputs = "off"


def has_row_rule(rule: ColumnRule) -> bool:
    """Whether `rule` declares a rule a single request row can break (what `validate_inputs` checks)."""
    return (not rule.nullable or rule.min is not None or rule.max is not None or rule.allowed is not None
            or rule.regex is not None)


class ServingLog(SpecModel):
    """Log the features and predictions of sampled requests as JSON Lines, off the request's critical path."""

    sample: Annotated[float, Field(gt=0, le=1)] = Field(
        0.1, description="Share of scored rows written, from 0 (exclusive) to 1; `0.1` logs one row in ten.")
    path: NonEmptyStr | None = Field(
        None, description="Folder the server writes `<YYYYMMDD>-<pid>.jsonl` files to, relative to the spec's "
                          "folder unless absolute; columns of `data.pii.columns` are never written. Give this or "
                          "`sink`.")
    sink: Literal["backend"] | None = Field(
        None, description="`backend`: write each flushed batch as one immutable object to the state backend "
                          "(`serving-log/<model>/<env>/` under the state folder, the s3 prefix or the postgres "
                          "documents), where `monitoring.current: serving_log` reads it from any pod; with the "
                          "backend's own credentials. Give this or `path`.")
    retention_days: Annotated[int, Field(ge=1)] | None = Field(
        None, description="With `sink: backend`: days a batch is kept; `mlform monitor` deletes older batches of the "
                          "model and environment after it reads the log. Default: kept for ever.")
    buffer_rows: Annotated[int, Field(ge=1)] = Field(
        10_000, description="Rows waiting to be written at most; rows beyond are dropped and counted in "
                            "`/metrics` (`mlform_serving_log_dropped_total`).")

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.path is None) == (self.sink is None):
            given = "both" if self.path is not None else "neither"
            raise ValueError(f"give exactly one of `path` (a folder) and `sink: backend`, not {given}")
        if self.retention_days is not None and self.sink is None:
            raise ValueError("`retention_days` applies to `sink: backend`; files under `path` are yours to rotate")
        return self


class Canary(SpecModel):
    """Roll a new version out to a share of the traffic first."""

    traffic_percent: Annotated[int, Field(ge=1, le=99)] = Field(
        description="Share of requests, in percent, the new version gets in the first step, e.g. `10`.")
    steps: Annotated[list[Annotated[int, Field(ge=1, le=100)]], Field(max_length=10)] = Field(
        default_factory=empty_list, description="Later traffic shares in percent, increasing, e.g. `[25, 50, 100]`; "
                                          "each is an annotation on the emitted rollout for the operator.")
    max_error_rate: Annotated[float, Field(ge=0, le=1)] = Field(
        0.01, description="Share of 5xx answers of the canary above which it must be rolled back, from 0 to 1.")

    @model_validator(mode="after")
    def _steps_increase(self) -> Self:
        shares = [self.traffic_percent, *self.steps]
        bad = next((i for i in range(1, len(shares)) if shares[i] <= shares[i - 1]), None)
        if bad is not None:
            msg = (f"`steps` must increase from `traffic_percent` ({self.traffic_percent}): "
                   f"{shares[bad]} follows {shares[bad - 1]}")
            raise ValueError(msg)
        return self
