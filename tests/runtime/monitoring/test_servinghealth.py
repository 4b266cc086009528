"""The server's `/metrics` text: the 99th-percentile latency from histogram buckets and the 5xx share."""

from __future__ import annotations

import pytest

from mlform.runtime.monitoring.servinghealth import error_rate, p99_seconds, parse_metrics


def histogram(*series: dict[str, float]) -> str:
    """Duration buckets, one labelled series per mapping of upper bound -> cumulative count."""
    return "".join(f'mlform_request_duration_seconds_bucket{{path="/p{i}",le="{le}"}} {count}\n'
                   for i, buckets in enumerate(series) for le, count in buckets.items())


@pytest.mark.parametrize(("text", "seconds"), [
    # rank 99 of 100 is the 49th of the 50 requests between 0.1 s and 0.2 s: 0.1 + 0.1 * 49/50
    (histogram({"0.05": 0, "0.1": 50, "0.2": 100, "+Inf": 100}), 0.198),
    # the same requests split over two series are summed per bound first
    (histogram({"0.05": 0, "0.1": 20, "0.2": 40, "+Inf": 40}, {"0.05": 0, "0.1": 30, "0.2": 60, "+Inf": 60}), 0.198),
    # beyond the largest finite bound only that bound is known
    (histogram({"0.1": 0, "+Inf": 10}), 0.1),
    (histogram({"0.1": 0, "+Inf": 0}), None),
    ("# no samples\n", None),
])
def test_p99_is_interpolated_within_its_bucket(text: str, seconds: float | None) -> None:
    found = p99_seconds(list(parse_metrics(text)))
    assert found == (None if seconds is None else pytest.approx(seconds))


def test_error_rate_counts_5xx_of_every_request() -> None:
    text = ('# TYPE mlform_requests_total counter\nmlform_requests_total{status="200"} 90\n'
            'mlform_requests_total{status="404"} 4\nmlform_requests_total{status="500"} 4\n'
            'mlform_requests_total{status="503"} 2\nother_total{status="500"} 100\n')
    assert error_rate(list(parse_metrics(text))) == pytest.approx(0.06)
    assert error_rate(list(parse_metrics("mlform_requests_total{status=\"200\"} 0\n"))) is None
