"""The production-readiness checks of `monitoring`: model age, non-finite predictions, serving health, offline gap,
the serving log as the current data, and where breaches are posted."""

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictFloat, StrictInt, WithJsonSchema

from .base import NonEmptyStr, SecretUse, SpecModel

__all__ = [
    "DURATION_UNITS",
    "SERVING_LOG",
    "Duration",
    "MaxBound",
    "Notify",
    "OfflineGap",
    "ServingHealth",
    "ServingLogRead",
    "parse_duration",
]

SERVING_LOG = "serving_log"  # the reserved `monitoring.current` naming the server's sampled traffic
DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^([1-9][0-9]*)([mhdw])$")
Number = StrictInt | StrictFloat


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `30d` or `2w` as a timedelta; ValueError names the expected form."""
    match = _DURATION.match(text)
    if match is None:
        msg = (f"`{text}` is not a duration: a positive whole number and a unit, `m` (minutes), `h` (hours), "
               "`d` (days) or `w` (weeks), e.g. `30d`")
        raise ValueError(msg)
    return timedelta(seconds=int(match.group(1)) * DURATION_UNITS[match.group(2)])


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration),
                     WithJsonSchema({"type": "string", "pattern": r"^[1-9][0-9]*[mhdw]$"}, mode="validation")]


class MaxBound(SpecModel):
    """An upper bound: the value must be at most `max`."""

    max: Annotated[Number, Field(ge=0)] = Field(description="The largest value that is not a breach (inclusive).")


class ServingHealth(SpecModel):
    """The server's own `/metrics`: its 99th-percentile latency and its share of 5xx answers."""

    url: NonEmptyStr | SecretUse = Field(
        description="Base URL of the running server, e.g. `http://iris.models.svc:8080`, or `{secret: NAME}`; "
                    "`/metrics` is read from it.")
    p99_ms: MaxBound | None = Field(
        None, description="Bound on the 99th-percentile request latency in milliseconds, from the histogram "
                          "`mlform_request_duration_seconds`, e.g. `{max: 250}`.")
    error_rate: MaxBound | None = Field(
        None, description="Bound on the share (0 to 1) of requests answered 5xx, from the counter "
                          "`mlform_requests_total{status}`, e.g. `{max: 0.01}`.")
    timeout_s: Annotated[Number, Field(gt=0, le=300)] = Field(
        10, description="Seconds to wait for `/metrics`; an unreachable server is a breach.")


class OfflineGap(SpecModel):
    """Online against offline: the live metric may trail the served version's registered test metric by `max_drop`."""

    metric: NonEmptyStr = Field(
        description="A metric of `evaluation.metrics`, computed on the labelled current rows, e.g. `accuracy`.")
    max_drop: Annotated[Number, Field(ge=0)] = Field(
        description="How far the live metric may be worse than the registered test metric, in the metric's own "
                    "units, e.g. `0.05`.")


class Notify(SpecModel):
    """Where a breach summary is posted."""

    webhook: SecretUse = Field(
        description="`{secret: NAME}` holding the URL a JSON breach summary is POSTed to (the URL is never printed).")


class ServingLogRead(SpecModel):
    """Which rows of the serving log become the current data when `monitoring.current` is `serving_log`."""

    path: NonEmptyStr | None = Field(
        None, description="Folder of the server's `*.jsonl` request logs, relative to the spec; "
                          "`serving.log.path` if omitted.")
    window: Duration | None = Field(
        None, description="Only rows logged within this long before the run, e.g. `7d`; every row if omitted.")
    version: Literal["served", "all"] = Field(
        "served", description="`served`: only rows the served version answered; `all`: every logged row.")

