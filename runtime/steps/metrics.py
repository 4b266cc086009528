"""Compute the evaluation metrics a spec names, for a fitted model on a labelled frame.

Conventions, fixed here so evaluation and monitoring agree:

- `f1`, `precision` and `recall` score the positive class `model.classes_[1]` on a binary target;
  on a multiclass target they are macro-averaged (the same as `f1_macro` and friends).
- `roc_auc` and `average_precision` use `predict_proba` (or `decision_function` when the model has
  no probabilities); multiclass targets are scored one-vs-rest and macro-averaged over the classes
  present in `y`. They are NaN when `y` holds a single class, where they are undefined.
- `mape` is a fraction (0.1 is 10 %), as in scikit-learn.
- Predictions and probabilities are each computed at most once, and only when a metric needs them.

Each metric is computed by the function its `mlform.specs.model.metrics.METRICS` entry names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from mlform.specs.check.estimators import import_object
from mlform.specs.model.metrics import METRICS

from .metric_functions import Outputs

__all__ = ["compute_metrics"]

def _check(names: Sequence[str], model: Any, X: pd.DataFrame, y: pd.Series) -> None:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        known = ", ".join(f"`{n}`" for n in METRICS)
        msg = f"unknown metric `{unknown[0]}` (known: {known})"
        raise ValueError(msg)
    task = "classification" if is_classifier(model) else "regression" if is_regressor(model) else None
    wrong = [n for n in names if task is not None and METRICS[n].task != task]
    if wrong:
        msg = f"metric `{wrong[0]}` is a {METRICS[wrong[0]].task} metric but the model is a {task} model"
        raise ValueError(msg)
    if len(X) == 0:
        msg = "cannot compute metrics on zero rows"
        raise ValueError(msg)
    if len(X) != len(y):
        msg = f"`X` has {len(X)} rows but `y` has {len(y)}"
        raise ValueError(msg)


def compute_metrics(names: Sequence[str], model: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Each metric in `names` for `model` on (`X`, `y`), keyed by name in the order given."""
    _check(names, model, X, y)
    truth = np.asarray(y)
    outputs = Outputs(model, X, truth)
    return {name: float(import_object(METRICS[name].compute)(truth, outputs)) for name in names}
