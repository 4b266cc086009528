"""Hyperparameter search: candidates drawn (or gridded) from `model.tuning.params`, scored by cross-validation.

Each candidate is built the way training builds the model (`build_pipeline` with the candidate's params over
`model.params`), so an estimator class and a user factory are tuned alike, and scored with mlform's own
metrics (custom ones included), so the search optimises exactly what evaluation reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlform.specs.model.lifecycle import Evaluation, ModelSpec
from mlform.specs.model.metrics import metric_table
from mlform.specs.model.tuning import Distribution, Tuning

from .metrics import compute_metrics
from .train import TrainError, build_pipeline

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SearchResult", "search"]


@dataclass(frozen=True)
class SearchResult:
    """The search's candidates with their mean scores, and the best one."""

    metric: str
    greater_is_better: bool
    trials: list[dict[str, Any]]
    best_params: dict[str, Any]
    best_score: float

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "trials": self.trials,
                "best_params": self.best_params, "best_score": self.best_score}


class _Quantized:
    """`round(uniform(low, high) / q) * q`, as hyperopt's `quniform`; integers when every bound is one."""

    def __init__(self, low: float, high: float, q: float) -> None:
        self.low, self.high, self.q = low, high, q
        self.whole = all(isinstance(v, int) for v in (low, high, q))

    def rvs(self, random_state: Any = None) -> float | int:
        value = round(np.random.default_rng(random_state).uniform(self.low, self.high) / self.q) * self.q
        return int(value) if self.whole else float(value)


def _space(values: list[Any] | Distribution) -> Any:
    """What `ParameterSampler` draws from: a list, or an object with `rvs`."""
    from scipy import stats

    if isinstance(values, list):
        return values
    low, high = values.low, values.high
    if values.distribution == "uniform":
        return stats.uniform(low, high - low)
    if values.distribution == "loguniform":
        return stats.loguniform(low, high)
    if values.distribution == "randint":
        return stats.randint(low, high)
    assert values.q is not None  # the spec requires `q` for `quniform`
    return _Quantized(low, high, values.q)


def _candidates(tuning: Tuning) -> list[dict[str, Any]]:
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    if tuning.method == "grid":
        return list(ParameterGrid({name: values for name, values in tuning.params.items()}))
    space = {name: _space(values) for name, values in tuning.params.items()}
    return list(ParameterSampler(space, n_iter=tuning.candidates, random_state=tuning.seed))


def _plain(value: Any) -> Any:
    """A drawn value as plain Python (numpy scalars become int or float)."""
    return value.item() if isinstance(value, np.generic) else value


def _folds(tuning: Tuning, classifier: bool, y: pd.Series) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    if classifier and int(y.value_counts().min()) >= tuning.cv:
        return StratifiedKFold(tuning.cv, shuffle=True, random_state=tuning.seed)
    return KFold(tuning.cv, shuffle=True, random_state=tuning.seed)


def _score(model: ModelSpec, params: dict[str, Any], X: pd.DataFrame, y: pd.Series, folds: Any, metric: str,
           evaluation: Evaluation, root: Path) -> list[float]:
    """The candidate's metric on each held-out fold."""
    table = metric_table(evaluation.custom_metrics)
    candidate = model.model_copy(update={"params": {**model.params, **params}, "tuning": None})
    scores = []
    for fit_rows, held_rows in folds.split(X, y):
        pipeline = build_pipeline(candidate, root)
        try:
            pipeline.fit(X.iloc[fit_rows], y.iloc[fit_rows])
        except (TypeError, ValueError) as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
            raise TrainError(f"`model.tuning`: the candidate {shown} cannot be fitted: {exc}") from None
        held = compute_metrics([metric], pipeline, X.iloc[held_rows], y.iloc[held_rows], table, root,
                               evaluation.positive_class)
        scores.append(held[metric])
    return scores


def search(model: ModelSpec, evaluation: Evaluation, X: pd.DataFrame, y: pd.Series, root: Path) -> SearchResult:
    """Score every candidate of `model.tuning` by cross-validation on (`X`, `y`); the best is the one whose mean
    is best by the metric's direction (the first on a tie; NaN never wins)."""
    tuning = model.tuning
    assert tuning is not None  # called only when the spec tunes
    metric = tuning.metric or evaluation.metrics[0]
    better = metric_table(evaluation.custom_metrics)[metric].greater_is_better
    from sklearn.base import is_classifier

    folds = _folds(tuning, is_classifier(build_pipeline(model, root)), y)
    trials: list[dict[str, Any]] = []
    for params in _candidates(tuning):
        plain = {name: _plain(value) for name, value in sorted(params.items())}
        scores = _score(model, plain, X, y, folds, metric, evaluation, root)
        trials.append({"params": plain, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
                       "folds": [float(s) for s in scores]})
    ranked = [t for t in trials if not math.isnan(t["mean"])]
    if not ranked:
        raise TrainError(f"`model.tuning`: every candidate scored NaN on `{metric}`")
    best = max(ranked, key=lambda t: t["mean"]) if better else min(ranked, key=lambda t: t["mean"])
    return SearchResult(metric, better, trials, best["params"], best["mean"])
