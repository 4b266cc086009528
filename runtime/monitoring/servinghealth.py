"""`monitoring.serving`: the server's latency and error rate, read from its own Prometheus-text `/metrics`.

The server exports the histogram `mlform_request_duration_seconds` and the counter `mlform_requests_total`
with a `status` label; both count from the server's start. The 99th percentile is interpolated within its
bucket as Prometheus' `histogram_quantile` does; the error rate is the share of 5xx answers.
"""

from __future__ import annotations

import math
import re
import urllib.request
from collections import defaultdict
from collections.abc import Iterator

from mlform.runtime.secretref import Secret, read_secret
from mlform.specs.model.monitoring_checks import ServingHealth
from mlform.specs.model.pipeline import Pipeline

from .checks import Check

__all__ = ["DURATION", "REQUESTS", "error_rate", "p99_seconds", "parse_metrics", "serving_checks"]

DURATION = "mlform_request_duration_seconds"
REQUESTS = "mlform_requests_total"
_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def parse_metrics(text: str) -> Iterator[Sample]:
    """(name, labels, value) of each sample line of a Prometheus text exposition; comments are skipped."""
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None or line.lstrip().startswith("#"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        yield match.group(1), dict(_LABEL.findall(match.group(2) or "")), value


def p99_seconds(samples: list[Sample], quantile: float = 0.99) -> float | None:
    """The `quantile` of the duration histogram, summed over its other labels; None without requests."""
    buckets: dict[float, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == f"{DURATION}_bucket" and "le" in labels:
            buckets[float(labels["le"])] += value
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = quantile * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if math.isinf(bound):  # beyond the largest finite bucket: its bound is all that is known
                return lower
            share = (rank - below) / (buckets[bound] - below) if buckets[bound] > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, buckets[bound]
    return lower


def error_rate(samples: list[Sample]) -> float | None:
    """The share of requests answered with a 5xx status; None without requests."""
    total = errors = 0.0
    for name, labels, value in samples:
        if name == REQUESTS:
            total += value
            errors += value if labels.get("status", "").startswith("5") else 0.0
    return errors / total if total > 0 else None


def _base_url(pipeline: Pipeline, health: ServingHealth) -> tuple[str, Secret | None]:
    if isinstance(health.url, str):
        return health.url, None
    secret = read_secret(pipeline, health.url.secret)
    return secret.value, secret


def serving_checks(pipeline: Pipeline, health: ServingHealth) -> list[Check]:
    """The verdicts of `p99_ms` and `error_rate`; an unreadable `/metrics` is one breach (the URL redacted)."""
    url, secret = _base_url(pipeline, health)
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=health.timeout_s) as response:  # noqa: S310
            text = response.read().decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        reason = secret.redact(str(exc)) if secret else str(exc)
        return [Check("serving", True, f"`monitoring.serving`: the server's `/metrics` could not be read ({reason})")]
    samples = list(parse_metrics(text))
    checks = []
    bounds = (("p99_ms", health.p99_ms, p99_seconds(samples), 1000.0, "ms"),
              ("error_rate", health.error_rate, error_rate(samples), 1.0, ""))
    for key, bound, value, scale, unit in bounds:
        if bound is None:
            continue
        if value is None:
            checks.append(Check(f"serving.{key}", False, f"`monitoring.serving.{key}`: no requests served yet",
                                {"value": None, "max": bound.max}))
            continue
        shown = value * scale
        breached = shown > bound.max
        word = "above" if breached else "within"
        checks.append(Check(f"serving.{key}", breached,
                            f"`serving.{key}` is {shown:.4g}{unit}, {word} the `max` {bound.max}{unit}",
                            {"value": shown, "max": bound.max}))
    return checks
