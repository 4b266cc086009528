"""Compute the evaluation metrics a spec names, for a fitted model on a labelled frame.

Conventions, fixed here so evaluation and monitoring agree:

- `f1`, `precision` and `recall` score the positive class `model.classes_[1]` on a binary target;
  on a multiclass target they are macro-averaged (the same as `f1_macro` and friends).
- `roc_auc` and `average_precision` use `predict_proba` (or `decision_function` when the model has
  no probabilities); multiclass targets are scored one-vs-rest and macro-averaged over the classes
  present in `y`. They are NaN when `y` holds a single class, where they are undefined.
- `mape` is a fraction (0.1 is 10 %), as in scikit-learn.
- Predictions and probabilities are each computed at most once, and only when a metric needs them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.base import is_classifier, is_regressor
from sklearn.preprocessing import label_binarize

from mlform.specs.model.metrics import METRICS

__all__ = ["compute_metrics"]

_LABEL_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, dict[str, Any]], float]] = {
    "accuracy": lambda y, p, kw: skm.accuracy_score(y, p),
    "balanced_accuracy": lambda y, p, kw: skm.balanced_accuracy_score(y, p),
    "f1": lambda y, p, kw: skm.f1_score(y, p, zero_division=0, **kw),
    "f1_macro": lambda y, p, kw: skm.f1_score(y, p, average="macro", zero_division=0),
    "f1_micro": lambda y, p, kw: skm.f1_score(y, p, average="micro", zero_division=0),
    "f1_weighted": lambda y, p, kw: skm.f1_score(y, p, average="weighted", zero_division=0),
    "precision": lambda y, p, kw: skm.precision_score(y, p, zero_division=0, **kw),
    "precision_macro": lambda y, p, kw: skm.precision_score(y, p, average="macro", zero_division=0),
    "recall": lambda y, p, kw: skm.recall_score(y, p, zero_division=0, **kw),
    "recall_macro": lambda y, p, kw: skm.recall_score(y, p, average="macro", zero_division=0),
}
_REGRESSION_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "r2": skm.r2_score,
    "explained_variance": skm.explained_variance_score,
    "mae": skm.mean_absolute_error,
    "mse": skm.mean_squared_error,
    "rmse": lambda y, p: math.sqrt(skm.mean_squared_error(y, p)),
    "mape": skm.mean_absolute_percentage_error,
    "median_ae": skm.median_absolute_error,
}


class _Lazy:
    """Predictions and scores of one model on one frame, each computed once on first use."""

    def __init__(self, model: Any, X: pd.DataFrame) -> None:
        self.model, self.X = model, X
        self._cache: dict[str, np.ndarray] = {}

    def get(self, kind: str) -> np.ndarray:
        """`predict`, `predict_proba` or `decision_function` of the model, cached."""
        if kind not in self._cache:
            self._cache[kind] = np.asarray(getattr(self.model, kind)(self.X))
        return self._cache[kind]

    def scores(self, name: str) -> np.ndarray:
        """Class probabilities, or decision scores for ranking metrics when there are no probabilities."""
        if hasattr(self.model, "predict_proba"):
            return self.get("predict_proba")
        if name != "log_loss" and hasattr(self.model, "decision_function"):
            return self.get("decision_function")
        msg = f"metric `{name}` needs a model with `predict_proba`"
        raise ValueError(msg)


def _ovr_macro(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, scores: np.ndarray,
               classes: np.ndarray) -> float:
    """One-vs-rest `fn` macro-averaged over the classes present in `y`; binary uses the positive column."""
    present = np.isin(classes, np.unique(y))
    if present.sum() < 2:
        return math.nan
    if len(classes) == 2:
        column = scores[:, 1] if scores.ndim == 2 else scores
        return float(fn(y == classes[1], column))
    onehot = label_binarize(y, classes=classes)
    return float(np.mean([fn(onehot[:, i], scores[:, i]) for i in np.flatnonzero(present)]))


def _score_metric(name: str, y: np.ndarray, lazy: _Lazy, classes: np.ndarray) -> float:
    scores = lazy.scores(name)
    if name == "log_loss":
        return float(skm.log_loss(y, scores, labels=classes))
    fn = skm.roc_auc_score if name == "roc_auc" else skm.average_precision_score
    return _ovr_macro(fn, y, scores, classes)


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
    lazy = _Lazy(model, X)
    truth = np.asarray(y)
    classes = np.asarray(getattr(model, "classes_", np.unique(truth)))
    binary = {"pos_label": classes[1], "average": "binary"} if len(classes) == 2 else {"average": "macro"}
    out: dict[str, float] = {}
    for name in names:
        if name in _LABEL_METRICS:
            out[name] = float(_LABEL_METRICS[name](truth, lazy.get("predict"), binary))
        elif name in _REGRESSION_METRICS:
            out[name] = float(_REGRESSION_METRICS[name](truth, lazy.get("predict")))
        else:
            out[name] = _score_metric(name, truth, lazy, classes)
    return out
