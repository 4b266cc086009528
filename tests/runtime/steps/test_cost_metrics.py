"""`predict_ms_per_1k_rows` and `model_size_mb`: measured on the test rows, gated with `max`, lower is better."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from mlform.runtime.steps.evaluate import check_gates, improvement
from mlform.runtime.steps.metrics import compute_metrics
from mlform.specs.model.lifecycle import Gate

X = pd.DataFrame({"a": np.arange(200.0), "b": np.arange(200.0) % 7})
Y = pd.Series(X["a"] * 2 + X["b"])


class Slow(LinearRegression):
    """A regressor that sleeps 20 ms per call and carries 3 MB of dead weight: slower and bigger, same answers."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        time.sleep(0.02)
        return super().predict(X)


def test_a_slower_bigger_model_fails_the_gates_a_fast_small_one_passes() -> None:
    names = ["predict_ms_per_1k_rows", "model_size_mb", "r2"]
    fast = LinearRegression().fit(X, Y)
    slow = Slow().fit(X, Y)
    slow.weight_ = np.zeros(3_000_000 // 8)
    gates = {"predict_ms_per_1k_rows": Gate(max=50), "model_size_mb": Gate(max=1)}
    fast_metrics = compute_metrics(names, fast, X, Y)
    slow_metrics = compute_metrics(names, slow, X, Y)
    assert all(g.passed for g in check_gates(fast_metrics, gates))
    failed = [g.metric for g in check_gates(slow_metrics, gates) if not g.passed]
    assert failed == ["predict_ms_per_1k_rows", "model_size_mb"]
    # 20 ms per call over 200 rows is at least 100 ms per 1000 rows; the size is the pickle's
    assert slow_metrics["predict_ms_per_1k_rows"] >= 100
    assert slow_metrics["model_size_mb"] == len(pickle.dumps(slow, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6
    # lower is better: against a fast champion the slow challenger's improvement is negative
    assert improvement("predict_ms_per_1k_rows", slow_metrics["predict_ms_per_1k_rows"],
                       fast_metrics["predict_ms_per_1k_rows"]) < 0
