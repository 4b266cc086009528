"""`evaluation.features`: permutation importance of each feature on the test rows, gated by worth and cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .review import Cached, Check, Review, Scorer, metric_key, plain

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.lifecycle import Evaluation

__all__ = ["review_features"]


def _importances(model: Any, X: pd.DataFrame, y: pd.Series, metric: str, repeats: int, seed: int,
                 score: Scorer) -> dict[str, list[float]]:
    """Per feature, what the metric loses in each of `repeats` shuffles of its values (one prediction per feature)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = len(X)
    base = score([metric], model, X, y)[metric]
    losses = {}
    for column in X.columns:
        shuffled = []
        for _ in range(repeats):
            copy = X.copy()
            copy[column] = X[column].to_numpy()[rng.permutation(n)]
            shuffled.append(copy)
        cached = Cached(model, pd.concat(shuffled, ignore_index=True))
        losses[str(column)] = [score.gain(metric, base, score([metric], cached.rows(slice(i * n, (i + 1) * n)),
                                                              shuffled[i], y)[metric]) for i in range(repeats)]
    return losses


def review_features(ev: Evaluation, model: Any, test: tuple[pd.DataFrame, pd.Series], score: Scorer,
                    review: Review) -> None:
    """Each feature's mean loss of the metric when its test values are shuffled; too little fails, named."""
    import numpy as np

    chosen = ev.features
    assert chosen is not None  # called only when the spec asks for it
    metric = chosen.metric or ev.metrics[0]
    X, y = test
    losses = _importances(model, X, y, metric, chosen.repeats, chosen.seed, score)
    rows = []
    for name, lost in losses.items():
        value, std = float(np.mean(lost)), float(np.std(lost))
        cost = chosen.costs.get(name)
        per_cost = value / cost if cost else None
        passed = True
        if chosen.min_importance is not None:
            ok = value >= chosen.min_importance  # NaN compares false: it fails
            review.checks.append(Check("evaluation.features.min_importance", ok, f"feature `{name}` "
                                       f"{'earns' if ok else 'does not earn'} its place: importance {value:.4g} "
                                       f"(min_importance {chosen.min_importance:g})"))
            passed = passed and ok
        if per_cost is not None and chosen.min_gain_per_cost is not None:
            ok = per_cost >= chosen.min_gain_per_cost
            review.checks.append(Check("evaluation.features.min_gain_per_cost", ok, f"feature `{name}` "
                                       f"{'earns' if ok else 'does not earn'} its cost: importance {value:.4g} / cost "
                                       f"{cost:g} = {per_cost:.4g} (min_gain_per_cost {chosen.min_gain_per_cost:g})"))
            passed = passed and ok
        review.metrics[metric_key("importance", name)] = value
        rows.append({"feature": name, "importance": plain(value), "std": plain(std), "cost": cost,
                     "gain_per_cost": plain(per_cost) if per_cost is not None else None, "passed": passed})
    review.blocks["features"] = {"metric": metric, "repeats": chosen.repeats, "features": rows}
