"""Metrics are declared once in `METRICS`: every declared metric computes, and a new one is an entry and a function."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlform.runtime.steps import metric_functions
from mlform.runtime.steps.metric_functions import Outputs
from mlform.runtime.steps.metrics import compute_metrics
from mlform.specs.model.metrics import METRICS, Metric


@functools.cache
def _fitted(task: str) -> tuple[object, pd.DataFrame, pd.Series]:
    if task == "classification":
        X, y = load_wine(return_X_y=True, as_frame=True)
        return LogisticRegression(max_iter=5000).fit(X, y), X, y
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return LinearRegression().fit(X, y), X, y


def test_the_runtime_has_one_function_per_declared_metric() -> None:
    functions = {name for name in metric_functions.__all__ if name != "Outputs"}
    assert functions == set(METRICS)
    assert {m.compute for m in METRICS.values()} == {f"{metric_functions.__name__}.{n}" for n in METRICS}


@pytest.mark.parametrize("name", list(METRICS))
def test_every_declared_metric_computes(name: str) -> None:
    model, X, y = _fitted(METRICS[name].task)
    value = compute_metrics([name], model, X, y)[name]
    assert isinstance(value, float) and math.isfinite(value)


def worst_error(y: np.ndarray, out: Outputs) -> float:
    """The toy metric: the largest absolute prediction error."""
    return float(np.max(np.abs(out.predicted - y)))


def test_a_registered_toy_metric_computes_next_to_the_built_in_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METRICS, "worst", Metric("worst", "regression", greater_is_better=False,
                                                       compute=f"{__name__}.worst_error"))
    model, X, y = _fitted("regression")
    got = compute_metrics(["mae", "worst"], model, X, y)
    errors = model.predict(X) - y.to_numpy()  # type: ignore[attr-defined]
    assert got == {"mae": pytest.approx(np.abs(errors).mean()), "worst": pytest.approx(np.abs(errors).max())}
