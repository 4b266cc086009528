"""How each metric declared in `mlform.specs.model.metrics` is computed: one function per metric, by its name.

Every function takes the true labels and the model's `Outputs` and asks only for what it needs, so
predictions and scores are computed at most once per evaluation, and only when a metric needs them.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

__all__ = [
    "Outputs", "accuracy", "average_precision", "balanced_accuracy", "explained_variance", "f1", "f1_macro",
    "f1_micro", "f1_weighted", "log_loss", "mae", "mape", "median_ae", "model_size_mb", "mse", "precision",
    "precision_macro", "predict_ms_per_1k_rows", "r2", "recall", "recall_macro", "rmse", "roc_auc",
]


class Outputs:
    """Predictions and scores of one model on one frame, each computed once on first use, and its classes."""

    def __init__(self, model: Any, X: pd.DataFrame, truth: np.ndarray, positive: Any = None) -> None:
        self.model, self.X = model, X
        self.classes = np.asarray(getattr(model, "classes_", np.unique(truth)))
        if positive is not None and len(self.classes) == 2 and positive not in list(self.classes):
            shown = ", ".join(f"`{c}`" for c in self.classes)
            msg = f"`evaluation.positive_class: {positive}` is not a class of the target (classes: {shown})"
            raise ValueError(msg)
        # the class binary metrics score: `evaluation.positive_class`, else the second in sorted order
        self.positive = positive if positive is not None else self.classes[-1]
        self._cache: dict[str, np.ndarray] = {}

    def get(self, kind: str) -> np.ndarray:
        """`predict`, `predict_proba` or `decision_function` of the model, cached."""
        if kind not in self._cache:
            self._cache[kind] = np.asarray(getattr(self.model, kind)(self.X))
        return self._cache[kind]

    @property
    def predicted(self) -> np.ndarray:
        """The model's predictions."""
        return self.get("predict")

    @property
    def averaging(self) -> dict[str, Any]:
        """How `f1`, `precision` and `recall` average: the positive class on two classes, else macro."""
        return {"pos_label": self.positive, "average": "binary"} if len(self.classes) == 2 else {"average": "macro"}

    def scores(self, name: str) -> np.ndarray:
        """Class probabilities, or decision scores for ranking metrics when there are no probabilities."""
        if hasattr(self.model, "predict_proba"):
            return self.get("predict_proba")
        if name != "log_loss" and hasattr(self.model, "decision_function"):
            return self.get("decision_function")
        msg = f"metric `{name}` needs a model with `predict_proba`"
        raise ValueError(msg)


def _ovr_macro(fn: Callable[[np.ndarray, np.ndarray], float], y: np.ndarray, scores: np.ndarray,
               out: Outputs) -> float:
    """One-vs-rest `fn` macro-averaged over the classes present in `y`; binary uses the positive class's column."""
    classes = out.classes
    present = np.isin(classes, np.unique(y))
    if present.sum() < 2:
        return math.nan
    if len(classes) == 2:
        second = out.positive == classes[1]
        # a 1-D decision function scores the second class: the first class's score is its negation
        column = scores[:, 1 if second else 0] if scores.ndim == 2 else (scores if second else -scores)
        return float(fn(y == out.positive, column))
    onehot = label_binarize(y, classes=classes)
    return float(np.mean([fn(onehot[:, i], scores[:, i]) for i in np.flatnonzero(present)]))


def accuracy(y: np.ndarray, out: Outputs) -> float:
    """Share of correct predictions."""
    return float(skm.accuracy_score(y, out.predicted))


def balanced_accuracy(y: np.ndarray, out: Outputs) -> float:
    """Mean recall over the classes."""
    return float(skm.balanced_accuracy_score(y, out.predicted))


def f1(y: np.ndarray, out: Outputs) -> float:
    """F1 of the positive class (binary) or macro-averaged."""
    return float(skm.f1_score(y, out.predicted, zero_division=0, **out.averaging))


def f1_macro(y: np.ndarray, out: Outputs) -> float:
    """F1 averaged over the classes."""
    return float(skm.f1_score(y, out.predicted, average="macro", zero_division=0))


