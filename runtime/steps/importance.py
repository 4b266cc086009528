"""`evaluation.features`: permutation importance of each feature on the test rows, gated by worth and cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .review import Check, Review, Scorer, metric_key, plain

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.lifecycle import Evaluation

__all__ = ["review_features"]


def review_features(ev: Evaluation, model: Any, test: tuple[pd.DataFrame, pd.Series], score: Scorer,
                    review: Review) -> None:
    """Each feature's mean loss of the metric when its test values are shuffled; too little fails, named."""
    from sklearn.inspection import permutation_importance

    chosen = ev.features
    assert chosen is not None  # called only when the spec asks for it
    metric = chosen.metric or ev.metrics[0]
    sign = 1.0 if score.gain(metric, 1.0, 0.0) > 0 else -1.0  # permutation_importance wants higher = better

    def scorer(estimator: Any, X: pd.DataFrame, y: pd.Series) -> float:
        return sign * score([metric], estimator, X, y)[metric]

    X, y = test
    found = permutation_importance(model, X, y, scoring=scorer, n_repeats=chosen.repeats, random_state=chosen.seed)
    rows = []
    for column, mean, std in zip(X.columns, found.importances_mean, found.importances_std, strict=True):
        name, value = str(column), float(mean)
        cost = chosen.costs.get(name)
        per_cost = value / cost if cost else None
        problems = []
        if chosen.min_importance is not None and not value >= chosen.min_importance:
            problems.append(f"importance {value:.4g} < `min_importance` {chosen.min_importance:g}")
        if per_cost is not None and chosen.min_gain_per_cost is not None and not per_cost >= chosen.min_gain_per_cost:
            problems.append(f"gain per cost {per_cost:.4g} (importance {value:.4g} / cost {cost:g}) < "
                            f"`min_gain_per_cost` {chosen.min_gain_per_cost:g}")
        if chosen.min_importance is not None or (per_cost is not None and chosen.min_gain_per_cost is not None):
            key = "evaluation.features." + ("min_gain_per_cost" if problems[-1:] and "cost" in problems[-1]
                                            else "min_importance")
            message = (f"feature `{name}` does not earn its place: {' and '.join(problems)}" if problems
                       else f"feature `{name}` earns its place: importance {value:.4g}")
            review.checks.append(Check(key, not problems, message))
        review.metrics[metric_key("importance", name)] = value
        rows.append({"feature": name, "importance": plain(value), "std": plain(float(std)), "cost": cost,
                     "gain_per_cost": plain(per_cost) if per_cost is not None else None, "passed": not problems})
    review.blocks["features"] = {"metric": metric, "repeats": chosen.repeats, "features": rows}
