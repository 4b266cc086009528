"""The reviewer's checks the evaluate step runs after its gates: a baseline, slices, fairness, staleness, features.

Each check has the spec key it enforces, a verdict and a message naming what failed; a review's numbers are
tracked as metrics under `baseline.`, `slices.`, `fairness.`, `staleness.` and `importance.` (never registered as
the version's metrics) and its JSON is kept in the evaluation, the registry's verdict and the model card.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlform.specs.check.estimators import import_object
from mlform.specs.errors import StepPartError
from mlform.specs.model.metrics import Metric
from mlform.specs.model.review import DEFAULT_BASELINES

from .evaluate import improvement
from .metrics import compute_metrics

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.lifecycle import Evaluation

__all__ = ["Cached", "Check", "Review", "ReviewError", "Scorer", "metric_key", "plain", "review_baseline",
           "review_fairness", "review_model"]


class ReviewError(StepPartError):
    """A review block cannot be computed on this data (e.g. a slice column with too many values)."""


@dataclass(frozen=True)
class Check:
    """One reviewed property: the spec key that asks for it, whether it holds, and why in words."""

    key: str
    passed: bool
    message: str
    warning: bool = False  # reported, never failing (a too-small slice under `too_small: warn`)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        return {"key": self.key, "passed": self.passed, "message": self.message, "warning": self.warning}


@dataclass
class Review:
    """Every block's JSON, its checks and the numbers to track."""

    blocks: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every check holds."""
        return all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data: the blocks and the checks."""
        return {**self.blocks, "checks": [c.to_json() for c in self.checks], "passed": self.passed}