def f1_micro(y: np.ndarray, out: Outputs) -> float:
    """F1 over all predictions pooled."""
    return float(skm.f1_score(y, out.predicted, average="micro", zero_division=0))


def f1_weighted(y: np.ndarray, out: Outputs) -> float:
    """F1 averaged over the classes, weighted by their support."""
    return float(skm.f1_score(y, out.predicted, average="weighted", zero_division=0))


def precision(y: np.ndarray, out: Outputs) -> float:
    """Precision of the positive class (binary) or macro-averaged."""
    return float(skm.precision_score(y, out.predicted, zero_division=0, **out.averaging))


def precision_macro(y: np.ndarray, out: Outputs) -> float:
    """Precision averaged over the classes."""
    return float(skm.precision_score(y, out.predicted, average="macro", zero_division=0))


def recall(y: np.ndarray, out: Outputs) -> float:
    """Recall of the positive class (binary) or macro-averaged."""
    return float(skm.recall_score(y, out.predicted, zero_division=0, **out.averaging))


def recall_macro(y: np.ndarray, out: Outputs) -> float:
    """Recall averaged over the classes."""
    return float(skm.recall_score(y, out.predicted, average="macro", zero_division=0))


def roc_auc(y: np.ndarray, out: Outputs) -> float:
    """Area under the ROC curve, one-vs-rest and macro-averaged on more than two classes."""
    return _ovr_macro(skm.roc_auc_score, y, out.scores("roc_auc"), out)


def average_precision(y: np.ndarray, out: Outputs) -> float:
    """Area under the precision-recall curve, one-vs-rest and macro-averaged on more than two classes."""
    return _ovr_macro(skm.average_precision_score, y, out.scores("average_precision"), out)


def log_loss(y: np.ndarray, out: Outputs) -> float:
    """Cross-entropy of the class probabilities."""
    return float(skm.log_loss(y, out.scores("log_loss"), labels=out.classes))


def r2(y: np.ndarray, out: Outputs) -> float:
    """Coefficient of determination."""
    return float(skm.r2_score(y, out.predicted))


def explained_variance(y: np.ndarray, out: Outputs) -> float:
    """Explained variance score."""
    return float(skm.explained_variance_score(y, out.predicted))


def mae(y: np.ndarray, out: Outputs) -> float:
    """Mean absolute error."""
    return float(skm.mean_absolute_error(y, out.predicted))


def mse(y: np.ndarray, out: Outputs) -> float:
    """Mean squared error."""
    return float(skm.mean_squared_error(y, out.predicted))


def rmse(y: np.ndarray, out: Outputs) -> float:
    """Root mean squared error."""
    return math.sqrt(skm.mean_squared_error(y, out.predicted))


def mape(y: np.ndarray, out: Outputs) -> float:
    """Mean absolute percentage error, as a fraction."""
    return float(skm.mean_absolute_percentage_error(y, out.predicted))


def median_ae(y: np.ndarray, out: Outputs) -> float:
    """Median absolute error."""
    return float(skm.median_absolute_error(y, out.predicted))


# computing cost (either task; lower is better): a fast predict is repeated until this much time has passed,
# so the timer's resolution does not decide the figure
_MIN_SECONDS = 0.05
_MAX_REPEATS = 50


def predict_ms_per_1k_rows(y: np.ndarray, out: Outputs) -> float:
    """Milliseconds `predict` takes per 1000 test rows: the fastest of a few repeats (the least disturbed)."""
    best, spent, repeats = float("inf"), 0.0, 0
    while repeats < 3 or (spent < _MIN_SECONDS and repeats < _MAX_REPEATS):
        start = time.perf_counter()
        out.model.predict(out.X)
        took = time.perf_counter() - start
        best, spent, repeats = min(best, took), spent + took, repeats + 1
    return best * 1000 * 1000 / max(len(out.X), 1)


def model_size_mb(y: np.ndarray, out: Outputs) -> float:
    """The pickled model's size in megabytes (10^6 bytes), as the registry stores it."""
    return len(pickle.dumps(out.model, protocol=pickle.HIGHEST_PROTOCOL)) / 1e6
