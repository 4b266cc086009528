"""`evaluation.staleness`: the model's recipe trained on the oldest window of rows, scored on each later window."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .review import Check, Review, ReviewError, Scorer, metric_key, plain, unfitted

if TYPE_CHECKING:
    import pandas as pd

    from mlform.specs.model.review import Staleness

__all__ = ["review_staleness"]


def _windows(frame: pd.DataFrame, chosen: Staleness) -> list[np.ndarray]:
    """Row positions of each window, oldest first, of equal row count (rows without a time left out)."""
    times = frame[chosen.time_column]
    known = np.flatnonzero(times.notna().to_numpy())
    try:
        order = known[np.argsort(times.iloc[known].to_numpy(), kind="stable")]
    except TypeError as exc:
        raise ReviewError(f"`evaluation.staleness.time_column`: `{chosen.time_column}` cannot be sorted: "
                          f"{exc}") from None
    if len(order) < 2 * chosen.windows:
        raise ReviewError(f"`evaluation.staleness.windows`: {len(order)} rows with a time cannot make "
                          f"{chosen.windows} windows")
    return list(np.array_split(order, chosen.windows))


def review_staleness(chosen: Staleness, model: Any, frame: pd.DataFrame, features: list[str], target: str,
                     score: Scorer, review: Review) -> None:
    """Fit the model's recipe on the first window and gate how much each metric of `max_decay` loses by the last."""
    windows = _windows(frame, chosen)
    first = frame.iloc[windows[0]]
    fitted = unfitted(model).fit(first[features], first[target])
    metrics = list(chosen.max_decay)
    scored = [score(metrics, fitted, part[features], part[target]) for part in (frame.iloc[w] for w in windows[1:])]
    times = frame[chosen.time_column]
    shown = [{"window": i + 1, "rows": len(w), "from": str(times.iloc[w].min()), "to": str(times.iloc[w].max()),
              **({"metrics": {k: plain(v) for k, v in scored[i - 1].items()}} if i else {"trained": True})}
             for i, w in enumerate(windows)]
    decays = {}
    for metric, allowed in chosen.max_decay.items():
        start = scored[0][metric]
        losses = [score.gain(metric, start, later[metric]) for later in scored[1:]]
        decay = max(losses) if losses and not any(math.isnan(v) for v in losses) else math.nan
        passed = decay <= allowed  # NaN compares false: it fails
        review.checks.append(Check(
            f"evaluation.staleness.max_decay.{metric}", passed,
            f"`{metric}` decays by {decay:.4g} over {len(scored)} windows after training (from {start:.4g} on the "
            f"first; max_decay {allowed:g}){'' if passed else ': too stale'}"))
        review.metrics[metric_key("staleness", "decay", metric)] = decay
        decays[metric] = {"decay": plain(decay), "max_decay": allowed, "passed": passed}
    review.blocks["staleness"] = {"time_column": chosen.time_column, "windows": shown, "decay": decays}