@dataclass(frozen=True)
class Scorer:
    """Scores a fitted model with mlform's metrics (custom ones included), the way evaluation does."""

    table: Mapping[str, Metric]
    root: Path
    positive: Any

    def __call__(self, names: list[str], model: Any, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
        """Each metric in `names` of `model` on (`X`, `y`)."""
        return compute_metrics(list(dict.fromkeys(names)), model, X, y, self.table, self.root, self.positive)

    def gain(self, metric: str, better: float, worse: float) -> float:
        """How much better `better` is than `worse` in the metric's direction."""
        return improvement(metric, better, worse, self.table)


class Cached:
    """A fitted model's outputs on fixed rows, each computed once; `rows(mask)` serves them for a subset."""

    _KINDS = ("predict", "predict_proba", "decision_function")

    def __init__(self, model: Any, X: pd.DataFrame) -> None:
        self.model, self.X = model, X
        self._outputs: dict[str, Any] = {}

    def output(self, kind: str) -> Any:
        """`predict`, `predict_proba` or `decision_function` on every row, computed on first use."""
        if kind not in self._outputs:
            self._outputs[kind] = getattr(self.model, kind)(self.X)
        return self._outputs[kind]

    def rows(self, mask: Any) -> _Rows:
        """A stand-in for the model that answers for the rows of `mask` only (whatever frame it is given)."""
        return _Rows(self, mask)


class _Rows:
    """The model as metrics see it, on a subset of the cached rows: no slice predicts twice."""

    def __init__(self, cached: Cached, mask: Any) -> None:
        self._cached, self._mask = cached, mask

    def __getattr__(self, name: str) -> Any:
        if name in Cached._KINDS:
            getattr(self._cached.model, name)  # an AttributeError when the model lacks it, as metrics expect
            return lambda _X: self._cached.output(name)[self._mask]
        return getattr(self._cached.model, name)  # classes_, its tags


def plain(value: float) -> float | None:
    """A number for JSON: NaN and infinities become None."""
    return float(value) if math.isfinite(value) else None


def metric_key(*parts: Any) -> str:
    """A tracked metric name from parts, with characters MLflow refuses replaced by `_`."""
    return ".".join(re.sub(r"[^\w\-/ ]", "_", str(p)) for p in parts)


def unfitted(model: Any, estimator: Any = None) -> Any:
    """A fresh copy of the fitted pipeline's recipe, optionally with another estimator behind its preprocessing."""
    from sklearn.base import clone
    from sklearn.pipeline import Pipeline

    if estimator is None:
        return clone(model)
    preprocess = model.named_steps["preprocess"] if isinstance(model, Pipeline) else "passthrough"
    return Pipeline([("preprocess", preprocess if isinstance(preprocess, str) else clone(preprocess)),
                     ("model", estimator)])


def review_baseline(ev: Evaluation, model: Any, train: tuple[pd.DataFrame, pd.Series],
                    test: tuple[pd.DataFrame, pd.Series], metrics: Mapping[str, float], score: Scorer,
                    review: Review) -> None:
    """`evaluation.baseline`: fit the baseline on `train`, score it on `test` and check the model beats it."""
    from sklearn.base import is_classifier

    chosen = ev.baseline
    assert chosen is not None and chosen is not False  # called only when the spec asks for a baseline
    task = "classification" if is_classifier(model) else "regression"
    path, params = DEFAULT_BASELINES[task]
    margins: dict[str, float] = {ev.metrics[0]: 0.0}
    if not isinstance(chosen, bool):
        path, params = (chosen.estimator, chosen.params) if chosen.estimator else (path, params)
        margins = {k: float(v) for k, v in chosen.min_improvement.items()} or margins
    try:
        estimator = import_object(path)(**params)
    except (ImportError, TypeError, ValueError) as exc:
        raise ReviewError(f"`evaluation.baseline`: cannot build `{path}`: {exc}") from None
    fitted = unfitted(model, estimator).fit(*train)
    scores = score(list(ev.metrics), fitted, *test)
    rows = []
    for metric, margin in margins.items():
        mine, theirs = float(metrics[metric]), float(scores[metric])
        gain = score.gain(metric, mine, theirs)
        passed = gain > 0 and gain >= margin  # NaN compares false: it fails
        verdict = "beats" if passed else "does not beat"
        review.checks.append(Check(
            f"evaluation.baseline.min_improvement.{metric}", passed,
            f"model {verdict} baseline `{path.rsplit('.', 1)[-1]}` on `{metric}`: {mine:.4g} vs {theirs:.4g} "
            f"(improvement {gain:+.4g}, margin {margin:g})"))
        rows.append({"metric": metric, "model": plain(mine), "baseline": plain(theirs), "margin": margin,
                     "passed": passed})
    review.metrics.update({metric_key("baseline", k): v for k, v in scores.items()})
    review.blocks["baseline"] = {"estimator": path, "params": params,
                                 "metrics": {k: plain(v) for k, v in scores.items()}, "comparisons": rows}


def groups(column: pd.Series, limit: int, where: str) -> list[tuple[str, Any]]:
    """(label, mask) per distinct value of `column` (nulls as `null`), sorted by label."""
    import pandas as pd

    values = column.astype("object").where(column.notna(), None)
    distinct = pd.unique(values)
    if len(distinct) > limit:
        raise ReviewError(f"`{where}`: column `{column.name}` has {len(distinct)} distinct values in the test rows "
                          f"(at most {limit} are scored one by one); slice it with a `filter` instead")
    labelled = sorted((("null" if v is None else str(v)), v) for v in distinct)
    return [(label, (values.isna() if v is None else values == v).to_numpy()) for label, v in labelled]


def review_fairness(ev: Evaluation, cached: Cached, test: tuple[pd.DataFrame, pd.Series], frame: pd.DataFrame,
                    score: Scorer, review: Review) -> None:
    """`evaluation.fairness`: score each group of the test rows and check the largest gap."""
    fair = ev.fairness
    assert fair is not None  # called only when the spec asks for it
    X, y = test
    where = "evaluation.fairness.group"
    scored, small = {}, []
    for label, mask in groups(frame[fair.group], 1000, where):
        if int(mask.sum()) < fair.min_rows:
            small.append(label)
            continue
        scored[label] = float(score([fair.metric], cached.rows(mask), X[mask], y[mask])[fair.metric])
    finite = {k: v for k, v in scored.items() if not math.isnan(v)}
    key = "evaluation.fairness.max_gap"
    left_out = f"; left out, under {fair.min_rows} rows: {', '.join(f'`{s}`' for s in small)}" if small else ""
    if len(finite) < 2:
        gap = math.nan
        check = Check(key, False, f"fairness on `{fair.group}` cannot be judged: fewer than two groups have "
                                  f"`{fair.metric}` on at least {fair.min_rows} test rows{left_out}")
    else:
        best, worst = max(finite, key=finite.__getitem__), min(finite, key=finite.__getitem__)
        gap = finite[best] - finite[worst]
        passed = gap <= fair.max_gap
        check = Check(key, passed, f"`{fair.metric}` gap between groups of `{fair.group}` is {gap:.4g} "
                                   f"(`{best}` {finite[best]:.4g}, `{worst}` {finite[worst]:.4g}; max_gap "
                                   f"{fair.max_gap:g}){'' if passed else ': too large'}{left_out}")
    review.checks.append(check)
    review.metrics[metric_key("fairness", fair.metric, "gap")] = gap
    review.metrics.update({metric_key("fairness", fair.group, k, fair.metric): v for k, v in scored.items()})
    review.blocks["fairness"] = {"group": fair.group, "metric": fair.metric, "max_gap": fair.max_gap,
                                 "gap": plain(gap), "passed": check.passed, "too_small": small,
                                 "groups": [{"group": k, "value": plain(v)} for k, v in scored.items()]}


def review_model(ev: Evaluation, model: Any, metrics: Mapping[str, float], train: pd.DataFrame,
                 test: pd.DataFrame, frame: pd.DataFrame, features: list[str], target: str,
                 score: Scorer) -> Review | None:
    """Every review block `ev` asks for, on the model's `train` and `test` rows (every column of the training data,
    so a group or slice column needs not be a feature) and on the whole training `frame` (staleness)."""
    if ev.baseline in (None, False) and not ev.slices and not (ev.fairness or ev.staleness or ev.features):
        return None
    from .importance import review_features
    from .slices import review_slices
    from .staleness import review_staleness

    review = Review()
    xy_train = (train[features], train[target])
    xy_test = (test[features], test[target])
    cached = Cached(model, xy_test[0])
    if ev.baseline not in (None, False):
        review_baseline(ev, model, xy_train, xy_test, metrics, score, review)
    if ev.slices:
        review_slices(ev, cached, xy_test, test, score, review)
    if ev.fairness is not None:
        review_fairness(ev, cached, xy_test, test, score, review)
    if ev.staleness is not None:
        review_staleness(ev.staleness, model, frame, features, target, score, review)
    if ev.features is not None:
        review_features(ev, model, xy_test, score, review)
    return review
