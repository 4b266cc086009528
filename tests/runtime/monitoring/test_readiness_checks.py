"""The production-readiness lines of `monitoring` through run_monitor: each broken property is a named breach."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression
from tools.http_stub import http_stub

from mlform.runtime.monitoring.monitor import run_monitor
from mlform.runtime.monitoring.watch import nonfinite_check
from mlform.runtime.registry.models import ModelVersion
from mlform.specs.loader import ResolvedSpec, load_spec

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
Edit = Callable[[Path, Callable[[dict[str, Any]], None]], None]


@pytest.fixture
def iris(iris_project: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame, RandomForestClassifier]:
    data = iris_project.parent / "data"
    reference, current = pd.read_csv(data / "iris.csv"), pd.read_csv(data / "live.csv")
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(reference[FEATURES], reference["species"])
    return iris_project, reference, current, model


def watching(edit_spec: Edit, path: Path, **lines: Any) -> ResolvedSpec:
    edit_spec(path, lambda d: d["monitoring"].update(lines))
    return load_spec(path)


def served(created: datetime, metrics: dict[str, float] | None = None) -> ModelVersion:
    return ModelVersion("iris-classifier", 3, "0" * 64, Path("model.pkl"), [], metrics or {}, {},
                        created=created.isoformat(timespec="seconds"))


def checks(result: Any) -> dict[str, Any]:
    return {c.key: c for c in result.checks}


def test_current_data_breaking_a_validation_rule_is_a_breach(iris: Any, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    clean = run_monitor(load_spec(spec_path), reference, current, model, tmp_path / "clean")
    assert not clean.breached and checks(clean)["validate_current"].breached is False
    broken = current.copy()
    broken.loc[:4, "sepal_length"] = 50.0  # `max: 10` in the example's validation
    result = run_monitor(load_spec(spec_path), reference, broken, model, tmp_path / "broken")
    check = checks(result)["validate_current"]
    assert result.breached and check.breached and check.detail in result.reasons
    assert [(f["rule"], f["column"], f["failed"]) for f in check.figures["failures"]] == [("max", "sepal_length", 5)]
    report = json.loads(result.report_json.read_text())
    assert report["verdict"]["breached"] and check.detail in report["verdict"]["reasons"]
    assert "Production checks" in result.report_html.read_text()


def test_validate_current_false_turns_the_rules_off(iris: Any, edit_spec: Edit, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    broken = current.assign(sepal_length=50.0)
    spec = watching(edit_spec, spec_path, validate_current=False, drift={"max_drifted_share": 1.0})
    result = run_monitor(spec, reference, broken, model, tmp_path)
    assert "validate_current" not in checks(result) and not result.breached


@pytest.mark.parametrize(("age", "breached"), [(timedelta(days=31), True), (timedelta(days=29), False)])
def test_a_served_version_older_than_max_model_age_is_a_breach(iris: Any, edit_spec: Edit, tmp_path: Path,
                                                              age: timedelta, breached: bool) -> None:
    spec_path, reference, current, model = iris
    spec = watching(edit_spec, spec_path, max_model_age="30d")
    result = run_monitor(spec, reference, current, model, tmp_path, served(NOW - age), now=NOW)
    check = checks(result)["max_model_age"]
    assert (result.breached, check.breached) == (breached, breached)
    assert check.figures["age_days"] == age.days
    if breached:
        assert result.reasons == [f"the served version 3 is {age.days:.1f} days old, older than `max_model_age` 30d"]


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_nan_and_infinite_predictions_above_the_share_are_a_breach() -> None:
    rows = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 3.0, 2.0, 5.0]})
    model = LinearRegression().fit(rows, 1e300 * (rows["a"] - rows["b"]))  # weights near the float64 limit
    live = pd.DataFrame({"a": [1.0, 1e10, 1e10, 2.0], "b": [1.0, 1.0, 1e10, 3.0]})  # large inputs overflow
    assert int((~np.isfinite(model.predict(live))).sum()) == 2
    check = nonfinite_check(0.0, model, live)
    assert check.breached and check.figures == {"nonfinite": 2, "predictions": 4, "share": 0.5, "max": 0.0}
    assert not nonfinite_check(0.5, model, live).breached
    assert not nonfinite_check(0.0, model, rows).breached


METRICS_TEXT = """\
# HELP mlform_request_duration_seconds Request latency.
# TYPE mlform_request_duration_seconds histogram
mlform_request_duration_seconds_bucket{le="0.1"} 90
mlform_request_duration_seconds_bucket{le="0.5"} 99
mlform_request_duration_seconds_bucket{le="1"} 100
mlform_request_duration_seconds_bucket{le="+Inf"} 100
mlform_request_duration_seconds_sum 12.5
mlform_request_duration_seconds_count 100
# TYPE mlform_requests_total counter
mlform_requests_total{status="200"} 95
mlform_requests_total{status="422"} 2
mlform_requests_total{status="500"} 2
mlform_requests_total{status="503"} 1
"""


@pytest.mark.parametrize(("bounds", "breaches"), [
    # 99 of 100 requests took at most 0.5 s, 90 at most 0.1 s: the 99th falls on the 0.5 s bound; 3 of 100 are 5xx
    ({"p99_ms": {"max": 250}, "error_rate": {"max": 0.01}},
     ["`serving.p99_ms` is 500ms, above the `max` 250ms", "`serving.error_rate` is 0.03, above the `max` 0.01"]),
    ({"p99_ms": {"max": 500}, "error_rate": {"max": 0.05}}, []),
])
def test_server_latency_and_errors_from_its_metrics(iris: Any, edit_spec: Edit, tmp_path: Path,
                                                    bounds: dict[str, Any], breaches: list[str]) -> None:
    spec_path, reference, current, model = iris
    with http_stub(METRICS_TEXT) as stub:
        spec = watching(edit_spec, spec_path, serving={"url": stub.url, **bounds})
        result = run_monitor(spec, reference, current, model, tmp_path)
    assert result.reasons == breaches
    assert sorted(checks(result)) == ["serving.error_rate", "serving.p99_ms", "validate_current"]


def test_an_unreachable_server_is_a_breach_without_its_secret_url(iris: Any, edit_spec: Edit, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path, reference, current, model = iris
    with http_stub() as stub:
        gone = stub.url + "/private-token-path"
    monkeypatch.setenv("IRIS_SERVER", gone)
    edit_spec(spec_path, lambda d: d.update(secrets={"server": {"env": "IRIS_SERVER"}}))
    spec = watching(edit_spec, spec_path, serving={"url": {"secret": "server"}, "p99_ms": {"max": 250}})
    result = run_monitor(spec, reference, current, model, tmp_path)
    assert len(result.reasons) == 1
    assert result.reasons[0].startswith("`monitoring.serving`: the server's `/metrics` could not be read (")
    assert "private-token-path" not in result.report_json.read_text() + result.report_html.read_text()


def test_a_live_metric_trailing_the_registered_one_is_a_breach(iris: Any, edit_spec: Edit, tmp_path: Path) -> None:
    spec_path, reference, current, model = iris
    live = float((model.predict(current[FEATURES]) == current["species"]).mean())
    spec = watching(edit_spec, spec_path, offline_gap={"metric": "accuracy", "max_drop": 0.05})
    kept = run_monitor(spec, reference, current, model, tmp_path / "kept", served(NOW, {"accuracy": live + 0.04}))
    assert not kept.breached and checks(kept)["offline_gap"].figures["live"] == live
    trailing = run_monitor(spec, reference, current, model, tmp_path / "gap", served(NOW, {"accuracy": live + 0.2}))
    check = checks(trailing)["offline_gap"]
    assert trailing.breached and check.breached and check.figures["drop"] == pytest.approx(0.2)
    unlabelled = run_monitor(spec, reference, current.drop(columns="species"), model, tmp_path / "none",
                             served(NOW, {"accuracy": 1.0}))
    assert checks(unlabelled)["offline_gap"].detail == (
        "`offline_gap` not checked: the current data has no values of the target `species`")


@pytest.mark.parametrize(("status", "posted"), [(200, True), (500, False)])
def test_a_breach_is_posted_to_the_webhook_and_a_failed_post_keeps_the_breach(
        iris: Any, edit_spec: Edit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int,
        posted: bool) -> None:
    spec_path, reference, current, model = iris
    with http_stub(post_status=status) as hook:
        monkeypatch.setenv("IRIS_HOOK", hook.url + "/hooks/secret-part")
        edit_spec(spec_path, lambda d: d.update(secrets={"hook": {"env": "IRIS_HOOK"}}))
        spec = watching(edit_spec, spec_path, notify={"webhook": {"secret": "hook"}}, max_model_age="30d")
        result = run_monitor(spec, reference, current, model, tmp_path, served(NOW - timedelta(days=40)), now=NOW)
    assert result.breached and result.notify is not None and result.notify["posted"] is posted
    [summary] = hook.posted
    assert (summary["pipeline"], summary["env"], summary["reasons"]) == ("iris", "default", result.reasons)
    assert summary["checks"]["max_model_age"] is True
    text = result.report_json.read_text() + result.report_html.read_text()
    assert "secret-part" not in text and str(hook.url) not in text
    if not posted:
        assert "HTTP Error 500" in result.notify["error"] and "not posted" in result.report_html.read_text()


def test_no_breach_posts_nothing(iris: Any, edit_spec: Edit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_path, reference, current, model = iris
    with http_stub() as hook:
        monkeypatch.setenv("IRIS_HOOK", hook.url)
        edit_spec(spec_path, lambda d: d.update(secrets={"hook": {"env": "IRIS_HOOK"}}))
        result = run_monitor(watching(edit_spec, spec_path, notify={"webhook": {"secret": "hook"}}), reference,
                             current, model, tmp_path)
    assert (result.breached, result.notify, hook.posted) == (False, None, [])
