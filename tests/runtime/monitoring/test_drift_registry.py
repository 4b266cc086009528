"""The drift registry drives the monitor: every declared method computes, and a new one is one entry and a function."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlform.runtime.monitoring.drift import detect_drift
from mlform.runtime.monitoring.monitor import run_monitor
from mlform.runtime.monitoring.samples import NumericSample, Sample
from mlform.specs.check.estimators import import_object
from mlform.specs.loader import ResolvedSpec, load_spec
from mlform.specs.model.drift_methods import DRIFT_METHODS, DriftMethodInfo
from mlform.specs.model.lifecycle import Drift

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def mean_shift(sample: Sample) -> float:
    """The toy method: how far the mean moved (numeric), or the total variation distance (categorical)."""
    if isinstance(sample, NumericSample):
        return abs(float(sample.current.mean() - sample.reference.mean()))
    return sample.total_variation


@pytest.mark.parametrize("name", list(DRIFT_METHODS))
def test_every_declared_method_computes_on_numbers_and_categories(name: str) -> None:
    compute = import_object(DRIFT_METHODS[name].compute)
    rng = np.random.default_rng(0)
    ref, cur = pd.DataFrame({"x": rng.normal(size=500)}), pd.DataFrame({"x": rng.normal(1.0, size=500)})
    same = detect_drift(ref, ref, Drift(method=name), ["x"]).features[0]
    moved = detect_drift(ref, cur, Drift(method=name), ["x"]).features[0]
    assert callable(compute) and same.score == 0.0 and moved.score is not None and moved.score > 0.1
    cats = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50}), pd.DataFrame({"c": ["a"] * 90 + ["b"] * 10})
    assert detect_drift(*cats, Drift(method=name), ["c"]).features[0].score > 0  # type: ignore[operator]


def _judged_by(spec: ResolvedSpec, method: str, threshold: float) -> ResolvedSpec:
    """The spec with `monitoring.drift` set to a method the schema does not know (a plugin's)."""
    monitoring = spec.pipeline.monitoring
    assert monitoring is not None
    drift = monitoring.drift.model_copy(update={"method": method, "threshold": threshold})
    pipeline = spec.pipeline.model_copy(update={"monitoring": monitoring.model_copy(update={"drift": drift})})
    return dataclasses.replace(spec, pipeline=pipeline)


def test_a_registered_toy_method_runs_through_the_monitor(iris_project: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DRIFT_METHODS, "mean_shift", DriftMethodInfo("mean_shift", f"{__name__}.mean_shift"))
    data = iris_project.parent / "data"
    reference, current = pd.read_csv(data / "iris.csv"), pd.read_csv(data / "live.csv")
    current["petal_length"] += 2.0
    current["sepal_width"] *= 1.5
    spec = _judged_by(load_spec(iris_project), "mean_shift", 1.0)
    result = run_monitor(spec, reference, current, None, tmp_path)
    shifts = {f: abs(current[f].mean() - reference[f].mean()) for f in FEATURES}
    assert [f.feature for f in result.features if f.drifted] == [f for f in FEATURES if shifts[f] > 1.0]
    assert [f.feature for f in result.features if f.drifted] == ["sepal_width", "petal_length"]
    report: dict[str, Any] = json.loads(result.report_json.read_text())
    for feature in report["drift"]["features"]:
        assert list(feature["stats"]) == [*DRIFT_METHODS]
        assert feature["stats"]["mean_shift"] == pytest.approx(shifts[feature["feature"]])
    assert "<th>mean_shift</th>" in result.report_html.read_text()
