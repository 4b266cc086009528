"""Compute the evaluation metrics a spec names, for a fitted model on a labelled frame.

Conventions, fixed here so evaluation and monitoring agree:

- `f1`, `precision` and `recall` score the positive class `model.classes_[1]` on a binary target;
  on a multiclass target they are macro-averaged (the same as `f1_macro` and friends).
- `roc_auc` and `average_precision` use `predict_proba` (or `decision_function` when the model has
  no probabilities); multiclass targets are scored one-vs-rest and macro-averaged over the classes
  present in `y`. They are NaN when `y` holds a single class, where they are undefined.
- `mape` is a fraction (0.1 is 10 %), as in scikit-learn.
- Predictions and probabilities are each computed at most once, and only when a metric needs them.

Each metric is computed by the function its `mlform.specs.model.metrics.METRICS` entry names; a spec's
`evaluation.custom_metrics` are user functions `(y_true, y_pred) -> float`, looked up under the spec's folder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from mlform.specs.check.estimators import import_object
from mlform.specs.model.metrics import METRICS, Metric

from .metric_functions import Outputs
from .usercode import UserCodeError, call_user

__all__ = ["compute_metrics"]

def _check(names: Sequence[str], model: Any, X: pd.DataFrame, y: pd.Series, table: Mapping[str, Metric]) -> None:
    unknown = [n for n in names if n not in table]
    if unknown:
        known = ", ".join(f"`{n}`" for n in table)
        msg = f"unknown metric `{unknown[0]}` (known: {known})"
        raise ValueError(msg)
    task = "classification" if is_classifier(model) else "regression" if is_regressor(model) else None
    wrong = [n for n in names if task is not None and table[n].task not in (None, task)]
    if wrong:
        msg = f"metric `{wrong[0]}` is a {table[wrong[0]].task} metric but the model is a {task} model"
        raise ValueError(msg)
    if len(X) == 0:
        msg = "cannot compute metrics on zero rows"
        raise ValueError(msg)
    if len(X) != len(y):
        msg = f"`X` has {len(X)} rows but `y` has {len(y)}"
        raise ValueError(msg)


def _value(metric: Metric, truth: np.ndarray, outputs: Outputs, root: Path | None) -> float:
    if not metric.user:
        return float(import_object(metric.compute)(truth, outputs))
    where = metric.key or f"evaluation.custom_metrics.{metric.name}.function"
    value = call_user(metric.compute, root or Path.cwd(), where, truth, outputs.predicted)
    try:
        return float(value)
    except (TypeError, ValueError):
        msg = f"`{where}: {metric.compute}` returned {type(value).__name__}, not a number"
        raise UserCodeError(msg, key=where) from None


def compute_metrics(names: Sequence[str], model: Any, X: pd.DataFrame, y: pd.Series,
                    table: Mapping[str, Metric] = METRICS, root: Path | None = None,
                    positive: Any = None) -> dict[str, float]:
    """Each metric in `names` for `model` on (`X`, `y`), keyed by name in the order given.

    `table` names the metrics (`metric_table` adds a spec's user metrics, whose functions live under `root`);
    `positive` is the class binary metrics score (`evaluation.positive_class`).
    """
    _check(names, model, X, y, table)
    truth = np.asarray(y)
    outputs = Outputs(model, X, truth, positive)
    return {name: _value(table[name], truth, outputs, root) for name in names}
